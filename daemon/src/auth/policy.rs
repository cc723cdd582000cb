//! May they: the role each RPC needs, and the access policy (revoked serials, validity, rate
//! limits) that decides each request. A reload replaces the policy as a whole.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::identity::{Caller, Scope};
use super::verifier::revoked_set;
use crate::audit::Actor;
use crate::config::{LimitsConfig, TlsConfig};
use crate::conns::Peer;
use crate::pki::Role;

/// What an RPC needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Read,
    Operate,
    Admin,
    /// Server-wide (backup, key rotation): an admin certificate without a tenant only.
    GlobalAdmin,
}

/// How an RPC is scoped to tenants (every RPC is classified, like its role; see [`class_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Answers only from the caller's tenant (the handlers filter with `Caller::scope`).
    Tenant,
    /// Server-wide: global admins only.
    GlobalAdmin,
    /// Says nothing about any tenant's data (grpc health, reflection, the venue catalogue).
    Public,
}

/// The tenant class of each RPC; `None` for an RPC nobody classified (refused, and the
/// descriptor-walking test fails).
pub fn class_for(path: &str) -> Option<Class> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    Some(match (service, method) {
        (
            "roster.v1.AccountService",
            "GetAccount" | "ListAccounts" | "CreateAccount" | "UpdateAccount" | "DeleteAccount"
            | "TestConnection",
        )
        | (
            "roster.v1.MonitorService",
            "GetHealth" | "ListHealth" | "WatchEvents" | "CheckNow" | "ListEvents",
        )
        | (
            "roster.v1.PortfolioService",
            "GetFunds" | "GetPositions" | "GetOrders" | "GetTrades" | "GetHoldings" | "GetBalances",
        )
        | ("roster.v1.AdminService", "GetStatus" | "ListAuditEvents") => Class::Tenant,
        ("roster.v1.AdminService", "Backup" | "RotateEncryptionKey") => Class::GlobalAdmin,
        ("roster.v1.AccountService", "ListVenues")
        | ("grpc.health.v1.Health", "Check" | "Watch")
        | ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo") => Class::Public,
        _ => return None,
    })
}

/// The metadata key with which a global admin narrows a request to one tenant
/// (`rosterctl --tenant T`).
pub const TENANT_HEADER: &str = "x-roster-tenant";

/// The role each RPC requires. The table fails closed: an RPC it does not list is refused for
/// every role (UNIMPLEMENTED), so a method added to the API without a role here is never
/// served by accident; a test walks the descriptor sets and insists each method is listed.
pub fn need_for(path: &str) -> Option<Need> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    Some(match (service, method) {
        ("roster.v1.AccountService", "GetAccount" | "ListAccounts" | "ListVenues") => Need::Read,
        (
            "roster.v1.AccountService",
            "CreateAccount" | "UpdateAccount" | "DeleteAccount" | "TestConnection",
        ) => Need::Operate,
        ("roster.v1.MonitorService", "GetHealth" | "ListHealth" | "WatchEvents" | "ListEvents") => {
            Need::Read
        }
        ("roster.v1.MonitorService", "CheckNow") => Need::Operate,
        (
            "roster.v1.PortfolioService",
            "GetFunds" | "GetPositions" | "GetOrders" | "GetTrades" | "GetHoldings" | "GetBalances",
        ) => Need::Read,
        ("roster.v1.AdminService", "GetStatus") => Need::Read,
        ("roster.v1.AdminService", "ListAuditEvents") => Need::Admin,
        ("roster.v1.AdminService", "Backup" | "RotateEncryptionKey") => Need::GlobalAdmin,
        // The standard services: any verified certificate may ask whether the daemon serves
        // and what its API looks like.
        ("grpc.health.v1.Health", "Check" | "Watch")
        | ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo") => Need::Read,
        _ => return None,
    })
}

pub fn role_allows(role: Role, need: Need) -> bool {
    match role {
        Role::Admin => true,
        Role::Operator => need <= Need::Operate,
        Role::Viewer => need == Need::Read,
    }
}

/// Access rules that a reload replaces as a whole.
pub struct AccessPolicy {
    revoked: HashSet<String>,
    limiter: DefaultKeyedRateLimiter<String>,
    /// One budget per tenant, shared by its principals (global admins share one, keyed "").
    tenant_limiter: DefaultKeyedRateLimiter<String>,
}

impl AccessPolicy {
    pub fn new(tls: &TlsConfig, limits: &LimitsConfig) -> Self {
        let per_second = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst).unwrap_or(NonZeroU32::MIN);
        let tenant_per_second =
            NonZeroU32::new(limits.tenant_requests_per_second).unwrap_or(NonZeroU32::MIN);
        let tenant_burst = NonZeroU32::new(limits.tenant_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            revoked: revoked_set(tls),
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            tenant_limiter: RateLimiter::keyed(
                Quota::per_second(tenant_per_second).allow_burst(tenant_burst),
            ),
        }
    }
}

/// How a refusal is recorded beyond the counter and the rate-limited log line.
#[derive(Debug)]
pub(super) enum AuditAs {
    /// Not audited: rate limiting (a noisy client must not turn its refusals into disk writes)
    /// and refusals without a usable identity.
    Not,
    /// One record per refusal: a role refusal (bounded by the caller's rate budget, which it
    /// has already spent).
    Each(Actor, String),
    /// At most one record per principal and reason per interval (see `refusals`): a certificate
    /// that became invalid while its connection was open, refused until the connection closes.
    Summarised { principal: String, role: String },
}

#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) status: Status,
    /// Who was refused: the principal, or the peer address when there is none.
    pub(super) who: String,
    pub(super) reason: &'static str,
    pub(super) audit: AuditAs,
}

impl AccessPolicy {
    /// Decides one request at `now`. The identity was read from the verified leaf certificate
    /// once, at the handshake ([`PeerInfo`](super::PeerInfo)); what can change while a connection stays open is
    /// checked here, on every request: the revocation list (replaced by a reload), the clock
    /// against the certificate's validity window, and the rate budget. The identity is checked
    /// before the budget is charged: a certificate that may not be used never spends the budget
    /// of its principal (which a re-issued certificate of the same name shares).
    // A refusal is the rare path: its size costs nothing on the served one.
    #[allow(clippy::result_large_err)]
    pub(super) fn authorize<B>(
        &self,
        req: &http::Request<B>,
        now: SystemTime,
    ) -> Result<Caller, Refusal> {
        let path = req.uri().path();
        let peer = req.extensions().get::<Peer>().ok_or_else(|| Refusal {
            status: Status::unauthenticated("no TLS peer information"),
            who: "unknown peer".into(),
            reason: "no TLS peer",
            audit: AuditAs::Not,
        })?;
        let identity = peer.0.identity.as_ref().map_err(|why| Refusal {
            status: Status::unauthenticated(format!("client certificate not usable: {why}")),
            who: peer.0.remote.ip().to_string(),
            reason: "unusable identity",
            audit: AuditAs::Not,
        })?;
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
            .map_or_else(assign_request_id, str::to_string);
        let global = identity.role == Role::Admin && identity.tenant.is_none();
        let own = identity
            .tenant
            .clone()
            .unwrap_or_else(|| crate::pki::DEFAULT_TENANT.to_string());
        let caller = Caller {
            principal: identity.principal.clone(),
            role: identity.role,
            request_id,
            scope: if global {
                Scope::Global
            } else {
                Scope::Tenant(own)
            },
        };
        let rpc = rpc_name(path);
        let invalid = |status: Status, reason: &'static str| Refusal {
            status,
            who: caller.principal.clone(),
            reason,
            audit: AuditAs::Summarised {
                principal: caller.principal.clone(),
                role: caller.role.to_string(),
            },
        };
        if self.revoked.contains(&identity.serial_hex) {
            return Err(invalid(
                Status::unauthenticated(format!(
                    "client certificate {} (serial {}) has been revoked",
                    caller.principal, identity.serial_hex
                )),
                "certificate revoked",
            ));
        }
        if identity.not_after < now || peer.0.not_before > now {
            let (what, when, reason) = if identity.not_after < now {
                ("expired", identity.not_after, "certificate expired")
            } else {
                (
                    "is not valid yet; valid from",
                    peer.0.not_before,
                    "certificate not valid yet",
                )
            };
            return Err(invalid(
                Status::unauthenticated(format!(
                    "client certificate {} {what} {}",
                    caller.principal,
                    humantime::format_rfc3339_seconds(when)
                )),
                reason,
            ));
        }
        // The principal's budget, then its tenant's (which all its principals share). The
        // tenant is the certificate's, before any `x-roster-tenant` narrowing.
        let tenant_key = match &caller.scope {
            Scope::Global => String::new(),
            Scope::Tenant(t) => t.clone(),
        };
        let over = self
            .limiter
            .check_key(&caller.principal)
            .map_err(|n| (n, format!("rate limit for {}", caller.principal)))
            .and_then(|()| {
                self.tenant_limiter.check_key(&tenant_key).map_err(|n| {
                    (
                        n,
                        format!(
                            "rate limit for tenant {} ([limits] tenant_requests_per_second)",
                            caller.scope.home()
                        ),
                    )
                })
            });
        if let Err((not_until, what)) = over {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(Refusal {
                status: Status::with_error_details(
                    Code::ResourceExhausted,
                    format!("{what} exceeded; retry in {} ms", wait.as_millis().max(1)),
                    ErrorDetails::with_retry_info(Some(wait)),
                ),
                who: caller.principal.clone(),
                reason: "rate limited",
                audit: AuditAs::Not,
            });
        }
        let class = class_for(path);
        let Some(need) = need_for(path).filter(|_| class.is_some()) else {
            // Not in the role table: nobody may call it. UNIMPLEMENTED, as for a path no
            // service serves (and counted under the same metric label).
            return Err(Refusal {
                status: Status::unimplemented(format!("{rpc} is not an RPC of this daemon")),
                who: caller.principal.clone(),
                reason: "unknown RPC",
                audit: AuditAs::Not,
            });
        };
        let allowed = role_allows(caller.role, need)
            && (need != Need::GlobalAdmin || caller.scope.is_global());
        if !allowed {
            return Err(Refusal {
                status: Status::permission_denied(format!(
                    "role {} may not call {rpc} (needs {})",
                    caller.role,
                    match need {
                        Need::Read => "viewer",
                        Need::Operate => "operator",
                        Need::Admin => "admin",
                        Need::GlobalAdmin => "admin without a tenant: a global admin",
                    }
                )),
                who: caller.principal.clone(),
                reason: "permission denied",
                audit: AuditAs::Each(caller.actor(), format!("{rpc}: refused: permission denied")),
            });
        }
        let mut caller = caller;
        if let Some(named) = req.headers().get(TENANT_HEADER) {
            let named = named.to_str().unwrap_or_default();
            let valid = crate::pki::validate_tenant(named).is_ok();
            match &caller.scope {
                // A global admin narrows itself to one tenant, for this request.
                Scope::Global if valid => caller.scope = Scope::Tenant(named.to_string()),
                Scope::Tenant(own) if own == named => {}
                _ => {
                    return Err(Refusal {
                        status: Status::permission_denied(format!(
                            "{} may not act in tenant {:?} ({TENANT_HEADER})",
                            caller.principal,
                            crate::escape::escape_untrusted(named)
                        )),
                        who: caller.principal.clone(),
                        reason: "permission denied",
                        audit: AuditAs::Each(
                            caller.actor(),
                            format!("{rpc}: refused: other tenant"),
                        ),
                    });
                }
            }
        }
        Ok(caller)
    }
}

/// The RPC's name as logs, metrics and audit records spell it: the path without its leading '/'.
pub(super) fn rpc_name(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// A request id for a request that brought none: a random prefix drawn once per process (unique
/// across restarts) and a counter (unique within this run), 32 hex digits like a UUID. It only
/// ties log lines and audit records together and is no secret, so drawing a random UUID for
/// every request (a getrandom syscall each) would buy nothing.
fn assign_request_id() -> String {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair().0);
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:016x}",
        *PREFIX,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::conns::ConnControl;
    use crate::conns::PeerInfo;
    use crate::pki::ClientIdentity;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A connection's peer as the acceptor leaves it: identity read once from the certificate.
    fn peer(role: Role, serial_hex: &str, not_before: SystemTime, not_after: SystemTime) -> Peer {
        Peer(Arc::new(PeerInfo {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            identity: Ok(ClientIdentity {
                principal: "alice".into(),
                role,
                tenant: None,
                serial_hex: serial_hex.into(),
                not_after,
            }),
            not_before,
            conn: ConnControl::detached(SocketAddr::from(([127, 0, 0, 1], 40000))),
        }))
    }

    /// A connection of `role` in `tenant` (None: no tenant SAN).
    fn peer_in(role: Role, tenant: Option<&str>) -> Peer {
        let now = SystemTime::now();
        let p = peer(role, "01", now - HOUR, now + HOUR);
        let mut info = PeerInfo {
            remote: p.0.remote,
            identity: p.0.identity.clone(),
            not_before: p.0.not_before,
            conn: p.0.conn.clone(),
        };
        if let Ok(id) = info.identity.as_mut() {
            id.tenant = tenant.map(str::to_string);
        }
        Peer(Arc::new(info))
    }

    #[test]
    fn the_scope_comes_from_the_certificate_and_only_a_global_admin_may_narrow_it() {
        let now = SystemTime::now();
        let policy = policy(&[]);
        let scope = |p: &Peer, path: &str, header: Option<&str>| {
            let mut req = request(p, path);
            if let Some(h) = header {
                req.headers_mut()
                    .insert(TENANT_HEADER, http::HeaderValue::from_str(h).unwrap());
            }
            policy
                .authorize(&req, now)
                .map(|c| c.scope)
                .map_err(|r| r.status.code())
        };
        let backup = "/roster.v1.AdminService/Backup";
        let global = peer_in(Role::Admin, None);
        let tenant_admin = peer_in(Role::Admin, Some("acme"));
        let old_viewer = peer_in(Role::Viewer, None);
        assert_eq!(scope(&global, GET, None).unwrap(), Scope::Global);
        assert_eq!(
            scope(&global, GET, Some("acme")).unwrap(),
            Scope::Tenant("acme".into())
        );
        assert!(scope(&global, backup, None).is_ok());
        assert_eq!(
            scope(&old_viewer, GET, None).unwrap(),
            Scope::Tenant("default".into())
        );
        assert_eq!(
            scope(&tenant_admin, GET, None).unwrap(),
            Scope::Tenant("acme".into())
        );
        let r = refused(policy.authorize(&request(&tenant_admin, backup), now));
        assert_eq!(r.status.code(), Code::PermissionDenied);
        // A tenant's certificate may name its own tenant, never another.
        assert!(scope(&tenant_admin, GET, Some("acme")).is_ok());
        for (p, h) in [
            (&tenant_admin, "other"),
            (&old_viewer, "acme"),
            (&global, "Not/A/Tenant"),
        ] {
            let mut req = request(p, GET);
            req.headers_mut()
                .insert(TENANT_HEADER, http::HeaderValue::from_str(h).unwrap());
            let r = refused(policy.authorize(&req, now));
            assert_eq!(r.status.code(), Code::PermissionDenied, "{h}");
        }
    }

    /// One request on that connection.
    fn request(peer: &Peer, path: &str) -> http::Request<()> {
        let mut req = http::Request::builder().uri(path).body(()).unwrap();
        req.extensions_mut().insert(peer.clone());
        req
    }

    fn policy(revoked: &[&str]) -> AccessPolicy {
        let tls = TlsConfig {
            revoked_serials: revoked.iter().map(|s| (*s).to_string()).collect(),
            ..TlsConfig::default()
        };
        AccessPolicy::new(&tls, &LimitsConfig::default())
    }

    fn refused(decision: Result<Caller, Refusal>) -> Refusal {
        match decision {
            Ok(caller) => panic!("served {caller:?}"),
            Err(refusal) => refusal,
        }
    }

    const GET: &str = "/roster.v1.AccountService/GetAccount";

    #[test]
    fn a_serial_revoked_after_connect_is_refused_on_the_next_request() {
        let now = SystemTime::now();
        let conn = peer(Role::Viewer, "1a2b", now - HOUR, now + HOUR);
        let caller = policy(&[]).authorize(&request(&conn, GET), now).unwrap();
        assert_eq!(
            (caller.principal.as_str(), caller.role),
            ("alice", Role::Viewer)
        );
        // A reload swaps the policy; the connection and its cached identity stay.
        let refusal = refused(policy(&["1A:2B"]).authorize(&request(&conn, GET), now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        assert!(
            refusal.status.message().contains("revoked"),
            "{:?}",
            refusal.status
        );
        assert_eq!(refusal.reason, "certificate revoked");
        assert!(
            matches!(&refusal.audit, AuditAs::Summarised { principal, .. } if principal == "alice"),
            "{:?}",
            refusal.audit
        );
    }

    #[test]
    fn a_certificate_that_expires_while_connected_is_refused_from_then_on() {
        let now = SystemTime::now();
        let conn = peer(Role::Admin, "01", now - HOUR, now + HOUR);
        let policy = policy(&[]);
        assert!(policy.authorize(&request(&conn, GET), now).is_ok());
        let later = now + 2 * HOUR;
        let refusal = refused(policy.authorize(&request(&conn, GET), later));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        assert!(
            refusal.status.message().contains("expired"),
            "{:?}",
            refusal.status
        );
        assert!(matches!(refusal.audit, AuditAs::Summarised { .. }));
    }

    #[test]
    fn a_certificate_not_valid_yet_is_refused() {
        let now = SystemTime::now();
        let conn = peer(Role::Admin, "01", now + HOUR, now + 2 * HOUR);
        let refusal = refused(policy(&[]).authorize(&request(&conn, GET), now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        assert!(
            refusal.status.message().contains("not valid yet"),
            "{:?}",
            refusal.status
        );
    }

    #[test]
    fn no_identity_and_no_peer_are_refused() {
        let now = SystemTime::now();
        let policy = policy(&[]);
        let unusable = Peer(Arc::new(PeerInfo {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            identity: Err("no Subject OU (role)".into()),
            not_before: now - HOUR,
            conn: ConnControl::detached(SocketAddr::from(([127, 0, 0, 1], 40000))),
        }));
        let refusal = refused(policy.authorize(&request(&unusable, GET), now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
        let bare = http::Request::builder().uri(GET).body(()).unwrap();
        let refusal = refused(policy.authorize(&bare, now));
        assert_eq!(refusal.status.code(), Code::Unauthenticated);
    }

    #[test]
    fn roles_are_enforced_per_request() {
        let now = SystemTime::now();
        let conn = peer(Role::Viewer, "01", now - HOUR, now + HOUR);
        let refusal = refused(policy(&[]).authorize(
            &request(&conn, "/roster.v1.AccountService/CreateAccount"),
            now,
        ));
        assert_eq!(refusal.status.code(), Code::PermissionDenied);
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_assigned_otherwise() {
        let now = SystemTime::now();
        let conn = peer(Role::Viewer, "01", now - HOUR, now + HOUR);
        let policy = policy(&[]);
        let mut req = request(&conn, GET);
        req.headers_mut()
            .insert("x-request-id", http::HeaderValue::from_static("req-42"));
        assert_eq!(policy.authorize(&req, now).unwrap().request_id, "req-42");
        let a = policy
            .authorize(&request(&conn, GET), now)
            .unwrap()
            .request_id;
        let b = policy
            .authorize(&request(&conn, GET), now)
            .unwrap()
            .request_id;
        assert_ne!(a, b);
        assert!(
            a.len() == 32 && a.chars().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
    }

    #[test]
    fn roles_per_rpc() {
        let need = |p: &str| need_for(p).unwrap();
        let create = need("/roster.v1.AccountService/CreateAccount");
        let list = need("/roster.v1.AccountService/ListAccounts");
        let backup = need("/roster.v1.AdminService/Backup");
        assert_eq!(
            (create, list, backup),
            (Need::Operate, Need::Read, Need::GlobalAdmin)
        );
        assert!(!role_allows(Role::Viewer, create));
        assert!(role_allows(Role::Viewer, list));
        assert!(role_allows(Role::Operator, create));
        assert!(!role_allows(Role::Operator, backup));
        assert!(role_allows(Role::Admin, backup));
        assert_eq!(need("/grpc.health.v1.Health/Check"), Need::Read);
        assert_eq!(need("/roster.v1.MonitorService/CheckNow"), Need::Operate);
    }

    /// Every method of every service the daemon serves, from the descriptor sets it registers
    /// for reflection: (full service name, method name).
    fn served_methods() -> Vec<(String, String)> {
        use prost::Message as _;
        let mut out = Vec::new();
        for set in [
            roster_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        ] {
            let set = prost_types::FileDescriptorSet::decode(set).unwrap();
            for file in set.file {
                for service in &file.service {
                    for method in &service.method {
                        out.push((
                            format!("{}.{}", file.package(), service.name()),
                            method.name().to_string(),
                        ));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn every_served_rpc_has_a_role_and_anything_else_is_refused_for_everyone() {
        let methods = served_methods();
        assert!(methods.len() >= 20, "{methods:?}");
        let unclassified: Vec<String> = methods
            .iter()
            .map(|(service, method)| format!("/{service}/{method}"))
            .filter(|path| need_for(path).is_none())
            .collect();
        assert!(
            unclassified.is_empty(),
            "RPCs without a role in auth::need_for: {unclassified:?}"
        );
        let unscoped: Vec<String> = methods
            .iter()
            .map(|(service, method)| format!("/{service}/{method}"))
            .filter(|path| class_for(path).is_none())
            .collect();
        assert!(
            unscoped.is_empty(),
            "RPCs without a tenant class in auth::class_for: {unscoped:?}"
        );
        let now = SystemTime::now();
        let admin = peer(Role::Admin, "01", now - HOUR, now + HOUR);
        for path in [
            "/roster.v1.AccountService/DropEverything",
            "/roster.v1.AccountService",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            "/roster.v1.AdminService/Backup/extra",
            "/",
        ] {
            assert_eq!(need_for(path), None, "{path}");
            assert_eq!(class_for(path), None, "{path}");
            let refusal = refused(policy(&[]).authorize(&request(&admin, path), now));
            assert_eq!(refusal.status.code(), Code::Unimplemented, "{path}");
        }
    }

    #[test]
    fn a_tenants_principals_share_one_budget_and_other_tenants_keep_theirs() {
        let now = SystemTime::now();
        let limits = LimitsConfig {
            requests_per_second: 1,
            burst: 100,
            tenant_requests_per_second: 1,
            tenant_burst: 4,
            ..LimitsConfig::default()
        };
        let policy = AccessPolicy::new(&TlsConfig::default(), &limits);
        let with_cn = |cn: &str, tenant: &str| {
            let p = peer_in(Role::Viewer, Some(tenant));
            let mut info = PeerInfo {
                remote: p.0.remote,
                identity: p.0.identity.clone(),
                not_before: p.0.not_before,
                conn: p.0.conn.clone(),
            };
            if let Ok(id) = info.identity.as_mut() {
                id.principal = cn.to_string();
            }
            Peer(Arc::new(info))
        };
        let (a1, a2, b1) = (
            with_cn("a1", "alpha"),
            with_cn("a2", "alpha"),
            with_cn("b1", "beta"),
        );
        for p in [&a1, &a2, &a1, &a2] {
            policy.authorize(&request(p, GET), now).unwrap();
        }
        for p in [&a1, &a2] {
            let r = refused(policy.authorize(&request(p, GET), now));
            assert_eq!(r.status.code(), Code::ResourceExhausted);
            assert!(
                r.status.message().contains("tenant alpha"),
                "{:?}",
                r.status
            );
        }
        policy.authorize(&request(&b1, GET), now).unwrap();
    }

    #[test]
    fn a_revoked_or_expired_certificate_never_spends_its_principals_budget() {
        let now = SystemTime::now();
        let limits = LimitsConfig {
            requests_per_second: 1,
            burst: 3,
            ..LimitsConfig::default()
        };
        let tls = TlsConfig {
            revoked_serials: vec!["0bad".into()],
            ..TlsConfig::default()
        };
        let policy = AccessPolicy::new(&tls, &limits);
        let revoked = peer(Role::Viewer, "0bad", now - HOUR, now + HOUR);
        let expired = peer(Role::Viewer, "0e", now - 2 * HOUR, now - HOUR);
        for _ in 0..100 {
            let r = refused(policy.authorize(&request(&revoked, GET), now));
            assert_eq!(r.status.code(), Code::Unauthenticated);
            let r = refused(policy.authorize(&request(&expired, GET), now));
            assert_eq!(r.status.code(), Code::Unauthenticated);
        }
        // The re-issued alice still has her whole burst.
        let reissued = peer(Role::Viewer, "0900d", now - HOUR, now + HOUR);
        for _ in 0..3 {
            policy.authorize(&request(&reissued, GET), now).unwrap();
        }
        let r = refused(policy.authorize(&request(&reissued, GET), now));
        assert_eq!(r.status.code(), Code::ResourceExhausted);
    }
}
