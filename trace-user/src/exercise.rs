//! The built-in exercise of `trace run` when none is given: like slim's default probe, an HTTP GET
//! of `/` on each exposed TCP port and a bounded crawl of the same-site links it finds.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Pages fetched per port at most.
pub const MAX_PAGES_PER_PORT: usize = 20;
/// Bytes of a response read at most.
const MAX_RESPONSE: usize = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(5);

/// One page fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// `http://host:port/path`.
    pub url: String,
    /// The status code, or `None` when nothing answered.
    pub status: Option<u16>,
}

/// Fetches `/` on each port of `host` and follows same-site links, breadth first; returns every
/// fetch in order.
pub async fn crawl(host: &str, ports: &[u16]) -> Vec<Fetched> {
    let mut fetched = Vec::new();
    for &port in ports {
        let mut queue = VecDeque::from([String::from("/")]);
        let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
        while let Some(path) = queue.pop_front() {
            if fetched
                .iter()
                .filter(|f: &&Fetched| f.url.contains(&format!(":{port}/")))
                .count()
                >= MAX_PAGES_PER_PORT
            {
                break;
            }
            let response = tokio::time::timeout(TIMEOUT, get(host, port, &path))
                .await
                .ok()
                .and_then(Result::ok);
            let status = response.as_ref().and_then(|r| status_code(r));
            fetched.push(Fetched {
                url: format!("http://{host}:{port}{path}"),
                status,
            });
            if let Some(body) = response {
                for link in links(&String::from_utf8_lossy(&body), &path) {
                    if seen.insert(link.clone()) {
                        queue.push_back(link);
                    }
                }
            }
        }
    }
    fetched
}

async fn get(host: &str, port: u16, path: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect((host, port)).await?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: trace\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE as u64)
        .read_to_end(&mut response)
        .await?;
    Ok(response)
}

fn status_code(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    words.next().filter(|w| w.starts_with("HTTP/"))?;
    words.next()?.parse().ok()
}

/// Same-site links in `page` (fetched at `base`): `href="..."` values that are absolute paths or
/// relative ones, without query strings or fragments; other sites and schemes are skipped.
pub fn links(page: &str, base: &str) -> Vec<String> {
    let base_dir = &base[..=base.rfind('/').unwrap_or(0)];
    let mut found = Vec::new();
    for part in page.split("href=").skip(1) {
        let Some(quote) = part.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let Some(value) = part[1..].split(quote).next() else {
            continue;
        };
        let value = value.split(['#', '?']).next().unwrap_or("");
        if value.is_empty()
            || value.contains("://")
            || value.starts_with("//")
            || value.contains(':')
        {
            continue;
        }
        let path = if value.starts_with('/') {
            value.to_owned()
        } else {
            format!("{base_dir}{value}")
        };
        found.push(path);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_same_site_links_only() {
        let page = r#"<a href="page.html">x</a> <a href='/abs/b.html#top'>y</a> <a href="https://other/">z</a>
            <a href="mailto:a@b">m</a> <a href="//cdn/x.js">c</a> <a href="q?x=1">q</a> <a href="">e</a>"#;
        assert_eq!(
            links(page, "/dir/index.html"),
            ["/dir/page.html", "/abs/b.html", "/dir/q"]
        );
    }

    #[test]
    fn reads_status_codes() {
        assert_eq!(status_code(b"HTTP/1.0 200 OK\r\n\r\nbody"), Some(200));
        assert_eq!(status_code(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(status_code(b"garbage"), None);
    }

    #[tokio::test]
    async fn crawls_a_local_server_and_stops_at_the_bound() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = socket.read(&mut buf).await.unwrap();
                let path = String::from_utf8_lossy(&buf[..n])
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_owned();
                // Every page links to two new pages: an endless site.
                let body = format!("<a href=\"{path}a\">a</a><a href=\"{path}b\">b</a>");
                let _ = socket
                    .write_all(format!("HTTP/1.0 200 OK\r\n\r\n{body}").as_bytes())
                    .await;
            }
        });
        let fetched = crawl("127.0.0.1", &[port]).await;
        assert_eq!(fetched.len(), MAX_PAGES_PER_PORT);
        assert!(fetched.iter().all(|f| f.status == Some(200)));
        assert_eq!(fetched[0].url, format!("http://127.0.0.1:{port}/"));
    }
}
