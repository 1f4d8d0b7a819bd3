//! Live-test boutique cart (tests/live/examples.rs): keeps carts in CART_DIR (the spec's
//! writable volume) and answers HTTP on CART_LISTEN; `--health` connects to it.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let listen = std::env::var("CART_LISTEN").unwrap_or_else(|_| "0.0.0.0:7070".into());
    if std::env::args().any(|a| a == "--health") {
        let port = listen.rsplit(':').next().unwrap_or("7070");
        let ok = TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_secs(3),
        )
        .is_ok();
        std::process::exit(if ok { 0 } else { 1 });
    }
    let dir = std::env::var("CART_DIR").unwrap_or_else(|_| "/var/lib/cart".into());
    std::fs::write(format!("{dir}/carts.db"), b"").expect("the cart directory is writable");
    let listener = TcpListener::bind(&listen).expect("bind");
    eprintln!("cart: listening on {listen}, carts in {dir}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut s = stream;
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\n{}\n");
        });
    }
}
