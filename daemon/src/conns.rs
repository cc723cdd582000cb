//! Client connections: who may hold a slot, for how long, and how one is closed.
//!
//! Connections are untrusted until their TLS handshake proves a certificate, so the slots are
//! shared out in stages:
//! - before TLS a connection counts against its peer address (`max_handshakes_per_ip`) and the
//!   whole table (`max_connections`); when either is full the *oldest* connection still in its
//!   handshake (of that address, or of all) is closed to make room, so idle TCP connections can
//!   delay a client but never lock it out;
//! - after TLS it counts against its principal (`max_connections_per_principal`), and only
//!   admin-role certificates may take the last `admin_reserved_connections` slots, so an admin can
//!   always get in to fix things;
//! - an established connection is closed when it sends no request within
//!   `first_request_timeout`, has no request in flight for `idle_timeout`, outlives its
//!   certificate, or its serial is revoked by a reload (which also ends its open streams).
//!
//! The accept loop never stops accepting: a connection that gets no slot is closed at once, so
//! the kernel's backlog never fills with clients the daemon will not serve.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures::task::AtomicWaker;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tracing::info;

use crate::config::{Config, ServerConfig as ServerSettings};
use crate::metrics::Metrics;
use crate::pki::ClientIdentity;
use crate::pki::Role;
use crate::refusals::{Kind, Refusals};

/// (not before, not after) of a DER certificate.
pub(crate) fn validity(der: &[u8]) -> Option<(SystemTime, SystemTime)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let at = |t: x509_parser::time::ASN1Time| {
        u64::try_from(t.timestamp())
            .ok()
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
    };
    Some((
        at(cert.validity().not_before)?,
        at(cert.validity().not_after)?,
    ))
}

/// What the daemon knows about the peer of a connection, fixed at handshake time.
#[derive(Debug)]
pub struct PeerInfo {
    pub remote: SocketAddr,
    /// Why the (chain-verified) certificate gives no identity, if it does not.
    pub identity: Result<ClientIdentity, String>,
    /// Start of the leaf's validity window (also checked per request, against a clock that moved).
    pub not_before: SystemTime,
    /// The connection itself: its slot, deadlines, requests in flight, and the way to close it.
    pub conn: Arc<ConnControl>,
}

/// The connection info tonic puts into every request's extensions.
#[derive(Debug, Clone)]
pub struct Peer(pub Arc<PeerInfo>);

/// The identity and validity start of a connection's verified leaf certificate.
pub(crate) fn peer_identity(
    io: &TlsStream<TcpStream>,
) -> (Result<ClientIdentity, String>, SystemTime) {
    let (_, conn) = io.get_ref();
    let Some(leaf) = conn.peer_certificates().and_then(|chain| chain.first()) else {
        return (Err("no client certificate".into()), SystemTime::UNIX_EPOCH);
    };
    let not_before = validity(leaf.as_ref()).map_or(SystemTime::UNIX_EPOCH, |(nb, _)| nb);
    (
        ClientIdentity::from_der(leaf.as_ref()).map_err(|e| e.to_string()),
        not_before,
    )
}

/// The connection bounds in force (fixed at startup; the listener needs a restart to change).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub admin_reserved: usize,
    pub max_handshakes_per_ip: usize,
    pub max_per_principal: usize,
    pub handshake_timeout: Duration,
    pub first_request_timeout: Duration,
    pub idle_timeout: Duration,
}

/// File descriptors kept for everything but client connections: the store, the metrics
/// listener, logging, and slack for short-lived files.
const FD_MARGIN: u64 = 64;
/// The most the soft open-file limit is raised to (the kernel's default `nr_open`).
const FD_CEILING: u64 = 1 << 20;

impl ConnLimits {
    /// The configured bounds, with `max_connections` lowered to what `nofile` (the open-file
    /// limit) leaves after the upstream connections (up to half the limit) and a margin, so
    /// the daemon refuses a client before `accept` ever fails for want of a descriptor.
    pub fn sized(config: &Config, nofile: Option<u64>) -> Self {
        let s: &ServerSettings = &config.server;
        let mut max = s.max_connections.max(1);
        if let Some(nofile) = nofile {
            let upstream = u64::try_from(
                config
                    .monitor
                    .concurrency
                    .saturating_add(config.portfolio.concurrency),
            )
            .unwrap_or(u64::MAX)
            .min(nofile / 2);
            let for_clients = nofile.saturating_sub(upstream).saturating_sub(FD_MARGIN);
            let for_clients = usize::try_from(for_clients).unwrap_or(usize::MAX).max(8);
            max = max.min(for_clients);
        }
        Self {
            max_connections: max,
            // At least one slot stays open to everyone, whatever the reserve says.
            admin_reserved: s.admin_reserved_connections.min(max.saturating_sub(1)),
            max_handshakes_per_ip: s.max_handshakes_per_ip.max(1),
            max_per_principal: s.max_connections_per_principal.max(1),
            handshake_timeout: s.handshake_timeout,
            first_request_timeout: s.first_request_timeout,
            idle_timeout: s.idle_timeout,
        }
    }
}

/// Raises the soft open-file limit to the hard limit (as servers commonly do; the unit sets
/// `LimitNOFILE`) and returns the soft limit in effect, or None if it is unlimited.
pub fn raise_nofile_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let target = limit.maximum.unwrap_or(FD_CEILING).min(FD_CEILING);
    if let Some(current) = limit.current
        && current < target
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: limit.maximum,
            },
        )
        .is_ok()
    {
        return Some(target);
    }
    limit.current
}

/// `at + d`, saturating far in the future instead of overflowing.
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365))
}

// ---------------------------------------------------------------------------------------------
// One connection's state, shared by its stream, the request layer and the table.

/// What the daemon can do to and learn about one open connection from outside its task.
#[derive(Debug)]
pub struct ConnControl {
    pub remote: SocketAddr,
    started: Instant,
    closed: AtomicBool,
    why: OnceLock<&'static str>,
    /// The connection task, woken to notice a close.
    waker: AtomicWaker,
    /// Wakes a handshake that is shed to make room.
    shed: Notify,
    /// Requests in flight (a stream counts until its response body is done).
    active: AtomicUsize,
    requested: AtomicBool,
    /// Milliseconds after `started` when the last request ended.
    last_active_ms: AtomicU64,
}

impl ConnControl {
    fn new(remote: SocketAddr) -> Self {
        Self {
            remote,
            started: Instant::now(),
            closed: AtomicBool::new(false),
            why: OnceLock::new(),
            waker: AtomicWaker::new(),
            shed: Notify::new(),
            active: AtomicUsize::new(0),
            requested: AtomicBool::new(false),
            last_active_ms: AtomicU64::new(0),
        }
    }

    /// A connection made for a test, not in any table.
    pub fn detached(remote: SocketAddr) -> Arc<Self> {
        Arc::new(Self::new(remote))
    }

    /// Closes the connection: its next read sees end of stream and its writes fail, so hyper ends
    /// it and every stream on it.
    pub fn close(&self, why: &'static str) {
        let _ = self.why.set(why);
        self.closed.store(true, Ordering::Release);
        self.waker.wake();
        self.shed.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks a request as started; it stays in flight until the guard (kept with its response
    /// body) is dropped.
    pub fn request_started(self: &Arc<Self>) -> StreamGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        self.requested.store(true, Ordering::Release);
        StreamGuard(self.clone())
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(ms, Ordering::Release);
    }

    /// When the connection must be looked at again, or why it must close now.
    fn due(
        &self,
        now: Instant,
        limits: &ConnLimits,
        not_after: Option<Instant>,
    ) -> Result<Instant, &'static str> {
        if not_after.is_some_and(|t| now >= t) {
            return Err("certificate expired while connected");
        }
        let next = if self.active.load(Ordering::Acquire) > 0 {
            later(now, limits.idle_timeout)
        } else if !self.requested.load(Ordering::Acquire) {
            let at = later(self.started, limits.first_request_timeout);
            if now >= at {
                return Err("no request after the handshake");
            }
            at
        } else {
            let last = later(
                self.started,
                Duration::from_millis(self.last_active_ms.load(Ordering::Acquire)),
            );
            let at = later(last, limits.idle_timeout);
            if now >= at {
                return Err("idle");
            }
            at
        };
        Ok(not_after.map_or(next, |t| next.min(t)))
    }
}

/// One request in flight on a connection (see [`ConnControl::request_started`]).
#[derive(Debug)]
pub struct StreamGuard(Arc<ConnControl>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in flight until it is done (a
/// `WatchEvents` stream keeps its connection from being idle for as long as it is open).
pub struct TrackedBody {
    inner: tonic::body::Body,
    _guard: StreamGuard,
}

impl TrackedBody {
    pub fn wrap(inner: tonic::body::Body, guard: StreamGuard) -> tonic::body::Body {
        tonic::body::Body::new(Self {
            inner,
            _guard: guard,
        })
    }
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = tonic::Status;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, tonic::Status>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

// ---------------------------------------------------------------------------------------------
// The table of slots.

#[derive(Debug, Default)]
struct TableState {
    /// Connections holding a slot (handshaking or established).
    open: usize,
    established_non_admin: usize,
    handshaking_per_ip: HashMap<IpAddr, usize>,
    per_principal: HashMap<String, usize>,
    /// Connections in their handshake, oldest first (the ones shed when slots run out).
    handshaking: BTreeMap<u64, Arc<ConnControl>>,
    /// Established connections by id, with their certificate serial (for revocation).
    established: HashMap<u64, (Arc<ConnControl>, String)>,
    next_id: u64,
}

fn dec<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

/// Every client connection's slot.
#[derive(Debug)]
pub struct ConnTable {
    pub limits: ConnLimits,
    pub refusals: Arc<Refusals>,
    /// Where the number of open connections is published.
    metrics: Arc<Metrics>,
    state: Mutex<TableState>,
}

#[derive(Debug)]
enum Stage {
    Handshaking,
    Established { principal: String, admin: bool },
    Released,
}

/// A connection's place in the table; dropping it frees the place.
#[derive(Debug)]
pub struct ConnSlot {
    table: Arc<ConnTable>,
    id: u64,
    pub conn: Arc<ConnControl>,
    stage: Stage,
}

impl ConnTable {
    pub(crate) fn new(
        limits: ConnLimits,
        refusals: Arc<Refusals>,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits,
            refusals,
            metrics,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TableState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, state: &TableState) {
        self.metrics.set_connections_open(state.open);
    }

    /// A slot for a new TCP connection from `remote`, shedding the oldest handshake when the
    /// table is full; or why there is none.
    pub fn admit(self: &Arc<Self>, remote: SocketAddr) -> Result<ConnSlot, &'static str> {
        let ip = remote.ip();
        let mut st = self.state();
        let mut shed = None;
        if st.handshaking_per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.max_handshakes_per_ip
        {
            // That address's oldest handshake makes room: an address (or a NAT full of clients)
            // can delay its own newcomers, never lock them out, and never take others' slots.
            let oldest = st
                .handshaking
                .iter()
                .find(|(_, c)| c.remote.ip() == ip)
                .map(|(id, _)| *id);
            let Some(oldest) = oldest.and_then(|id| st.handshaking.remove(&id)) else {
                return Err("too many handshakes from one address");
            };
            st.open = st.open.saturating_sub(1);
            dec(&mut st.handshaking_per_ip, &ip);
            shed = Some(oldest);
        } else if st.open >= self.limits.max_connections {
            let Some((_, oldest)) = st.handshaking.pop_first() else {
                return Err("every connection slot is taken");
            };
            st.open = st.open.saturating_sub(1);
            dec(&mut st.handshaking_per_ip, &oldest.remote.ip());
            shed = Some(oldest);
        }
        let id = st.next_id;
        st.next_id = st.next_id.wrapping_add(1);
        let conn = Arc::new(ConnControl::new(remote));
        st.open += 1;
        *st.handshaking_per_ip.entry(ip).or_insert(0) += 1;
        st.handshaking.insert(id, conn.clone());
        self.publish(&st);
        drop(st);
        if let Some(oldest) = shed {
            oldest.close("shed for a newer connection");
            self.refusals.refused(
                Kind::Connection,
                &oldest.remote.ip().to_string(),
                "oldest unauthenticated connection shed",
                "every connection slot was taken",
            );
        }
        Ok(ConnSlot {
            table: self.clone(),
            id,
            conn,
            stage: Stage::Handshaking,
        })
    }

    /// Moves a slot from handshaking to established under its certificate's principal, or says
    /// why the connection may not stay.
    fn establish(
        &self,
        slot: &mut ConnSlot,
        principal: &str,
        role: Role,
        serial: &str,
    ) -> Result<(), &'static str> {
        let mut st = self.state();
        if st.handshaking.remove(&slot.id).is_none() {
            // Shed while it finished its handshake: its place is already gone.
            slot.stage = Stage::Released;
            return Err("shed for a newer connection");
        }
        dec(&mut st.handshaking_per_ip, &slot.conn.remote.ip());
        let admin = role == Role::Admin;
        let refusal = if !admin
            && st.established_non_admin
                >= self
                    .limits
                    .max_connections
                    .saturating_sub(self.limits.admin_reserved)
        {
            Some("only slots reserved for admins are left")
        } else if st.per_principal.get(principal).copied().unwrap_or(0)
            >= self.limits.max_per_principal
        {
            Some("too many connections for one principal")
        } else {
            None
        };
        if let Some(why) = refusal {
            st.open = st.open.saturating_sub(1);
            self.publish(&st);
            slot.stage = Stage::Released;
            return Err(why);
        }
        *st.per_principal.entry(principal.to_string()).or_insert(0) += 1;
        if !admin {
            st.established_non_admin += 1;
        }
        st.established
            .insert(slot.id, (slot.conn.clone(), serial.to_string()));
        slot.stage = Stage::Established {
            principal: principal.to_string(),
            admin,
        };
        Ok(())
    }

    fn release(&self, id: u64, stage: &Stage, remote: IpAddr) {
        let mut st = self.state();
        match stage {
            Stage::Released => return,
            Stage::Handshaking => {
                // Not there if it was shed, which already gave its place back.
                if st.handshaking.remove(&id).is_none() {
                    return;
                }
                dec(&mut st.handshaking_per_ip, &remote);
            }
            Stage::Established { principal, admin } => {
                st.established.remove(&id);
                dec(&mut st.per_principal, principal);
                if !admin {
                    st.established_non_admin = st.established_non_admin.saturating_sub(1);
                }
            }
        }
        st.open = st.open.saturating_sub(1);
        self.publish(&st);
    }

    /// Closes every established connection whose certificate serial is in `revoked` (after a
    /// reload): their open streams end with them. Returns how many.
    pub fn close_revoked(&self, revoked: &HashSet<String>) -> usize {
        let victims: Vec<Arc<ConnControl>> = self
            .state()
            .established
            .values()
            .filter(|(_, serial)| revoked.contains(serial))
            .map(|(conn, _)| conn.clone())
            .collect();
        for conn in &victims {
            conn.close("certificate revoked");
        }
        victims.len()
    }

    /// (open, established) connections, for tests and status.
    pub fn counts(&self) -> (usize, usize) {
        let st = self.state();
        (st.open, st.established.len())
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.table
            .release(self.id, &self.stage, self.conn.remote.ip());
    }
}

// ---------------------------------------------------------------------------------------------
// The established connection's byte stream.

/// A TLS connection whose client certificate has been verified; holds a connection slot.
/// (Generic over the byte stream only so that tests can drive the write coalescing.)
pub struct AuthedConn<IO = TlsStream<TcpStream>> {
    io: IO,
    peer: Peer,
    /// Set once the current burst of writes has waited its one turn (see [`AuthedConn::corked`]).
    uncorked: bool,
    slot: Option<ConnSlot>,
    limits: Option<ConnLimits>,
    /// When the certificate expires, as an instant.
    not_after: Option<Instant>,
    /// Wakes the connection when its first-request, idle or expiry deadline comes.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<IO> AuthedConn<IO> {
    /// A connection outside any table and without deadlines (tests of the write path).
    #[cfg(test)]
    pub fn detached(io: IO, peer: Peer) -> Self {
        Self {
            io,
            peer,
            uncorked: false,
            slot: None,
            limits: None,
            not_after: None,
            deadline: None,
        }
    }

    /// Write coalescing. Every HTTP/2 stream is answered by its own task, and each answer wakes
    /// the connection task, which would encrypt and `writev` it at once: one TLS record and one
    /// syscall per response, even when the answers to the other requests of the same read are
    /// only a task away. So the first write after a flush gives way once (wakes itself and
    /// returns `Pending`; tokio puts a self-woken task at the back of the run queue): the
    /// connection task then runs again after the tasks that were already runnable, h2 keeps
    /// its frames buffered meanwhile and adds the answers that became ready, and they all leave
    /// in one record and one syscall. An idle connection pays one extra poll, not a delay.
    fn corked(&mut self, cx: &mut Context<'_>) -> bool {
        if self.uncorked {
            return false;
        }
        self.uncorked = true;
        cx.waker().wake_by_ref();
        true
    }

    /// Checks the connection's deadlines; true when it has just been closed for one.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limits) = &self.limits else {
            return false;
        };
        let conn = &self.peer.0.conn;
        loop {
            let now = Instant::now();
            let deadline = match &mut self.deadline {
                Some(d) => d,
                None => match conn.due(now, limits, self.not_after) {
                    Ok(at) => self
                        .deadline
                        .insert(Box::pin(tokio::time::sleep_until(at.into()))),
                    Err(why) => return self.close_for(why),
                },
            };
            if deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            match conn.due(now, limits, self.not_after) {
                Ok(at) => deadline.as_mut().reset(at.into()),
                Err(why) => return self.close_for(why),
            }
        }
    }

    fn close_for(&mut self, why: &'static str) -> bool {
        let conn = &self.peer.0.conn;
        conn.close(why);
        if let (Some(slot), Ok(id)) = (&self.slot, &self.peer.0.identity) {
            slot.table
                .refusals
                .refused(Kind::Connection, &id.principal, why, "connection closed");
        }
        true
    }
}

impl<IO> Connected for AuthedConn<IO> {
    type ConnectInfo = Peer;
    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for AuthedConn<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        this.peer.0.conn.waker.register(cx.waker());
        // A closed connection reads as ended: hyper then ends it with all its streams.
        if this.peer.0.conn.is_closed() || this.expired(cx) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

fn closed_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "connection closed by the daemon",
    )
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AuthedConn<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.peer.0.conn.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        if self.corked(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.peer.0.conn.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        if flushed.is_ready() {
            // The burst is out: the next write starts a new one, and waits its turn again.
            self.uncorked = false;
        }
        flushed
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.peer.0.conn.is_closed() {
            return Poll::Ready(Err(closed_error()));
        }
        if self.corked(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

// ---------------------------------------------------------------------------------------------
// The accept loop.

/// Why a handshake failed, as a bounded set of reasons (for logs and metric labels).
fn handshake_reason(e: &std::io::Error) -> &'static str {
    use rustls::CertificateError as C;
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::NoCertificatesPresented) => "no client certificate",
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::Revoked => "certificate revoked",
            C::Expired | C::ExpiredContext { .. } => "certificate expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "certificate not valid yet",
            C::ApplicationVerificationFailure => "unusable identity",
            _ => "untrusted certificate",
        },
        _ => "TLS handshake failed",
    }
}

/// Accepts TCP connections, gives each a slot ([`ConnTable`]) and completes its TLS handshake in
/// its own task, bounded by `handshake_timeout`; established connections come out of the
/// returned stream. The accept loop ends when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ArcSwap<ServerConfig>>,
    table: Arc<ConnTable>,
) -> ReceiverStream<Result<AuthedConn, std::io::Error>> {
    let (tx, rx) = mpsc::channel(128);
    info!(
        max_connections = table.limits.max_connections,
        admin_reserved = table.limits.admin_reserved,
        max_handshakes_per_ip = table.limits.max_handshakes_per_ip,
        max_connections_per_principal = table.limits.max_per_principal,
        "connection limits"
    );
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let (tcp, remote) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    table.refusals.refused(
                        Kind::Connection,
                        "listener",
                        "accept failed",
                        &e.to_string(),
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = match table.admit(remote) {
                Ok(slot) => slot,
                Err(why) => {
                    table.refusals.refused(
                        Kind::Connection,
                        &remote.ip().to_string(),
                        why,
                        "closed before TLS",
                    );
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.load_full());
            let tx = tx.clone();
            let table = table.clone();
            tokio::spawn(async move {
                let limits = &table.limits;
                let handshake = tokio::select! {
                    done = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)) => done,
                    // Shed for a newer connection (already reported).
                    () = slot.conn.shed.notified() => return,
                };
                let io = match handshake {
                    Ok(Ok(io)) => io,
                    Ok(Err(e)) => {
                        let who = remote.ip().to_string();
                        let reason = handshake_reason(&e);
                        table
                            .refusals
                            .refused(Kind::Handshake, &who, reason, &e.to_string());
                        return;
                    }
                    Err(_) => {
                        table.refusals.refused(
                            Kind::Handshake,
                            &remote.ip().to_string(),
                            "TLS handshake timed out",
                            "",
                        );
                        return;
                    }
                };
                let (identity, not_before) = peer_identity(&io);
                let mut slot = slot;
                let not_after = match &identity {
                    Ok(id) => {
                        if let Err(why) =
                            table.establish(&mut slot, &id.principal, id.role, &id.serial_hex)
                        {
                            table.refusals.refused(
                                Kind::Connection,
                                &id.principal,
                                why,
                                "closed after TLS",
                            );
                            return;
                        }
                        Some(match id.not_after.duration_since(SystemTime::now()) {
                            Ok(left) => later(Instant::now(), left),
                            Err(_) => Instant::now(),
                        })
                    }
                    Err(why) => {
                        table.refusals.refused(
                            Kind::Handshake,
                            &remote.ip().to_string(),
                            "unusable identity",
                            why,
                        );
                        return;
                    }
                };
                let peer = Peer(Arc::new(PeerInfo {
                    remote,
                    identity,
                    not_before,
                    conn: slot.conn.clone(),
                }));
                let limits = Some(table.limits.clone());
                let _ = tx
                    .send(Ok(AuthedConn {
                        io,
                        peer,
                        uncorked: false,
                        slot: Some(slot),
                        limits,
                        not_after,
                        deadline: None,
                    }))
                    .await;
            });
        }
    });
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, reserved: usize) -> ConnLimits {
        ConnLimits {
            max_connections: max,
            admin_reserved: reserved,
            max_handshakes_per_ip: 3,
            max_per_principal: 2,
            handshake_timeout: Duration::from_secs(1),
            first_request_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
        }
    }

    fn table(max: usize, reserved: usize) -> Arc<ConnTable> {
        let metrics = Arc::new(Metrics::new());
        ConnTable::new(
            limits(max, reserved),
            Arc::new(Refusals::new(Duration::from_secs(60), metrics.clone())),
            metrics,
        )
    }

    fn addr(last: u8) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, last], 40000))
    }

    #[test]
    fn a_full_table_sheds_its_oldest_handshake_and_never_an_established_connection() {
        let t = table(3, 1);
        let mut a = t.admit(addr(1)).unwrap();
        t.establish(&mut a, "alice", Role::Viewer, "01").unwrap();
        let b = t.admit(addr(2)).unwrap();
        let c = t.admit(addr(3)).unwrap();
        assert_eq!(t.counts(), (3, 1));
        // Full: the oldest handshake (b) makes room, alice keeps hers.
        let d = t.admit(addr(4)).unwrap();
        assert!(b.conn.is_closed() && !c.conn.is_closed() && !a.conn.is_closed());
        assert_eq!(t.counts(), (3, 1));
        drop(b);
        assert_eq!(t.counts(), (3, 1), "a shed slot is freed once");
        drop((c, d));
        assert_eq!(t.counts(), (1, 1));
        drop(a);
        assert_eq!(t.counts(), (0, 0));
    }

    #[test]
    fn the_last_slots_are_for_admins_and_principals_and_addresses_are_capped() {
        let t = table(4, 2);
        let mut held = Vec::new();
        for (i, who) in ["v1", "v2"].iter().enumerate() {
            let mut s = t.admit(addr(u8::try_from(i).unwrap())).unwrap();
            t.establish(&mut s, who, Role::Viewer, "01").unwrap();
            held.push(s);
        }
        let mut viewer = t.admit(addr(9)).unwrap();
        assert_eq!(
            t.establish(&mut viewer, "v3", Role::Operator, "02"),
            Err("only slots reserved for admins are left")
        );
        drop(viewer);
        let mut admin = t.admit(addr(9)).unwrap();
        t.establish(&mut admin, "root", Role::Admin, "03").unwrap();
        held.push(admin);
        // Per principal (2) and per address (3 handshakes).
        let mut again = t.admit(addr(9)).unwrap();
        t.establish(&mut again, "root", Role::Admin, "03").unwrap();
        let t2 = table(10, 0);
        let mut x = t2.admit(addr(1)).unwrap();
        t2.establish(&mut x, "p", Role::Admin, "1").unwrap();
        let mut y = t2.admit(addr(1)).unwrap();
        t2.establish(&mut y, "p", Role::Admin, "1").unwrap();
        let mut z = t2.admit(addr(1)).unwrap();
        assert_eq!(
            t2.establish(&mut z, "p", Role::Admin, "1"),
            Err("too many connections for one principal")
        );
        // A fourth handshake from one address sheds that address's oldest.
        let pending: Vec<_> = (0..3).map(|_| t2.admit(addr(7)).unwrap()).collect();
        let newest = t2.admit(addr(7)).unwrap();
        assert!(pending[0].conn.is_closed() && !pending[1].conn.is_closed());
        assert!(!newest.conn.is_closed());
        assert!(t2.admit(addr(8)).is_ok());
        drop(pending);
    }

    #[test]
    fn revocation_closes_the_serials_connections() {
        let t = table(10, 0);
        let mut a = t.admit(addr(1)).unwrap();
        t.establish(&mut a, "alice", Role::Viewer, "0a").unwrap();
        let mut b = t.admit(addr(2)).unwrap();
        t.establish(&mut b, "bob", Role::Viewer, "0b").unwrap();
        let revoked: HashSet<String> = ["0a".to_string()].into();
        assert_eq!(t.close_revoked(&revoked), 1);
        assert!(a.conn.is_closed() && !b.conn.is_closed());
    }

    #[test]
    fn deadlines_first_request_idle_and_in_flight() {
        let l = limits(10, 0);
        let c = ConnControl::detached(addr(1));
        let t0 = c.started;
        assert_eq!(c.due(t0, &l, None), Ok(t0 + l.first_request_timeout));
        assert_eq!(
            c.due(t0 + Duration::from_secs(2), &l, None),
            Err("no request after the handshake")
        );
        let guard = c.request_started();
        // In flight: never idle, however long.
        assert!(c.due(t0 + Duration::from_secs(100), &l, None).is_ok());
        drop(guard);
        let last = t0 + Duration::from_millis(c.last_active_ms.load(Ordering::Acquire));
        assert_eq!(c.due(last, &l, None), Ok(last + l.idle_timeout));
        assert_eq!(c.due(last + l.idle_timeout, &l, None), Err("idle"));
        // A certificate's expiry closes even a busy connection.
        let _busy = c.request_started();
        assert_eq!(
            c.due(
                t0 + Duration::from_secs(3),
                &l,
                Some(t0 + Duration::from_secs(2))
            ),
            Err("certificate expired while connected")
        );
    }

    #[test]
    fn limits_follow_the_open_file_limit() {
        let config = Config::default();
        assert_eq!(ConnLimits::sized(&config, None).max_connections, 4096);
        assert_eq!(
            ConnLimits::sized(&config, Some(65_536)).max_connections,
            4096
        );
        // 1024 fds: 512 for the upstreams, 64 spare, 448 for clients.
        let l = ConnLimits::sized(&config, Some(1024));
        assert_eq!((l.max_connections, l.admin_reserved), (448, 16));
        // 256 fds: 128 upstream, 64 spare.
        assert_eq!(ConnLimits::sized(&config, Some(256)).max_connections, 64);
        assert_eq!(ConnLimits::sized(&config, Some(10)).max_connections, 8);
    }
    /// A byte stream that counts the writes reaching it.
    #[derive(Default)]
    struct Counted {
        writes: usize,
    }

    impl AsyncWrite for Counted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.writes += 1;
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A waker that counts how often the writing task was woken.
    #[derive(Default)]
    struct CountWakes(AtomicU64);
    impl futures::task::ArcWake for CountWakes {
        fn wake_by_ref(me: &Arc<Self>) {
            me.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_first_write_of_a_burst_gives_way_once_and_never_stalls() {
        let wakes = Arc::new(CountWakes::default());
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let peer = Peer(Arc::new(PeerInfo {
            remote: addr(1),
            identity: Err("not needed".into()),
            not_before: SystemTime::now(),
            conn: ConnControl::detached(addr(1)),
        }));
        let mut conn = AuthedConn::detached(Counted::default(), peer);
        let mut conn = Pin::new(&mut conn);
        // Gives way: nothing written, and the task is woken so that it comes back.
        assert!(conn.as_mut().poll_write(&mut cx, b"a").is_pending());
        assert_eq!((conn.io.writes, wakes.0.load(Ordering::Relaxed)), (0, 1));
        // Back again: this write and the rest of the burst go straight through.
        assert!(matches!(
            conn.as_mut().poll_write(&mut cx, b"ab"),
            Poll::Ready(Ok(2))
        ));
        assert!(conn.as_mut().poll_write(&mut cx, b"c").is_ready());
        assert!(conn.as_mut().poll_flush(&mut cx).is_ready());
        assert_eq!(conn.io.writes, 2);
        // A flush ends the burst: the next write gives way again, once.
        assert!(conn.as_mut().poll_write(&mut cx, b"d").is_pending());
        assert!(conn.as_mut().poll_write(&mut cx, b"d").is_ready());
        assert_eq!((conn.io.writes, wakes.0.load(Ordering::Relaxed)), (3, 2));
    }
}
