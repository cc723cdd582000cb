//! The OpenAlgo fleet a sweep checks: simulated inside the bench process (answers at once, the
//! cheapest an upstream can be), or `openalgo-sim` in a process of its own, as a real fleet of
//! Flask apps is: its own scheduler and wake-ups, its own share of the two cores, and answers
//! that arrive one by one after the server's latency instead of in batches.

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use super::daemon::sibling_bin;
use super::measure::ProcSample;
use crate::sim::{Fault, Framing, InstanceHandle, InstanceSpec, Simulator, control};

/// How the fleet is built.
#[derive(Debug, Clone)]
pub struct FleetOpts {
    pub instances: usize,
    /// The first `hang` instances accept and never answer; the next `refuse` refuse connections.
    pub hang: usize,
    pub refuse: usize,
    pub framing: Framing,
    /// Every healthy instance waits this long before each answer.
    pub latency: Option<Duration>,
    pub https: bool,
    /// Run `openalgo-sim` as a separate process.
    pub process: bool,
}

/// A running fleet: where each instance is, which key it takes, and its request counters.
pub struct Fleet {
    /// Per instance: URL and API key.
    pub accounts: Vec<(String, String)>,
    /// `None` once shut down.
    run: Option<Run>,
}

enum Run {
    InProcess(Simulator),
    Process { child: Child, control: SocketAddr },
}

impl Fleet {
    pub async fn start(o: &FleetOpts) -> anyhow::Result<Fleet> {
        if o.process {
            anyhow::ensure!(!o.https, "a separate-process fleet serves plain http only");
            return Self::spawn(o).await;
        }
        let normal = o.latency.map_or(Fault::None, Fault::Latency);
        let specs: Vec<InstanceSpec> = (0..o.instances)
            .map(|i| InstanceSpec {
                // Requests are counted, not kept: 1,000 recorded requests x 5,000 instances
                // would only load the bench process.
                record_limit: 0,
                rate_limit_per_second: 0,
                framing: o.framing,
                ..InstanceSpec::demo(format!("acct-{i}"), bench_key(i))
            })
            .collect();
        let sim = if o.https {
            Simulator::start_https(specs).await?
        } else {
            Simulator::start(specs).await?
        };
        for (i, inst) in sim.instances().iter().enumerate() {
            let fault = if i < o.hang {
                Fault::Hang
            } else if i < o.hang + o.refuse {
                Fault::ConnectionRefused
            } else {
                normal.clone()
            };
            if fault != Fault::None {
                inst.set_fault(fault);
                inst.settle().await;
            }
        }
        let accounts = (0..o.instances)
            .map(|i| (sim.instance(i).url(), bench_key(i)))
            .collect();
        Ok(Fleet {
            accounts,
            run: Some(Run::InProcess(sim)),
        })
    }

    /// `openalgo-sim --demo N --control` with the same faults, reading its listing from stdout.
    async fn spawn(o: &FleetOpts) -> anyhow::Result<Fleet> {
        let mut cmd = Command::new(sibling_bin("openalgo-sim")?);
        cmd.arg("--demo")
            .arg(o.instances.to_string())
            .arg("--framing")
            .arg(match o.framing {
                Framing::Whole => "whole",
                Framing::Wsgi => "wsgi",
            })
            .arg("--control")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(l) = o.latency {
            cmd.arg("--latency").arg(format!("{}us", l.as_micros()));
        }
        for (fault, n) in [("hang", o.hang), ("connection_refused", o.refuse)] {
            if n > 0 {
                cmd.arg("--faulty").arg(format!("{fault}={n}"));
            }
        }
        let mut child = cmd.spawn().context("starting openalgo-sim")?;
        let stdout = child.stdout.take().context("openalgo-sim has no stdout")?;
        let n = o.instances;
        let listing = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let first = lines
                .next()
                .context("openalgo-sim exited before its listing")??;
            let control: SocketAddr = first
                .strip_prefix("# control ")
                .context("openalgo-sim did not print its control address first")?
                .parse()?;
            let mut accounts = Vec::with_capacity(n);
            for line in lines.take(n) {
                let line = line?;
                let mut cols = line.split('\t').skip(1);
                let (Some(url), Some(key)) = (cols.next(), cols.next()) else {
                    anyhow::bail!("bad openalgo-sim listing line {line:?}");
                };
                accounts.push((url.to_owned(), key.to_owned()));
            }
            anyhow::ensure!(
                accounts.len() == n,
                "openalgo-sim listed {} of {n}",
                accounts.len()
            );
            Ok((control, accounts))
        });
        // Whatever goes wrong before the fleet is handed over, the process does not outlive it.
        let (control, accounts) = match tokio::time::timeout(Duration::from_secs(300), listing)
            .await
        {
            Ok(Ok(Ok(listed))) => listed,
            failed => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(match failed {
                    Ok(Ok(Err(e))) => e,
                    Ok(Err(join)) => join.into(),
                    _ => anyhow::anyhow!("openalgo-sim did not list its instances within 300 s"),
                });
            }
        };
        Ok(Fleet {
            accounts,
            run: Some(Run::Process { child, control }),
        })
    }

    /// Per-instance request counts of `endpoint`, in instance order.
    pub fn counts(&self, endpoint: &str) -> anyhow::Result<Vec<u64>> {
        self.counter(endpoint)()
    }

    /// Reads `endpoint`'s per-instance counts from any thread (for a poller).
    pub fn counter(
        &self,
        endpoint: &str,
    ) -> Box<dyn Fn() -> anyhow::Result<Vec<u64>> + Send + 'static> {
        let endpoint = endpoint.to_owned();
        match self.run.as_ref() {
            Some(Run::InProcess(sim)) => {
                let insts: Vec<InstanceHandle> = sim.instances().to_vec();
                Box::new(move || Ok(insts.iter().map(|i| i.request_count(&endpoint)).collect()))
            }
            Some(Run::Process { control, .. }) => {
                let control = *control;
                Box::new(move || {
                    control::fetch_counts(control)?
                        .remove(&endpoint)
                        .with_context(|| format!("no {endpoint} counters"))
                })
            }
            None => Box::new(|| anyhow::bail!("the fleet is shut down")),
        }
    }

    /// The simulator's CA when it serves https.
    pub fn ca_pem(&self) -> Option<&str> {
        match self.run.as_ref() {
            Some(Run::InProcess(sim)) => sim.ca_pem(),
            _ => None,
        }
    }

    /// Connections accepted and TLS handshakes over the whole run (in-process fleets only).
    pub fn connections(&self) -> Option<(u64, u64)> {
        match self.run.as_ref() {
            Some(Run::InProcess(sim)) => Some((
                sim.instances()
                    .iter()
                    .map(InstanceHandle::connections_accepted)
                    .sum(),
                sim.instances()
                    .iter()
                    .map(InstanceHandle::tls_handshakes)
                    .sum(),
            )),
            _ => None,
        }
    }

    /// CPU and memory of the fleet's own process (a separate-process fleet only).
    pub fn sample(&self) -> Option<anyhow::Result<ProcSample>> {
        match self.run.as_ref() {
            Some(Run::Process { child, .. }) => Some(ProcSample::read(child.id())),
            _ => None,
        }
    }

    /// Stops the fleet (a separate process is killed on drop).
    pub async fn shutdown(mut self) {
        if matches!(self.run, Some(Run::InProcess(_)))
            && let Some(Run::InProcess(sim)) = self.run.take()
        {
            sim.shutdown().await;
        }
    }
}

/// A separate-process fleet never outlives the bench, even when a scenario fails half-way.
impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(Run::Process { child, .. }) = self.run.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The API key of in-process instance `i`.
fn bench_key(i: usize) -> String {
    format!("key-{i:06}-bench")
}
