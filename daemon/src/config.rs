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
    /// `FILE:LINE:COL: problem`, as compilers say it, so editors can jump to it. `at` is the
    /// 1-based line and column, when the problem has a place in the file.
    #[error("{}{}: {message}", path.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        at: Option<(usize, usize)>,
        message: String,
    },
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
    /// Per-tenant quotas. Reloaded on SIGHUP.
    pub tenants: TenantsConfig,
}

/// `[tenants]`: quotas every tenant gets, and `[tenants.NAME]` sections for one tenant.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct TenantsConfig {
    /// Accounts a tenant may own unless its `[tenants.NAME]` section says otherwise. Unset: no
    /// limit. A create past it answers RESOURCE_EXHAUSTED and creates nothing.
    pub default_max_accounts: Option<usize>,
    /// `[tenants.NAME]` sections, by tenant name. (Any other key here is read as a tenant
    /// section, so a misspelt key is still an error: it is not a table.)
    #[serde(flatten)]
    pub tenant: std::collections::BTreeMap<String, TenantConfig>,
}

/// `[tenants.NAME]`: one tenant's quotas.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// Accounts this tenant may own (overrides `default_max_accounts`).
    pub max_accounts: Option<usize>,
}

impl TenantsConfig {
    /// The most accounts `tenant` may own, if it is limited.
    pub fn max_accounts(&self, tenant: &str) -> Option<usize> {
        self.tenant
            .get(tenant)
            .and_then(|t| t.max_accounts)
            .or(self.default_max_accounts)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
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
    /// Client connections held at once, handshaking or established. At startup it is lowered to
    /// what the open-file limit (RLIMIT_NOFILE) leaves after the store, the upstream connections
    /// and a margin; the figure in use is logged. When every slot is taken, the oldest connection
    /// still in its TLS handshake is closed to make room.
    pub max_connections: usize,
    /// On SIGTERM, in-flight calls get this long to finish before connections are cut.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// A connection that completed its handshake but sent no request within this is closed.
    #[serde(with = "humantime_serde")]
    pub first_request_timeout: Duration,
    /// A connection with no request in flight (no open stream) for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections one peer address may hold in their TLS handshake at once (before anyone is
    /// known); a further one from that address closes the address's oldest handshake.
    pub max_handshakes_per_ip: usize,
    /// Established connections one principal (client certificate CN) may hold at once.
    pub max_connections_per_principal: usize,
    /// Of `max_connections`, the last this many are only for admin-role certificates, so an
    /// admin can always get in while other principals hold every other slot.
    pub admin_reserved_connections: usize,
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
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_handshakes_per_ip: 64,
            max_connections_per_principal: 256,
            admin_reserved_connections: 16,
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The redb file. Default: `$STATE_DIRECTORY/roster.redb`.
    pub path: Option<PathBuf>,
    /// Events kept (oldest dropped first).
    pub event_retention_count: Option<u64>,
    /// Audit records kept (oldest dropped first). Default: 100,000.
    pub audit_retention_count: Option<u64>,
    /// At startup the file is compacted when it is at least this many bytes and more than half
    /// of it is free pages (space left by deleted accounts and old snapshots).
    pub compact_min_bytes: u64,
    /// Verify every page's checksum when the file is opened (at startup and when it is reopened
    /// after an I/O error), so a damaged file is refused with a message instead of being trusted.
    pub verify_on_open: bool,
    /// `rosterd --init-store`: create an empty database even where one existed before.
    #[serde(skip)]
    pub init: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: None,
            event_retention_count: None,
            audit_retention_count: None,
            compact_min_bytes: 64 << 20,
            verify_on_open: true,
            init: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
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
    /// Every Nth check also asks for funds, which is how an expired broker session shows (an
    /// account's first check always does).
    pub funds_probe_every: u32,
    /// A DOWN account is checked after interval x 2^(failures beyond the threshold), at most this.
    #[serde(with = "humantime_serde")]
    pub down_backoff_max: Duration,
    /// A DOWN account whose key was refused (403, AUTH_REJECTED) or whose upstream banned our IP
    /// (IP_BANNED) backs off x4 per failure up to this: OpenAlgo bans an IP after ~100 bad-key
    /// attempts in 24 h, and 30 min keeps a forgotten bad key under 50 attempts a day.
    #[serde(with = "humantime_serde")]
    pub auth_backoff_max: Duration,
    /// Scheduled checks of DOWN accounts whose key was refused (AUTH_REJECTED), per upstream host
    /// per day, shared by every such account on that host and spread evenly (24: one an hour).
    /// OpenAlgo can ban our IP after 100 invalid-key requests a day (fewer if configured so),
    /// which cuts every account behind it; a key's first refusals and forced checks count too.
    /// 0: such accounts are checked only by `rosterctl health check NAME`. At most 86400.
    pub max_refused_key_checks_per_host_per_day: u32,
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
            max_refused_key_checks_per_host_per_day: 24,
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
    /// Largest stored snapshot of one account's book, in bytes. A fetched book larger than this
    /// is neither stored nor shown: its section fails (BAD_RESPONSE) naming this key.
    pub max_snapshot_bytes: usize,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        Self {
            max_staleness: Duration::from_secs(5),
            refresh_interval: Duration::ZERO,
            concurrency: 256,
            max_snapshot_bytes: 4 * 1024 * 1024,
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
    /// Sustained requests per second for all the principals of one tenant together, so one
    /// tenant's scripts cannot starve another's (global admins share one budget of this size).
    pub tenant_requests_per_second: u32,
    /// Requests one tenant may make in a burst above its sustained rate.
    pub tenant_burst: u32,
    /// Refusals (over the rate limit, refused handshakes, shed connections) are logged once per
    /// source and reason, then summarised at most once per this interval; all are counted in
    /// `roster_refusals_total`.
    #[serde(with = "humantime_serde")]
    pub refusal_log_interval: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 50,
            burst: 100,
            tenant_requests_per_second: 200,
            tenant_burst: 400,
            refusal_log_interval: Duration::from_secs(60),
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

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Prometheus listener; unset means none.
    pub listen: Option<SocketAddr>,
}

/// Deserializes TOML text from `path`; an error reads `FILE:LINE:COL: key: problem` (toml's own
/// message, without its multi-line excerpt of the file).
pub fn parse<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let mut message = e.message().trim().replace('\n', " ");
        let mut at = None;
        if let Some(span) = e.span() {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            at = Some((line, col));
            if let Some(key) = key_at(text, line) {
                message = format!("{key}: {message}");
            }
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            at,
            message,
        }
    })
}

/// The dotted key set on 1-based `line` (`monitor.interval` for `interval = ...` under
/// `[monitor]`), when the line is a plain `key = value`.
fn key_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().take(line).collect();
    let (key, _) = lines.last()?.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') || key.contains(['"', '\'', '#']) {
        return None;
    }
    let table = lines.iter().rev().skip(1).find_map(|l| {
        let l = l.trim();
        (l.starts_with('[') && !l.starts_with("[[")).then(|| l.trim_matches(['[', ']']).trim())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

impl Config {
    /// The sections of `new` that differ from `self` but take effect only at startup: the
    /// listener and its connection bounds, the store, the master key, the upstream client and the
    /// metrics listener. A reload keeps their running values and says so.
    pub fn restart_only_changes(&self, new: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.server != new.server {
            changed.push("[server]");
        }
        if self.store != new.store {
            changed.push("[store]");
        }
        if self.keys != new.keys {
            changed.push("[keys]");
        }
        if self.upstream != new.upstream {
            changed.push("[upstream]");
        }
        if self.metrics != new.metrics {
            changed.push("[metrics]");
        }
        changed
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = parse(text, path)?;
        // Name the file: the operator may be checking one that is not the running config.
        config.validate().map_err(|e| match e {
            ConfigError::Invalid(message) => ConfigError::Parse {
                path: path.to_path_buf(),
                at: None,
                message,
            },
            other => other,
        })?;
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
        for name in self.tenants.tenant.keys() {
            if crate::pki::validate_tenant(name).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "[tenants.{name}]: not a tenant name (1-64 of [a-z0-9._-], starting with a letter or digit)"
                )));
            }
        }
        if self.portfolio.concurrency == 0 {
            return bad("portfolio.concurrency must be at least 1");
        }
        if m.down_backoff_max < m.interval || m.auth_backoff_max < m.interval {
            return bad(
                "monitor.down_backoff_max and auth_backoff_max must be at least monitor.interval",
            );
        }
        if m.max_refused_key_checks_per_host_per_day > 86_400 {
            return bad("monitor.max_refused_key_checks_per_host_per_day must be at most 86400");
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
        let sv = &self.server;
        if sv.max_connections == 0
            || sv.max_handshakes_per_ip == 0
            || sv.max_connections_per_principal == 0
        {
            return bad(
                "server.max_connections, max_handshakes_per_ip and max_connections_per_principal must be at least 1",
            );
        }
        if sv.admin_reserved_connections >= sv.max_connections {
            return bad("server.admin_reserved_connections must be below server.max_connections");
        }
        if sv.handshake_timeout.is_zero()
            || sv.first_request_timeout.is_zero()
            || sv.idle_timeout.is_zero()
        {
            return bad(
                "server.handshake_timeout, first_request_timeout and idle_timeout must be above 0",
            );
        }
        if self.limits.refusal_log_interval < Duration::from_secs(1) {
            return bad("limits.refusal_log_interval must be at least 1s");
        }
        if let Some(f) = &self.log.filter {
            tracing_subscriber::EnvFilter::try_new(f)
                .map_err(|e| ConfigError::Invalid(format!("log.filter {f:?}: {e}")))?;
        }
        self.upstream.validate().map_err(|e| match e {
            crate::connector::ConfigError::Invalid(m) => {
                ConfigError::Invalid(format!("upstream.{m}"))
            }
            other => ConfigError::Invalid(other.to_string()),
        })?;
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
    fn tenant_quotas_default_per_tenant_and_bad_names_are_refused() {
        let c = Config::from_toml(
            "[tenants]\ndefault_max_accounts = 10\n[tenants.acme]\nmax_accounts = 2\n[tenants.beta]\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(c.tenants.max_accounts("acme"), Some(2));
        assert_eq!(c.tenants.max_accounts("beta"), Some(10));
        assert_eq!(c.tenants.max_accounts("other"), Some(10));
        assert_eq!(Config::default().tenants.max_accounts("acme"), None);
        for bad in [
            "[tenants]\ndefault_max_acounts = 10\n",
            "[tenants.acme]\nmax_acounts = 2\n",
            "[tenants.Acme]\nmax_accounts = 2\n",
        ] {
            assert!(
                Config::from_toml(bad, Path::new("t.toml")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_shipped_example_config_is_valid() {
        let text = include_str!("../../deploy/rosterd.toml");
        Config::from_toml(text, Path::new("deploy/rosterd.toml")).unwrap();
    }

    #[test]
    fn a_reload_names_the_sections_it_cannot_apply() {
        let base = Config::from_toml("", Path::new("t.toml")).unwrap();
        let live = Config::from_toml(
            "[monitor]\ninterval = \"9s\"\n[limits]\nburst = 3\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert!(base.restart_only_changes(&live).is_empty());
        let restart = Config::from_toml(
            "[server]\nmax_connections = 70\n[upstream]\nrequest_timeout = \"2s\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(
            base.restart_only_changes(&restart),
            ["[server]", "[upstream]"]
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let err = Config::from_toml("[monitor]\nintervall = \"1s\"\n", Path::new("t.toml"));
        assert!(
            err.unwrap_err()
                .to_string()
                .starts_with("t.toml:2:1: monitor.intervall: unknown field `intervall`")
        );
        let text = "# comment\n[server]\nlisten = \"127.0.0.1:1\"\n\n[monitor]\ninterval = 5\n";
        let err = Config::from_toml(text, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "t.toml:6:12: monitor.interval: invalid type: integer `5`, expected a duration"
        );
        let err = Config::from_toml("[monitor]\ntimeout = \"0s\"\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("monitor.timeout"));
        let err = Config::from_toml("[tls]\nrevoked_serials = [\"xyz\"]\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("xyz"));
        // [upstream] is checked here too, so `rosterd check-config` catches what startup would.
        let err = Config::from_toml(
            "[upstream]\nrequest_timeout = \"0s\"\n",
            Path::new("t.toml"),
        );
        assert!(err.unwrap_err().to_string().contains("request_timeout"));
        let err = Config::from_toml("[upstream]\nuser_agent = \"a\\nb\"\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("user_agent"));
    }
}
