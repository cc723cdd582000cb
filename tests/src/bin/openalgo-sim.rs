//! `openalgo-sim`: run simulated OpenAlgo servers on 127.0.0.1 so a person can point Roster (or
//! curl) at them. Prints `name<TAB>url<TAB>apikey` per instance, then serves until Ctrl-C.

use anyhow::Context as _;
use clap::Parser;
use roster_tests::sim::{
    Fault, Framing, InstanceFaults, InstanceSpec, SimConfig, Simulator, control,
};
use std::path::PathBuf;
use std::time::Duration;

const LONG_ABOUT: &str = "\
Runs simulated OpenAlgo REST servers on 127.0.0.1, one port per instance, that answer like a real
OpenAlgo 2.0 server: POST /api/v1/{ping,funds,positionbook,orderbook,tradebook,holdings,analyzer,
analyzer/toggle} with {\"apikey\": ...} in the JSON body, real error shapes (403 wrong key, 404 on
GET, restx 400s, 429 moving-window rate limit), broker-specific number typing and analyzer mode.

After start-up it prints one tab-separated line per instance to stdout:

    <name>  <url>  <apikey>

which is what you need to add the account to Roster. It serves until Ctrl-C.

Examples:
    openalgo-sim --demo 3
    openalgo-sim --demo 50 --base-port 7000
    openalgo-sim --demo 500 --framing wsgi --latency 1ms --faulty hang=25 --control
        (a Flask-like fleet for load tests: answers in two writes after 1 ms, the first 25
        instances hanging, and a counters listener for the load generator)
    openalgo-sim --config tests/openalgo-sim.example.toml

Config file (TOML): one [[instance]] table per server; every key is optional. See
tests/openalgo-sim.example.toml for all keys (name, api_keys, broker, mode, number_style, funds,
positions, orders, trades, holdings, rate_limit_per_second, session_expired, port, record_limit).

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "openalgo-sim",
    version,
    about = "Simulated OpenAlgo REST servers for testing Roster",
    long_about = LONG_ABOUT
)]
struct Args {
    /// TOML file with `[[instance]]` tables (InstanceSpec fields plus optional `port`).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "demo",
        conflicts_with = "demo"
    )]
    config: Option<PathBuf>,

    /// Start N zerodha-style demo instances named demo-1..N with API keys demo-key-1..N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=20_000))]
    demo: Option<u32>,

    /// With --demo: put instance i on port BASE+i-1 instead of free ports.
    #[arg(long, value_name = "BASE", requires = "demo")]
    base_port: Option<u16>,

    /// With --demo: how answers leave the socket, `whole` (one write, TCP_NODELAY) or `wsgi`
    /// (status line and headers, then the body, Nagle on: how Flask answers).
    #[arg(long, value_name = "HOW", default_value = "whole", requires = "demo")]
    framing: Framing,

    /// With --demo: every instance waits this long before each answer (a Python server's
    /// service time, e.g. 1ms).
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration, requires = "demo")]
    latency: Option<Duration>,

    /// With --demo: FAULT=N gives the next N instances that fault (repeatable, taken in order
    /// from demo-1; e.g. --faulty hang=25 --faulty connection_refused=25). Fault names as in
    /// the config file's `fault`.
    #[arg(long, value_name = "FAULT=N", value_parser = parse_faulty, requires = "demo")]
    faulty: Vec<(Fault, u32)>,

    /// Also serve every instance's request counters on a free 127.0.0.1 port, printed first as
    /// `# control <addr>` (one line per endpoint, a count per instance; for load generators).
    #[arg(long)]
    control: bool,
}

fn parse_faulty(s: &str) -> Result<(Fault, u32), String> {
    let (fault, n) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("{s:?}: expected FAULT=N, e.g. hang=25"))?;
    let fault = fault.parse::<Fault>().map_err(|e| e.to_string())?;
    let n = n
        .parse::<u32>()
        .map_err(|_| format!("{n:?} is not a count of instances"))?;
    Ok((fault, n))
}

fn specs(args: &Args) -> anyhow::Result<(Vec<InstanceSpec>, Vec<InstanceFaults>)> {
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg = SimConfig::from_toml_str(&text)
            .with_context(|| format!("parsing {}", path.display()))?;
        anyhow::ensure!(
            !cfg.instance.is_empty(),
            "{} has no [[instance]] tables",
            path.display()
        );
        return Ok((cfg.instance, cfg.faults));
    }
    let n = args.demo.unwrap_or(1);
    let specs = (1..=n)
        .map(|i| {
            let mut s = InstanceSpec::demo(format!("demo-{i}"), format!("demo-key-{i}"));
            // Nobody can read a demo instance's recorded requests: keeping 1,000 of them for
            // each of thousands of instances would only grow this process.
            s.record_limit = 0;
            s.framing = args.framing;
            if let Some(base) = args.base_port {
                let port = u16::try_from(u32::from(base) + i - 1)
                    .ok()
                    .context("--base-port + N exceeds 65535")?;
                s.port = Some(port);
            }
            Ok(s)
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((specs, demo_faults(args, n)?))
}

/// Each demo instance's fault: the `--faulty` counts in order, then `--latency` for the rest.
fn demo_faults(args: &Args, n: u32) -> anyhow::Result<Vec<InstanceFaults>> {
    let mut faults = Vec::new();
    for (fault, count) in &args.faulty {
        faults.extend((0..*count).map(|_| InstanceFaults {
            all: fault.clone(),
            ..InstanceFaults::default()
        }));
    }
    anyhow::ensure!(
        faults.len() <= n as usize,
        "--faulty names {} instances but --demo starts {n}",
        faults.len()
    );
    let normal = args.latency.map_or(Fault::None, Fault::Latency);
    faults.resize_with(n as usize, || InstanceFaults {
        all: normal.clone(),
        ..InstanceFaults::default()
    });
    Ok(faults)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (specs, faults) = specs(&args)?;
    let keys: Vec<String> = specs.iter().map(|s| s.api_keys.join(",")).collect();
    let sim = Simulator::start(specs).await?;
    for (h, f) in sim.instances().iter().zip(faults) {
        for (endpoint, fault) in f.endpoints {
            h.set_endpoint_fault(&endpoint, fault)?;
        }
        if f.all != Fault::None {
            h.set_fault(f.all);
        }
        h.settle().await;
    }
    if args.control {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the control listener")?;
        println!("# control {}", listener.local_addr()?);
        tokio::spawn(control::serve(listener, sim.instances().to_vec()));
    }
    eprintln!("# name\turl\tapikey");
    for (h, key) in sim.instances().iter().zip(keys) {
        println!("{}\t{}\t{}", h.name(), h.url(), key);
    }
    tracing::info!(
        instances = sim.len(),
        "openalgo-sim running; Ctrl-C to stop"
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}
