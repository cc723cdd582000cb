//! Health monitoring: the scheduler, the per-account state machine, backoff, and health events.
//! (Placeholder: the health-monitoring issue fills this in.)

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::config::MonitorConfig;
use crate::connector::Connector;
use crate::supervisor::Supervisor;

/// The API's handle on health monitoring.
#[derive(Clone)]
pub struct MonitorHandle {
    _accounts: Accounts,
    _connector: Arc<dyn Connector>,
}

impl MonitorHandle {
    /// Starts the scheduler's background tasks under `supervisor`.
    pub fn start(
        _config: &MonitorConfig,
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
