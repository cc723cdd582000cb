//! AdminService: status of the daemon itself, its audit log, and the maintenance workflows
//! (backup, key rotation) that `maintenance` runs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use roster_proto::v1 as pb;
use roster_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

type BoxStream<T> =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

use super::errors::{invalid_field, page_limit, status_of_maintenance};
use super::{ApiState, convert};
use crate::audit::AuditFilter;
use crate::auth::{Caller, Scope};
use crate::maintenance;
use crate::store::{Bounds, SCAN_BUDGET, SCHEMA_VERSION, Store};

pub struct AdminApi(pub ApiState);

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn get_status(
        &self,
        request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::Status>, Status> {
        let caller = Caller::of(&request)?;
        let s = &self.0;
        let accounts: Vec<_> = s
            .accounts
            .all()
            .into_iter()
            .filter(|a| caller.scope.sees(&a.tenant))
            .collect();
        let mut counts: HashMap<String, u32> = HashMap::new();
        let mut by_tenant: HashMap<String, u32> = HashMap::new();
        s.monitor.view(|v| {
            for a in &accounts {
                let state = s.monitor.state_of(v, &a.id, a.enabled);
                *counts.entry(state.as_str().to_string()).or_default() += 1;
                if caller.scope.is_global() {
                    *by_tenant.entry(a.tenant.clone()).or_default() += 1;
                }
            }
        });
        let tenant = match &caller.scope {
            Scope::Global => String::new(),
            Scope::Tenant(t) => t.clone(),
        };
        let keyring = s.accounts.keyring();
        Ok(Response::new(pb::Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime: Some(convert::duration(s.started.elapsed())),
            start_time: convert::system_timestamp(s.start_time),
            account_count: u32::try_from(accounts.len()).unwrap_or(u32::MAX),
            counts_by_state: counts,
            db_size_bytes: s.accounts.store().file_size(),
            server_cert_expiry: s.server_cert_expiry.and_then(convert::system_timestamp),
            key_ids: keyring.key_ids(),
            active_key_id: keyring.active_id().to_string(),
            config_generation: s.config_generation.load(Ordering::Relaxed),
            principal: caller.principal,
            role: caller.role.to_string(),
            instance_id: s.accounts.store().instance_id().to_string(),
            schema_version: SCHEMA_VERSION,
            storage_error: s.accounts.store().fault().unwrap_or_default(),
            tenant,
            accounts_by_tenant: by_tenant,
            venue_cadence: s
                .monitor
                .cadence()
                .into_iter()
                .map(|(connector, c)| pb::VenueCadence {
                    connector,
                    accounts: u32::try_from(c.accounts).unwrap_or(u32::MAX),
                    configured_interval: Some(convert::duration(c.configured)),
                    effective_interval: Some(convert::duration(c.effective)),
                    checks_per_minute: c.checks_per_minute.unwrap_or(0),
                })
                .collect(),
        }))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let bounds = Bounds {
            before: r.before_sequence,
            limit: page_limit(r.limit)?,
            budget: SCAN_BUDGET,
        };
        let filter = self.audit_filter(&caller.scope, &r)?;
        let page = self
            .0
            .accounts
            .store()
            .read(move |rtx| {
                // A tenant's records: its principals' and its accounts' (both carry its name).
                Store::audit_scan(rtx, bounds, |a| {
                    let scoped = match &caller.scope {
                        Scope::Global => true,
                        Scope::Tenant(t) => a.tenant == *t,
                    };
                    scoped && filter.matches(a)
                })
            })
            .await
            .map_err(|e| Status::unavailable(format!("storage unavailable: {e}")))?;
        let records = page.records;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: records
                .into_iter()
                .map(|a| pb::AuditEvent {
                    sequence: a.sequence,
                    time: convert::timestamp(a.time),
                    principal: a.principal,
                    role: a.role,
                    action: a.action,
                    target: a.target,
                    outcome: a.outcome,
                    request_id: a.request_id,
                    tenant: a.tenant,
                })
                .collect(),
            next_before_sequence: page.next_before,
        }))
    }

    async fn backup(
        &self,
        request: Request<pb::BackupRequest>,
    ) -> Result<Response<BoxStream<pb::BackupChunk>>, Status> {
        let caller = Caller::of(&request)?;
        let copy = maintenance::backup(self.0.accounts.store(), &self.0.audit, &caller.actor())
            .await
            .map_err(status_of_maintenance)?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            stream_file(copy.path(), &tx);
            // Removes the copy; the next backup may start once it is gone.
            drop(copy);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn rotate_encryption_key(
        &self,
        request: Request<pb::RotateEncryptionKeyRequest>,
    ) -> Result<Response<pb::RotateEncryptionKeyResponse>, Status> {
        let caller = Caller::of(&request)?;
        let rotated = maintenance::rotate_master_key(
            &self.0.accounts,
            &caller.actor(),
            &self.0.master_key_file,
        )
        .await
        .map_err(status_of_maintenance)?;
        Ok(Response::new(pb::RotateEncryptionKeyResponse {
            new_key_id: rotated.new_key_id,
            resealed_accounts: rotated.resealed,
            note: rotated.note,
        }))
    }
}

impl AdminApi {
    /// The request's filters, checked: a filter given as text must say something once trimmed,
    /// and the time window must not end before it starts.
    fn audit_filter(
        &self,
        scope: &Scope,
        r: &pb::ListAuditEventsRequest,
    ) -> Result<AuditFilter, Status> {
        let text = |field: &str, v: &str| -> Result<Option<String>, Status> {
            if v.is_empty() {
                return Ok(None);
            }
            let t = v.trim();
            if t.is_empty() {
                return Err(invalid_field(field, "must not be blank"));
            }
            if t.len() > super::errors::MAX_ECHO {
                return Err(invalid_field(field, "is too long"));
            }
            Ok(Some(t.to_string()))
        };
        let time = |field: &str, t: Option<&roster_proto::pbjson_types::Timestamp>| {
            t.map(|t| convert::millis(t).ok_or_else(|| invalid_field(field, "is not a valid time")))
                .transpose()
        };
        let since = time("since", r.since.as_ref())?;
        let until = time("until", r.until.as_ref())?;
        if let (Some(s), Some(u)) = (since, until)
            && u <= s
        {
            return Err(invalid_field("until", "must be after since"));
        }
        let ok = match text("outcome", &r.outcome)?.as_deref() {
            None => None,
            Some("ok") => Some(true),
            Some("refused") => Some(false),
            Some(_) => return Err(invalid_field("outcome", "must be ok or refused")),
        };
        // An account that exists is matched by its id and its name; one that does not (deleted,
        // or another tenant's: the same answer) by what the client gave, as refusals record it.
        let accounts = match text("account", &r.account)? {
            None => Vec::new(),
            Some(named) => match self.0.accounts.get_in(scope, &named) {
                Ok(a) => vec![a.id.clone(), a.name.clone()],
                Err(_) => vec![named],
            },
        };
        Ok(AuditFilter {
            principal: text("principal", &r.principal)?,
            action: text("action", &r.action)?,
            accounts,
            since,
            until,
            ok,
        }
        .escaped())
    }
}

const BACKUP_CHUNK: usize = 256 * 1024;

/// Sends `path` in chunks; the last chunk carries the total size and SHA-256 so the client can
/// verify what it wrote. Stops quietly when the client goes away.
fn stream_file(
    path: &std::path::Path,
    tx: &tokio::sync::mpsc::Sender<Result<pb::BackupChunk, Status>>,
) {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Err(Status::internal(format!("backup file: {e}"))));
            return;
        }
    };
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; BACKUP_CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.blocking_send(Err(Status::internal(format!("backup file: {e}"))));
                return;
            }
        };
        let data = buf.get(..n).unwrap_or_default().to_vec();
        hasher.update(&data);
        total += n as u64;
        let last = n == 0;
        let chunk = pb::BackupChunk {
            data,
            total_size: if last { total } else { 0 },
            sha256: if last {
                hex::encode(hasher.clone().finalize())
            } else {
                String::new()
            },
        };
        if tx.blocking_send(Ok(chunk)).is_err() || last {
            return;
        }
    }
}
