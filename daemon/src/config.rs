//! The daemon's TOML configuration: every key, its default, and its validation.
//!
//! The structs' `///` docs double as the config reference (see `deploy/rosterd.toml`). Unknown keys
//! are an error so that a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The whole configuration file. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub store: StoreConfig,
    pub keys: KeysConfig,
    pub monitor: MonitorConfig,
    pub portfolio: PortfolioConfig,
    pub limits: LimitsConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    /// How upstreams (OpenAlgo instances) are called: timeouts, response size cap, request budget.
    pub upstream: crate::connector::ConnectorConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the gRPC listener (mTLS only).
    pub listen: SocketAddr,
    /// A TLS handshake that takes longer than this is cut off, so stalled clients hold no slot.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// Largest gRPC request message accepted, in bytes.
    pub max_request_bytes: usize,
    /// Concurrent HTTP/2 streams one connection may open.
    pub max_concurrent_streams: u32,
    /// Open connections accepted at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// On SIGTERM, in-flight calls get this long to finish before connections are cut.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            handshake_timeout: Duration::from_secs(10),
            max_request_bytes: 1024 * 1024,
            max_concurrent_streams: 128,
            max_connections: 4096,
            shutdown_timeout: Duration::from_secs(5),
        }
    }
}

/// Server certificate and client trust. Paths default to the systemd credentials directory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM server certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key of the server certificate.
    pub key: Option<PathBuf>,
    /// PEM bundle of CAs whose client certificates are accepted.
    pub client_ca: Option<PathBuf>,
    /// Serial numbers (hex, as `rosterctl pki issue` prints them) of revoked client certificates.
    pub revoked_serials: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The redb file. Default: `$STATE_DIRECTORY/roster.redb`.
    pub path: Option<PathBuf>,
    /// Events kept (oldest dropped first).
    pub event_retention_count: Option<u64>,
    /// Audit records kept (oldest dropped first). Default: 100,000.
    pub audit_retention_count: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// 32-byte master key file, mode 0600 or stricter. Default: `$CREDENTIALS_DIRECTORY/master-key`.
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Each enabled account is checked once per interval.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// A check that takes longer fails with TIMEOUT.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive failures that turn an account DOWN (before that it is DEGRADED).
    pub failures_before_down: u32,
    /// Consecutive successes that bring a failing account back UP.
    pub successes_before_up: u32,
    /// Checks in flight at once, across all accounts.
    pub concurrency: usize,
    /// Every Nth check also asks for funds, which is how an expired broker session shows.
    pub funds_probe_every: u32,
    /// A DOWN account is checked after interval x 2^(failures beyond the threshold), at most this.
    #[serde(with = "humantime_serde")]
    pub down_backoff_max: Duration,
    /// A DOWN account whose key was refused (403, AUTH_REJECTED) or whose upstream banned our IP
    /// (IP_BANNED) backs off x4 per failure up to this: OpenAlgo bans an IP after ~100 bad-key
    /// attempts in 24 h, and 30 min keeps a forgotten bad key under 50 attempts a day.
    #[serde(with = "humantime_serde")]
    pub auth_backoff_max: Duration,
    /// Routine check results are written to the store at most this often (transitions at once).
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            failures_before_down: 3,
            successes_before_up: 1,
            concurrency: 256,
            funds_probe_every: 1,
            down_backoff_max: Duration::from_secs(300),
            auth_backoff_max: Duration::from_secs(1800),
            flush_interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioConfig {
    /// Snapshots younger than this are served without contacting the upstream.
    #[serde(with = "humantime_serde")]
    pub max_staleness: Duration,
    /// Background refresh of every enabled account's books; 0s turns it off.
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
    /// Upstream book fetches in flight at once, across all calls (each upstream also keeps its
    /// own `[upstream]` request budget). Accounts beyond it wait, within the call's deadline.
    pub concurrency: usize,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        Self {
            max_staleness: Duration::from_secs(5),
            refresh_interval: Duration::ZERO,
            concurrency: 256,
        }
    }
}

/// Per-principal request budget (token bucket).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sustained requests per second for one client certificate principal.
    pub requests_per_second: u32,
    /// Requests a principal may make in a burst above the sustained rate.
    pub burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 50,
            burst: 100,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// tracing EnvFilter, e.g. "info" or "info,rosterd::monitor=debug". `ROSTER_LOG` wins when
    /// set. Reloaded on SIGHUP.
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Prometheus listener; unset means none.
    pub listen: Option<SocketAddr>,
}

impl Config {
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Checks what types alone cannot: ranges and relations between keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.monitor;
        let bad = |s: &str| Err(ConfigError::Invalid(s.to_string()));
        if m.interval < Duration::from_millis(100) {
            return bad("monitor.interval must be at least 100ms");
        }
        if m.timeout.is_zero() || m.timeout > m.interval {
            return bad("monitor.timeout must be above 0 and at most monitor.interval");
        }
        if m.failures_before_down == 0 || m.successes_before_up == 0 {
            return bad("monitor.failures_before_down and successes_before_up must be at least 1");
        }
        if m.concurrency == 0 || m.funds_probe_every == 0 {
            return bad("monitor.concurrency and monitor.funds_probe_every must be at least 1");
        }
        if self.portfolio.concurrency == 0 {
            return bad("portfolio.concurrency must be at least 1");
        }
        if m.down_backoff_max < m.interval || m.auth_backoff_max < m.interval {
            return bad(
                "monitor.down_backoff_max and auth_backoff_max must be at least monitor.interval",
            );
        }
        if m.flush_interval < Duration::from_millis(10)
            || m.flush_interval > Duration::from_secs(60)
        {
            return bad("monitor.flush_interval must be between 10ms and 60s");
        }
        if self.store.audit_retention_count == Some(0) {
            return bad("store.audit_retention_count must be at least 1");
        }
        if self.limits.requests_per_second == 0 || self.limits.burst == 0 {
            return bad("limits.requests_per_second and limits.burst must be at least 1");
        }
        if self.server.max_request_bytes < 1024 || self.server.max_concurrent_streams == 0 {
            return bad("server.max_request_bytes must be >= 1024 and max_concurrent_streams >= 1");
        }
        if let Some(f) = &self.log.filter {
            tracing_subscriber::EnvFilter::try_new(f)
                .map_err(|e| ConfigError::Invalid(format!("log.filter {f:?}: {e}")))?;
        }
        for serial in &self.tls.revoked_serials {
            if crate::pki::normalize_serial_hex(serial).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "tls.revoked_serials: {serial:?} is not a hex serial number"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_humantime_durations() {
        let c = Config::from_toml(
            "[monitor]\ninterval = \"10s\"\ntimeout = \"500ms\"\n[limits]\nburst = 5\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(c.monitor.interval, Duration::from_secs(10));
        assert_eq!(c.monitor.timeout, Duration::from_millis(500));
        assert_eq!(c.limits.burst, 5);
        assert_eq!(c.limits.requests_per_second, 50);
    }

    #[test]
    fn the_shipped_example_config_is_valid() {
        let text = include_str!("../../deploy/rosterd.toml");
        Config::from_toml(text, Path::new("deploy/rosterd.toml")).unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let err = Config::from_toml("[monitor]\nintervall = \"1s\"\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("intervall"));
        let err = Config::from_toml("[monitor]\ntimeout = \"0s\"\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("monitor.timeout"));
        let err = Config::from_toml("[tls]\nrevoked_serials = [\"xyz\"]\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("xyz"));
    }
}
