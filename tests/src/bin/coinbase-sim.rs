//! `coinbase-sim`: run one simulated Coinbase Advanced Trade host on 127.0.0.1 with N accounts
//! (one CDP key each, generated at start), so a person can point Roster at it. Serves until
//! Ctrl-C.

use anyhow::Context as _;
use clap::Parser;
use roster_tests::coinbase_sim::{CdpKey, CoinbaseAccountSpec, CoinbaseSim};

const LONG_ABOUT: &str = "\
Runs one simulated Coinbase Advanced Trade (v3 brokerage) host on 127.0.0.1 serving N accounts,
one CDP key each: GET /api/v3/brokerage/time (public), key_permissions, accounts,
orders/historical/batch and orders/historical/fills, each token checked as Coinbase does (ES256,
kid/sub, iss cdp, nbf/exp, uri = method + host + path), 401 `Unauthorized` otherwise, and an HTML
429 past 30 requests per second per user.

With --demo it prints the URL, then one line per account: the credentials JSON that
`rosterctl account add --connector coinbase --host URL --credentials-stdin` takes.

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

#[derive(Debug, Parser)]
#[command(
    name = "coinbase-sim",
    version,
    about = "A simulated Coinbase Advanced Trade host for testing Roster",
    long_about = LONG_ABOUT
)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Number of demo accounts (each its own organization, so its own rate budget).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    accounts: u32,

    /// Print the URL and every account's credentials JSON.
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
    let keys: Vec<CdpKey> = (1..=args.accounts)
        .map(|i| CdpKey::generate(&format!("demo-org-{i}"), &format!("demo-key-{i}")))
        .collect();
    let sim = CoinbaseSim::start_on(
        keys.iter()
            .cloned()
            .map(CoinbaseAccountSpec::demo)
            .collect(),
        args.port,
    )
    .await?;
    if args.demo {
        println!("# coinbase-sim {}", sim.url());
        for k in &keys {
            println!("{}", k.credentials_json());
        }
    }
    tracing::info!(url = %sim.url(), accounts = args.accounts, "coinbase-sim running; Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
