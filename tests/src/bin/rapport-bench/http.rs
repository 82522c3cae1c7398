//! A minimal HTTP/1.1 keep-alive client: a benchmark's client should cost as little
//! CPU as possible, since it shares the machine with the server it measures (pgbench's
//! client is equally lean).

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::load::Request;

/// One connection.
pub struct Connection {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
    head: Vec<u8>,
}

/// A response: status, and the body when it is an error (for the report).
pub struct Response {
    pub status: u16,
    pub error_body: Option<String>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl Connection {
    /// A connection to `addr` (`127.0.0.1:port`), opened on first use.
    pub fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            stream: None,
            head: Vec::with_capacity(1024),
        }
    }

    /// Sends one request and reads the whole response.
    pub async fn send(&mut self, req: &Request, token: &str) -> io::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(BufReader::new(s));
        }
        self.head.clear();
        self.head
            .extend_from_slice(format!("{} {} HTTP/1.1\r\nHost: {}\r\n", req.method, req.path, self.addr).as_bytes());
        if !token.is_empty() {
            self.head
                .extend_from_slice(format!("Authorization: Bearer {token}\r\n").as_bytes());
        }
        for (name, value) in &req.headers {
            self.head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if let Some((content_type, body)) = &req.body {
            self.head.extend_from_slice(
                format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
            );
            self.head.extend_from_slice(body);
        } else {
            self.head.extend_from_slice(b"\r\n");
        }
        let result = self.exchange().await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self) -> io::Result<Response> {
        let stream = self.stream.as_mut().ok_or_else(|| bad("not connected"))?;
        stream.get_mut().write_all(&self.head).await?;
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                stream.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(|_| bad("chunk size"))?;
                let mut chunk = vec![0; size + 2];
                stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            stream.read_exact(&mut body).await?;
        }
        if close {
            self.stream = None;
        }
        let error_body =
            (!(200..300).contains(&status)).then(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        Ok(Response { status, error_body })
    }
}
