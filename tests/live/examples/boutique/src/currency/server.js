// Live-test currency service (tests/live/examples.rs): converts nothing, answers on PORT.
'use strict';
const http = require('http');

const port = Number(process.env.PORT || 7000);
http
  .createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ EUR: 1, USD: 1.08 }) + '\n');
  })
  .listen(port, '0.0.0.0', () => console.log(`currency listening on ${port}`));
