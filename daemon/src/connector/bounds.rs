//! Bounds on the values an upstream may send, checked where they are decoded and again where a
//! stored snapshot is read back (a snapshot written before a bound existed must not slip past it).
//!
//! OpenAlgo's amounts are INR and its quantities are shares or lots: no real account comes near
//! 10^15 of either (the largest Indian broker's whole client book is under 10^14 INR). Bounding
//! every decoded value at 10^15 keeps any sum the daemon makes far from `rust_decimal`'s range
//! (about 7.9 * 10^28): 10^15 times 10,000 rows times 10^5 accounts is 10^24. Consolidation is
//! checked anyway (see `portfolio::consolidate`); the bound is what makes a reported overflow a
//! theoretical case instead of an upstream's lever.

use rust_decimal::Decimal;

use super::{
    Balances, Funds, HoldingStatistics, Holdings, OrderBook, PingInfo, Positions, TradeBook,
};

/// The largest magnitude accepted for any decoded amount or quantity: 10^15.
pub const MAX_MAGNITUDE: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0);

/// The longest broker name accepted from ping. OpenAlgo's are plugin ids (`zerodha`,
/// `fivepaisaxts`); the name is stored on the account and shown in every listing, so an upstream
/// must not be able to park a megabyte there.
pub const MAX_BROKER_CHARS: usize = 64;

/// The default of `[upstream] max_rows_per_book`.
pub const DEFAULT_MAX_ROWS_PER_BOOK: usize = 10_000;

/// Why a decoded book cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutOfBounds {
    /// A value past [`MAX_MAGNITUDE`]; `field` is its path in the upstream's answer, e.g.
    /// `data[3].pnl`.
    #[error("{field} = {value} is out of range (|value| > 10^15)")]
    Magnitude { field: String, value: Decimal },
    /// More rows than `[upstream] max_rows_per_book`.
    #[error("more than {max} rows (the limit is [upstream] max_rows_per_book = {max})")]
    Rows { max: usize },
    /// A text longer than it can be (`max` characters).
    #[error("{field} is longer than {max} characters")]
    Text { field: &'static str, max: usize },
}

/// `value` within [`MAX_MAGNITUDE`], else the error naming `field`.
pub(crate) fn check(field: impl FnOnce() -> String, value: Decimal) -> Result<(), OutOfBounds> {
    if value.abs() > MAX_MAGNITUDE {
        return Err(OutOfBounds::Magnitude {
            field: field(),
            value,
        });
    }
    Ok(())
}

/// An optional value as the bound sees it: unset is within any bound.
fn unset_is_zero(value: Option<Decimal>) -> Decimal {
    value.unwrap_or(Decimal::ZERO)
}

fn rows<T, const N: usize>(
    list: &str,
    rows: &[T],
    max: usize,
    fields: impl Fn(&T) -> [(&'static str, Decimal); N],
) -> Result<(), OutOfBounds> {
    if rows.len() > max {
        return Err(OutOfBounds::Rows { max });
    }
    for (i, row) in rows.iter().enumerate() {
        for (name, value) in fields(row) {
            check(|| format!("{list}[{i}].{name}"), value)?;
        }
    }
    Ok(())
}

/// A decoded book (or ping answer) whose values can be checked against the bounds.
pub trait Bounded {
    /// The first value or count out of bounds, named by its upstream field.
    fn check_bounds(&self, max_rows: usize) -> Result<(), OutOfBounds>;
}

impl Bounded for PingInfo {
    fn check_bounds(&self, _: usize) -> Result<(), OutOfBounds> {
        if self.broker.chars().count() > MAX_BROKER_CHARS {
            return Err(OutOfBounds::Text {
                field: "data.broker",
                max: MAX_BROKER_CHARS,
            });
        }
        Ok(())
    }
}

impl Bounded for Funds {
    fn check_bounds(&self, _: usize) -> Result<(), OutOfBounds> {
        check(|| "data.availablecash".into(), self.available_cash)?;
        check(|| "data.collateral".into(), self.collateral)?;
        check(|| "data.m2mrealized".into(), self.m2m_realized)?;
        check(|| "data.m2munrealized".into(), self.m2m_unrealized)?;
        check(|| "data.utiliseddebits".into(), self.utilised_debits)?;
        check(|| "buying_power".into(), unset_is_zero(self.buying_power))?;
        check(|| "equity".into(), unset_is_zero(self.equity))
    }
}

impl Bounded for Balances {
    fn check_bounds(&self, max_rows: usize) -> Result<(), OutOfBounds> {
        rows("balances", &self.rows, max_rows, |b| {
            [("free", b.free), ("locked", b.locked), ("total", b.total)]
        })
    }
}

impl Bounded for Positions {
    fn check_bounds(&self, max_rows: usize) -> Result<(), OutOfBounds> {
        rows("data", &self.rows, max_rows, |p| {
            [
                ("quantity", p.quantity),
                ("average_price", p.average_price),
                ("ltp", p.ltp),
                ("pnl", p.pnl),
                ("realized_pnl", unset_is_zero(p.realized_pnl)),
                ("unrealized_pnl", unset_is_zero(p.unrealized_pnl)),
            ]
        })
    }
}

impl Bounded for OrderBook {
    fn check_bounds(&self, max_rows: usize) -> Result<(), OutOfBounds> {
        rows("data.orders", &self.orders, max_rows, |o| {
            [
                ("quantity", o.quantity),
                ("price", o.price),
                ("trigger_price", o.trigger_price),
                ("average_price", unset_is_zero(o.average_price)),
                ("filled_quantity", unset_is_zero(o.filled_quantity)),
                ("pending_quantity", unset_is_zero(o.pending_quantity)),
            ]
        })
    }
}

impl Bounded for TradeBook {
    fn check_bounds(&self, max_rows: usize) -> Result<(), OutOfBounds> {
        rows("data", &self.trades, max_rows, |t| {
            [
                ("quantity", t.quantity),
                ("average_price", t.average_price),
                ("trade_value", t.trade_value),
            ]
        })
    }
}

impl Bounded for HoldingStatistics {
    fn check_bounds(&self, _: usize) -> Result<(), OutOfBounds> {
        check(
            || "data.statistics.totalholdingvalue".into(),
            self.total_holding_value,
        )?;
        check(
            || "data.statistics.totalinvvalue".into(),
            self.total_investment_value,
        )?;
        check(
            || "data.statistics.totalprofitandloss".into(),
            self.total_profit_and_loss,
        )?;
        check(
            || "data.statistics.totalpnlpercentage".into(),
            self.total_pnl_percentage,
        )
    }
}

impl Bounded for Holdings {
    fn check_bounds(&self, max_rows: usize) -> Result<(), OutOfBounds> {
        self.statistics.check_bounds(max_rows)?;
        rows("data.holdings", &self.rows, max_rows, |h| {
            [
                ("quantity", h.quantity),
                ("pnl", h.pnl),
                ("pnlpercent", h.pnl_percent),
                ("average_price", unset_is_zero(h.average_price)),
                ("ltp", unset_is_zero(h.ltp)),
                ("current_value", unset_is_zero(h.current_value)),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::{Mode, Position};

    #[test]
    fn the_bound_is_ten_to_the_fifteen_and_names_the_field() {
        assert_eq!(MAX_MAGNITUDE, Decimal::from(1_000_000_000_000_000_i64));
        let row = |pnl: Decimal| Position {
            symbol: "X".into(),
            exchange: "NSE".into(),
            product: "MIS".into(),
            quantity: Decimal::ONE,
            average_price: Decimal::ONE,
            ltp: Decimal::ONE,
            pnl,
            ..Position::default()
        };
        let ok = Positions {
            rows: vec![row(MAX_MAGNITUDE), row(-MAX_MAGNITUDE)],
            mode: Mode::Live,
            ..Default::default()
        };
        assert_eq!(ok.check_bounds(2), Ok(()));
        assert_eq!(ok.check_bounds(1), Err(OutOfBounds::Rows { max: 1 }));
        let bad = Positions {
            rows: vec![row(Decimal::ONE), row(Decimal::MIN)],
            mode: Mode::Live,
            ..Default::default()
        };
        let e = bad.check_bounds(10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "data[1].pnl = -79228162514264337593543950335 is out of range (|value| > 10^15)"
        );
        let ping = |broker: String| PingInfo {
            broker,
            message: "pong".into(),
        };
        assert_eq!(ping("zerodha".into()).check_bounds(1), Ok(()));
        assert_eq!(ping("é".repeat(64)).check_bounds(1), Ok(()));
        assert_eq!(
            ping("x".repeat(65))
                .check_bounds(1)
                .unwrap_err()
                .to_string(),
            "data.broker is longer than 64 characters"
        );
    }
}
