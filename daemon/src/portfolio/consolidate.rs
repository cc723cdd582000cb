//! The consolidation math: exact `rust_decimal` sums across accounts (never `f64`), the net view
//! per instrument, order statistics recomputed from rows, and timestamp normalisation.
//!
//! Everything here is a pure function of the per-account books, so it is unit-tested with
//! hand-computed decimals. Results are `normalize()`d so `0.50 + 0.50` prints `1`, not `1.00`,
//! the same way the connector normalises what it decodes.
//!
//! Every operation on upstream values is checked: a sum that leaves `rust_decimal`'s range is an
//! [`Overflow`] naming the total, never a panic (with `panic = "abort"` one would kill the daemon
//! for every account). The connector bounds decoded values at 10^15 (`connector::bounds`), so an
//! overflow needs absurd fleets, but nothing here relies on that. Unchecked arithmetic does not
//! compile in this module.
#![deny(clippy::arithmetic_side_effects)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};

use crate::connector::{
    Balance, Funds, Holding, HoldingStatistics, Order, OrderStatistics, Position, Trade,
};
use crate::store::UnixMillis;

/// A consolidated total that would leave the decimal range (about ±7.9 * 10^28).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {0} total would overflow the decimal range, so totals are left out")]
pub struct Overflow(pub &'static str);

fn add(total: Decimal, value: Decimal, what: &'static str) -> Result<Decimal, Overflow> {
    total.checked_add(value).ok_or(Overflow(what))
}

fn sub(total: Decimal, value: Decimal, what: &'static str) -> Result<Decimal, Overflow> {
    total.checked_sub(value).ok_or(Overflow(what))
}

/// Funds summed field by field, plus the two figures AlgoMirror users read first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FundsSum {
    pub available_cash: Decimal,
    pub collateral: Decimal,
    pub m2m_realized: Decimal,
    pub m2m_unrealized: Decimal,
    pub utilised_debits: Decimal,
    /// Summed over the accounts that report it; `None` when none does.
    pub buying_power: Option<Decimal>,
    pub equity: Option<Decimal>,
}

/// `total + value` where either may be unreported.
fn add_reported(
    total: Option<Decimal>,
    value: Option<Decimal>,
    what: &'static str,
) -> Result<Option<Decimal>, Overflow> {
    match (total, value) {
        (Some(t), Some(v)) => add(t, v, what).map(Some),
        (t, v) => Ok(t.or(v)),
    }
}

impl FundsSum {
    pub fn of(f: &Funds) -> Self {
        Self {
            available_cash: f.available_cash,
            collateral: f.collateral,
            m2m_realized: f.m2m_realized,
            m2m_unrealized: f.m2m_unrealized,
            utilised_debits: f.utilised_debits,
            buying_power: f.buying_power,
            equity: f.equity,
        }
    }

    /// Adds one account's funds (the caller keeps currencies apart); on overflow `self` is left
    /// as it was.
    pub fn add(&mut self, f: &Funds) -> Result<(), Overflow> {
        *self = Self {
            available_cash: add(self.available_cash, f.available_cash, "available_cash")?,
            collateral: add(self.collateral, f.collateral, "collateral")?,
            m2m_realized: add(self.m2m_realized, f.m2m_realized, "m2m_realized")?,
            m2m_unrealized: add(self.m2m_unrealized, f.m2m_unrealized, "m2m_unrealized")?,
            utilised_debits: add(self.utilised_debits, f.utilised_debits, "utilised_debits")?,
            buying_power: add_reported(self.buying_power, f.buying_power, "buying_power")?,
            equity: add_reported(self.equity, f.equity, "equity")?,
        };
        Ok(())
    }

    /// Free cash: `availablecash` as the upstream says it, with nothing subtracted.
    ///
    /// This used to be `availablecash - collateral` (AlgoMirror's figure). But OpenAlgo's own
    /// definition is "total margin = availablecash + collateral", so `availablecash` already
    /// leaves the pledged collateral out, and the plugins that once disagreed now follow it:
    /// since OpenAlgo commit 7f9790ab4 zerodha's `availablecash` is "the actual free cash
    /// balance" (net + debits - collateral, issue #1582), and angel's likewise. Subtracting the
    /// collateral again understated cash by exactly the collateral. Deriving per broker instead
    /// would silently go wrong whenever a plugin changes, and nothing in an answer says which
    /// plugin version produced it; the upstream's own figure is right for every current plugin.
    pub fn cash(&self) -> Decimal {
        self.available_cash.normalize()
    }

    /// `m2mrealized + m2munrealized`.
    pub fn m2m_pnl(&self) -> Result<Decimal, Overflow> {
        add(self.m2m_realized, self.m2m_unrealized, "m2m_pnl").map(|d| d.normalize())
    }
}

pub fn sum_funds<'a>(funds: impl IntoIterator<Item = &'a Funds>) -> Result<FundsSum, Overflow> {
    let mut sum = FundsSum::default();
    for f in funds {
        sum.add(f)?;
    }
    Ok(sum)
}

/// One asset's balances totalled across accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetTotal {
    pub asset: String,
    pub free: Decimal,
    pub locked: Decimal,
    pub total: Decimal,
    /// Accounts holding it.
    pub account_count: u32,
}

/// Every asset's free, locked and total summed across accounts (`(account id, balance)` pairs),
/// in asset order. Assets are never added to one another.
pub fn sum_balances<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a Balance)>,
) -> Result<Vec<AssetTotal>, Overflow> {
    let mut by_asset: BTreeMap<&str, (AssetTotal, BTreeSet<&str>)> = BTreeMap::new();
    for (account, b) in rows {
        let (t, accounts) = by_asset.entry(b.asset.as_str()).or_insert_with(|| {
            (
                AssetTotal {
                    asset: b.asset.clone(),
                    ..AssetTotal::default()
                },
                BTreeSet::new(),
            )
        });
        t.free = add(t.free, b.free, "free")?;
        t.locked = add(t.locked, b.locked, "locked")?;
        t.total = add(t.total, b.total, "total")?;
        accounts.insert(account);
    }
    Ok(by_asset
        .into_values()
        .map(|(mut t, accounts)| {
            t.account_count = u32::try_from(accounts.len()).unwrap_or(u32::MAX);
            t
        })
        .collect())
}

/// Net exposure to one (symbol, exchange, product) across accounts. `short_quantity` is a
/// magnitude (positive), so `net_quantity = long_quantity - short_quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPosition {
    pub symbol: String,
    pub exchange: String,
    pub product: String,
    pub net_quantity: Decimal,
    pub long_quantity: Decimal,
    pub short_quantity: Decimal,
    pub pnl: Decimal,
    pub account_count: u32,
}

/// Merges `(account id, row)` pairs by instrument, sorted by (symbol, exchange, product).
/// Closed rows (quantity 0) still add their day P&L and count their account.
pub fn net_positions<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a Position)>,
) -> Result<Vec<NetPosition>, Overflow> {
    // Keyed by borrowed strings: only one copy per instrument, not one per row.
    type Key<'a> = (&'a str, &'a str, &'a str);
    let mut by_key: BTreeMap<Key<'a>, (NetPosition, BTreeSet<&'a str>)> = BTreeMap::new();
    for (account, p) in rows {
        let key = (p.symbol.as_str(), p.exchange.as_str(), p.product.as_str());
        let (n, accounts) = by_key.entry(key).or_insert_with(|| {
            (
                NetPosition {
                    symbol: p.symbol.clone(),
                    exchange: p.exchange.clone(),
                    product: p.product.clone(),
                    net_quantity: Decimal::ZERO,
                    long_quantity: Decimal::ZERO,
                    short_quantity: Decimal::ZERO,
                    pnl: Decimal::ZERO,
                    account_count: 0,
                },
                BTreeSet::new(),
            )
        });
        n.net_quantity = add(n.net_quantity, p.quantity, "net_quantity")?;
        if p.quantity.is_sign_positive() {
            n.long_quantity = add(n.long_quantity, p.quantity, "long_quantity")?;
        } else {
            n.short_quantity = sub(n.short_quantity, p.quantity, "short_quantity")?;
        }
        n.pnl = add(n.pnl, p.pnl, "net pnl")?;
        accounts.insert(account);
    }
    Ok(by_key
        .into_values()
        .map(|(mut n, accounts)| {
            n.net_quantity = n.net_quantity.normalize();
            n.long_quantity = n.long_quantity.normalize();
            n.short_quantity = n.short_quantity.normalize();
            n.pnl = n.pnl.normalize();
            n.account_count = u32::try_from(accounts.len()).unwrap_or(u32::MAX);
            n
        })
        .collect())
}

pub fn total_pnl<'a>(rows: impl IntoIterator<Item = &'a Position>) -> Result<Decimal, Overflow> {
    rows.into_iter()
        .try_fold(Decimal::ZERO, |acc, p| add(acc, p.pnl, "total_pnl"))
        .map(|d| d.normalize())
}

/// Order statistics recomputed from the rows themselves: upstream statistics differ by version
/// (floats in the docs, no trigger-pending count before the sandbox), and rows are the truth.
pub fn order_statistics<'a>(orders: impl IntoIterator<Item = &'a Order>) -> OrderStatistics {
    let mut s = OrderStatistics::default();
    for o in orders {
        // Saturating: a count of u32::MAX rows cannot arrive (rows per book are bounded), and
        // if it did a pinned count is the honest answer.
        let bump = |n: &mut u32| *n = n.saturating_add(1);
        if o.action.trim().eq_ignore_ascii_case("BUY") {
            bump(&mut s.total_buy_orders);
        } else if o.action.trim().eq_ignore_ascii_case("SELL") {
            bump(&mut s.total_sell_orders);
        }
        match &*normalise_status(&o.status) {
            "complete" => bump(&mut s.total_completed_orders),
            "open" => bump(&mut s.total_open_orders),
            "rejected" => bump(&mut s.total_rejected_orders),
            "trigger pending" => bump(&mut s.total_trigger_pending_orders),
            _ => {}
        }
    }
    s
}

/// The statistics of several books added up.
pub fn sum_order_statistics<'a>(
    stats: impl IntoIterator<Item = &'a OrderStatistics>,
) -> OrderStatistics {
    let mut s = OrderStatistics::default();
    for x in stats {
        s.total_buy_orders = s.total_buy_orders.saturating_add(x.total_buy_orders);
        s.total_sell_orders = s.total_sell_orders.saturating_add(x.total_sell_orders);
        s.total_completed_orders = s
            .total_completed_orders
            .saturating_add(x.total_completed_orders);
        s.total_open_orders = s.total_open_orders.saturating_add(x.total_open_orders);
        s.total_rejected_orders = s
            .total_rejected_orders
            .saturating_add(x.total_rejected_orders);
        s.total_trigger_pending_orders = s
            .total_trigger_pending_orders
            .saturating_add(x.total_trigger_pending_orders);
    }
    s
}

/// Status strings are lowercase upstream; trimming and lowercasing also makes a filter typed
/// as `Open` or `"trigger  pending"` match. Borrowed when already normal (the usual upstream
/// case): this runs for every order row.
pub fn normalise_status(status: &str) -> Cow<'_, str> {
    let normal = !status.starts_with(' ')
        && !status.ends_with(' ')
        && !status.contains("  ")
        && status
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' ' || b == b'_');
    if normal {
        return Cow::Borrowed(status);
    }
    Cow::Owned(
        status
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
    )
}

/// Buy and sell trade value summed across accounts.
pub fn trade_values<'a>(
    trades: impl IntoIterator<Item = &'a Trade>,
) -> Result<(Decimal, Decimal), Overflow> {
    let (mut buy, mut sell) = (Decimal::ZERO, Decimal::ZERO);
    for t in trades {
        if t.action.trim().eq_ignore_ascii_case("BUY") {
            buy = add(buy, t.trade_value, "buy_value")?;
        } else if t.action.trim().eq_ignore_ascii_case("SELL") {
            sell = add(sell, t.trade_value, "sell_value")?;
        }
    }
    Ok((buy.normalize(), sell.normalize()))
}

/// Net holding of one (symbol, exchange) across accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetHolding {
    pub symbol: String,
    pub exchange: String,
    pub quantity: Decimal,
    pub pnl: Decimal,
    pub account_count: u32,
}

pub fn net_holdings<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a Holding)>,
) -> Result<Vec<NetHolding>, Overflow> {
    let mut by_key: BTreeMap<(String, String), (NetHolding, BTreeSet<&'a str>)> = BTreeMap::new();
    for (account, h) in rows {
        let (n, accounts) = by_key
            .entry((h.symbol.clone(), h.exchange.clone()))
            .or_insert_with(|| {
                (
                    NetHolding {
                        symbol: h.symbol.clone(),
                        exchange: h.exchange.clone(),
                        quantity: Decimal::ZERO,
                        pnl: Decimal::ZERO,
                        account_count: 0,
                    },
                    BTreeSet::new(),
                )
            });
        n.quantity = add(n.quantity, h.quantity, "net holding quantity")?;
        n.pnl = add(n.pnl, h.pnl, "net holding pnl")?;
        accounts.insert(account);
    }
    Ok(by_key
        .into_values()
        .map(|(mut n, accounts)| {
            n.quantity = n.quantity.normalize();
            n.pnl = n.pnl.normalize();
            n.account_count = u32::try_from(accounts.len()).unwrap_or(u32::MAX);
            n
        })
        .collect())
}

/// Holding statistics summed across accounts. The percentage is recomputed from the sums
/// (`pnl / investment * 100`, 2 dp, half away from zero as OpenAlgo's service rounds), because an
/// average of percentages weighs a ₹100 account like a ₹1 crore one.
pub fn holding_statistics<'a>(
    stats: impl IntoIterator<Item = &'a HoldingStatistics>,
) -> Result<HoldingStatistics, Overflow> {
    let mut s = HoldingStatistics::default();
    for x in stats {
        s.total_holding_value = add(
            s.total_holding_value,
            x.total_holding_value,
            "total_holding_value",
        )?;
        s.total_investment_value = add(
            s.total_investment_value,
            x.total_investment_value,
            "total_investment_value",
        )?;
        s.total_profit_and_loss = add(
            s.total_profit_and_loss,
            x.total_profit_and_loss,
            "total_profit_and_loss",
        )?;
    }
    s.total_pnl_percentage = pnl_percentage(s.total_profit_and_loss, s.total_investment_value);
    s.total_holding_value = s.total_holding_value.normalize();
    s.total_investment_value = s.total_investment_value.normalize();
    s.total_profit_and_loss = s.total_profit_and_loss.normalize();
    Ok(s)
}

pub fn pnl_percentage(pnl: Decimal, investment: Decimal) -> Decimal {
    if investment.is_zero() {
        return Decimal::ZERO;
    }
    // checked_div: a pathological investment near zero must not overflow (and panic).
    pnl.checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|x| x.checked_div(investment))
        .map(|p| {
            p.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .normalize()
        })
        .unwrap_or(Decimal::ZERO)
}

/// Indian brokers report wall-clock IST (+05:30) without an offset.
const IST_OFFSET_SECS: i32 = 5 * 3600 + 30 * 60;

/// Parses an upstream timestamp into Unix milliseconds. Formats seen: `08-Apr-2025 13:58:03`
/// (docs), `2026-11-26 00:20:41` (sandbox), `2025-04-08T13:58:03`, and time-only `13:58:03`
/// (tradebook in the docs), which takes its date from `fetched_at` (in IST): a tradebook is
/// the current day's. All are IST wall clock, unless the time carries an RFC 3339 offset (`Z` or
/// `+05:30`, Alpaca's `2026-11-24T15:02:11.401932718Z`), which then decides. `None` when nothing
/// matches; callers keep the raw string either way.
pub fn parse_timestamp(raw: &str, fetched_at: UnixMillis) -> Option<UnixMillis> {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};
    let s = raw.trim();
    let offset = UtcOffset::from_whole_seconds(IST_OFFSET_SECS).ok()?;
    let num = |t: &str| -> Option<u32> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let clock = |t: &str| -> Option<Time> {
        // Fractional seconds ("13:58:03.123") are dropped: no upstream sends them meaningfully.
        let t = t.split('.').next()?;
        let mut it = t.split(':');
        let (h, m, sec) = (
            num(it.next()?)?,
            num(it.next()?)?,
            num(it.next().unwrap_or("0"))?,
        );
        if it.next().is_some() {
            return None;
        }
        Time::from_hms(
            u8::try_from(h).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(sec).ok()?,
        )
        .ok()
    };
    let month_name = |t: &str| -> Option<Month> {
        const NAMES: [&str; 12] = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        let i = NAMES.iter().position(|n| t.eq_ignore_ascii_case(n))?;
        Month::try_from(u8::try_from(i.checked_add(1)?).ok()?).ok()
    };
    let date = |t: &str| -> Option<Date> {
        let parts: Vec<&str> = t.split('-').collect();
        let [a, b, c] = parts.as_slice() else {
            return None;
        };
        let (y, m, d) = if a.len() == 4 {
            // 2026-11-26
            (
                num(a)?,
                Month::try_from(u8::try_from(num(b)?).ok()?).ok()?,
                num(c)?,
            )
        } else {
            // 08-Apr-2025
            (num(c)?, month_name(b)?, num(a)?)
        };
        Date::from_calendar_date(i32::try_from(y).ok()?, m, u8::try_from(d).ok()?).ok()
    };
    // ISO's `T` only at index 10: a month name like `OCT` must not split the string.
    let iso = s.as_bytes().get(10) == Some(&b'T');
    let split = if iso {
        s.get(..10).zip(s.get(11..))
    } else {
        s.split_once(' ')
    };
    let (day, time_part) = match split {
        Some((d, t)) => (date(d.trim())?, t.trim()),
        None => {
            let fetched = OffsetDateTime::from_unix_timestamp(fetched_at.div_euclid(1000)).ok()?;
            (fetched.to_offset(offset).date(), s)
        }
    };
    // An RFC 3339 offset after the time: `Z`, or a sign after `HH:MM` (`-05:00`).
    let (time_part, offset) = if let Some(t) = time_part.strip_suffix(['Z', 'z']) {
        (t, UtcOffset::UTC)
    } else if let Some(i) = time_part.rfind(['+', '-']).filter(|i| *i >= 5) {
        let (t, zone) = time_part.split_at(i);
        let (sign, hm) = zone.split_at(1);
        let (h, m) = hm.split_once(':')?;
        let (h, m) = (num(h).filter(|h| *h < 24)?, num(m).filter(|m| *m < 60)?);
        let (h, m) = (i8::try_from(h).ok()?, i8::try_from(m).ok()?);
        let (h, m) = if sign == "-" {
            (h.checked_neg()?, m.checked_neg()?)
        } else {
            (h, m)
        };
        (t, UtcOffset::from_hms(h, m, 0).ok()?)
    } else {
        (time_part, offset)
    };
    let at = PrimitiveDateTime::new(day, clock(time_part)?).assume_offset(offset);
    at.unix_timestamp().checked_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::Mode;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn funds(a: &str, c: &str, r: &str, u: &str, debits: &str) -> Funds {
        Funds {
            available_cash: d(a),
            collateral: d(c),
            m2m_realized: d(r),
            m2m_unrealized: d(u),
            utilised_debits: d(debits),
            mode: Mode::Live,
            ..Default::default()
        }
    }

    fn pos(sym: &str, product: &str, q: &str, pnl: &str) -> Position {
        Position {
            symbol: sym.into(),
            exchange: "NSE".into(),
            product: product.into(),
            quantity: d(q),
            average_price: d("1"),
            ltp: d("1"),
            pnl: d(pnl),
            ..Position::default()
        }
    }

    #[test]
    fn funds_sums_cash_and_m2m_are_exact() {
        let a = funds("320.66", "0", "3.27", "-7.88", "679.34");
        let b = funds("10000000", "0", "0", "0", "0");
        let c = funds("0.1", "0.2", "0.1", "0.2", "0.3");
        let s = sum_funds([&a, &b, &c]).unwrap();
        // 320.66 + 10000000 + 0.1 = 10000320.76; an f64 sum of 0.1 + 0.2 alone would not be exact.
        assert_eq!(s.available_cash, d("10000320.76"));
        assert_eq!(s.collateral, d("0.2"));
        // Cash is what the upstream calls available: the collateral is not subtracted again.
        assert_eq!(s.cash(), d("10000320.76"));
        // (3.27 + 0 + 0.1) + (-7.88 + 0 + 0.2) = 3.37 - 7.68 = -4.31
        assert_eq!(s.m2m_pnl().unwrap(), d("-4.31"));
        assert_eq!(s.utilised_debits, d("679.64"));
        assert_eq!(sum_funds([]).unwrap().cash().to_string(), "0");
        assert_eq!(FundsSum::of(&c).cash().to_string(), "0.1");
    }

    #[test]
    fn net_positions_split_long_short_and_keep_closed_pnl() {
        let a = [
            pos("NHPC", "MIS", "-1", "0.02"),
            pos("RELIANCE", "MIS", "0", "5.90"),
            pos("NHPC", "CNC", "10", "1"),
        ];
        let b = [
            pos("NHPC", "MIS", "5", "-1.5"),
            pos("NHPC", "MIS", "-3", "0.48"),
        ];
        let rows = a.iter().map(|p| ("a", p)).chain(b.iter().map(|p| ("b", p)));
        let net = net_positions(rows).unwrap();
        assert_eq!(net.len(), 3);
        let nhpc_cnc = &net[0];
        assert_eq!(
            (nhpc_cnc.product.as_str(), nhpc_cnc.account_count),
            ("CNC", 1)
        );
        let nhpc = &net[1];
        assert_eq!(nhpc.product, "MIS");
        assert_eq!(nhpc.net_quantity, d("1")); // -1 + 5 - 3
        assert_eq!(nhpc.long_quantity, d("5"));
        assert_eq!(nhpc.short_quantity, d("4"));
        assert_eq!(nhpc.pnl, d("-1")); // 0.02 - 1.5 + 0.48
        assert_eq!(nhpc.account_count, 2);
        let rel = &net[2];
        assert_eq!(
            (rel.net_quantity, rel.pnl, rel.account_count),
            (d("0"), d("5.9"), 1)
        );
        let all: Vec<&Position> = a.iter().chain(b.iter()).collect();
        // 0.02 + 5.90 + 1 - 1.5 + 0.48
        assert_eq!(total_pnl(all).unwrap(), d("5.9"));
    }

    fn order(action: &str, status: &str) -> Order {
        Order {
            order_id: "1".into(),
            symbol: "X".into(),
            exchange: "NSE".into(),
            action: action.into(),
            price_type: "LIMIT".into(),
            product: "MIS".into(),
            status: status.into(),
            quantity: d("1"),
            price: d("1"),
            trigger_price: d("0"),
            timestamp: String::new(),
            ..Order::default()
        }
    }

    #[test]
    fn order_statistics_are_recomputed_from_rows() {
        let orders = [
            order("BUY", "complete"),
            order("buy", "open"),
            order("SELL", "rejected"),
            order("SELL", "trigger pending"),
            order("SELL", "cancelled"),
            order("HOLD", "Open"),
        ];
        let s = order_statistics(&orders);
        assert_eq!(
            (
                s.total_buy_orders,
                s.total_sell_orders,
                s.total_completed_orders,
                s.total_open_orders,
                s.total_rejected_orders,
                s.total_trigger_pending_orders
            ),
            (2, 3, 1, 2, 1, 1)
        );
        // Per-account statistics add up to those of all the rows.
        let (a, b) = orders.split_at(2);
        let summed = sum_order_statistics(&[order_statistics(a), order_statistics(b)]);
        assert_eq!(summed, s);
        assert_eq!(normalise_status(" Trigger  Pending "), "trigger pending");
        assert_eq!(normalise_status("trigger\tpending"), "trigger pending");
        assert_eq!(normalise_status("Open "), "open");
        assert_eq!(normalise_status("trigger pending"), "trigger pending");
        assert!(matches!(normalise_status("open"), Cow::Borrowed("open")));
    }

    #[test]
    fn trade_values_per_side() {
        let t = |action: &str, v: &str| Trade {
            order_id: "1".into(),
            symbol: "X".into(),
            exchange: "NSE".into(),
            action: action.into(),
            product: "MIS".into(),
            quantity: d("1"),
            average_price: d(v),
            trade_value: d(v),
            timestamp: String::new(),
            ..Trade::default()
        };
        let (buy, sell) =
            trade_values(&[t("BUY", "1180.1"), t("SELL", "83.74"), t("BUY", "0.2")]).unwrap();
        assert_eq!((buy, sell), (d("1180.3"), d("83.74")));
    }

    #[test]
    fn holdings_net_and_percentage_from_sums() {
        let h = |sym: &str, q: &str, pnl: &str| Holding {
            symbol: sym.into(),
            exchange: "NSE".into(),
            product: "CNC".into(),
            quantity: d(q),
            pnl: d(pnl),
            pnl_percent: d("0"),
            ..Holding::default()
        };
        let a = [h("RELIANCE", "1", "-149"), h("CANBK", "5", "-69")];
        let b = [h("RELIANCE", "2", "10.5")];
        let net =
            net_holdings(a.iter().map(|x| ("a", x)).chain(b.iter().map(|x| ("b", x)))).unwrap();
        assert_eq!(net.len(), 2);
        assert_eq!(
            (
                net[0].symbol.as_str(),
                net[0].quantity,
                net[0].account_count
            ),
            ("CANBK", d("5"), 1)
        );
        assert_eq!(
            (net[1].quantity, net[1].pnl, net[1].account_count),
            (d("3"), d("-138.5"), 2)
        );

        let s1 = HoldingStatistics {
            total_holding_value: d("1768"),
            total_investment_value: d("2001"),
            total_profit_and_loss: d("-233"),
            total_pnl_percentage: d("-11.64"),
        };
        let s2 = HoldingStatistics {
            total_holding_value: d("110"),
            total_investment_value: d("100"),
            total_profit_and_loss: d("10"),
            total_pnl_percentage: d("10"),
        };
        let s = holding_statistics([&s1, &s2]).unwrap();
        assert_eq!(s.total_holding_value, d("1878"));
        assert_eq!(s.total_investment_value, d("2101"));
        assert_eq!(s.total_profit_and_loss, d("-223"));
        // -223 / 2101 * 100 = -10.6139...; the average of the percentages would be -0.82.
        assert_eq!(s.total_pnl_percentage, d("-10.61"));
        assert_eq!(pnl_percentage(d("1"), d("0")), d("0"));
        assert_eq!(pnl_percentage(d("1"), d("8")), d("12.5"));
        assert_eq!(pnl_percentage(d("-1"), d("1600")), d("-0.06")); // -0.0625 -> away from zero
    }

    #[test]
    fn timestamps_in_every_upstream_format() {
        // 2025-04-08 13:58:03 IST = 08:28:03 UTC = 1744100883.
        let expect = 1_744_100_883_000;
        assert_eq!(parse_timestamp("08-Apr-2025 13:58:03", 0), Some(expect));
        assert_eq!(parse_timestamp("2025-04-08 13:58:03", 0), Some(expect));
        assert_eq!(parse_timestamp("2025-04-08T13:58:03", 0), Some(expect));
        assert_eq!(parse_timestamp(" 08-APR-2025 13:58:03 ", 0), Some(expect));
        assert!(parse_timestamp("08-OCT-2025 13:58:03", 0).is_some());
        // Time only: the date of fetched_at in IST. 2025-04-08 20:00 UTC is already 04-09 IST.
        let fetched_0408 = 1_744_092_000_000; // 2025-04-08 06:00 UTC (11:30 IST)
        assert_eq!(parse_timestamp("13:58:03", fetched_0408), Some(expect));
        let fetched_late = 1_744_142_400_000; // 2025-04-08 20:00 UTC = 04-09 01:30 IST
        assert_eq!(
            parse_timestamp("13:58:03", fetched_late),
            Some(expect + 86_400_000)
        );
        // The sandbox example: 2026-11-26 00:20:41 IST = 2026-11-25 18:50:41 UTC.
        assert_eq!(
            parse_timestamp("2026-11-26 00:20:41", 0),
            Some(1_795_632_641_000)
        );
        // RFC 3339 with its offset (Alpaca): 9, 6, 3 or no fractional digits, `Z` or `±HH:MM`.
        // 2026-11-24 15:02:11 UTC = 1795532531.
        let utc = 1_795_532_531_000;
        for rfc in [
            "2026-11-24T15:02:11.401932718Z",
            "2026-11-24T15:02:11.905438Z",
            "2026-11-24T15:02:11.905Z",
            "2026-11-24T15:02:11Z",
            "2026-11-24T10:02:11.112039204-05:00",
            "2026-11-24T20:32:11+05:30",
        ] {
            assert_eq!(parse_timestamp(rfc, 0), Some(utc), "{rfc:?}");
        }
        for bad in [
            "2026-11-24T15:02:11+5",
            "2026-11-24T15:02:11+25:00",
            "",
            "yesterday",
            "32-Apr-2025 10:00:00",
            "08-Foo-2025 10:00:00",
            "25:00:00",
            "2025-04-08 13:58:03:01",
            "-1-04-08 10:00:00",
            "99999999999-01-01 00:00:00",
            "08-Apr-2025",
            "１３:58:03",
        ] {
            assert_eq!(parse_timestamp(bad, 0), None, "{bad:?}");
        }
    }

    mod extremes {
        use super::*;
        use proptest::prelude::*;

        /// Boundary decimals: the range's ends, the smallest scale step, 28-dp values, and
        /// ordinary two-decimal amounts.
        fn extreme() -> impl Strategy<Value = Decimal> {
            prop_oneof![
                Just(Decimal::MAX),
                Just(Decimal::MIN),
                Just(Decimal::ZERO),
                Just(Decimal::new(1, 28)),
                Just(Decimal::new(-1, 28)),
                (any::<i64>(), 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
                (any::<i64>()).prop_map(|m| Decimal::new(m, 2)),
                (
                    any::<u32>(),
                    any::<u32>(),
                    any::<u32>(),
                    any::<bool>(),
                    0u32..=28
                )
                    .prop_map(|(lo, mid, hi, neg, s)| Decimal::from_parts(lo, mid, hi, neg, s)),
            ]
        }

        fn funds_of(v: [Decimal; 5]) -> Funds {
            Funds {
                available_cash: v[0],
                collateral: v[1],
                m2m_realized: v[2],
                m2m_unrealized: v[3],
                utilised_debits: v[4],
                mode: Mode::Live,
                ..Default::default()
            }
        }

        fn position(q: Decimal, pnl: Decimal, sym: u8) -> Position {
            Position {
                symbol: format!("S{}", sym % 3),
                exchange: "NSE".into(),
                product: "MIS".into(),
                quantity: q,
                average_price: Decimal::ONE,
                ltp: Decimal::ONE,
                pnl,
                ..Position::default()
            }
        }

        /// The exact sum of `values` (all at `scale`) when it fits the decimal range.
        fn exact(values: &[i64], scale: u32) -> Option<Decimal> {
            let sum: i128 = values.iter().map(|&v| i128::from(v)).sum();
            let limit = i128::from(u64::MAX) << 32 | i128::from(u32::MAX); // 2^96 - 1
            (sum.abs() <= limit).then(|| Decimal::from_i128_with_scale(sum, scale))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

            /// Whatever several accounts send, consolidation answers or reports an overflow;
            /// it never panics.
            #[test]
            fn extreme_decimals_across_accounts_never_panic(
                funds in prop::collection::vec(prop::array::uniform5(extreme()), 0..6),
                rows in prop::collection::vec((extreme(), extreme(), any::<u8>(), 0u8..4), 0..12),
            ) {
                let funds: Vec<Funds> = funds.into_iter().map(funds_of).collect();
                if let Ok(sum) = sum_funds(&funds) {
                    let _ = sum.m2m_pnl();
                }
                for f in &funds {
                    let _ = FundsSum::of(f).m2m_pnl();
                }
                let positions: Vec<(String, Position)> = rows
                    .iter()
                    .map(|&(q, pnl, sym, acct)| (format!("a{acct}"), position(q, pnl, sym)))
                    .collect();
                let _ = net_positions(positions.iter().map(|(a, p)| (a.as_str(), p)));
                let _ = total_pnl(positions.iter().map(|(_, p)| p));
                let trades: Vec<Trade> = rows
                    .iter()
                    .map(|&(q, v, sym, _)| Trade {
                        order_id: "1".into(),
                        symbol: "X".into(),
                        exchange: "NSE".into(),
                        action: if sym % 2 == 0 { "BUY".into() } else { "SELL".into() },
                        product: "MIS".into(),
                        quantity: q,
                        average_price: v,
                        trade_value: v,
                        timestamp: String::new(),
                        ..Trade::default()
                    })
                    .collect();
                let _ = trade_values(&trades);
                let holdings: Vec<(String, Holding)> = rows
                    .iter()
                    .map(|&(q, pnl, sym, acct)| {
                        (format!("a{acct}"), Holding {
                            symbol: format!("S{}", sym % 3),
                            exchange: "NSE".into(),
                            product: "CNC".into(),
                            quantity: q,
                            pnl,
                            pnl_percent: Decimal::ZERO,
                            ..Holding::default()
                        })
                    })
                    .collect();
                let _ = net_holdings(holdings.iter().map(|(a, h)| (a.as_str(), h)));
                let stats: Vec<HoldingStatistics> = rows
                    .iter()
                    .map(|&(a, b, _, _)| HoldingStatistics {
                        total_holding_value: a,
                        total_investment_value: b,
                        total_profit_and_loss: a,
                        total_pnl_percentage: b,
                    })
                    .collect();
                let _ = holding_statistics(&stats);
            }

            /// Sums are exact whenever the exact sum fits, and an overflow is reported as one.
            #[test]
            fn sums_are_exact_when_they_fit(
                values in prop::collection::vec(
                    prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), -1000i64..1000],
                    0..8,
                ),
                scale in 0u32..=28,
            ) {
                let funds: Vec<Funds> = values
                    .iter()
                    .map(|&v| funds_of([Decimal::new(v, scale); 5]))
                    .collect();
                let want = exact(&values, scale);
                let sum = sum_funds(&funds);
                match want {
                    Some(w) => prop_assert_eq!(sum.map(|s| s.available_cash), Ok(w)),
                    None => prop_assert!(sum.is_err()),
                }
                let positions: Vec<Position> = values
                    .iter()
                    .map(|&v| position(Decimal::ONE, Decimal::new(v, scale), 0))
                    .collect();
                let total = total_pnl(&positions);
                match want {
                    Some(w) => prop_assert_eq!(total, Ok(w.normalize())),
                    None => prop_assert!(total.is_err()),
                }
            }
        }

        #[test]
        fn the_reported_attack_is_an_overflow_not_a_panic() {
            let f = funds_of([
                Decimal::MAX,
                -Decimal::ONE,
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::ZERO,
            ]);
            assert_eq!(sum_funds([&f, &f]).unwrap_err(), Overflow("available_cash"));
            let pnl = funds_of([
                Decimal::ZERO,
                Decimal::ZERO,
                Decimal::MAX,
                Decimal::ONE,
                Decimal::ZERO,
            ]);
            assert_eq!(FundsSum::of(&pnl).m2m_pnl(), Err(Overflow("m2m_pnl")));
            let p = position(Decimal::MAX, Decimal::MAX, 0);
            assert_eq!(
                net_positions([("a", &p), ("b", &p)]).unwrap_err(),
                Overflow("net_quantity")
            );
            assert_eq!(total_pnl([&p, &p]).unwrap_err(), Overflow("total_pnl"));
        }
    }
}
