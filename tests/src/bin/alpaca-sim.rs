//! `alpaca-sim`: run one simulated Alpaca Trading API v2 host (paper or live) on 127.0.0.1 with
//! N accounts, so a person can point Roster (or curl) at it. Serves until Ctrl-C.

use anyhow::Context as _;
use clap::Parser;
use roster_tests::alpaca_sim::{AlpacaSim, Environment};

const LONG_ABOUT: &str = "\
Runs one simulated Alpaca Trading API v2 host on 127.0.0.1 serving N accounts, told apart by
their key pair as on paper-api.alpaca.markets: GET /v2/account, /v2/positions, /v2/orders,
/v2/account/activities (FILL), /v2/clock, with Alpaca's auth answers (403 {\"message\":
\"forbidden.\"} without both APCA-API-KEY-ID and APCA-API-SECRET-KEY, 401 40110000 for an
unknown key or a wrong secret), X-RateLimit-* headers and a 429 past 200 requests per minute
per account.

With --demo it prints the URL, then one tab-separated line per account:

    <key id>  <secret key>

Examples:
    alpaca-sim --demo
    alpaca-sim --demo --env live --accounts 50 --port 7100
    curl -H 'APCA-API-KEY-ID: <id>' -H 'APCA-API-SECRET-KEY: <secret>' http://127.0.0.1:PORT/v2/account

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "alpaca-sim",
    version,
    about = "A simulated Alpaca Trading API v2 host for testing Roster",
    long_about = LONG_ABOUT
)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Which host to play: paper or live (their keys never work on the other).
    #[arg(long, default_value = "paper")]
    env: Environment,

    /// Number of demo accounts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    accounts: u32,

    /// Print the URL and every account's key id and secret.
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
    let n = usize::try_from(args.accounts).context("--accounts")?;
    let specs = (1..=n)
        .map(|i| {
            let (id, secret) = roster_tests::alpaca_sim::demo_keys(args.env, i);
            roster_tests::alpaca_sim::AlpacaAccountSpec::demo(id, secret)
        })
        .collect();
    let sim = AlpacaSim::start_on(args.env, specs, args.port).await?;
    if args.demo {
        println!("# alpaca-sim {} {}", args.env.as_str(), sim.url());
        eprintln!("# key id\tsecret key");
        for a in sim.accounts() {
            println!("{}\t{}", a.key_id(), a.secret_key());
        }
    }
    tracing::info!(
        url = %sim.url(),
        environment = args.env.as_str(),
        accounts = n,
        "alpaca-sim running; Ctrl-C to stop"
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}
