//! A fleet's request counters over loopback, for a load generator in another process: the
//! `openalgo-sim --control` listener answers every connection with one plain-text document, a line
//! per endpoint with that endpoint's count for each instance in order,
//!
//! ```text
//! ping 12 12 11 0
//! funds 12 12 11 0
//! ```
//!
//! so the bench can run the fleet as a separate process (as a real OpenAlgo fleet is) and still
//! see when each instance was checked. Plain HTTP/1.0 on the way out, so `curl` reads it too.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::{ENDPOINTS, InstanceHandle};

/// Largest counters document a reader accepts (8 endpoints x 20,000 instances x 20 digits).
const MAX_DOCUMENT: u64 = 8 * 20_000 * 21 + 1024;

/// The counters document of `instances`, in their order.
pub fn counts_text(instances: &[InstanceHandle]) -> String {
    let mut out = String::new();
    for endpoint in ENDPOINTS {
        out.push_str(endpoint);
        for i in instances {
            out.push(' ');
            out.push_str(&i.request_count(endpoint).to_string());
        }
        out.push('\n');
    }
    out
}

/// Parses a counters document into per-endpoint, per-instance counts.
pub fn parse_counts(text: &str) -> anyhow::Result<HashMap<String, Vec<u64>>> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut words = line.split(' ');
        let endpoint = words.next().context("empty counters line")?;
        let counts = words
            .map(|w| w.parse::<u64>().with_context(|| format!("bad count {w:?}")))
            .collect::<anyhow::Result<Vec<u64>>>()?;
        out.insert(endpoint.to_owned(), counts);
    }
    Ok(out)
}

/// Serves the counters of `instances` on `listener` until the task is dropped. Whatever a
/// client sends is ignored (at most 4 KiB read, one second allowed), so a half-open or chatty
/// client cannot hold the loop.
pub async fn serve(listener: TcpListener, instances: Vec<InstanceHandle>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let body = counts_text(&instances);
        tokio::spawn(async move {
            let mut request = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut request)).await;
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Reads the counters from a `serve` listener (blocking; for a poller thread).
pub fn fetch_counts(addr: SocketAddr) -> anyhow::Result<HashMap<String, Vec<u64>>> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /counts HTTP/1.0\r\n\r\n")?;
    let mut raw = String::new();
    stream.take(MAX_DOCUMENT).read_to_string(&mut raw)?;
    let (_, body) = raw
        .split_once("\r\n\r\n")
        .context("the counters answer has no body")?;
    parse_counts(body)
}
