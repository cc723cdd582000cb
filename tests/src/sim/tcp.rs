//! TCP-level fault servers that sit below HTTP: a blackhole that accepts and never reads or
//! writes, and a trickle server whose whole response (status line and headers included) drips out
//! slowly. They exercise connect/read timeouts that an HTTP-level fault cannot reach.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Owns a TCP fault server; dropping it closes the listener and every accepted connection.
pub struct TcpFaultServer {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TcpFaultServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpFaultServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TcpFaultServer {
    /// Listening address (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for TcpFaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A listener on 127.0.0.1 that accepts connections and then never reads or writes; sockets stay
/// open until the returned server is dropped. A client sees its connect succeed and its request
/// go unanswered forever.
pub async fn blackhole() -> anyhow::Result<(SocketAddr, TcpFaultServer)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        // Holding the streams is the point: dropping them would send FIN/RST.
        let mut held: Vec<TcpStream> = Vec::new();
        loop {
            match listener.accept().await {
                Ok((s, _)) => {
                    count.fetch_add(1, Ordering::Relaxed);
                    held.push(s);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    });
    Ok((
        addr,
        TcpFaultServer {
            addr,
            accepted,
            task,
        },
    ))
}

/// A listener on 127.0.0.1 that reads each request's headers and then writes a complete, valid
/// HTTP/1.1 200 ping response (`Connection: close`) at about `bytes_per_sec`, status line and
/// headers included.
pub async fn trickle_server(bytes_per_sec: u64) -> anyhow::Result<(SocketAddr, TcpFaultServer)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                r = listener.accept() => match r {
                    Ok((s, _)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        conns.spawn(trickle_one(s, bytes_per_sec));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
    });
    Ok((
        addr,
        TcpFaultServer {
            addr,
            accepted,
            task,
        },
    ))
}

async fn trickle_one(mut s: TcpStream, bytes_per_sec: u64) {
    let _ = s.set_nodelay(true);
    let mut buf = Vec::with_capacity(1024);
    let mut tmp = [0u8; 1024];
    // Read until the end of the request headers (or EOF / 64 KiB), so the client is mid-read.
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(tmp.get(..n).unwrap_or_default()),
        }
    }
    let body = "{\"data\":{\"broker\":\"zerodha\",\"message\":\"pong\"},\"status\":\"success\"}\n";
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let bps = bytes_per_sec.max(1);
    let chunk = usize::try_from((bps / 20).max(1)).unwrap_or(1);
    let pause = Duration::from_secs_f64(chunk as f64 / bps as f64);
    for part in resp.as_bytes().chunks(chunk) {
        tokio::time::sleep(pause).await;
        if s.write_all(part).await.is_err() {
            return;
        }
    }
    let _ = s.shutdown().await;
}
