//! `binance-sim`: run one simulated Binance spot REST host on 127.0.0.1 with N accounts, so a
//! person can point Roster (or curl) at it. Serves until Ctrl-C.

use anyhow::Context as _;
use clap::Parser;
use roster_tests::binance_sim::{BinanceAccountSpec, BinanceSim, BinanceSimOptions, demo_keys};

const LONG_ABOUT: &str = "\
Runs one simulated Binance spot REST host on 127.0.0.1 serving N accounts, told apart by their
API key, all behind one simulated IP: GET /api/v3/ping, /api/v3/time, and the signed
/api/v3/account, /api/v3/openOrders and /api/v3/myTrades, with Binance's checks and answers
(401 -2014 / -2015, 400 -1022 for a bad HMAC-SHA256 signature, 400 -1021 outside the timestamp
window), X-MBX-USED-WEIGHT-1M on every answer, 429 -1003 past the weight limit and a 418 ban
when requests keep coming.

With --demo it prints the URL, then one tab-separated line per account:

    <api key>  <secret key>

Examples:
    binance-sim --demo
    binance-sim --demo --accounts 50 --port 7200 --weight-per-minute 1200

Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) for more.";

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "binance-sim",
    version,
    about = "A simulated Binance spot REST host for testing Roster",
    long_about = LONG_ABOUT
)]
struct Args {
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Number of demo accounts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    accounts: u32,

    /// The simulated IP's request weight per minute.
    #[arg(long, default_value_t = 6_000)]
    weight_per_minute: u32,

    /// The venue's clock offset from ours, in ms.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset_ms: i64,

    /// Print the URL and every account's API key and secret.
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
            let (k, s) = demo_keys(i);
            BinanceAccountSpec::demo(k, s)
        })
        .collect();
    let options = BinanceSimOptions {
        weight_per_minute: args.weight_per_minute,
        ..Default::default()
    };
    let sim = BinanceSim::start_with(specs, options, args.port).await?;
    sim.set_clock_offset_ms(args.clock_offset_ms);
    if args.demo {
        println!("# binance-sim {}", sim.url());
        eprintln!("# api key\tsecret key");
        for a in sim.accounts() {
            println!("{}\t{}", a.api_key(), a.secret_key());
        }
    }
    tracing::info!(url = %sim.url(), accounts = n, "binance-sim serving; Ctrl-C to stop");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
