// Live-test storefront (tests/live/examples.rs): reads the database password from the file
// PGPASSWORD_FILE names (the spec's secret) and serves HTTP on PORT.
'use strict';
const fs = require('fs');
const http = require('http');

const password = fs.readFileSync(process.env.PGPASSWORD_FILE, 'utf8').trim();
if (password.length === 0) {
  console.error('storefront: empty database password');
  process.exit(1);
}
const port = Number(process.env.PORT || 3000);
http
  .createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`storefront of ${process.env.PGDATABASE} at ${process.env.PGHOST}\n`);
  })
  .listen(port, '0.0.0.0', () => console.log(`storefront listening on ${port}`));
