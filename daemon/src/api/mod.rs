//! The gRPC surface: tonic services that validate requests, call the domain modules, and map
//! their results to roster.v1 messages and status codes. No storage logic lives here.

mod accounts;
mod admin;
mod convert;
mod errors;
mod event_filter;
mod listing;
mod monitor;
mod portfolio;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use roster_proto::v1::admin_service_server::AdminServiceServer;
use roster_proto::v1::monitor_service_server::MonitorServiceServer;
use roster_proto::v1::portfolio_service_server::PortfolioServiceServer;

use crate::accounts::Accounts;
use crate::audit::AuditSink;
use crate::monitor::MonitorHandle;
use crate::portfolio::PortfolioHandle;

/// What every service needs; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub accounts: Accounts,
    /// Audit records of what changes nothing (a connection test, a backup).
    pub audit: AuditSink,
    pub monitor: MonitorHandle,
    pub portfolio: PortfolioHandle,
    pub started: Instant,
    pub start_time: SystemTime,
    /// Expiry of the server certificate in use, for GetStatus.
    pub server_cert_expiry: Option<SystemTime>,
    pub config_generation: Arc<std::sync::atomic::AtomicU64>,
    pub max_request_bytes: usize,
    /// Where the active master key lives; rotation writes beside it.
    pub master_key_file: std::path::PathBuf,
    /// Per-tenant quotas (swapped by a reload).
    pub tenants: Arc<arc_swap::ArcSwap<crate::config::TenantsConfig>>,
}

/// Largest answer sent. Responses (a page of 1000 accounts, a big book) may be larger than
/// requests; portfolio answers are kept under it by leaving out the largest account sections.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// The roster.v1 services, each with explicit message size limits.
pub fn routes(state: ApiState) -> tonic::service::Routes {
    let max = state.max_request_bytes;
    let max_out = MAX_RESPONSE_BYTES;
    let accounts = listing::AccountRoutes::new(accounts::AccountApi(state.clone()), max, max_out);
    let monitor = MonitorServiceServer::new(monitor::MonitorApi(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max_out);
    let portfolio = PortfolioServiceServer::new(portfolio::PortfolioApi(state.clone()))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max_out);
    let admin = AdminServiceServer::new(admin::AdminApi(state))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max_out);
    tonic::service::Routes::new(accounts)
        .add_service(admin)
        .add_service(monitor)
        .add_service(portfolio)
}
