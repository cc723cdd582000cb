//! AdminService: status of the daemon itself.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use roster_proto::v1 as pb;
use roster_proto::v1::admin_service_server::AdminService;
use tonic::{Request, Response, Status};

use super::{ApiState, convert};
use crate::auth::Caller;
use crate::store::SCHEMA_VERSION;

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
        }))
    }
}
