//! MonitorService. (Until health monitoring lands, every RPC answers UNIMPLEMENTED.)

use roster_proto::v1::monitor_service_server::MonitorService;

use super::ApiState;

#[allow(dead_code, reason = "used once health monitoring lands")]
pub struct MonitorApi(pub ApiState);

impl MonitorService for MonitorApi {}
