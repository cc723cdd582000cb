//! `http1-vs-hyper`: the health checks' HTTP/1.1 client (`rosterd::connector::http1`) against
//! hyper's `client::conn::http1` with small buffers, on the sweep's shape: one simulated OpenAlgo
//! instance (origin) per account, one kept-alive connection each, `POST /api/v1/ping` with the
//! key in a JSON body. Not part of BENCHMARKS.md's sweep; it answers whether a well-kept library
//! could replace our own client within the budget (CPU per check, memory per account).
//!
//! The simulators run on their own threads; the clients on this thread's current-thread runtime,
//! so this thread's CPU time (from /proc/thread-self/schedstat) is the client's cost, hyper's
//! connection tasks included. Rounds alternate between the clients (ours, hyper, ours, ...) so
//! a busy machine loads both alike. Memory: process RSS with every origin's connection idle in
//! the client's pool, minus RSS before the client made any (server-side memory per connection
//! is the same for both, so the difference between the two figures is the clients').
//!
//!     cargo build --release -p roster-tests --bin http1-vs-hyper
//!     target/release/http1-vs-hyper --origins 2000 --rounds 10

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use roster_tests::sim::{InstanceSpec, Simulator};
use rosterd::connector::http1::Http1Client;
use rosterd::connector::{BaseUrl, Upstream};
use rosterd::secret::{Credential, Secret};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Simulated instances, one connection each.
    #[arg(long, default_value_t = 2000)]
    origins: usize,
    /// Measured rounds per client (each round: one ping per origin).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// hyper's read buffer (bytes, exact size).
    #[arg(long, default_value_t = 2048)]
    hyper_read_buf: usize,
}

const MAX_BODY: usize = 4 * 1024 * 1024;

type IdleSenders = HashMap<Arc<str>, Vec<SendRequest<Full<Bytes>>>>;

/// hyper with a pool like ours: idle senders per origin, checked out when ready.
struct Hyper {
    read_buf: usize,
    idle: std::sync::Mutex<IdleSenders>,
}

impl Hyper {
    async fn post(&self, base: &BaseUrl, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let list = idle.entry(base.origin().clone()).or_default();
            let mut found = None;
            while let Some(s) = list.pop() {
                if s.is_ready() {
                    found = Some(s);
                    break;
                }
            }
            found
        };
        let mut sender = match pooled {
            Some(s) => s,
            None => {
                let tcp = tokio::net::TcpStream::connect((base.host(), base.port())).await?;
                tcp.set_nodelay(true)?;
                let (sender, conn) = hyper::client::conn::http1::Builder::new()
                    .read_buf_exact_size(Some(self.read_buf))
                    .max_buf_size(8192)
                    .writev(false)
                    .handshake(TokioIo::new(tcp))
                    .await?;
                tokio::spawn(conn);
                sender
            }
        };
        let request = hyper::Request::post(format!("{}/api/v1/ping", base.path_prefix()))
            .header("host", base.authority())
            .header("user-agent", "rosterd/bench")
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(Full::new(Bytes::copy_from_slice(body)))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_bytes()
            .to_vec();
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(base.origin().clone())
            .or_default()
            .push(sender);
        Ok((status, body))
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn rss_kib() -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ours,
    Hyper,
}

struct Clients {
    ours: Http1Client,
    hyper: Hyper,
}

async fn round(
    clients: &Clients,
    kind: Kind,
    bases: &[(BaseUrl, Vec<u8>)],
    concurrency: usize,
) -> anyhow::Result<(Duration, usize)> {
    let cpu = thread_cpu();
    let results: Vec<anyhow::Result<(u16, Vec<u8>)>> = futures::stream::iter(bases)
        .map(|(base, body)| async move {
            match kind {
                Kind::Ours => clients
                    .ours
                    .post(base, "/api/v1/ping", body, async { Ok(()) })
                    .await
                    .map(|a| (a.status, a.body))
                    .map_err(|e| anyhow::anyhow!("{e}")),
                Kind::Hyper => clients.hyper.post(base, body).await,
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut ok = 0;
    for r in results {
        let (status, body) = r?;
        anyhow::ensure!(
            status == 200 && body.starts_with(b"{"),
            "bad answer {status}"
        );
        ok += 1;
    }
    Ok((thread_cpu() - cpu, ok))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The simulators on their own runtime and threads, so they are not this thread's CPU.
    let (tx, rx) = std::sync::mpsc::channel();
    let n = args.origins;
    std::thread::spawn(move || {
        let simulate = async move {
            let specs = (0..n)
                .map(|i| InstanceSpec {
                    record_limit: 0,
                    rate_limit_per_second: 0,
                    ..InstanceSpec::demo(format!("acct-{i}"), format!("key-{i:06}-bench"))
                })
                .collect();
            let sim = Simulator::start(specs).await?;
            let urls: Vec<String> = sim.instances().iter().map(|i| i.url()).collect();
            if tx.send(urls).is_ok() {
                std::future::pending::<()>().await;
            }
            drop(sim);
            anyhow::Ok(())
        };
        let ran = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(simulate));
        if let Err(e) = ran {
            eprintln!("simulators: {e:#}");
        }
    });
    let urls = rx.recv().context("simulators did not start")?;
    let bases: Vec<(BaseUrl, Vec<u8>)> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let up = Upstream::new(
                format!("a{i}"),
                url.clone(),
                Credential::api_key(Secret::new("x")),
            );
            let base = up.base().cloned().context("base url")?;
            let body = format!(r#"{{"apikey":"key-{i:06}-bench"}}"#).into_bytes();
            Ok((base, body))
        })
        .collect::<anyhow::Result<_>>()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let clients = Clients {
            ours: Http1Client::new(
                Arc::new(tls),
                Duration::from_secs(3),
                "rosterd/bench".into(),
                MAX_BODY,
            ),
            hyper: Hyper {
                read_buf: args.hyper_read_buf,
                idle: Default::default(),
            },
        };
        // Connections first, one client at a time, for the memory figures.
        let mut memory = Vec::new();
        for kind in [Kind::Ours, Kind::Hyper] {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let before = rss_kib();
            round(&clients, kind, &bases, args.concurrency).await?;
            round(&clients, kind, &bases, args.concurrency).await?;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let after = rss_kib();
            memory.push(after.saturating_sub(before) as f64 * 1024.0 / n as f64);
        }
        let mut cpu = [Duration::ZERO; 2];
        let mut requests = [0usize; 2];
        let started = Instant::now();
        for r in 0..args.rounds * 2 {
            let (kind, slot) = if r % 2 == 0 {
                (Kind::Ours, 0)
            } else {
                (Kind::Hyper, 1)
            };
            let (c, ok) = round(&clients, kind, &bases, args.concurrency).await?;
            cpu[slot] += c;
            requests[slot] += ok;
        }
        let per = |i: usize| cpu[i].as_secs_f64() * 1e6 / requests[i].max(1) as f64;
        println!(
            "origins {n}, rounds {} per client, concurrency {}, hyper read buffer {} B, {:.1} s",
            args.rounds,
            args.concurrency,
            args.hyper_read_buf,
            started.elapsed().as_secs_f64()
        );
        println!("client                    CPU per request    RSS per kept-alive connection (incl. server side)");
        println!(
            "rosterd connector::http1  {:>8.1} µs        {:>8.0} B",
            per(0),
            memory[0]
        );
        println!(
            "hyper client::conn::http1 {:>8.1} µs        {:>8.0} B",
            per(1),
            memory[1]
        );
        anyhow::Ok(())
    })
}
