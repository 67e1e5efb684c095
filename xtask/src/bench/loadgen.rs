//! A small loopback load generator: N threads, each with one connection (a new one after a
//! response that closes it), sending requests one after the other for a fixed time: HTTP/1.1
//! `GET`s (keep-alive), or redis `SET` and `GET` of a key of the connection's own, in turn.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What a load run achieved.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Load {
    /// Complete `200` responses.
    pub requests: u64,
    /// Failed requests or connections (each followed by a reconnect).
    pub errors: u64,
    pub seconds: f64,
}

impl Load {
    #[allow(clippy::cast_precision_loss, reason = "request counts fit an f64")]
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// What the load speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `GET /` over HTTP/1.1; a `200` counts.
    Http,
    /// Redis (RESP): `SET` then `GET` of a key of the connection's own, one request each; a `+OK`
    /// and the value read back count.
    Redis,
}

/// The value the redis load sets and reads back.
const REDIS_VALUE: &str = "trace-bench-value";

impl Protocol {
    /// The requests a connection sends in turn, for connection number `n`.
    fn requests(self, n: usize) -> Vec<Vec<u8>> {
        match self {
            Protocol::Http => {
                vec![b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: trace-bench\r\n\r\n".to_vec()]
            }
            Protocol::Redis => {
                let key = format!("trace-bench:{n}");
                let resp = |words: &[&str]| {
                    let mut out = format!("*{}\r\n", words.len());
                    for w in words {
                        let _ = write!(out, "${}\r\n{w}\r\n", w.len());
                    }
                    out.into_bytes()
                };
                vec![resp(&["SET", &key, REDIS_VALUE]), resp(&["GET", &key])]
            }
        }
    }

    fn read(self, reader: &mut impl BufRead, body: &mut Vec<u8>) -> Result<Response> {
        match self {
            Protocol::Http => read_response(reader, body),
            Protocol::Redis => read_redis_reply(reader, body),
        }
    }
}

/// Sends `protocol`'s requests over `connections` concurrent connections to `addr` for
/// `duration`.
pub fn run(
    addr: SocketAddr,
    protocol: Protocol,
    connections: usize,
    duration: Duration,
) -> Result<Load> {
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|n| {
            let requests = protocol.requests(n);
            std::thread::spawn(move || worker(addr, protocol, &requests, deadline))
        })
        .collect();
    let mut total = Load {
        requests: 0,
        errors: 0,
        seconds: 0.0,
    };
    for worker in workers {
        let (requests, errors) = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        total.requests += requests;
        total.errors += errors;
    }
    total.seconds = started.elapsed().as_secs_f64();
    Ok(total)
}

/// One connection's loop: (responses, errors).
fn worker(
    addr: SocketAddr,
    protocol: Protocol,
    requests_in_turn: &[Vec<u8>],
    deadline: Instant,
) -> (u64, u64) {
    let (mut requests, mut errors) = (0, 0);
    let mut body = Vec::new();
    while Instant::now() < deadline {
        let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            errors += 1;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = stream.set_nodelay(true);
        abort_on_close(&stream);
        let mut writer = &stream;
        let mut reader = BufReader::new(&stream);
        let mut turn = requests_in_turn.iter().cycle();
        while Instant::now() < deadline {
            let Some(request) = turn.next() else { break };
            let answer = writer
                .write_all(request)
                .context("send")
                .and_then(|()| protocol.read(&mut reader, &mut body));
            let Ok(Response { ok, keep_alive }) = answer else {
                errors += 1;
                break;
            };
            if ok {
                requests += 1;
            } else {
                errors += 1;
            }
            if !keep_alive {
                break;
            }
        }
    }
    (requests, errors)
}

/// Makes closing `stream` send a reset (`SO_LINGER` 0) instead of a FIN, so that it leaves no
/// `TIME_WAIT` behind: with a connection per request (HTTP/1.0), the 28,000 ephemeral ports would
/// all sit in `TIME_WAIT` (60 s each) after seconds of load, and the rate collapse to the ~500
/// connections per second that frees (measured here against python's http.server).
fn abort_on_close(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    #[allow(clippy::cast_possible_truncation, reason = "struct linger is 8 bytes")]
    let len = size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `linger`, readable for the call; the fd is open.
    // A failure only leaves the default close.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            len,
        )
    };
}

/// What one response said.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    /// Status 200.
    ok: bool,
    /// The connection stays open.
    keep_alive: bool,
}

/// Reads one response (status line, headers, a `Content-Length` body) from `reader`.
fn read_response(reader: &mut impl BufRead, body: &mut Vec<u8>) -> Result<Response> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let ok = line.split_whitespace().nth(1) == Some("200");
    let mut length = 0usize;
    let mut keep_alive = line.starts_with("HTTP/1.1");
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            anyhow::bail!("connection closed in the headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().context("Content-Length")?;
            } else if name.eq_ignore_ascii_case("connection") {
                keep_alive = !value.eq_ignore_ascii_case("close");
            }
        }
    }
    body.resize(length, 0);
    reader.read_exact(body)?;
    Ok(Response { ok, keep_alive })
}

/// Reads one redis reply: `+OK` (a `SET`) or a bulk string (a `GET`: [`REDIS_VALUE`] counts);
/// an error reply or another value does not.
fn read_redis_reply(reader: &mut impl BufRead, body: &mut Vec<u8>) -> Result<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        anyhow::bail!("connection closed");
    }
    let line = line.trim_end();
    let ok = if let Some(length) = line.strip_prefix('$') {
        let length: i64 = length.parse().context("bulk length")?;
        match usize::try_from(length) {
            Ok(length) => {
                body.resize(length + 2, 0);
                reader.read_exact(body)?;
                &body[..length] == REDIS_VALUE.as_bytes()
            }
            // `$-1`: no such key.
            Err(_) => false,
        }
    } else {
        line == "+OK"
    };
    Ok(Response {
        ok,
        keep_alive: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_to_the_end_of_their_body() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let mut reader = BufReader::new(&wire[..]);
        let mut body = Vec::new();
        let first = read_response(&mut reader, &mut body).unwrap();
        assert_eq!(
            first,
            Response {
                ok: true,
                keep_alive: true
            }
        );
        assert_eq!(body, b"hello");
        let second = read_response(&mut reader, &mut body).unwrap();
        assert_eq!(
            second,
            Response {
                ok: false,
                keep_alive: false
            }
        );
        assert!(read_response(&mut reader, &mut body).is_err());
    }

    #[test]
    fn redis_replies_count_when_the_value_comes_back() {
        let requests = Protocol::Redis.requests(3);
        assert_eq!(
            requests[1],
            b"*2\r\n$3\r\nGET\r\n$13\r\ntrace-bench:3\r\n".to_vec()
        );
        let wire = b"+OK\r\n$17\r\ntrace-bench-value\r\n$-1\r\n-ERR wrong\r\n$3\r\nabc\r\n";
        let mut reader = BufReader::new(&wire[..]);
        let mut body = Vec::new();
        let oks: Vec<bool> = (0..5)
            .map(|_| read_redis_reply(&mut reader, &mut body).unwrap().ok)
            .collect();
        assert_eq!(oks, [true, true, false, false, false]);
        assert!(read_redis_reply(&mut reader, &mut body).is_err());
    }
}
