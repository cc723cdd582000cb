//! PortfolioService. (Until consolidation lands, every RPC answers UNIMPLEMENTED.)

use roster_proto::v1::portfolio_service_server::PortfolioService;

use super::ApiState;

#[allow(dead_code, reason = "used once consolidation lands")]
pub struct PortfolioApi(pub ApiState);

impl PortfolioService for PortfolioApi {}
