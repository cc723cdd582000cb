//! Logging: native journald fields under systemd, human or JSON lines on stderr elsewhere.
//!
//! The filter (tracing's EnvFilter syntax) comes from `ROSTER_LOG` when it is set, else from
//! `[log] filter` in the config, else `info`; a SIGHUP re-applies the config's filter (the
//! environment cannot change under a running process, so `ROSTER_LOG` stays as it was).

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

const ENV_FILTER: &str = "ROSTER_LOG";
const DEFAULT_FILTER: &str = "info";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Changes the active filter after startup.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    from_env: bool,
}

impl LogControl {
    /// Applies the config's filter (unless `ROSTER_LOG` pins one). An invalid filter is refused
    /// and the current one stays.
    pub fn apply(&self, config_filter: Option<&str>) -> Result<(), String> {
        if self.from_env {
            return Ok(());
        }
        let text = config_filter.unwrap_or(DEFAULT_FILTER);
        let filter = EnvFilter::try_new(text).map_err(|e| format!("log filter {text:?}: {e}"))?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

/// Installs the global subscriber and returns the handle that changes its filter.
pub fn init(format: LogFormat) -> LogControl {
    // An empty ROSTER_LOG (systemd's `Environment=ROSTER_LOG=`) counts as unset.
    let from_env = std::env::var_os(ENV_FILTER).is_some_and(|v| !v.is_empty());
    let filter = if from_env {
        EnvFilter::try_from_env(ENV_FILTER).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
    } else {
        EnvFilter::new(DEFAULT_FILTER)
    };
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    // systemd sets JOURNAL_STREAM when stderr is connected to the journal.
    if std::env::var_os("JOURNAL_STREAM").is_some()
        && let Ok(journald) = tracing_journald::layer()
    {
        let _ = registry
            .with(journald.with_syslog_identifier("rosterd".into()))
            .try_init();
    } else {
        let stderr = tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr);
        let _ = match format {
            LogFormat::Human => registry.with(stderr).try_init(),
            LogFormat::Json => registry.with(stderr.json().flatten_event(true)).try_init(),
        };
    }
    LogControl { handle, from_env }
}
