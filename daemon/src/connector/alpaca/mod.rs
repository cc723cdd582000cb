//! [`Alpaca`]: the venue `alpaca`, the HTTP implementation of [`Connector`] against Alpaca's
//! Trading API v2 (`shared/reference/alpaca-binance-api.md`, section 2). Live and paper are
//! separate accounts on separate hosts with separate keys; the account's environment picks the
//! host and says the mode. Money is in the account's currency (USD).
//!
//! - Every request is `GET {host}{path}` with the key pair in `APCA-API-KEY-ID` /
//!   `APCA-API-SECRET-KEY` (marked sensitive, so HTTP/2 never indexes them) and `Accept:
//!   application/json`, through the shared pooled client of [`Transport`]. The key id and secret
//!   are never logged, and are scrubbed out of every answer and error before it leaves here.
//! - One deadline (`request_timeout`) covers a whole call: the budget waits and every request
//!   of it (the trades' pages included), so a slow or trickling server cannot hold a call longer.
//! - Request budget per key id ([`budget`]): 180/min with a burst of 10, under Alpaca's 200/min;
//!   Alpaca's `X-RateLimit-Remaining: 0` or a 429 pause the key until `X-RateLimit-Reset`.
//! - Health: one `GET /v2/account`, which proves reachability, the key and its environment, and
//!   carries the account's state. `ACTIVE` with nothing blocked is up; `trading_blocked`,
//!   `trade_suspended_by_user` or `ACCOUNT_UPDATED` is up but restricted (DEGRADED: reads still
//!   work); `account_blocked` or any other status fails `ACCOUNT_RESTRICTED`.
//! - Errors ([`decode::classify_status`]): 401 code 40110000 is a refused key (`AUTH_REJECTED`);
//!   403 without a code is the gateway refusing the credential headers (`AUTH_REJECTED`); 403
//!   with a code is `PERMISSION_DENIED`; 429 `RATE_LIMITED`; 5xx `HTTP_5XX`; anything else, and a
//!   2xx that is not the expected JSON, `BAD_RESPONSE`.
//! - Books: funds and balances from the account, positions (which are the holdings too: Alpaca
//!   has no other book of them, so no holdings book is declared), orders, and fills as trades.

pub(crate) mod budget;
pub(crate) mod decode;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{ACCEPT, HeaderValue};
use tokio::time::Instant;

use self::budget::{Budget, REMAINING, RESET};
use self::decode::{Account, Standing, USD, classify_status, mode_of};
use super::classify::Answer;
use super::scrub::{Scrub, scrub_credential, scrub_error_of};
use super::transport::{ConfigError, Transport};
use super::{
    Balances, BookKind, CheckFailure, Connector, CredentialField, FailureReason, Funds, OrderBook,
    Positions, TradeBook, Upstream, UpstreamError, Venue, VenueEnvironment, Vitals,
};

/// What the venue is, needs and has.
pub static VENUE: Venue = Venue {
    kind: "alpaca",
    title: "Alpaca Trading API v2",
    credential_fields: &[
        CredentialField {
            name: "key_id",
            description: "the API key id (APCA-API-KEY-ID; live and paper keys differ)",
            max_len: 256,
            multiline: false,
        },
        CredentialField {
            name: "secret_key",
            description: "the API secret key (APCA-API-SECRET-KEY), shown once when generated",
            max_len: 256,
            multiline: false,
        },
    ],
    environments: &[
        VenueEnvironment {
            name: "live",
            default_host: Some("https://api.alpaca.markets"),
        },
        VenueEnvironment {
            name: "paper",
            default_host: Some("https://paper-api.alpaca.markets"),
        },
    ],
    books: &[
        BookKind::Funds,
        BookKind::Balances,
        BookKind::Positions,
        BookKind::Orders,
        BookKind::Trades,
    ],
    rate_budget: "200 requests/min per API key (X-RateLimit-* honoured)",
    currency: "the account's currency (USD)",
    health_probe: "GET /v2/account",
};

/// What the health check reports as the broker behind the account.
const BROKER: &str = "alpaca";

/// Fills per activities page: Alpaca's largest `page_size`.
const FILL_PAGE_SIZE: usize = 100;
/// Pages of fills one trades call reads at most: each page takes a request of the key's 200 a
/// minute, shared with the health checks and the other books, so a trades call stops at the 500
/// most recent fills rather than spend the key's budget on history.
const MAX_FILL_PAGES: usize = 5;

/// Accounts whose currency is remembered; past it the map starts over (a currency is learnt
/// again from the next account answer, and is "USD" until then).
const CURRENCIES_CAP: usize = 65_536;

/// One kind of request: its path, its metrics label and its name in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Account,
    Positions,
    Orders,
    Activities,
}

impl Call {
    fn path(self) -> &'static str {
        match self {
            Self::Account => "/v2/account",
            Self::Positions => "/v2/positions",
            Self::Orders => "/v2/orders",
            Self::Activities => "/v2/account/activities",
        }
    }

    /// The `endpoint` label of `rosterd_upstream_requests_total`.
    fn label(self) -> &'static str {
        match self {
            Self::Account => "alpaca:account",
            Self::Positions => "alpaca:positions",
            Self::Orders => "alpaca:orders",
            Self::Activities => "alpaca:activities",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Positions => "positions",
            Self::Orders => "orders",
            Self::Activities => "activities",
        }
    }
}

/// The Alpaca connector. Cheap to share: hold it in an `Arc<dyn Connector>`.
pub struct Alpaca {
    transport: Arc<Transport>,
    budget: Budget,
    /// Account id -> the currency its last account answer named, for the books that do not say.
    currencies: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Alpaca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alpaca")
            .field("transport", &self.transport)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// A credential field as a request header value, marked sensitive; an error naming the field
/// (never showing it) when it cannot be one.
fn header_value(up: &Upstream, field: &str) -> Result<HeaderValue, UpstreamError> {
    let secret = up.secret(field)?;
    let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
        UpstreamError::new(
            FailureReason::AuthRejected,
            format!("the stored {field} is not a valid HTTP header value"),
            None,
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

impl Alpaca {
    pub(crate) fn new(transport: Arc<Transport>) -> Result<Self, ConfigError> {
        transport.config().validate()?;
        Ok(Self {
            transport,
            budget: Budget::new(),
            currencies: Mutex::new(HashMap::new()),
        })
    }

    fn request_timeout(&self) -> Duration {
        self.transport.config().request_timeout
    }

    fn max_rows(&self) -> usize {
        self.transport.config().max_rows_per_book
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.request_timeout()
    }

    fn currencies(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // Nothing panics while holding it; a poisoned map is still a valid map.
        self.currencies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The currency of `up`'s account as last seen, else USD.
    fn currency_of(&self, up: &Upstream) -> String {
        self.currencies()
            .get(&up.account_id)
            .cloned()
            .unwrap_or_else(|| USD.to_owned())
    }

    fn remember_currency(&self, up: &Upstream, currency: &str) {
        let mut map = self.currencies();
        if map.get(&up.account_id).map(String::as_str) == Some(currency) {
            return;
        }
        if map.len() >= CURRENCIES_CAP {
            map.clear();
        }
        map.insert(up.account_id.clone(), currency.to_owned());
    }

    /// `{base}{path}` for `up`.
    fn url(&self, up: &Upstream, call: Call) -> Result<Url, UpstreamError> {
        let base = up.base().ok_or_else(|| {
            UpstreamError::new(
                FailureReason::Connect,
                "host_url is not a valid http(s) URL",
                None,
            )
        })?;
        Ok(base.join(call.path()))
    }

    /// One request: a budget slot, then the exchange, both before `deadline`. Reads the
    /// rate-limit headers of whatever answered.
    async fn send(
        &self,
        up: &Upstream,
        call: Call,
        url: Url,
        deadline: Instant,
    ) -> Result<Answer, UpstreamError> {
        let key_id = header_value(up, "key_id")?;
        let secret = header_value(up, "secret_key")?;
        let budget_key = up.secret("key_id")?.expose();
        self.budget
            .take(budget_key, deadline, self.request_timeout())
            .await?;
        let request = self
            .transport
            .client()
            .get(url)
            .header(ACCEPT, "application/json")
            .header("APCA-API-KEY-ID", key_id)
            .header("APCA-API-SECRET-KEY", secret);
        let answer =
            tokio::time::timeout_at(deadline, self.transport.send(request, &[REMAINING, RESET]))
                .await
                .map_err(|_| {
                    UpstreamError::new(
                        FailureReason::Timeout,
                        format!(
                            "alpaca {}: no complete answer within {}",
                            call.what(),
                            humantime::format_duration(self.request_timeout())
                        ),
                        None,
                    )
                })??;
        self.budget.observe(
            budget_key,
            answer.status,
            answer.header(REMAINING),
            answer.header(RESET),
            SystemTime::now(),
        );
        Ok(answer)
    }

    /// One request and its decoding (`decode` reads a 2xx answer; any other status is
    /// classified), counted in the metrics and logged. The error is scrubbed of every credential
    /// field before it is logged or returned.
    async fn page<T>(
        &self,
        up: &Upstream,
        call: Call,
        url: Url,
        deadline: Instant,
        decode: impl FnOnce(&Answer) -> Result<T, UpstreamError>,
    ) -> Result<T, UpstreamError> {
        let started = Instant::now();
        tracing::debug!(account_id = %up.account_id, call = call.label(), "upstream call");
        let result = match self.send(up, call, url, deadline).await {
            Ok(a) if (200..300).contains(&a.status) => decode(&a),
            Ok(a) => Err(classify_status(call.what(), a.status, &a.body)),
            Err(e) => Err(e),
        };
        self.transport.record(call.label(), &result);
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(v) => {
                tracing::debug!(account_id = %up.account_id, call = call.label(), elapsed_ms, "upstream ok");
                Ok(v)
            }
            Err(e) => {
                let e = scrub_error_of(e, &up.credential);
                tracing::debug!(account_id = %up.account_id, call = call.label(), elapsed_ms, reason = e.reason.as_str(), http_status = e.http_status, "upstream failed: {}", e.message);
                Err(e)
            }
        }
    }

    /// A decoded book, scrubbed of every credential field before anything of it is stored or
    /// shown.
    fn scrubbed<T: Scrub>(mut value: T, up: &Upstream) -> T {
        scrub_credential(&mut value, &up.credential);
        value
    }

    /// `GET /v2/account`, scrubbed; remembers the account's currency.
    async fn account(&self, up: &Upstream, deadline: Instant) -> Result<Account, UpstreamError> {
        let url = self.url(up, Call::Account)?;
        let mut account = self
            .page(up, Call::Account, url, deadline, |a| {
                decode::account(a.status, &a.body, &up.environment)
            })
            .await?;
        account.funds = Self::scrubbed(account.funds, up);
        self.remember_currency(up, &account.funds.currency);
        Ok(account)
    }

    /// The health check: one account request (see the module doc).
    async fn probe(&self, up: &Upstream) -> Result<Vitals, CheckFailure> {
        let account = self.account(up, self.deadline()).await?;
        let mode = Some(account.funds.mode);
        let account_error = |message: String| {
            scrub_error_of(
                UpstreamError::new(FailureReason::AccountRestricted, message, Some(200)),
                &up.credential,
            )
        };
        match account.standing {
            Standing::Active => Ok(Vitals {
                broker: Some(BROKER.to_owned()),
                mode,
                probed: true,
                restricted: None,
            }),
            Standing::Restricted(message) => Ok(Vitals {
                broker: Some(BROKER.to_owned()),
                mode,
                probed: true,
                restricted: Some(account_error(message)),
            }),
            Standing::Blocked(message) => Err(CheckFailure {
                error: account_error(message),
                key_accepted: true,
                broker: Some(BROKER.to_owned()),
                mode,
            }),
        }
    }

    async fn funds(&self, up: &Upstream) -> Result<Funds, UpstreamError> {
        Ok(self.account(up, self.deadline()).await?.funds)
    }

    async fn balances(&self, up: &Upstream) -> Result<Balances, UpstreamError> {
        let account = self.account(up, self.deadline()).await?;
        Ok(Self::scrubbed(account.balances(), up))
    }

    async fn positions(&self, up: &Upstream) -> Result<Positions, UpstreamError> {
        let (mode, currency, max_rows) = (
            mode_of(&up.environment),
            self.currency_of(up),
            self.max_rows(),
        );
        let url = self.url(up, Call::Positions)?;
        let book = self
            .page(up, Call::Positions, url, self.deadline(), |a| {
                decode::positions(a.status, &a.body, max_rows, mode, &currency)
            })
            .await?;
        Ok(Self::scrubbed(book, up))
    }

    /// One page of the 500 most recent orders of any status (Alpaca's largest page): a busy
    /// day's book fits, and paging further back would spend the key's budget on history.
    async fn orders(&self, up: &Upstream) -> Result<OrderBook, UpstreamError> {
        let (mode, currency, max_rows) = (
            mode_of(&up.environment),
            self.currency_of(up),
            self.max_rows(),
        );
        let mut url = self.url(up, Call::Orders)?;
        url.query_pairs_mut()
            .append_pair("status", "all")
            .append_pair("limit", "500")
            .append_pair("direction", "desc")
            .append_pair("nested", "false");
        let book = self
            .page(up, Call::Orders, url, self.deadline(), |a| {
                decode::orders(a.status, &a.body, max_rows, mode, &currency)
            })
            .await?;
        Ok(Self::scrubbed(book, up))
    }

    /// Fill activities, newest first, page after page while a page is full, at most
    /// [`MAX_FILL_PAGES`] pages and `max_rows_per_book` fills, all within one deadline.
    async fn trades(&self, up: &Upstream) -> Result<TradeBook, UpstreamError> {
        let (mode, currency, max_rows) = (
            mode_of(&up.environment),
            self.currency_of(up),
            self.max_rows(),
        );
        let deadline = self.deadline();
        let mut trades = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_FILL_PAGES {
            let mut url = self.url(up, Call::Activities)?;
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("activity_types", "FILL")
                    .append_pair("direction", "desc")
                    .append_pair("page_size", &FILL_PAGE_SIZE.to_string());
                if let Some(t) = &token {
                    query.append_pair("page_token", t);
                }
            }
            let page = self
                .page(up, Call::Activities, url, deadline, |a| {
                    decode::fills(a.status, &a.body, max_rows)
                })
                .await?;
            if trades.len().saturating_add(page.len()) > max_rows {
                return Err(scrub_error_of(
                    UpstreamError::new(
                        FailureReason::BadResponse,
                        format!(
                            "alpaca activities: {}",
                            super::bounds::OutOfBounds::Rows { max: max_rows }
                        ),
                        Some(200),
                    ),
                    &up.credential,
                ));
            }
            let full = page.len() >= FILL_PAGE_SIZE;
            let next = page.last().map(|t| t.trade_id.clone());
            trades.extend(page);
            // The next page starts after the last fill's id; a server that ignores the token
            // (the same last id again) would only repeat itself.
            match next {
                Some(id) if full && !id.is_empty() && token.as_deref() != Some(id.as_str()) => {
                    token = Some(id);
                }
                _ => break,
            }
        }
        Ok(Self::scrubbed(
            decode::trade_book(trades, mode, &currency),
            up,
        ))
    }
}

impl Connector for Alpaca {
    fn venue(&self) -> &'static Venue {
        &VENUE
    }
    /// Always the account request, `deep` or not: it is the cheapest authenticated call and
    /// already the deepest there is.
    fn check<'a>(
        &'a self,
        up: &'a Upstream,
        _deep: bool,
    ) -> BoxFuture<'a, Result<Vitals, CheckFailure>> {
        Box::pin(self.probe(up))
    }
    fn funds<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Funds, UpstreamError>> {
        Box::pin(Alpaca::funds(self, up))
    }
    fn balances<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<Balances, UpstreamError>> {
        Box::pin(Alpaca::balances(self, up))
    }
    fn positions<'a>(
        &'a self,
        up: &'a Upstream,
    ) -> BoxFuture<'a, Result<Positions, UpstreamError>> {
        Box::pin(Alpaca::positions(self, up))
    }
    fn orders<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<OrderBook, UpstreamError>> {
        Box::pin(Alpaca::orders(self, up))
    }
    fn trades<'a>(&'a self, up: &'a Upstream) -> BoxFuture<'a, Result<TradeBook, UpstreamError>> {
        Box::pin(Alpaca::trades(self, up))
    }
}
