//! The real `rosterd` under test: a temp dir with PKI, master key and config, the process itself
//! (spawned from the release binary beside `roster-bench`), and mTLS gRPC channels to it.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use super::measure::ProcSample;

/// A binary of this workspace next to the running `roster-bench` (same profile).
pub fn sibling_bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("roster-bench has no parent dir")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build --release -p rosterd -p rosterctl -p roster-tests` first",
            path.display()
        );
    }
    Ok(path)
}

/// A temp dir holding everything one daemon needs; the daemon can be started, stopped and
/// started again on the same state.
pub struct Env {
    /// Kept for its Drop (removes the dir); `--keep` leaks it for inspection.
    tmp: Option<tempfile::TempDir>,
    pub root: PathBuf,
    pub pki: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
    /// Added to the daemon's environment (e.g. `SSL_CERT_FILE` for https upstreams).
    pub daemon_env: Vec<(String, PathBuf)>,
}

impl Env {
    /// PKI (`rosterd::pki::init`), a 0600 master key and a config with `extra` appended. The
    /// per-principal rate limit is raised far above anything the bench sends: the bench measures
    /// the daemon's work, not its throttling.
    pub fn new(extra: &str) -> anyhow::Result<Env> {
        let tmp = tempfile::Builder::new().prefix("roster-bench-").tempdir()?;
        let root = tmp.path().to_path_buf();
        let pki = root.join("pki");
        let state = root.join("state");
        std::fs::create_dir_all(&pki)?;
        std::fs::create_dir_all(&state)?;
        rosterd::pki::init(&pki, &[])?;
        let key = root.join("master-key");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)?;
        f.write_all(&rosterd::seal::generate_master_key())?;
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        let config = format!(
            "[tls]\ncert = {}\nkey = {}\nclient_ca = {}\n\
             [store]\npath = {}\n[keys]\nmaster_key_file = {}\n\
             [limits]\nrequests_per_second = 1000000\nburst = 1000000\ntenant_requests_per_second = 1000000\ntenant_burst = 1000000\n\
             [server]\nmax_concurrent_streams = 1024\n{extra}\n",
            q(&pki.join("server.pem")),
            q(&pki.join("server.key")),
            q(&pki.join("ca.pem")),
            q(&state.join("roster.redb")),
            q(&key),
        );
        let config_path = root.join("rosterd.toml");
        std::fs::write(&config_path, config)?;
        Ok(Env {
            tmp: Some(tmp),
            root,
            pki,
            state,
            config: config_path,
            daemon_env: Vec::new(),
        })
    }

    /// Keeps the temp dir after the run (its path is printed).
    pub fn keep(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = t.keep();
        }
    }

    /// Spawns `rosterd --config FILE --listen 127.0.0.1:0` and waits for its "listening" line
    /// and its READY=1 (through a NOTIFY_SOCKET of our own, as systemd would provide).
    pub fn spawn(&self) -> anyhow::Result<Daemon> {
        let notify_path = self.root.join("notify.sock");
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path)?;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("rosterd.stderr.log"))?;
        let started = Instant::now();
        // ROSTERD_BIN runs another build (a saved "before" binary for an A/B comparison).
        let bin = match std::env::var_os("ROSTERD_BIN") {
            Some(p) => PathBuf::from(p),
            None => sibling_bin("rosterd")?,
        };
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(&self.config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("NOTIFY_SOCKET", &notify_path)
            .env("ROSTER_LOG", "warn")
            .envs(self.daemon_env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(addr) = line.strip_prefix("rosterd listening on ") {
                    let _ = tx.send((addr.trim().to_string(), Instant::now()));
                }
            }
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = notify.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]);
                if msg.lines().any(|l| l == "READY=1") {
                    let _ = ready_tx.send(Instant::now());
                    return;
                }
            }
        });
        let Ok((addr, listening_at)) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let log =
                std::fs::read_to_string(self.root.join("rosterd.stderr.log")).unwrap_or_default();
            bail!("rosterd did not start:\n{log}");
        };
        let ready = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .map(|t| t.duration_since(started));
        // For attaching a profiler by hand (`perf record -p PID`).
        eprintln!("rosterd pid {} listening on {addr}", child.id());
        Ok(Daemon {
            pid: child.id(),
            child: Some(child),
            addr: addr.parse()?,
            pki: self.pki.clone(),
            to_listening: listening_at.duration_since(started),
            to_ready: ready,
        })
    }
}

/// A running `rosterd`.
pub struct Daemon {
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    pki: PathBuf,
    /// From spawn to the "rosterd listening on" stdout line.
    pub to_listening: Duration,
    /// From spawn to READY=1 on the notify socket.
    pub to_ready: Option<Duration>,
}

impl Daemon {
    /// CPU time and memory of the daemon right now.
    pub fn sample(&self) -> anyhow::Result<ProcSample> {
        ProcSample::read(self.pid)
    }

    /// An mTLS channel with the admin profile that `pki::init` made: one HTTP/2 connection.
    pub async fn channel(&self) -> anyhow::Result<Channel> {
        let admin = self.pki.join("admin");
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(
                self.pki.join("ca.pem"),
            )?))
            .identity(Identity::from_pem(
                std::fs::read(admin.join("cert.pem"))?,
                std::fs::read(admin.join("key.pem"))?,
            ))
            .domain_name("localhost");
        Ok(Channel::from_shared(format!("https://{}", self.addr))?
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .connect()
            .await?)
    }

    /// Where `raw::H2Connection::connect` reaches the daemon: its address and the PKI dir that
    /// holds the admin profile.
    pub fn h2_target(&self) -> (SocketAddr, PathBuf) {
        (self.addr, self.pki.clone())
    }

    /// The `--addr`/`--profile` arguments for `rosterctl`.
    pub fn ctl_args(&self) -> Vec<String> {
        vec![
            "--addr".into(),
            format!("https://{}", self.addr),
            "--profile".into(),
            self.pki.join("admin").display().to_string(),
        ]
    }

    /// SIGTERM, then the time until the process has exited (polled every millisecond), and
    /// whether it exited cleanly.
    pub fn stop_timed(&mut self) -> anyhow::Result<(Duration, bool)> {
        let mut c = self.child.take().context("daemon not running")?;
        let started = Instant::now();
        // `kill(1)` rather than a signal syscall: the workspace forbids `unsafe`; the fork costs
        // about a millisecond, which the figure includes.
        Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()?;
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Some(status) = c.try_wait()? {
                return Ok((started.elapsed(), status.success()));
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                bail!("rosterd did not exit within 60 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
