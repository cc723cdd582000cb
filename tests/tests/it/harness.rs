//! Starting the real daemon and CLI for a test, and talking to them.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use roster_proto::v1::account_service_client::AccountServiceClient;
use roster_proto::v1::admin_service_client::AdminServiceClient;
use rosterd::pki::{self, Role};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A binary of this workspace, built by `cargo build --workspace --bins`.
pub fn bin(name: &str) -> PathBuf {
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the tests",
        path.display()
    );
    path
}

/// A CA with server certificate and named client profiles, in a temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        pki::init(dir.path(), &[]).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The admin profile that `init` made.
    pub fn admin(&self) -> PathBuf {
        self.path().join("admin")
    }

    /// Issues a client profile with `role` and returns (profile dir, serial hex).
    pub fn issue(&self, name: &str, role: Role) -> (PathBuf, String) {
        let out = self.path().join(format!("profile-{name}"));
        let issued = pki::issue_client(self.path(), name, role, &out, 30).unwrap();
        (out, issued.serial_hex)
    }

    /// Issues a client profile in `tenant` (URI SAN urn:roster:tenant:T).
    pub fn issue_in_tenant(&self, name: &str, role: Role, tenant: &str) -> PathBuf {
        let out = self.path().join(format!("profile-{name}"));
        pki::issue_client_in_tenant(self.path(), name, role, Some(tenant), &out, 30).unwrap();
        out
    }

    /// Issues a client profile with these URI SANs as they stand (two tenants, a malformed one).
    pub fn issue_with_uris(&self, name: &str, role: Role, uris: &[&str]) -> PathBuf {
        let out = self.path().join(format!("profile-{name}"));
        pki::issue_client_with_uris(self.path(), name, role, uris, &out).unwrap();
        out
    }

    /// A client profile whose certificate expired yesterday.
    pub fn issue_expired(&self, name: &str, role: Role) -> PathBuf {
        let day = Duration::from_secs(86_400);
        let now = std::time::SystemTime::now();
        self.issue_with_validity(name, role, now - 10 * day, now - day)
    }

    /// A client profile whose certificate becomes valid tomorrow.
    pub fn issue_not_yet_valid(&self, name: &str, role: Role) -> PathBuf {
        let day = Duration::from_secs(86_400);
        let now = std::time::SystemTime::now();
        self.issue_with_validity(name, role, now + day, now + 10 * day)
    }

    pub fn issue_with_validity(
        &self,
        name: &str,
        role: Role,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
    ) -> PathBuf {
        let out = self.path().join(format!("profile-{name}"));
        pki::issue_client_with_validity(self.path(), name, role, &out, from, to).unwrap();
        out
    }
}

pub struct DaemonOptions {
    pub extra_config: String,
    pub revoked: Vec<String>,
    pub requests_per_second: u32,
    pub burst: u32,
    /// Extra environment for the daemon process (NOTIFY_SOCKET, WATCHDOG_USEC, ...).
    pub env: Vec<(String, String)>,
    /// A program (and its arguments) that runs the daemon, e.g. `prlimit --nofile=256:256`.
    pub launcher: Vec<String>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        Self {
            extra_config: String::new(),
            revoked: Vec::new(),
            requests_per_second: 10_000,
            burst: 10_000,
            env: Vec::new(),
            launcher: Vec::new(),
        }
    }
}

/// A running `rosterd` process on 127.0.0.1:0 with its own state dir.
pub struct Daemon {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub state: PathBuf,
    pub stderr_path: PathBuf,
    config_path: PathBuf,
    pki_ca: PathBuf,
    env: Vec<(String, String)>,
    launcher: Vec<String>,
    /// Everything the daemon printed on stdout.
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts a daemon with a new state dir inside `state_root`.
    pub fn start(pki: &Pki, state: &Path, opts: &DaemonOptions) -> Self {
        std::fs::create_dir_all(state).unwrap();
        let key_path = state.join("master-key");
        if !key_path.exists() {
            rosterd::seal::create_key_file(&key_path).unwrap();
        }
        let q = |p: &Path| toml_str(&p.display().to_string());
        let revoked: Vec<String> = opts.revoked.iter().map(|s| toml_str(s)).collect();
        let config = format!(
            "[tls]\ncert = {}\nkey = {}\nclient_ca = {}\nrevoked_serials = [{}]\n\
             [store]\npath = {}\n[keys]\nmaster_key_file = {}\n\
             [limits]\nrequests_per_second = {}\nburst = {}\ntenant_requests_per_second = 1000000\ntenant_burst = 1000000\n{}\n",
            q(&pki.path().join("server.pem")),
            q(&pki.path().join("server.key")),
            q(&pki.path().join("ca.pem")),
            revoked.join(", "),
            q(&state.join("roster.redb")),
            q(&key_path),
            opts.requests_per_second,
            opts.burst,
            opts.extra_config,
        );
        let config_path = state.join("rosterd.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut d = Self {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state: state.to_path_buf(),
            stderr_path: state.join("rosterd.stderr.log"),
            config_path,
            pki_ca: pki.path().join("ca.pem"),
            env: opts.env.clone(),
            launcher: opts.launcher.clone(),
            stdout: std::sync::Arc::default(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_path)
            .unwrap();
        let mut command = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin("rosterd"));
                c
            }
            None => Command::new(bin("rosterd")),
        };
        let mut child = command
            .arg("--config")
            .arg(&self.config_path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env(
                "ROSTER_LOG",
                "trace,h2=info,hyper=info,tower=info,rustls=info",
            )
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let printed = self.stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(addr) = line.strip_prefix("rosterd listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
                printed.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let log = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
                panic!("rosterd did not start:\n{log}")
            });
        self.addr = addr.parse().unwrap();
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                // The daemon's own account of its shutdown, to tell where it hung.
                let log = self.stderr();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                let _ = c.kill();
                panic!(
                    "rosterd did not stop within 20s of SIGTERM; last log lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the same config and state dir again (on a new port).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn();
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn db_bytes(&self) -> Vec<u8> {
        std::fs::read(self.state.join("roster.redb")).unwrap()
    }

    /// A gRPC channel authenticated with the client profile in `profile`.
    pub async fn channel(&self, profile: &Path) -> Result<Channel, tonic::transport::Error> {
        let read = |f: &str| std::fs::read(profile.join(f)).unwrap();
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(&self.pki_ca).unwrap()))
            .identity(Identity::from_pem(read("cert.pem"), read("key.pem")))
            .domain_name("localhost");
        Channel::from_shared(self.url())
            .unwrap()
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .connect()
            .await
    }

    pub async fn accounts(&self, profile: &Path) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel(profile).await.unwrap())
    }

    pub async fn admin(&self, profile: &Path) -> AdminServiceClient<Channel> {
        AdminServiceClient::new(self.channel(profile).await.unwrap())
    }

    /// Runs `rosterctl --addr URL --profile PROFILE ARGS...` with `stdin`.
    pub fn ctl(&self, profile: &Path, args: &[&str], stdin: &str) -> Output {
        let mut all: Vec<String> = vec![
            "--addr".into(),
            self.url(),
            "--profile".into(),
            profile.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        run_ctl(&all, stdin)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs the real `rosterctl` with `args`, feeding `stdin`; bounded to 30 s.
pub fn run_ctl(args: &[String], stdin: &str) -> Output {
    run_ctl_with_env(args, &[], stdin)
}

/// [`run_ctl`] with extra environment (ROSTER_PROFILE, a shell's COMPLETE=..., ...).
pub fn run_ctl_with_env(args: &[String], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut child = Command::new(bin("rosterctl"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "rosterctl {args:?} hung");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

pub fn toml_str(s: &str) -> String {
    format!("{s:?}")
}

/// The text of a CLI run, for assertions and failure messages.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A create request with sensible defaults.
pub fn new_account(name: &str, key: &str) -> roster_proto::v1::CreateAccountRequest {
    roster_proto::v1::CreateAccountRequest {
        name: name.to_string(),
        host_url: "http://127.0.0.1:9".to_string(),
        api_key: key.to_string(),
        ..Default::default()
    }
}

impl Daemon {
    /// The config file the daemon was started with.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Sends SIGHUP (reload) to the running daemon.
    pub fn hup(&self) {
        let pid = self.child.as_ref().expect("daemon running").id();
        Command::new("kill")
            .arg("-HUP")
            .arg(pid.to_string())
            .status()
            .unwrap();
    }

    /// True while the daemon process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub async fn portfolio(
        &self,
        profile: &Path,
    ) -> roster_proto::v1::portfolio_service_client::PortfolioServiceClient<Channel> {
        roster_proto::v1::portfolio_service_client::PortfolioServiceClient::new(
            self.channel(profile).await.unwrap(),
        )
    }
}

/// Creates an account named `name` on the simulated instance `url` that accepts `key`; returns
/// its id.
pub async fn add_sim_account(
    c: &mut AccountServiceClient<Channel>,
    name: &str,
    url: &str,
    key: &str,
    labels: &[(&str, &str)],
) -> String {
    let mut req = new_account(name, key);
    req.host_url = url.to_string();
    req.labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c.create_account(req).await.unwrap().into_inner().id
}

// ---------------------------------------------------------------------------------------------
// Health monitoring helpers.

impl Daemon {
    pub async fn monitor(
        &self,
        profile: &Path,
    ) -> roster_proto::v1::monitor_service_client::MonitorServiceClient<Channel> {
        roster_proto::v1::monitor_service_client::MonitorServiceClient::new(
            self.channel(profile).await.unwrap(),
        )
    }

    /// [`Daemon::ctl`] off the async runtime's threads (the simulator must keep answering).
    pub async fn ctl_async(&self, profile: &Path, args: &[&str], stdin: &str) -> Output {
        let mut all: Vec<String> = vec![
            "--addr".into(),
            self.url(),
            "--profile".into(),
            profile.display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        let stdin = stdin.to_string();
        tokio::task::spawn_blocking(move || run_ctl(&all, &stdin))
            .await
            .unwrap()
    }
}

/// Config for a monitor whose scheduled checks are a day apart: within a test only the checks it
/// asks for (CheckNow, `health check`) run, so it can count an upstream's requests exactly and no
/// scheduled check lands in the middle of what it measures (with a 60 s interval, an account's
/// first scheduled check falls somewhere in its first minute).
pub fn quiet_monitor(timeout_ms: u64) -> DaemonOptions {
    let mut o = fast_monitor(86_400_000, timeout_ms);
    o.extra_config = o.extra_config.replace(
        "[monitor]\n",
        "[monitor]\ndown_backoff_max = \"1d\"\nauth_backoff_max = \"1d\"\n",
    );
    o
}

/// Config for a fast monitor: short interval and timeout, thresholds of 2. The per-endpoint
/// request budget is raised from its default (8/s, one request per 125 ms per host and endpoint):
/// with checks every few hundred ms plus the tests' own checks and connection tests, waiting for
/// budget slots could eat a sub-second timeout and turn a healthy upstream into a TIMEOUT.
pub fn fast_monitor(interval_ms: u64, timeout_ms: u64) -> DaemonOptions {
    DaemonOptions {
        extra_config: format!(
            "[monitor]\ninterval = \"{interval_ms}ms\"\ntimeout = \"{timeout_ms}ms\"\n\
             failures_before_down = 2\nsuccesses_before_up = 2\nflush_interval = \"200ms\"\n\
             [upstream]\nrequests_per_second_per_endpoint = 100\n"
        ),
        ..DaemonOptions::default()
    }
}

/// Reads a WatchEvents stream in the background into a channel (ends when the stream does).
pub fn collect_events(
    mut stream: tonic::Streaming<roster_proto::v1::Event>,
) -> tokio::sync::mpsc::UnboundedReceiver<Result<roster_proto::v1::Event, tonic::Status>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match stream.message().await {
                Ok(Some(ev)) => {
                    if tx.send(Ok(ev)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(s) => {
                    let _ = tx.send(Err(s));
                    return;
                }
            }
        }
    });
    rx
}

impl Daemon {
    /// The rest of the first stdout line that starts with `prefix`, waiting up to 10 s for it.
    pub fn stdout_line(&self, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.strip_prefix(prefix).map(str::to_string));
            if found.is_some() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reliability-suite helpers (crash, faults, hostile, identity, secrets, soak).

impl Daemon {
    /// Process id of the running daemon.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// Open file descriptors of the daemon process (`/proc/<pid>/fd`).
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// A field of `/proc/<pid>/status` in KiB (e.g. `VmHWM`, `VmRSS`); 0 if absent.
    pub fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Stops the daemon (if running) and starts it again on the same config and state dir with
    /// extra command-line arguments (e.g. `--log-format json`).
    pub fn restart_with_args(&mut self, extra: &[&str]) {
        if self.child.is_some() {
            self.stop();
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_path)
            .unwrap();
        let mut command = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin("rosterd"));
                c
            }
            None => Command::new(bin("rosterd")),
        };
        let mut child = command
            .arg("--config")
            .arg(&self.config_path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .env(
                "ROSTER_LOG",
                "trace,h2=info,hyper=info,tower=info,rustls=info",
            )
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(addr) = line.strip_prefix("rosterd listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let log = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
                panic!("rosterd did not start:\n{log}")
            });
        self.addr = addr.parse().unwrap();
        self.child = Some(child);
    }

    /// Every account, all pages.
    pub async fn all_accounts(&self, profile: &Path) -> Vec<roster_proto::v1::Account> {
        let mut c = self.accounts(profile).await;
        let mut out = Vec::new();
        let mut token = String::new();
        for _ in 0..10_000 {
            let page = c
                .list_accounts(roster_proto::v1::ListAccountsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            out.extend(page.accounts);
            if page.next_page_token.is_empty() {
                return out;
            }
            token = page.next_page_token;
        }
        panic!("ListAccounts paging did not end");
    }

    /// Every audit record, newest first (all pages).
    pub async fn all_audit(&self, profile: &Path) -> Vec<roster_proto::v1::AuditEvent> {
        let mut c = self.admin(profile).await;
        let mut out: Vec<roster_proto::v1::AuditEvent> = Vec::new();
        let mut before = 0;
        for _ in 0..10_000 {
            let page = c
                .list_audit_events(roster_proto::v1::ListAuditEventsRequest {
                    limit: 1000,
                    before_sequence: before,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .events;
            let Some(last) = page.last() else {
                return out;
            };
            before = last.sequence;
            out.extend(page);
            if before <= 1 {
                return out;
            }
        }
        panic!("ListAuditEvents paging did not end");
    }

    /// The retained events from sequence 1 on, read from WatchEvents until `enough` holds for
    /// what was read or no event arrives for `idle`.
    pub async fn stored_events(
        &self,
        profile: &Path,
        idle: Duration,
        enough: impl Fn(&[roster_proto::v1::Event]) -> bool,
    ) -> Vec<roster_proto::v1::Event> {
        let mut m = self.monitor(profile).await;
        let mut stream = m
            .watch_events(roster_proto::v1::WatchEventsRequest {
                from_sequence: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut out = Vec::new();
        while !enough(&out) {
            match tokio::time::timeout(idle, stream.message()).await {
                Ok(Ok(Some(ev))) => out.push(ev),
                Ok(Ok(None)) | Err(_) => break,
                Ok(Err(s)) => panic!("WatchEvents failed: {s:?}"),
            }
        }
        out
    }
}

/// True if `needle` occurs in `hay` (bytes).
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A small deterministic PRNG (xorshift64*) so the suites need no extra dependency; the seed is
/// printed by the tests that use it so a failure can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `ROSTER_TEST_SEED` if set, else from the clock.
    pub fn from_env() -> Self {
        let seed = std::env::var("ROSTER_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("ROSTER_TEST_SEED={seed}");
        Self::new(seed)
    }

    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi` (hi exclusive, hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
}

/// ListHealth, keyed by account name.
pub async fn health_by_name(
    m: &mut roster_proto::v1::monitor_service_client::MonitorServiceClient<Channel>,
) -> std::collections::HashMap<String, roster_proto::v1::AccountHealth> {
    m.list_health(roster_proto::v1::ListHealthRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts
        .into_iter()
        .map(|h| (h.account_name.clone(), h))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Venue helpers, shared by the venue files.

/// A venue account with its credential fields, created over gRPC.
pub fn venue_account(
    name: &str,
    connector: &str,
    environment: &str,
    url: &str,
    fields: &[(&str, &str)],
) -> roster_proto::v1::CreateAccountRequest {
    roster_proto::v1::CreateAccountRequest {
        name: name.into(),
        connector: connector.into(),
        environment: environment.into(),
        host_url: url.into(),
        credentials: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// A portfolio request for these accounts (every enabled one when empty).
pub fn books_request(accounts: &[&str], refresh: bool) -> roster_proto::v1::PortfolioRequest {
    roster_proto::v1::PortfolioRequest {
        accounts: accounts.iter().map(|a| a.to_string()).collect(),
        refresh,
        ..Default::default()
    }
}

/// CheckNow as the admin.
pub async fn check_now(d: &Daemon, pki: &Pki, name: &str) -> roster_proto::v1::AccountHealth {
    let mut m = d.monitor(&pki.admin()).await;
    m.check_now(roster_proto::v1::CheckNowRequest {
        account: name.into(),
    })
    .await
    .unwrap()
    .into_inner()
}

/// What a person sees of `account` through the CLI (list, get, health, audit, status, balances):
/// Everything a leak test reads back over gRPC: a CheckNow of each of `accounts`, then every
/// book of every account, refreshed (Debug text, so errors and their messages count too).
pub async fn checks_and_books(d: &Daemon, pki: &Pki, accounts: &[&str]) -> Vec<String> {
    let mut seen = Vec::new();
    for name in accounts {
        seen.push(format!("{:?}", check_now(d, pki, name).await));
    }
    let mut p = d.portfolio(&pki.admin()).await;
    let all = || books_request(&[], true);
    seen.push(format!("{:?}", p.get_funds(all()).await));
    seen.push(format!("{:?}", p.get_balances(all()).await));
    seen.push(format!("{:?}", p.get_positions(all()).await));
    seen.push(format!("{:?}", p.get_orders(all()).await));
    seen.push(format!("{:?}", p.get_trades(all()).await));
    seen.push(format!("{:?}", p.get_holdings(all()).await));
    seen
}

/// each command's stdout and stderr, for the leak tests to scan.
pub async fn cli_views(d: &Daemon, pki: &Pki, account: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for args in [
        vec!["account", "list"],
        vec!["account", "get", account],
        vec!["health"],
        vec!["audit"],
        vec!["status"],
        vec!["balances"],
    ] {
        let o = d.ctl_async(&pki.admin(), &args, "").await;
        let (out, err) = text(&o);
        seen.push(out);
        seen.push(err);
    }
    seen
}

/// Fails if any of `secrets` is in any of `seen` (texts) or `files` (bytes).
pub fn assert_no_secret<S: AsRef<str>>(secrets: &[S], seen: &[String], files: &[Vec<u8>]) {
    for secret in secrets {
        let secret = secret.as_ref();
        for (i, s) in seen.iter().enumerate() {
            assert!(!s.contains(secret), "{secret} in output {i}: {s}");
        }
        for bytes in files {
            assert!(
                !contains_bytes(bytes, secret.as_bytes()),
                "{secret} in a file"
            );
        }
    }
}
