//! Consolidated portfolio: parallel fetches, snapshots, staleness, and the decimal consolidation.
//! (Placeholder: the portfolio issue fills this in.)

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::config::PortfolioConfig;
use crate::connector::Connector;
use crate::supervisor::Supervisor;

/// The API's handle on portfolio views.
#[derive(Clone)]
pub struct PortfolioHandle {
    _accounts: Accounts,
    _connector: Arc<dyn Connector>,
}

impl PortfolioHandle {
    /// Starts any background refresh under `supervisor`.
    pub fn start(
        _config: &PortfolioConfig,
        accounts: Accounts,
        connector: Arc<dyn Connector>,
        _supervisor: &Supervisor,
    ) -> Self {
        Self {
            _accounts: accounts,
            _connector: connector,
        }
    }
}
