//! `okx-sim`: run one simulated OKX API v5 host on 127.0.0.1 with N accounts, so a person can
//! point Roster (or curl) at it. Serves until Ctrl-C.

use clap::Parser;
use roster_tests::okx_sim::{OkxAccountSpec, OkxSim};

const LONG_ABOUT: &str = "\
Runs one simulated OKX API v5 host on 127.0.0.1 serving N accounts, told apart by OK-ACCESS-KEY:
GET /api/v5/public/time, account/config, account/balance, account/positions,
trade/orders-pending and trade/fills. Every private request is verified as OKX does: the
base64 HMAC-SHA256 signature over timestamp + method + path + body, the passphrase, a 30 s
timestamp window (50102), demo keys only with x-simulated-trading: 1 (50101), and the per-uid
limits per 2 s (50011).

With --demo it prints the URL, then one tab-separated line per account:

    <env>  <api key>  <secret key>  <passphrase>

Examples:
    okx-sim --demo
    okx-sim --demo --accounts 5 --port 7200 --clock-offset-ms 10000

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "okx-sim",
    version,
    about = "A simulated OKX API v5 host for testing Roster",
    long_about = LONG_ABOUT
)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Number of accounts; every other one is a demo-trading key.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    accounts: u32,

    /// The simulator's clock minus the wall clock, in ms.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset_ms: i64,

    /// Print the URL and every account's credentials.
    #[arg(long)]
    demo: bool,
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
    let specs: Vec<OkxAccountSpec> = (0..args.accounts as usize)
        .map(|i| {
            let spec = OkxAccountSpec::demo(i);
            if i % 2 == 1 { spec.in_demo() } else { spec }
        })
        .collect();
    let sim = OkxSim::start_on(args.port, specs.clone()).await?;
    sim.set_clock_offset_ms(args.clock_offset_ms);
    println!("{}", sim.url());
    if args.demo {
        for s in &specs {
            let env = if s.demo { "demo" } else { "live" };
            println!("{env}\t{}\t{}\t{}", s.api_key, s.secret_key, s.passphrase);
        }
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
