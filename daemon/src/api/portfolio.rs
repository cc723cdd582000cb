//! PortfolioService: validate the selection, gather one book kind across accounts, and turn the
//! sections plus the [`consolidate`] math into roster.v1 views. Decimals leave as exact strings.

use std::time::Duration;

use roster_proto::v1 as pb;
use roster_proto::v1::portfolio_service_server::PortfolioService;
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use super::convert::health_reason;
use super::errors::{invalid_field, status_of};
use super::{ApiState, convert};
use crate::connector::{Funds, Holdings, OrderBook, Positions, TradeBook};
use crate::portfolio::consolidate::{self, FundsSum};
use crate::portfolio::{Book, Freshness, Section, Selection, coverage};
use crate::store::AccountRecord;

pub struct PortfolioApi(pub ApiState);

/// Longest `max_staleness` accepted: a day; anything longer is almost surely a unit mistake.
const MAX_STALENESS_LIMIT: Duration = Duration::from_secs(86_400);

impl PortfolioApi {
    /// Validates the request and gathers `T` for the accounts it selects.
    async fn gather<T: Book>(&self, r: &pb::PortfolioRequest) -> Result<Vec<Section<T>>, Status> {
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
            .select(&Selection {
                accounts: r.accounts.clone(),
                label_selector: r.label_selector.clone(),
            })
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

/// The fields every account section shares.
struct Head {
    account_id: String,
    account_name: String,
    fetched_at: Option<roster_proto::pbjson_types::Timestamp>,
    stale: bool,
    age: Option<roster_proto::pbjson_types::Duration>,
    mode: String,
    error: String,
    error_reason: i32,
    has_data: bool,
}

fn head<T: Book>(s: &Section<T>) -> Head {
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
    Head {
        account_id: s.account.id.clone(),
        account_name: s.account.name.clone(),
        fetched_at: s.fetched_at.and_then(convert::timestamp),
        stale: s.stale,
        age: s.age.map(convert::duration),
        mode: s.mode(),
        error,
        error_reason,
        has_data: s.data.is_some(),
    }
}

fn funds_msg(f: &FundsSum) -> pb::Funds {
    pb::Funds {
        available_cash: dec(f.available_cash),
        collateral: dec(f.collateral),
        m2m_realized: dec(f.m2m_realized),
        m2m_unrealized: dec(f.m2m_unrealized),
        utilised_debits: dec(f.utilised_debits),
        cash: dec(f.cash()),
        m2m_pnl: dec(f.m2m_pnl()),
    }
}

fn coverage_msg<T>(sections: &[Section<T>]) -> pb::Coverage {
    let c = coverage(sections);
    pb::Coverage {
        selected: c.selected,
        fresh: c.fresh,
        stale: c.stale,
        failed: c.failed,
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

macro_rules! section_msg {
    ($msg:ident, $h:expr, { $($field:ident : $value:expr),* $(,)? }) => {{
        let h = $h;
        pb::$msg {
            account_id: h.account_id,
            account_name: h.account_name,
            fetched_at: h.fetched_at,
            stale: h.stale,
            age: h.age,
            mode: h.mode,
            error: h.error,
            error_reason: h.error_reason,
            has_data: h.has_data,
            $($field: $value),*
        }
    }};
}

#[tonic::async_trait]
impl PortfolioService for PortfolioApi {
    async fn get_funds(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::FundsView>, Status> {
        let sections = self.gather::<Funds>(request.get_ref()).await?;
        let totals = consolidate::sum_funds(sections.iter().filter_map(|s| s.data.as_deref()));
        let accounts = sections
            .iter()
            .map(|s| {
                section_msg!(AccountFunds, head(s), {
                    funds: s.data.as_ref().map(|f| funds_msg(&FundsSum::of(f))),
                })
            })
            .collect();
        Ok(Response::new(pb::FundsView {
            totals: Some(funds_msg(&totals)),
            accounts,
            coverage: Some(coverage_msg(&sections)),
        }))
    }

    async fn get_positions(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::PositionsView>, Status> {
        let sections = self.gather::<Positions>(request.get_ref()).await?;
        let all = || {
            sections.iter().flat_map(|s| {
                s.data
                    .iter()
                    .flat_map(|d| d.rows.iter().map(|r| (s.account.id.as_str(), r)))
            })
        };
        let net = consolidate::net_positions(all())
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
            })
            .collect();
        let total_pnl = consolidate::total_pnl(all().map(|(_, r)| r));
        let accounts = sections
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
                    })
                    .collect();
                section_msg!(AccountPositions, head(s), { rows: rows })
            })
            .collect();
        Ok(Response::new(pb::PositionsView {
            accounts,
            net,
            total_pnl: dec(total_pnl),
            coverage: Some(coverage_msg(&sections)),
        }))
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
        let sections = self.gather::<OrderBook>(r).await?;
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
        let accounts = sections
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
                        }
                    })
                    .collect();
                section_msg!(AccountOrders, head(s), { rows: rows, statistics: stats })
            })
            .collect();
        Ok(Response::new(pb::OrdersView {
            accounts,
            statistics: Some(order_stats_msg(&statistics)),
            coverage: Some(coverage_msg(&sections)),
        }))
    }

    async fn get_trades(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::TradesView>, Status> {
        let sections = self.gather::<TradeBook>(request.get_ref()).await?;
        let (buy, sell) = consolidate::trade_values(
            sections
                .iter()
                .flat_map(|s| s.data.iter().flat_map(|d| d.trades.iter())),
        );
        let accounts = sections
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
                        }
                    })
                    .collect();
                section_msg!(AccountTrades, head(s), { rows: rows })
            })
            .collect();
        Ok(Response::new(pb::TradesView {
            accounts,
            buy_value: dec(buy),
            sell_value: dec(sell),
            coverage: Some(coverage_msg(&sections)),
        }))
    }

    async fn get_holdings(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::HoldingsView>, Status> {
        let sections = self.gather::<Holdings>(request.get_ref()).await?;
        let net = consolidate::net_holdings(sections.iter().flat_map(|s| {
            s.data
                .iter()
                .flat_map(|d| d.rows.iter().map(|r| (s.account.id.as_str(), r)))
        }))
        .into_iter()
        .map(|n| pb::NetHolding {
            symbol: n.symbol,
            exchange: n.exchange,
            quantity: dec(n.quantity),
            pnl: dec(n.pnl),
            account_count: n.account_count,
        })
        .collect();
        let statistics = consolidate::holding_statistics(
            sections
                .iter()
                .filter_map(|s| s.data.as_ref().map(|d| &d.statistics)),
        );
        let accounts = sections
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
                    })
                    .collect();
                let stats = s.data.as_ref().map(|d| holding_stats_msg(&d.statistics));
                section_msg!(AccountHoldings, head(s), { rows: rows, statistics: stats })
            })
            .collect();
        Ok(Response::new(pb::HoldingsView {
            accounts,
            net,
            statistics: Some(holding_stats_msg(&statistics)),
            coverage: Some(coverage_msg(&sections)),
        }))
    }
}
