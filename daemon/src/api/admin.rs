//! AdminService: status of the daemon itself, its audit log, and the maintenance workflows
//! (backup, key rotation) that `maintenance` runs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use roster_proto::v1 as pb;
use roster_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

type BoxStream<T> =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

use super::errors::{invalid_field, status_of_maintenance};
use super::{ApiState, convert};
use crate::auth::Caller;
use crate::maintenance;
use crate::store::{SCHEMA_VERSION, Store};

const DEFAULT_AUDIT_LIMIT: usize = 50;
const MAX_AUDIT_LIMIT: usize = 1000;

pub struct AdminApi(pub ApiState);

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn get_status(
        &self,
        request: Request<pb::GetStatusRequest>,
    ) -> Result<Response<pb::Status>, Status> {
        let caller = Caller::of(&request)?;
        let s = &self.0;
        let accounts = s.accounts.all();
        let counts: HashMap<String, u32> = s
            .monitor
            .counts()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
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
        let r = request.into_inner();
        let limit = match r.limit {
            0 => DEFAULT_AUDIT_LIMIT,
            n if n < 0 => return Err(invalid_field("limit", "must not be negative")),
            n => usize::try_from(n)
                .unwrap_or(MAX_AUDIT_LIMIT)
                .min(MAX_AUDIT_LIMIT),
        };
        let before = r.before_sequence;
        let records = self
            .0
            .accounts
            .store()
            .read(move |rtx| Store::audit_page(rtx, before, limit))
            .await
            .map_err(|e| Status::unavailable(format!("storage unavailable: {e}")))?;
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
                })
                .collect(),
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
