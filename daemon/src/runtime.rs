//! Startup order, the running server, and shutdown: open the store, load the keyring, load the
//! accounts, build TLS, bind, serve; on a signal, stop accepting and drain.
//!
//! The address is bound first, so a taken port fails at once, but connections are accepted
//! (`listen`) only once everything is open: a client or script that waits for the port finds a
//! daemon that serves, and whatever [`start`]'s `announce` printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio::net::TcpSocket;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::accounts::{Accounts, DEFAULT_EVENT_RETENTION};
use crate::api::{self, ApiState};
use crate::audit::AuditSink;
use crate::auth::{self, AccessPolicy, AuthLayer, AuthState, HandshakePolicy};
use crate::config::Config;
use crate::connector::Connectors;
use crate::conns::{ConnLimits, ConnTable};
use crate::domain::HealthState;
use crate::metrics::Metrics;
use crate::monitor::MonitorHandle;
use crate::portfolio::PortfolioHandle;
use crate::refusals::Refusals;
use crate::store::Store;
use crate::supervisor::Supervisor;

/// File names the daemon looks for in `$CREDENTIALS_DIRECTORY` when the config names none.
pub const CRED_MASTER_KEY: &str = "master-key";
pub const CRED_SERVER_CERT: &str = "server.pem";
pub const CRED_SERVER_KEY: &str = "server.key";
pub const CRED_CLIENT_CA: &str = "client-ca.pem";
pub const DB_FILE: &str = "roster.redb";

/// Fills paths the config left out from the directories systemd provides.
pub fn apply_systemd_defaults(
    config: &mut Config,
    state_dir: Option<&Path>,
    credentials_dir: Option<&Path>,
) {
    if config.store.path.is_none() {
        config.store.path = state_dir.map(|d| d.join(DB_FILE));
    }
    if let Some(creds) = credentials_dir {
        let fill = |slot: &mut Option<PathBuf>, name: &str| {
            if slot.is_none() {
                *slot = Some(creds.join(name));
            }
        };
        fill(&mut config.keys.master_key_file, CRED_MASTER_KEY);
        fill(&mut config.tls.cert, CRED_SERVER_CERT);
        fill(&mut config.tls.key, CRED_SERVER_KEY);
        fill(&mut config.tls.client_ca, CRED_CLIENT_CA);
    }
}

/// Why the daemon could not start. Each names the file or setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("[store] path is not set and STATE_DIRECTORY is not present")]
    NoStorePath,
    #[error("[keys] master_key_file is not set and CREDENTIALS_DIRECTORY is not present")]
    NoMasterKey,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Seal(#[from] crate::seal::SealError),
    #[error(transparent)]
    Tls(#[from] auth::AuthError),
    // The cause is the error's source: `{:#}` prints it after the message.
    #[error("cannot bind {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    #[error(
        "account {account} is sealed with master key {key_id}, which is not loaded; put that key beside the master key file as master-key.retired-{key_id} (or restore the matching key) and start again"
    )]
    MissingKey { account: String, key_id: String },
    #[error("cannot bind the metrics listener {addr}")]
    Metrics {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Connector(#[from] crate::connector::ConfigError),
}

/// A running daemon: its address, and the way to stop it.
pub struct Running {
    pub local_addr: SocketAddr,
    pub accounts: Accounts,
    pub supervisor: Arc<Supervisor>,
    pub monitor: MonitorHandle,
    pub portfolio: PortfolioHandle,
    /// Where the Prometheus listener is bound, when `[metrics] listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// What a reload swaps: the TLS acceptor config and the access policy.
    tls: Arc<ArcSwap<rustls::ServerConfig>>,
    handshake: HandshakePolicy,
    auth: Arc<AuthState>,
    /// Per-tenant quotas, shared with the API.
    tenants: Arc<ArcSwap<crate::config::TenantsConfig>>,
    /// Every client connection's slot (a reload closes those of revoked serials).
    pub connections: Arc<ConnTable>,
    /// The config the daemon started with, for what a reload cannot change.
    started_with: Config,
    pub config_generation: Arc<AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Running {
    /// Stops accepting, lets in-flight calls finish for up to `drain`, then cuts what is left
    /// (an idle client that keeps its connection open must not hold the daemon up).
    pub async fn shutdown(mut self, drain: Duration) -> Result<(), tonic::transport::Error> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = match tokio::time::timeout(drain, &mut self.server).await {
            Ok(result) => result.unwrap_or(Ok(())),
            Err(_) => {
                warn!(drain = ?drain, "connections still open after the drain deadline; closing them");
                self.server.abort();
                Ok(())
            }
        };
        // Background tasks stop after the API, so in-flight calls could still use them.
        info!("API stopped; stopping background tasks");
        self.supervisor.shutdown(drain).await;
        served
    }

    /// Applies a new config without a restart: server certificate and client CA (new handshakes
    /// use them; live connections stay up), revoked serials (refused from the next handshake on,
    /// and their open connections closed), rate limits, and the monitor and
    /// portfolio settings. Everything is
    /// validated first, so an invalid config changes nothing. Settings that need a restart
    /// ([`Config::restart_only_changes`]) are logged and keep their running values.
    pub fn reload(&self, config: &Config) -> Result<u64, StartError> {
        let ignored = self.started_with.restart_only_changes(config);
        if !ignored.is_empty() {
            warn!(
                sections = %ignored.join(" "),
                "changed settings that take effect only at a restart; the running values stay"
            );
        }
        let tls = auth::tls_from_config(&config.tls, &self.handshake)?;
        let policy = AccessPolicy::new(&config.tls, &config.limits);
        let revoked = auth::revoked_set(&config.tls);
        self.handshake.revoked.store(Arc::new(revoked.clone()));
        self.tls.store(tls);
        self.auth.policy.store(Arc::new(policy));
        // A revoked certificate keeps nothing open: its connections (and their streams) end now.
        let closed = self.connections.close_revoked(&revoked);
        if closed > 0 {
            info!(closed, "closed the connections of revoked certificates");
        }
        self.monitor.reconfigure(&config.monitor);
        self.portfolio.reconfigure(&config.portfolio);
        self.tenants.store(Arc::new(config.tenants.clone()));
        let generation = self.config_generation.fetch_add(1, Ordering::Relaxed) + 1;
        info!(generation, "configuration reloaded");
        Ok(generation)
    }

    /// Resolves when the server ends on its own (it should not).
    pub async fn wait(&mut self) -> Result<(), tonic::transport::Error> {
        (&mut self.server).await.unwrap_or(Ok(()))
    }
}

/// Pending connections the kernel holds for the accept loop.
const LISTEN_BACKLOG: u32 = 1024;

/// Binds `config.server.listen`, opens everything in order, then listens and serves; returns once
/// the listener is serving. `announce` is called with the bound address once everything is
/// open, just before the port accepts connections: what it prints is there before anyone can
/// connect.
pub async fn start(
    config: Config,
    announce: impl FnOnce(SocketAddr),
) -> Result<Running, StartError> {
    let started_with = config.clone();
    let addr = config.server.listen;
    let bind_err = |source| StartError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_err)?;
    // As std's `TcpListener::bind` does: a restart may bind while old connections linger.
    socket.set_reuseaddr(true).map_err(bind_err)?;
    socket.bind(addr).map_err(bind_err)?;
    let started = Instant::now();
    let store_path = config.store.path.clone().ok_or(StartError::NoStorePath)?;
    let key_path = config
        .keys
        .master_key_file
        .clone()
        .ok_or(StartError::NoMasterKey)?;
    let keyring = Arc::new(ArcSwap::from_pointee(crate::seal::load_keyring(&key_path)?));
    let open_options = crate::store::OpenOptions::from(&config.store);
    let store = tokio::task::spawn_blocking(move || Store::open_with(&store_path, &open_options))
        .await
        .map_err(|e| crate::store::StoreError::Task(e.to_string()))??;
    let (events, _) = broadcast::channel(4096);
    let retention = config
        .store
        .event_retention_count
        .unwrap_or(DEFAULT_EVENT_RETENTION);
    let accounts = {
        let store = store.clone();
        let keyring = keyring.clone();
        tokio::task::spawn_blocking(move || Accounts::load(store, keyring, events, retention))
            .await
            .map_err(|e| crate::store::StoreError::Task(e.to_string()))??
    };
    // Refuse to run with accounts whose keys cannot be opened: better a clear startup error
    // than an account that silently fails every check.
    let loaded = keyring.load().key_ids();
    if let Some(a) = accounts
        .all()
        .into_iter()
        .find(|a| !loaded.contains(&a.sealed_key.key_id))
    {
        return Err(StartError::MissingKey {
            account: format!("{} ({})", a.name, a.id),
            key_id: a.sealed_key.key_id.clone(),
        });
    }
    let audit = AuditSink::start(store.clone());
    // This daemon's instruments, handed to whatever records; nothing is process-global.
    let metrics = Arc::new(Metrics::new());
    let refusals = Refusals::start(
        config.limits.refusal_log_interval,
        audit.clone(),
        metrics.clone(),
    );
    let handshake = HandshakePolicy::new(&config.tls, refusals.clone());
    let tls = Arc::new(ArcSwap::new(auth::tls_from_config(
        &config.tls,
        &handshake,
    )?));
    // Sized from the open-file limit, so a flood of connections meets our refusal, not EMFILE.
    let nofile = crate::conns::raise_nofile_limit();
    let limits = ConnLimits::sized(&config, nofile);
    info!(
        open_file_limit = nofile.map_or_else(|| "unlimited".to_string(), |n| n.to_string()),
        configured = config.server.max_connections,
        max_connections = limits.max_connections,
        "client connection slots sized from the open-file limit"
    );
    let connections = ConnTable::new(limits, refusals.clone(), metrics.clone());
    let config_generation = Arc::new(AtomicU64::new(1));
    let server_cert_expiry = config
        .tls
        .cert
        .as_deref()
        .and_then(|p| crate::pki::cert_not_after(p).ok());

    let local_addr = socket.local_addr().map_err(bind_err)?;
    let connectors = Connectors::new(config.upstream.clone(), metrics.clone())?;
    let supervisor = Arc::new(Supervisor::new());
    crate::store::spawn_recovery(&supervisor, store.clone());
    let monitor = MonitorHandle::start(
        &config.monitor,
        accounts.clone(),
        connectors.clone(),
        metrics.clone(),
        &supervisor,
    );
    let portfolio = PortfolioHandle::start(
        &config.portfolio,
        accounts.clone(),
        connectors,
        metrics.clone(),
        &supervisor,
        config.upstream.request_timeout,
        {
            use crate::portfolio::Standing;
            let monitor = monitor.clone();
            Arc::new(move |id: &str| {
                monitor.view(|v| match v.get(id) {
                    Some(h) if h.state == crate::store::HealthState::Up => Standing::Up,
                    Some(h) if crate::monitor::state::key_refused(h) => Standing::KeyRefused,
                    _ => Standing::Other,
                })
            })
        },
    );
    let tenants = Arc::new(ArcSwap::from_pointee(config.tenants.clone()));
    let api_state = ApiState {
        accounts: accounts.clone(),
        audit: audit.clone(),
        monitor: monitor.clone(),
        portfolio: portfolio.clone(),
        started,
        start_time: SystemTime::now(),
        server_cert_expiry,
        config_generation: config_generation.clone(),
        max_request_bytes: config.server.max_request_bytes,
        master_key_file: key_path.clone(),
        tenants: tenants.clone(),
    };
    let auth_state = Arc::new(AuthState {
        policy: ArcSwap::from_pointee(AccessPolicy::new(&config.tls, &config.limits)),
        audit,
        refusals,
        metrics: metrics.clone(),
    });
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    report_storage_health(&supervisor, &store, health_reporter.clone());
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(roster_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| StartError::Reflection(e.to_string()))?;

    let metrics_addr = match config.metrics.listen {
        Some(addr) => {
            let monitor = monitor.clone();
            let exposition = metrics.exposition(move || {
                let counts = monitor.counts();
                HealthState::ALL
                    .map(|s| (s.as_str(), counts.get(s.as_str()).copied().unwrap_or(0)))
                    .to_vec()
            });
            let mut stop = supervisor.signal();
            let (bound, serve) =
                crate::metrics::listen(addr, exposition, async move { stop.requested().await })
                    .await
                    .map_err(|source| StartError::Metrics { addr, source })?;
            supervisor.spawn("metrics", serve);
            Some(bound)
        }
        None => None,
    };
    announce(local_addr);
    let listener = socket.listen(LISTEN_BACKLOG).map_err(bind_err)?;
    let incoming = crate::conns::incoming(listener, tls.clone(), connections.clone());
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .layer(AuthLayer {
            state: auth_state.clone(),
        })
        .max_concurrent_streams(config.server.max_concurrent_streams)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .add_routes(api::routes(api_state))
        .add_service(health_service)
        .add_service(reflection);
    let server = tokio::spawn(async move {
        let reporter = health_reporter;
        let result = server
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = shutdown_rx.await;
                reporter
                    .set_service_status("", tonic_health::ServingStatus::NotServing)
                    .await;
            })
            .await;
        if let Err(e) = &result {
            warn!(error = %e, "gRPC server ended with an error");
        }
        result
    });
    info!(
        addr = %local_addr,
        accounts = accounts.count(),
        startup_ms = started.elapsed().as_millis(),
        "rosterd ready"
    );
    Ok(Running {
        local_addr,
        accounts,
        supervisor,
        monitor,
        portfolio,
        metrics_addr,
        tls,
        handshake,
        auth: auth_state,
        tenants,
        connections,
        started_with,
        config_generation,
        shutdown: Some(shutdown_tx),
        server,
    })
}

/// grpc.health.v1 says NOT_SERVING while the store cannot write (a client or load balancer
/// stops sending work that would fail) and SERVING again once it has been reopened. The reason
/// is in `rosterctl status`.
fn report_storage_health(
    supervisor: &Supervisor,
    store: &Store,
    reporter: tonic_health::server::HealthReporter,
) {
    let mut faults = store.faults();
    let mut stop = supervisor.signal();
    supervisor.spawn("storage-health", async move {
        loop {
            tokio::select! {
                changed = faults.changed() => if changed.is_err() { return },
                () = stop.requested() => return,
            }
            let status = if faults.borrow_and_update().is_some() {
                tonic_health::ServingStatus::NotServing
            } else {
                tonic_health::ServingStatus::Serving
            };
            reporter.set_service_status("", status).await;
        }
    });
}
