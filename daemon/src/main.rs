//! rosterd: parse the command line, build the config, run the daemon until a signal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rosterd::config::Config;
use rosterd::logging::{self, LogFormat};
use rosterd::{dev, runtime, systemd};
use tracing::{error, info};

const DEFAULT_CONFIG: &str = "/etc/roster/rosterd.toml";

/// jemalloc instead of glibc malloc: with thousands of kept-alive upstream connections, glibc's
/// malloc/free was ~15 % of a health check's CPU and its per-thread arenas held memory the daemon
/// had freed. Measured, with its build-time settings (.cargo/config.toml), in BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Roster daemon: owns your trading accounts, watches their health, and serves consolidated
/// books over mutually-authenticated TLS gRPC (drive it with `rosterctl`).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
#[command(
    after_help = "Quick start: `rosterd --dev` creates ./.roster-dev (dev CA, certificates, \
master key, config) on first run, serves on 127.0.0.1:50051, and prints the rosterctl command to use."
)]
struct Cli {
    /// Config file (TOML). Default: /etc/roster/rosterd.toml; with --dev, laid over the dev config.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Development mode: create (first run) and use a self-contained state dir with its own PKI.
    #[arg(long)]
    dev: bool,
    /// State dir for --dev.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Listen address, overriding [server] listen (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// stderr log format (ignored under journald).
    #[arg(long, value_enum, default_value = "human", global = true)]
    log_format: LogFormat,
    /// Create an empty database even though one existed in the state dir before (it is missing
    /// or empty now). Without it, rosterd refuses to start rather than run on an empty store.
    #[arg(long)]
    init_store: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config file and exit (0: valid; 1: the first problem is printed).
    CheckConfig,
    /// Print the rosterd(8) man page (roff), or write every page into DIR, for packaging.
    #[command(hide = true)]
    Man {
        /// Write rosterd.8 and one page per subcommand (rosterd-restore.8, ...) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Offline restore: replace DIR/roster.redb with a backup made by `rosterctl backup`.
    /// Refuses while a daemon runs on DIR; the replaced file is kept beside the new one.
    Restore {
        /// State directory holding roster.redb (systemd: /var/lib/roster).
        #[arg(long, value_name = "DIR")]
        state_dir: PathBuf,
        /// Backup file to restore.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

/// rosterd(8), printed, or with one page per subcommand (rosterd-restore(8), which the top
/// page names) written into `dir`. `help` gets no page: it is --help under another name.
fn man(dir: Option<&std::path::Path>) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let source = format!("rosterd {}", cmd.get_version().unwrap_or_default());
    let page = |c: &clap::Command| -> std::io::Result<(String, Vec<u8>)> {
        let man = clap_mangen::Man::new(c.clone())
            .section("8")
            .source(&source);
        let mut roff = Vec::new();
        man.render(&mut roff)?;
        Ok((man.get_filename(), roff))
    };
    let Some(dir) = dir else {
        let (_, roff) = page(&cmd)?;
        return std::io::Write::write_all(&mut std::io::stdout().lock(), &roff);
    };
    // The subcommands have none of their own: one level is the whole tree.
    for c in std::iter::once(&cmd).chain(cmd.get_subcommands().filter(|s| !s.is_hide_set())) {
        let (name, roff) = page(c)?;
        std::fs::write(dir.join(name), roff)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    // First, before any key file is read: a core dump would hold every secret in the clear.
    let core = rosterd::coredump::disable();
    // One crypto provider for the whole process, chosen explicitly (see STYLE.md).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    if let Some(Command::Man { dir }) = &cli.command {
        return match man(dir.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rosterd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Restore { state_dir, from }) = &cli.command {
        for w in &core.warnings {
            eprintln!("rosterd: warning: {w}");
        }
        return restore(state_dir, from);
    }
    if let Some(Command::CheckConfig) = cli.command {
        let path = cli.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
        return match Config::load(&path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rosterd: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let log = logging::init(cli.log_format);
    core.log();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rosterd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, log));
    // Everything that matters was flushed and closed inside `run`; do not let a straggling
    // blocking task hold the exit past systemd's stop timeout.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("rosterd: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn restore(state_dir: &std::path::Path, from: &std::path::Path) -> ExitCode {
    let db = state_dir.join(runtime::DB_FILE);
    // With the master key in the state dir (as under --dev), check before replacing anything
    // that every key id the backup needs is there.
    let key_file = state_dir.join(dev::MASTER_KEY_FILE);
    if key_file.exists() {
        let needed = match rosterd::store::inspect_backup(from, &db) {
            Ok(summary) => summary.key_ids,
            Err(e) => {
                eprintln!("rosterd: restore failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        match rosterd::seal::load_keyring(&key_file) {
            Ok(ring) => {
                let have = ring.key_ids();
                if let Some(missing) = needed.iter().find(|id| !have.contains(id)) {
                    eprintln!(
                        "rosterd: restore refused: the backup needs master key {missing}, which is not in {} (nor retired beside it)",
                        key_file.display()
                    );
                    return ExitCode::FAILURE;
                }
            }
            Err(e) => {
                eprintln!("rosterd: restore refused: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    match rosterd::store::restore(from, &db) {
        Ok((summary, kept)) => {
            let keys = if summary.key_ids.is_empty() {
                "none".to_string()
            } else {
                summary.key_ids.join(", ")
            };
            println!(
                "restored {} accounts into {} (API keys sealed with master key ids: {keys})",
                summary.accounts,
                db.display()
            );
            if let Some(kept) = kept {
                println!("the previous database was kept as {}", kept.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rosterd: restore failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The effective config: `--dev` (DIR/rosterd.toml with `--config` laid over it) or the config
/// file with systemd's directories filling in paths; `--listen` wins over both.
fn load_config(cli: &Cli, dev_dir: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let mut config = match dev_dir {
        Some(dir) => dev::prepare(dir, cli.config.as_deref())?,
        None => {
            let path = cli
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            let mut config = Config::load(&path)?;
            let state = std::env::var_os("STATE_DIRECTORY").map(PathBuf::from);
            let creds = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
            runtime::apply_systemd_defaults(&mut config, state.as_deref(), creds.as_deref());
            config
        }
    };
    if let Some(listen) = cli.listen {
        config.server.listen = listen;
    }
    config.store.init = cli.init_store;
    Ok(config)
}

async fn run(cli: Cli, log: logging::LogControl) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Reaching a file size limit (LimitFSIZE=, `ulimit -f`) sends SIGXFSZ, whose default action
    // kills the daemon. Caught, the write fails with EFBIG instead, and the store handles that
    // as it handles a full disk (reports it, reopens once writes work again).
    let mut xfsz = signal(SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw()))
        .context("SIGXFSZ handler")?;
    tokio::spawn(async move { while xfsz.recv().await.is_some() {} });
    let dev_dir = cli.dev.then(|| {
        cli.state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(dev::DEFAULT_STATE_DIR))
    });
    let config = load_config(&cli, dev_dir.as_deref())?;
    log.apply(config.log.filter.as_deref())
        .map_err(anyhow::Error::msg)?;
    let drain = config.server.shutdown_timeout;
    // --dev's instructions are printed just before the port accepts connections, so a script
    // that waits for the port finds them; "listening on" just after, so a client that waits
    // for that line can connect at once. (Both are microseconds apart.)
    let announce = |addr: std::net::SocketAddr| {
        let Some(dir) = &dev_dir else { return };
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        let profile = dir.join("admin");
        println!("dev state dir: {}", dir.display());
        println!("use it with rosterctl:");
        println!(
            "  cargo run -q -p rosterctl -- --addr https://{addr} --profile {} status",
            profile.display()
        );
        println!(
            "or: export ROSTER_ADDR=https://{addr} ROSTER_PROFILE={} && rosterctl account list",
            profile.display()
        );
    };
    // Before the daemon is ready or says where it listens: from then on systemd, or whoever
    // read that line, may send SIGHUP, whose default action is to exit.
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut running = runtime::start(config, announce)
        .await
        .context("startup failed")?;
    let addr = running.local_addr;
    println!("rosterd listening on {addr}");
    if let Some(metrics) = running.metrics_addr {
        println!("rosterd metrics on http://{metrics}/metrics");
    }
    systemd::spawn_watchdog(
        &running.supervisor,
        running.accounts.store().clone(),
        running.monitor.clone(),
    );
    systemd::spawn_status(
        &running.supervisor,
        running.monitor.clone(),
        running.accounts.store().clone(),
        format!("serving on {addr}"),
    );
    systemd::ready(&format!(
        "serving on {addr}; {}",
        running.monitor.status_line()
    ));

    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                systemd::reloading();
                match load_config(&cli, dev_dir.as_deref())
                    .and_then(|c| {
                        let generation = running.reload(&c)?;
                        // Validated with the config, so this cannot fail on a config that loaded.
                        log.apply(c.log.filter.as_deref()).map_err(anyhow::Error::msg)?;
                        Ok(generation)
                    })
                {
                    Ok(generation) => info!(generation, "SIGHUP: configuration reloaded"),
                    Err(e) => error!("SIGHUP: new configuration refused, the old one stays in force: {e:#}"),
                }
                systemd::ready(&format!("serving on {addr}; {}", running.monitor.status_line()));
            }
            result = running.wait() => {
                result.context("gRPC server failed")?;
                return Ok(());
            }
        }
    }
    info!("shutdown requested");
    systemd::stopping();
    running.shutdown(drain).await.context("shutdown")?;
    info!("stopped");
    Ok(())
}
