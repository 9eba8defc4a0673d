//! Test helpers: a blocking HTTP/1.1 client for one request, enough to
//! talk to the server over a real socket without an HTTP client crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

/// Sends `method path` with `body` (JSON) and `Connection: close`; returns
/// the status and the body parsed as JSON.
pub fn http_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, serde_json::Value), Box<dyn std::error::Error>> {
    let mut s = TcpStream::connect(addr)?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or("response without a blank line after the headers")?;
    let status = head
        .split(' ')
        .nth(1)
        .ok_or("response without a status")?
        .parse()?;
    Ok((status, serde_json::from_str(body)?))
}
