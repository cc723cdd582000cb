//! The venues the daemon speaks, one connector per venue kind. The monitor, the portfolio and
//! connection tests reach an account's venue only through [`Connectors::get`], by the account's
//! `connector`; adding a venue is its module plus one line in [`VENUES`] and [`Connectors::new`].

use std::collections::HashMap;
use std::sync::Arc;

use super::alpaca::{self, Alpaca};
use super::binance::{self, Binance};
use super::coinbase::{self, Coinbase};
use super::okx::{self, Okx};
use super::openalgo::{self, OpenAlgo};
use super::transport::{ConfigError, ConnectorConfig, Transport};
use super::{Connector, FailureReason, UpstreamError, Venue};
use crate::metrics::Metrics;

/// Every venue kind, in the order `rosterctl venues` lists them.
pub static VENUES: &[&Venue] = &[
    &openalgo::VENUE,
    &alpaca::VENUE,
    &binance::VENUE,
    &okx::VENUE,
    &coinbase::VENUE,
];

/// The venue of kind `kind` ("openalgo").
pub fn venue(kind: &str) -> Option<&'static Venue> {
    VENUES.iter().copied().find(|v| v.kind == kind)
}

/// One connector per venue kind, sharing one [`Transport`]. Cheap to clone.
#[derive(Clone)]
pub struct Connectors {
    by_kind: Arc<HashMap<&'static str, Arc<dyn Connector>>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_kind.keys()).finish()
    }
}

impl Connectors {
    /// Every venue's connector, from the `[upstream]` settings.
    pub(crate) fn new(config: ConnectorConfig, metrics: Arc<Metrics>) -> Result<Self, ConfigError> {
        let transport = Arc::new(Transport::new(config, metrics)?);
        Ok(Self::of([
            Arc::new(OpenAlgo::new(transport.clone())?) as Arc<dyn Connector>,
            Arc::new(Alpaca::new(transport.clone())?),
            Arc::new(Binance::new(transport.clone())?),
            Arc::new(Okx::new(transport.clone())?),
            Arc::new(Coinbase::new(transport)?),
        ]))
    }

    /// These connectors, each under its venue's kind (tests use it to put a fake in).
    pub fn of(connectors: impl IntoIterator<Item = Arc<dyn Connector>>) -> Self {
        Self {
            by_kind: Arc::new(
                connectors
                    .into_iter()
                    .map(|c| (c.venue().kind, c))
                    .collect(),
            ),
        }
    }

    /// The connector of the venue kind `kind`. Only a record this daemon did not write (a store
    /// from a newer release, restored by hand) can name a kind it does not know.
    pub fn get(&self, kind: &str) -> Result<&Arc<dyn Connector>, UpstreamError> {
        self.by_kind.get(kind).ok_or_else(|| {
            UpstreamError::new(
                FailureReason::BadResponse,
                format!("this rosterd has no connector for venue kind {kind:?}"),
                None,
            )
        })
    }
}
