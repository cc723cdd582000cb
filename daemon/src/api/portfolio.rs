//! PortfolioService: validate the selection, gather one book kind across accounts, and turn the
//! sections plus the [`consolidate`] math into roster.v1 views. Decimals leave as exact strings.
//!
//! Totals are per currency ([`by_currency`]): nothing is ever added across currencies. A view's
//! single-currency totals (`totals`, `total_pnl`, ...) are filled only when the sections with
//! data are all in one currency; the `..._by_currency` lists always are.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use prost::Message as _;
use roster_proto::section::PortfolioSection;
use roster_proto::v1 as pb;
use roster_proto::v1::portfolio_service_server::PortfolioService;
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use super::convert::health_reason;
use super::errors::{invalid_field, status_of};
use super::{ApiState, convert};
use crate::auth::Caller;
use crate::connector::{Balances, FailureReason, Funds, Holdings, OrderBook, Positions, TradeBook};
use crate::portfolio::consolidate::{self, FundsSum, Overflow};
use crate::portfolio::{Book, Freshness, Section, Selection, coverage};
use crate::store::AccountRecord;

pub struct PortfolioApi(pub ApiState);

/// Longest `max_staleness` accepted: a day; anything longer is almost surely a unit mistake.
const MAX_STALENESS_LIMIT: Duration = Duration::from_secs(86_400);

impl PortfolioApi {
    /// Validates the request and gathers `T` for the accounts it selects.
    async fn gather<T: Book>(
        &self,
        request: &Request<pb::PortfolioRequest>,
    ) -> Result<Vec<Section<T>>, Status> {
        let caller = Caller::of(request)?;
        let r = request.get_ref();
        let max_staleness = match &r.max_staleness {
            None => None,
            Some(d) => {
                let secs = u64::try_from(d.seconds).ok();
                let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000);
                match secs.zip(nanos) {
                    Some((s, n)) if Duration::new(s, n) <= MAX_STALENESS_LIMIT => {
                        Some(Duration::new(s, n))
                    }
                    _ => {
                        return Err(invalid_field("max_staleness", "must be between 0 and 24h"));
                    }
                }
            }
        };
        let accounts = self
            .0
            .portfolio
            .select_in(
                &caller.scope,
                &Selection {
                    accounts: r.accounts.clone(),
                    label_selector: r.label_selector.clone(),
                },
            )
            .map_err(status_of)?;
        Ok(self
            .0
            .portfolio
            .gather::<T>(
                &accounts,
                Freshness {
                    max_staleness,
                    refresh: r.refresh,
                },
            )
            .await)
    }
}

fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

/// A value only some upstreams send: empty when this one did not (never "0").
fn opt_dec(d: Option<Decimal>) -> String {
    d.map(dec).unwrap_or_default()
}

/// What one account's section says about itself, built once per section and set on its message
/// (with the deprecated copies older clients read) by [`with_section`].
fn section_msg<T: Book>(s: &Section<T>) -> pb::AccountSection {
    let (error, error_reason) = match &s.problem {
        Some(p) => (
            match p.reason {
                Some(r) => format!("{}: {}", r.as_str(), p.message),
                None => p.message.clone(),
            },
            health_reason(p.reason) as i32,
        ),
        None => (String::new(), 0),
    };
    pb::AccountSection {
        account_id: s.account.id.clone(),
        account_name: s.account.name.clone(),
        fetched_at: s.fetched_at.and_then(convert::timestamp),
        stale: s.stale,
        age: s.age.map(convert::duration),
        mode: s.mode(),
        error,
        error_reason,
        has_data: s.data.is_some(),
        currency: s.currency().to_string(),
        unsupported: s.unsupported,
        connector: s.account.connector.clone(),
    }
}

/// The data of the sections that have some, grouped by currency (in currency order).
fn by_currency<T: Book>(sections: &[Section<T>]) -> BTreeMap<&str, Vec<&T>> {
    let mut groups: BTreeMap<&str, Vec<&T>> = BTreeMap::new();
    for d in sections.iter().filter_map(|s| s.data.as_deref()) {
        groups.entry(d.currency()).or_default().push(d);
    }
    groups
}

/// The one currency's totals when there is at most one; `None` when several (the caller then
/// leaves its single-currency totals unset).
fn single<T: Clone + Default>(per_currency: &[T]) -> Option<T> {
    match per_currency {
        [] => Some(T::default()),
        [one] => Some(one.clone()),
        _ => None,
    }
}

fn with_section<M: PortfolioSection>(section: pb::AccountSection, mut msg: M) -> M {
    msg.set_account_section(section);
    msg
}

fn funds_msg(f: &FundsSum) -> Result<pb::Funds, Overflow> {
    Ok(pb::Funds {
        available_cash: dec(f.available_cash),
        collateral: dec(f.collateral),
        m2m_realized: dec(f.m2m_realized),
        m2m_unrealized: dec(f.m2m_unrealized),
        utilised_debits: dec(f.utilised_debits),
        cash: dec(f.cash()),
        m2m_pnl: dec(f.m2m_pnl()?),
        buying_power: opt_dec(f.buying_power),
        equity: opt_dec(f.equity),
        currency: String::new(),
    })
}

/// Funds in `currency`.
fn funds_in(f: &FundsSum, currency: &str) -> Result<pb::Funds, Overflow> {
    funds_msg(f).map(|mut m| {
        m.currency = currency.to_string();
        m
    })
}

/// `totals_error` of a view: empty when every total fits.
fn totals_error<T>(r: &Result<T, Overflow>) -> String {
    r.as_ref()
        .err()
        .map(Overflow::to_string)
        .unwrap_or_default()
}

/// Room kept in an answer for what is not an account section (totals, net rows are counted
/// separately) and for each section's tag and length prefix.
const SECTION_OVERHEAD: usize = 16;

/// Keeps a whole answer under the response size limit whatever one account holds: while the
/// sections plus `rest` (the encoded size of everything else) exceed `limit`, the largest section
/// left is emptied by `clear` and fails with an error that says why. One account with a huge
/// book thus costs its own section, never the whole call (which tonic would refuse with
/// OUT_OF_RANGE).
fn fit_sections<S: prost::Message + PortfolioSection>(
    sections: &mut [S],
    rest: usize,
    limit: usize,
    clear: impl Fn(&mut S),
) {
    let sizes: Vec<usize> = sections.iter().map(|s| s.encoded_len()).collect();
    let mut total = sizes.iter().fold(rest, |t, n| {
        t.saturating_add(n.saturating_add(SECTION_OVERHEAD))
    });
    if total <= limit {
        return;
    }
    let mut largest: Vec<usize> = (0..sections.len()).collect();
    largest.sort_by_key(|&i| Reverse(sizes.get(i).copied().unwrap_or(0)));
    for i in largest {
        if total <= limit {
            break;
        }
        let (Some(section), Some(&size)) = (sections.get_mut(i), sizes.get(i)) else {
            continue;
        };
        clear(section);
        let mut left_out = section.account_section().into_owned();
        left_out.has_data = false;
        left_out.error = too_large(size);
        left_out.error_reason = pb::HealthReason::BadResponse as i32;
        section.set_account_section(left_out);
        total = total
            .saturating_sub(size)
            .saturating_add(section.encoded_len());
    }
}

/// The error of a section left out by [`fit_sections`].
fn too_large(size: usize) -> String {
    format!(
        "{}: this account's section is {size} bytes, more than its share of the {}-byte answer \
         limit; ask for this account alone",
        FailureReason::BadResponse.as_str(),
        super::MAX_RESPONSE_BYTES
    )
}

fn coverage_msg<T>(sections: &[Section<T>]) -> pb::Coverage {
    let c = coverage(sections);
    pb::Coverage {
        selected: c.selected,
        fresh: c.fresh,
        stale: c.stale,
        failed: c.failed,
        unsupported: c.unsupported,
    }
}

fn order_stats_msg(s: &crate::connector::OrderStatistics) -> pb::OrderStatistics {
    pb::OrderStatistics {
        total_buy_orders: s.total_buy_orders,
        total_sell_orders: s.total_sell_orders,
        total_completed_orders: s.total_completed_orders,
        total_open_orders: s.total_open_orders,
        total_rejected_orders: s.total_rejected_orders,
        total_trigger_pending_orders: s.total_trigger_pending_orders,
    }
}

fn holding_stats_msg(s: &crate::connector::HoldingStatistics) -> pb::HoldingStatistics {
    pb::HoldingStatistics {
        total_holding_value: dec(s.total_holding_value),
        total_investment_value: dec(s.total_investment_value),
        total_profit_and_loss: dec(s.total_profit_and_loss),
        total_pnl_percentage: dec(s.total_pnl_percentage),
        currency: String::new(),
    }
}

/// A normalised time (unset when the raw string is not a format we know) and the raw string.
fn when(
    raw: &str,
    fetched_at: Option<i64>,
) -> (Option<roster_proto::pbjson_types::Timestamp>, String) {
    let at =
        consolidate::parse_timestamp(raw, fetched_at.unwrap_or(0)).and_then(convert::timestamp);
    (at, raw.to_string())
}

fn tag(a: &AccountRecord) -> (String, String) {
    (a.id.clone(), a.name.clone())
}

#[tonic::async_trait]
impl PortfolioService for PortfolioApi {
    async fn get_funds(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::FundsView>, Status> {
        let sections = self.gather::<Funds>(&request).await?;
        let per_currency: Result<Vec<pb::Funds>, Overflow> = by_currency(&sections)
            .into_iter()
            .map(|(currency, funds)| {
                consolidate::sum_funds(funds).and_then(|t| funds_in(&t, currency))
            })
            .collect();
        let totals_error = totals_error(&per_currency);
        let totals_by_currency = per_currency.unwrap_or_default();
        let totals = if totals_error.is_empty() {
            single(&totals_by_currency)
        } else {
            None
        };
        let accounts = sections
            .iter()
            .map(|s| {
                let mut section = section_msg(s);
                let funds = match s
                    .data
                    .as_ref()
                    .map(|f| funds_in(&FundsSum::of(f), &f.currency))
                {
                    None => None,
                    Some(Ok(f)) => Some(f),
                    Some(Err(e)) => {
                        // Only a stored snapshot from before the decode bounds could get here.
                        section.error = format!("{}: {e}", FailureReason::BadResponse.as_str());
                        section.error_reason = pb::HealthReason::BadResponse as i32;
                        section.has_data = false;
                        None
                    }
                };
                with_section(
                    section,
                    pb::AccountFunds {
                        funds,
                        ..Default::default()
                    },
                )
            })
            .collect();
        Ok(Response::new(pb::FundsView {
            totals_error,
            totals,
            totals_by_currency,
            accounts,
            coverage: Some(coverage_msg(&sections)),
        }))
    }

    async fn get_positions(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::PositionsView>, Status> {
        let sections = self.gather::<Positions>(&request).await?;
        let mut groups: BTreeMap<&str, Vec<(&str, &crate::connector::Position)>> = BTreeMap::new();
        for s in &sections {
            if let Some(d) = &s.data {
                let rows = groups.entry(d.currency.as_str()).or_default();
                rows.extend(d.rows.iter().map(|r| (s.account.id.as_str(), r)));
            }
        }
        // Net rows and P&L per currency, in currency order.
        let totals: Result<Vec<(Vec<pb::NetPosition>, pb::Money)>, Overflow> = groups
            .into_iter()
            .map(|(currency, rows)| {
                let net = consolidate::net_positions(rows.iter().copied())?
                    .into_iter()
                    .map(|n| pb::NetPosition {
                        symbol: n.symbol,
                        exchange: n.exchange,
                        product: n.product,
                        net_quantity: dec(n.net_quantity),
                        long_quantity: dec(n.long_quantity),
                        short_quantity: dec(n.short_quantity),
                        pnl: dec(n.pnl),
                        account_count: n.account_count,
                        currency: currency.to_string(),
                    })
                    .collect();
                let pnl = consolidate::total_pnl(rows.iter().map(|(_, r)| *r))?;
                Ok((
                    net,
                    pb::Money {
                        currency: currency.to_string(),
                        amount: dec(pnl),
                    },
                ))
            })
            .collect();
        let error = totals_error(&totals);
        let (net, total_pnl_by_currency): (Vec<_>, Vec<_>) =
            totals.unwrap_or_default().into_iter().unzip();
        let net = net.into_iter().flatten().collect();
        let total_pnl = single(&total_pnl_by_currency)
            .map(|m| {
                if m.amount.is_empty() {
                    "0".into()
                } else {
                    m.amount
                }
            })
            .unwrap_or_default();
        let mut accounts: Vec<_> = sections
            .iter()
            .map(|s| {
                let (account_id, account_name) = tag(&s.account);
                // From a slice, so `collect` sizes the vector once.
                let rows: &[_] = s.data.as_ref().map_or(&[], |d| &d.rows);
                let rows = rows
                    .iter()
                    .map(|r| pb::PositionRow {
                        account_id: account_id.clone(),
                        account_name: account_name.clone(),
                        symbol: r.symbol.clone(),
                        exchange: r.exchange.clone(),
                        product: r.product.clone(),
                        quantity: dec(r.quantity),
                        average_price: dec(r.average_price),
                        ltp: dec(r.ltp),
                        pnl: dec(r.pnl),
                        realized_pnl: opt_dec(r.realized_pnl),
                        unrealized_pnl: opt_dec(r.unrealized_pnl),
                    })
                    .collect();
                with_section(
                    section_msg(s),
                    pb::AccountPositions {
                        rows,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut view = pb::PositionsView {
            accounts: Vec::new(),
            net,
            total_pnl,
            total_pnl_by_currency,
            coverage: Some(coverage_msg(&sections)),
            totals_error: error,
        };
        fit_sections(
            &mut accounts,
            view.encoded_len(),
            super::MAX_RESPONSE_BYTES,
            |s| s.rows = Vec::new(),
        );
        view.accounts = accounts;
        Ok(Response::new(view))
    }

    async fn get_orders(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::OrdersView>, Status> {
        let r = request.get_ref();
        let status = consolidate::normalise_status(&r.status);
        if status.len() > 64 {
            return Err(invalid_field("status", "is longer than 64 characters"));
        }
        let sections = self.gather::<OrderBook>(&request).await?;
        // Statistics describe the whole book of the selected accounts; the status filter only
        // narrows the rows shown. Counted once per account; the totals are their sum.
        let per_account: Vec<_> = sections
            .iter()
            .map(|s| {
                s.data
                    .as_ref()
                    .map(|d| consolidate::order_statistics(&d.orders))
            })
            .collect();
        let statistics = consolidate::sum_order_statistics(per_account.iter().flatten());
        let mut accounts: Vec<_> = sections
            .iter()
            .zip(&per_account)
            .map(|(s, stats)| {
                let (account_id, account_name) = tag(&s.account);
                let orders: &[_] = s.data.as_ref().map_or(&[], |d| &d.orders);
                let stats = stats.as_ref().map(order_stats_msg);
                let rows = orders
                    .iter()
                    .filter(|o| {
                        status.is_empty() || consolidate::normalise_status(&o.status) == status
                    })
                    .map(|o| {
                        let (time, raw_timestamp) = when(&o.timestamp, s.fetched_at);
                        pb::OrderRow {
                            account_id: account_id.clone(),
                            account_name: account_name.clone(),
                            order_id: o.order_id.clone(),
                            symbol: o.symbol.clone(),
                            exchange: o.exchange.clone(),
                            action: o.action.clone(),
                            quantity: dec(o.quantity),
                            price: dec(o.price),
                            trigger_price: dec(o.trigger_price),
                            price_type: o.price_type.clone(),
                            product: o.product.clone(),
                            status: o.status.clone(),
                            time,
                            raw_timestamp,
                            average_price: opt_dec(o.average_price),
                            filled_quantity: opt_dec(o.filled_quantity),
                            pending_quantity: opt_dec(o.pending_quantity),
                            rejection_reason: o.rejection_reason.clone(),
                        }
                    })
                    .collect();
                with_section(
                    section_msg(s),
                    pb::AccountOrders {
                        rows,
                        statistics: stats,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut view = pb::OrdersView {
            accounts: Vec::new(),
            statistics: Some(order_stats_msg(&statistics)),
            coverage: Some(coverage_msg(&sections)),
        };
        fit_sections(
            &mut accounts,
            view.encoded_len(),
            super::MAX_RESPONSE_BYTES,
            |s| {
                s.rows = Vec::new();
                s.statistics = None;
            },
        );
        view.accounts = accounts;
        Ok(Response::new(view))
    }

    async fn get_trades(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::TradesView>, Status> {
        let sections = self.gather::<TradeBook>(&request).await?;
        let values: Result<Vec<pb::TradeValues>, Overflow> = by_currency(&sections)
            .into_iter()
            .map(|(currency, books)| {
                consolidate::trade_values(books.into_iter().flat_map(|d| d.trades.iter())).map(
                    |(buy, sell)| pb::TradeValues {
                        currency: currency.to_string(),
                        buy_value: dec(buy),
                        sell_value: dec(sell),
                    },
                )
            })
            .collect();
        let error = totals_error(&values);
        let values_by_currency = values.unwrap_or_default();
        let (buy_value, sell_value) = match single(&values_by_currency) {
            Some(v) if v.currency.is_empty() => ("0".into(), "0".into()),
            Some(v) => (v.buy_value, v.sell_value),
            None => (String::new(), String::new()),
        };
        let (buy_value, sell_value) = if error.is_empty() {
            (buy_value, sell_value)
        } else {
            (String::new(), String::new())
        };
        let mut accounts: Vec<_> = sections
            .iter()
            .map(|s| {
                let (account_id, account_name) = tag(&s.account);
                let rows = s
                    .data
                    .iter()
                    .flat_map(|d| d.trades.iter())
                    .map(|t| {
                        let (time, raw_timestamp) = when(&t.timestamp, s.fetched_at);
                        pb::TradeRow {
                            account_id: account_id.clone(),
                            account_name: account_name.clone(),
                            order_id: t.order_id.clone(),
                            symbol: t.symbol.clone(),
                            exchange: t.exchange.clone(),
                            action: t.action.clone(),
                            quantity: dec(t.quantity),
                            average_price: dec(t.average_price),
                            trade_value: dec(t.trade_value),
                            product: t.product.clone(),
                            time,
                            raw_timestamp,
                            trade_id: t.trade_id.clone(),
                        }
                    })
                    .collect();
                with_section(
                    section_msg(s),
                    pb::AccountTrades {
                        rows,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut view = pb::TradesView {
            accounts: Vec::new(),
            buy_value,
            sell_value,
            values_by_currency,
            coverage: Some(coverage_msg(&sections)),
            totals_error: error,
        };
        fit_sections(
            &mut accounts,
            view.encoded_len(),
            super::MAX_RESPONSE_BYTES,
            |s| s.rows = Vec::new(),
        );
        view.accounts = accounts;
        Ok(Response::new(view))
    }

    async fn get_holdings(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::HoldingsView>, Status> {
        let sections = self.gather::<Holdings>(&request).await?;
        let mut groups: BTreeMap<&str, Vec<&Section<Holdings>>> = BTreeMap::new();
        for s in &sections {
            if let Some(d) = &s.data {
                groups.entry(d.currency.as_str()).or_default().push(s);
            }
        }
        let totals: Result<Vec<(Vec<pb::NetHolding>, pb::HoldingStatistics)>, Overflow> = groups
            .into_iter()
            .map(|(currency, group)| {
                let net = consolidate::net_holdings(group.iter().flat_map(|s| {
                    s.data
                        .iter()
                        .flat_map(|d| d.rows.iter().map(|r| (s.account.id.as_str(), r)))
                }))?
                .into_iter()
                .map(|n| pb::NetHolding {
                    symbol: n.symbol,
                    exchange: n.exchange,
                    quantity: dec(n.quantity),
                    pnl: dec(n.pnl),
                    account_count: n.account_count,
                    currency: currency.to_string(),
                })
                .collect();
                let stats = consolidate::holding_statistics(
                    group
                        .iter()
                        .filter_map(|s| s.data.as_ref().map(|d| &d.statistics)),
                )?;
                let mut stats = holding_stats_msg(&stats);
                stats.currency = currency.to_string();
                Ok((net, stats))
            })
            .collect();
        let error = totals_error(&totals);
        let (net, statistics_by_currency): (Vec<_>, Vec<_>) =
            totals.unwrap_or_default().into_iter().unzip();
        let net = net.into_iter().flatten().collect();
        let statistics = if error.is_empty() {
            single(&statistics_by_currency).map(|mut s| {
                if s.currency.is_empty() {
                    s = holding_stats_msg(&Default::default());
                }
                s
            })
        } else {
            None
        };
        let mut accounts: Vec<_> = sections
            .iter()
            .map(|s| {
                let (account_id, account_name) = tag(&s.account);
                let rows = s
                    .data
                    .iter()
                    .flat_map(|d| d.rows.iter())
                    .map(|h| pb::HoldingRow {
                        account_id: account_id.clone(),
                        account_name: account_name.clone(),
                        symbol: h.symbol.clone(),
                        exchange: h.exchange.clone(),
                        product: h.product.clone(),
                        quantity: dec(h.quantity),
                        pnl: dec(h.pnl),
                        pnl_percent: dec(h.pnl_percent),
                        average_price: opt_dec(h.average_price),
                        ltp: opt_dec(h.ltp),
                        current_value: opt_dec(h.current_value),
                    })
                    .collect();
                let stats = s.data.as_ref().map(|d| holding_stats_msg(&d.statistics));
                with_section(
                    section_msg(s),
                    pb::AccountHoldings {
                        rows,
                        statistics: stats,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut view = pb::HoldingsView {
            accounts: Vec::new(),
            net,
            statistics,
            statistics_by_currency,
            coverage: Some(coverage_msg(&sections)),
            totals_error: error,
        };
        fit_sections(
            &mut accounts,
            view.encoded_len(),
            super::MAX_RESPONSE_BYTES,
            |s| {
                s.rows = Vec::new();
                s.statistics = None;
            },
        );
        view.accounts = accounts;
        Ok(Response::new(view))
    }

    async fn get_balances(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::BalancesView>, Status> {
        let sections = self.gather::<Balances>(&request).await?;
        let totals = consolidate::sum_balances(sections.iter().flat_map(|s| {
            s.data
                .iter()
                .flat_map(|d| d.rows.iter().map(|b| (s.account.id.as_str(), b)))
        }));
        let error = totals_error(&totals);
        let totals = totals
            .unwrap_or_default()
            .into_iter()
            .map(|t| pb::AssetTotal {
                asset: t.asset,
                free: dec(t.free),
                locked: dec(t.locked),
                total: dec(t.total),
                account_count: t.account_count,
            })
            .collect();
        let mut accounts: Vec<_> = sections
            .iter()
            .map(|s| {
                let (account_id, account_name) = tag(&s.account);
                let rows = s
                    .data
                    .iter()
                    .flat_map(|d| d.rows.iter())
                    .map(|b| pb::BalanceRow {
                        account_id: account_id.clone(),
                        account_name: account_name.clone(),
                        asset: b.asset.clone(),
                        free: dec(b.free),
                        locked: dec(b.locked),
                        total: dec(b.total),
                    })
                    .collect();
                with_section(
                    section_msg(s),
                    pb::AccountBalances {
                        rows,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let mut view = pb::BalancesView {
            accounts: Vec::new(),
            totals,
            coverage: Some(coverage_msg(&sections)),
            totals_error: error,
        };
        fit_sections(
            &mut accounts,
            view.encoded_len(),
            super::MAX_RESPONSE_BYTES,
            |s| s.rows = Vec::new(),
        );
        view.accounts = accounts;
        Ok(Response::new(view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(name: &str, rows: usize) -> pb::AccountPositions {
        let row = pb::PositionRow {
            symbol: "NHPC".into(),
            quantity: "10".into(),
            ..Default::default()
        };
        let section = pb::AccountSection {
            account_id: format!("id-{name}"),
            account_name: name.into(),
            mode: "live".into(),
            has_data: true,
            ..Default::default()
        };
        with_section(
            section,
            pb::AccountPositions {
                rows: vec![row; rows],
                ..Default::default()
            },
        )
    }

    #[test]
    fn an_answer_over_the_limit_loses_its_largest_sections_each_saying_why() {
        let mut sections = vec![
            positions("small", 1),
            positions("huge", 1000),
            positions("big", 300),
        ];
        // Room for the small and the big section, and for the huge one once emptied (its error
        // included), but not for the huge one's rows.
        let limit = sections[0].encoded_len() + sections[2].encoded_len() + 2000;
        fit_sections(&mut sections, 0, limit, |s| s.rows = Vec::new());
        let left_out: Vec<_> = sections
            .iter()
            .filter(|s| !s.account_section().has_data)
            .map(|s| s.account_section().account_name.clone())
            .collect();
        assert_eq!(left_out, ["huge"]);
        let huge = &sections[1];
        assert!(huge.rows.is_empty());
        // The shared section and the deprecated fields older clients read say the same.
        assert_eq!(huge.account_section().into_owned(), {
            let mut legacy = huge.clone();
            legacy.section = None;
            legacy.account_section().into_owned()
        });
        let s = huge.account_section();
        assert_eq!(s.error_reason, pb::HealthReason::BadResponse as i32);
        assert!(
            s.error
                .starts_with("BAD_RESPONSE: this account's section is")
                && s.error.contains("ask for this account alone"),
            "{}",
            s.error
        );
        assert_eq!(sections[2].rows.len(), 300);
        assert!(sections[0].account_section().error.is_empty());
    }
}
