//! `rosterctl funds|balances|positions|orders|trades|holdings`: per-account sections, each marked
//! fresh, stale, failed or unsupported, and the consolidated totals, one per currency (money in
//! different currencies is never added up, here or in the daemon). Money is shown with its
//! currency's decimals ([`super::money`]); quantities and percentages as the daemon sent them.

use std::fmt::Write as _;

use roster_proto::pbjson_types::Timestamp;
use roster_proto::section::PortfolioSection;
use roster_proto::v1::{
    AccountBalances, AccountHoldings, AccountOrders, AccountPositions, AccountSection,
    AccountTrades, BalanceRow, BalancesView, Coverage, Funds, FundsView, HoldingRow,
    HoldingStatistics, HoldingsView, OrderRow, OrdersView, PositionRow, PositionsView, TradeRow,
    TradesView,
};

use super::format::{or_dash, reason_name, span, time, to_std};
use super::money::money;
use super::sort::{BookOrder, BookRow, amount, natural_cmp, sort_book};
use super::table::{Table, with_table};

/// The name a section is shown under: its account's name, else its id.
fn label(s: &AccountSection) -> String {
    if s.account_name.is_empty() {
        s.account_id.clone()
    } else {
        s.account_name.clone()
    }
}

/// What a TOTAL row's DATA column says: that it adds up stale data, so it is not a fresh total.
fn total_marker(stale_inside: bool) -> String {
    if stale_inside {
        "includes stale data".into()
    } else {
        String::new()
    }
}

/// A summary line (a total per currency, the orders counts), with [`total_marker`] after it in
/// parentheses when a stale section's rows went into it.
fn summary(line: String, stale_inside: bool) -> String {
    if stale_inside {
        format!("{line} ({})", total_marker(true))
    } else {
        line
    }
}

/// Whether `s` is stale data that the daemon served (and so went into the totals).
fn stale_data(s: &AccountSection) -> bool {
    s.stale && s.has_data
}

/// Empty when fresh; `stale 2m` when served from an old snapshot; `FAILED: REASON` when there is
/// no data at all; `unsupported: alpaca has no holdings` when the account's venue does not have
/// the book (not a failure). A stale section also says why the refresh failed.
fn marker(s: &AccountSection, book: &str) -> String {
    if s.unsupported {
        let venue = if s.connector.is_empty() {
            "its venue"
        } else {
            s.connector.as_str()
        };
        return format!("unsupported: {venue} has no {book}");
    }
    let why = if s.error_reason != 0 {
        reason_name(s.error_reason)
    } else {
        s.error.chars().take(60).collect()
    };
    if !s.has_data && (!s.error.is_empty() || s.error_reason != 0) {
        return format!("FAILED: {why}");
    }
    if s.stale {
        let age = s
            .age
            .as_ref()
            .and_then(to_std)
            .map(span)
            .unwrap_or_else(|| "?".into());
        return if why.is_empty() {
            format!("stale {age}")
        } else {
            format!("stale {age} ({why})")
        };
    }
    String::new()
}

/// The section's currency, `-` until the daemon knows it (no data yet, or an older daemon).
fn ccy(s: &AccountSection) -> String {
    or_dash(&s.currency)
}

fn coverage(c: Option<&Coverage>) -> String {
    match c {
        Some(c) => {
            let mut line = format!(
                "accounts: {} selected, {} fresh, {} stale, {} failed",
                c.selected, c.fresh, c.stale, c.failed
            );
            if c.unsupported > 0 {
                let _ = write!(line, ", {} unsupported", c.unsupported);
            }
            line
        }
        None => "accounts: -".into(),
    }
}

/// The sections by account name in natural order, for the lines that list them.
fn in_name_order<S: PortfolioSection>(sections: &[S]) -> Vec<std::borrow::Cow<'_, AccountSection>> {
    let mut v: Vec<_> = sections.iter().map(|s| s.account_section()).collect();
    v.sort_by(|a, b| natural_cmp(&label(a), &label(b)));
    v
}

/// Errors of failed or stale sections in full (the table only has room for the reason).
fn problems<S: PortfolioSection>(sections: &[S]) -> String {
    let mut out = String::new();
    for s in in_name_order(sections) {
        if !s.error.is_empty() {
            let _ = writeln!(
                out,
                "! {}: {}",
                label(&s),
                s.error.replace(['\n', '\r'], " ")
            );
        }
    }
    out
}

/// A summary figure: `-` for an unknown amount, else the amount with its currency's decimals
/// followed by the currency when there is one.
fn money_ccy(amount: &str, currency: &str) -> String {
    if amount.is_empty() || currency.is_empty() {
        or_dash(amount)
    } else {
        format!("{} {currency}", money(amount, currency))
    }
}

/// The footer every book ends with: coverage, and which totals were left out.
fn footer(out: &mut String, c: Option<&Coverage>, totals_error: &str) {
    let _ = writeln!(out, "{}", coverage(c));
    if !totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {totals_error}");
    }
}

/// A per-account section message with rows (every book but funds, which has one row each).
trait SectionRows: PortfolioSection {
    type Row;
    fn rows(&self) -> &[Self::Row];
}

macro_rules! section_rows {
    ($($msg:ty => $row:ty),*) => {$(
        impl SectionRows for $msg {
            type Row = $row;
            fn rows(&self) -> &[$row] {
                &self.rows
            }
        }
    )*};
}

section_rows!(
    AccountBalances => BalanceRow,
    AccountPositions => PositionRow,
    AccountOrders => OrderRow,
    AccountTrades => TradeRow,
    AccountHoldings => HoldingRow
);

/// Which book a table is, its columns, and the order asked for.
struct Book<'h> {
    name: &'static str,
    headers: &'h [&'h str],
    order: BookOrder,
}

/// A book's table of per-account rows, sorted as asked: each section's rows, named by its
/// account and ending in the section's marker, or one placeholder row for a stale, failed or
/// unsupported section with no rows (so every such account shows up in the table itself).
/// `cells` gives the book's own cells between the two; `money_of` the figure `--sort` on money
/// orders by. Totals are added after, so they stay last.
fn book_table<A: SectionRows>(
    book: Book<'_>,
    accounts: &[A],
    money_of: impl Fn(&A::Row) -> &str,
    cells: impl Fn(&AccountSection, &A::Row) -> Vec<String>,
) -> Table {
    let mut rows = Vec::new();
    for a in accounts {
        let s = a.account_section();
        let m = marker(&s, book.name);
        if a.rows().is_empty() && !m.is_empty() {
            let mut cells = vec![label(&s)];
            cells.extend(std::iter::repeat_n(
                "-".to_owned(),
                book.headers.len().saturating_sub(2),
            ));
            cells.push(m.clone());
            rows.push(BookRow {
                name: label(&s),
                money: None,
                cells,
            });
        }
        for r in a.rows() {
            let mut row = vec![label(&s)];
            row.extend(cells(&s, r));
            row.push(m.clone());
            rows.push(BookRow {
                name: label(&s),
                money: amount(money_of(r)),
                cells: row,
            });
        }
    }
    sort_book(&mut rows, book.order);
    let mut t = Table::new(book.headers);
    for r in rows {
        t.row(r.cells);
    }
    t
}

pub fn funds(v: &FundsView, order: BookOrder) -> String {
    let all = v
        .accounts
        .iter()
        .filter_map(|a| a.funds.as_ref())
        .chain(v.totals.as_ref())
        .chain(v.totals_by_currency.iter());
    // Columns only some venues report (Alpaca): shown when any row has them, so an
    // OpenAlgo-only table keeps its width.
    let extra = all
        .clone()
        .any(|f| !f.buying_power.is_empty() || !f.equity.is_empty());
    let mut headers = vec![
        "ACCOUNT",
        "CCY",
        ".CASH",
        ".AVAILABLE",
        ".COLLATERAL",
        ".M2M PNL",
        ".UTILISED",
    ];
    if extra {
        headers.extend([".BUYING POWER", ".EQUITY"]);
    }
    headers.push("DATA");
    let mut t = Table::new(&headers);
    let cells = |name: String, currency: String, f: &Funds, data: String| {
        let m = |amount: &str| money(amount, &f.currency);
        let mut row = vec![
            name,
            currency,
            m(&f.cash),
            m(&f.available_cash),
            m(&f.collateral),
            m(&f.m2m_pnl),
            m(&f.utilised_debits),
        ];
        if extra {
            row.extend([m(&f.buying_power), m(&f.equity)]);
        }
        row.push(data);
        row
    };
    let mut rows: Vec<BookRow> = v
        .accounts
        .iter()
        .map(|a| {
            let mut f = a.funds.clone().unwrap_or_default();
            let s = a.account_section();
            if f.currency.is_empty() {
                f.currency.clone_from(&s.currency);
            }
            BookRow {
                name: label(&s),
                money: amount(&f.cash),
                cells: cells(label(&s), or_dash(&f.currency), &f, marker(&s, "funds")),
            }
        })
        .collect();
    sort_book(&mut rows, order);
    for r in rows {
        t.row(r.cells);
    }
    // Whether a stale section's funds went into the total of `currency` ("" for any).
    let stale_in = |currency: &str| {
        v.accounts.iter().any(|a| {
            let s = a.account_section();
            stale_data(&s)
                && (currency.is_empty() || a.funds.as_ref().is_some_and(|f| f.currency == currency))
        })
    };
    if v.totals_by_currency.is_empty() {
        // An older daemon: its one total, as it sent it.
        let tot = v.totals.clone().unwrap_or_default();
        t.row(cells(
            "TOTAL".into(),
            or_dash(&tot.currency),
            &tot,
            total_marker(stale_in("")),
        ));
    } else {
        for tot in &v.totals_by_currency {
            t.row(cells(
                "TOTAL".into(),
                or_dash(&tot.currency),
                tot,
                total_marker(stale_in(&tot.currency)),
            ));
        }
    }
    let mut out = t.render();
    out.push_str(&problems(&v.accounts));
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

pub fn balances(v: &BalancesView, order: BookOrder) -> String {
    let headers = ["ACCOUNT", "ASSET", ".FREE", ".LOCKED", ".TOTAL", "DATA"];
    let mut t = book_table(
        Book {
            name: "balances",
            headers: &headers,
            order,
        },
        &v.accounts,
        |r| &r.total,
        |_, r| {
            vec![
                r.asset.clone(),
                money(&r.free, &r.asset),
                money(&r.locked, &r.asset),
                money(&r.total, &r.asset),
            ]
        },
    );
    for tot in &v.totals {
        let stale_inside = v.accounts.iter().any(|a| {
            stale_data(&a.account_section()) && a.rows.iter().any(|r| r.asset == tot.asset)
        });
        t.row(vec![
            "TOTAL".into(),
            tot.asset.clone(),
            money(&tot.free, &tot.asset),
            money(&tot.locked, &tot.asset),
            money(&tot.total, &tot.asset),
            total_marker(stale_inside),
        ]);
    }
    let mut out = with_table(&t, "no balances");
    out.push_str(&problems(&v.accounts));
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

/// Under `--net`, where no row names an account: one line per account whose section is not
/// fresh, with its state and, when it failed, why (once: these lines replace `problems`).
fn net_markers<S: PortfolioSection>(out: &mut String, sections: &[S], book: &str) {
    for s in in_name_order(sections) {
        let m = marker(&s, book);
        let why = s.error.replace(['\n', '\r'], " ");
        match (m.is_empty(), why.is_empty()) {
            (true, true) => {}
            (false, true) => {
                let _ = writeln!(out, "! {}: {m}", label(&s));
            }
            (true, false) => {
                let _ = writeln!(out, "! {}: {why}", label(&s));
            }
            (false, false) => {
                let _ = writeln!(out, "! {}: {m} ({why})", label(&s));
            }
        }
    }
}

/// Whether a stale section's rows in `currency` ("" for any) went into a book's figure.
fn stale_rows_in<A: SectionRows>(accounts: &[A], currency: &str) -> bool {
    accounts.iter().any(|a| {
        let s = a.account_section();
        stale_data(&s) && !a.rows().is_empty() && (currency.is_empty() || s.currency == currency)
    })
}

/// Net rows (merged by instrument across accounts) sorted by their money column under
/// `--sort` on money; by name they stay in the daemon's order (by instrument).
fn sort_net<N>(rows: &mut [N], order: BookOrder, money_of: impl Fn(&N) -> &str) {
    if order.by_money {
        rows.sort_by(|a, b| {
            super::sort::by_key(amount(money_of(a)), amount(money_of(b)), order.desc)
        });
    } else if order.desc {
        rows.reverse();
    }
}

pub fn positions(v: &PositionsView, net: bool, order: BookOrder) -> String {
    let mut out = String::new();
    if net {
        let mut t = Table::new(&[
            "SYMBOL",
            "EXCHANGE",
            "PRODUCT",
            "CCY",
            ">NET QTY",
            ">LONG",
            ">SHORT",
            ".PNL",
            ">ACCOUNTS",
            "DATA",
        ]);
        let mut rows: Vec<_> = v.net.iter().collect();
        sort_net(&mut rows, order, |n| &n.pnl);
        for n in rows {
            // A stale account's position of this instrument is inside the merged row.
            let stale_inside = v.accounts.iter().any(|a| {
                stale_data(&a.account_section())
                    && a.rows.iter().any(|r| {
                        r.symbol == n.symbol && r.exchange == n.exchange && r.product == n.product
                    })
            });
            t.row(vec![
                n.symbol.clone(),
                n.exchange.clone(),
                n.product.clone(),
                or_dash(&n.currency),
                n.net_quantity.clone(),
                n.long_quantity.clone(),
                n.short_quantity.clone(),
                money(&n.pnl, &n.currency),
                n.account_count.to_string(),
                total_marker(stale_inside),
            ]);
        }
        out.push_str(&with_table(&t, "no positions"));
        net_markers(&mut out, &v.accounts, "positions");
    } else {
        let headers = [
            "ACCOUNT",
            "CCY",
            "SYMBOL",
            "EXCHANGE",
            "PRODUCT",
            ">QTY",
            ".AVG PRICE",
            ".LTP",
            ".PNL",
            "DATA",
        ];
        let t = book_table(
            Book {
                name: "positions",
                headers: &headers,
                order,
            },
            &v.accounts,
            |r| &r.pnl,
            |s, r| {
                vec![
                    ccy(s),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    money(&r.average_price, &s.currency),
                    money(&r.ltp, &s.currency),
                    money(&r.pnl, &s.currency),
                ]
            },
        );
        out.push_str(&with_table(&t, "no positions"));
        out.push_str(&problems(&v.accounts));
    }
    let stale_in = |currency: &str| stale_rows_in(&v.accounts, currency);
    if v.total_pnl_by_currency.is_empty() {
        let line = format!("total pnl: {}", or_dash(&v.total_pnl));
        let _ = writeln!(out, "{}", summary(line, stale_in("")));
    }
    for m in &v.total_pnl_by_currency {
        let line = format!("total pnl: {}", money_ccy(&m.amount, &m.currency));
        let _ = writeln!(out, "{}", summary(line, stale_in(&m.currency)));
    }
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

/// The normalised time when the daemon could parse the upstream's timestamp, else the raw text.
fn when(normalised: Option<&Timestamp>, raw: &str) -> String {
    if normalised.is_some() {
        time(normalised)
    } else {
        or_dash(raw)
    }
}

pub fn orders(v: &OrdersView, order: BookOrder) -> String {
    let headers = [
        "ACCOUNT",
        "CCY",
        "ORDER ID",
        "TIME",
        "SYMBOL",
        "EXCHANGE",
        "ACTION",
        ">QTY",
        ".PRICE",
        ".AVG PRICE",
        "TYPE",
        "PRODUCT",
        "STATUS",
        "DATA",
    ];
    let t = book_table(
        Book {
            name: "orders",
            headers: &headers,
            order,
        },
        &v.accounts,
        |r| &r.price,
        |s, r| {
            vec![
                ccy(s),
                r.order_id.clone(),
                when(r.time.as_ref(), &r.raw_timestamp),
                r.symbol.clone(),
                r.exchange.clone(),
                r.action.clone(),
                r.quantity.clone(),
                money(&r.price, &s.currency),
                money(&r.average_price, &s.currency),
                r.price_type.clone(),
                r.product.clone(),
                r.status.clone(),
            ]
        },
    );
    let mut out = with_table(&t, "no orders");
    out.push_str(&problems(&v.accounts));
    // What is shown (after `--status`), counted from the rows themselves; the daemon's
    // statistics describe every order of the selected accounts.
    let rows = v.accounts.iter().flat_map(|a| &a.rows);
    let side = |want: &str| {
        rows.clone()
            .filter(|r| r.action.eq_ignore_ascii_case(want))
            .count()
    };
    let mut by_status: Vec<(String, usize)> = Vec::new();
    for r in rows.clone() {
        let status = r.status.to_ascii_lowercase();
        match by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((status, 1)),
        }
    }
    let statuses: Vec<String> = by_status
        .iter()
        .map(|(s, n)| format!("{n} {}", if s.is_empty() { "-" } else { s }))
        .collect();
    let shown = format!(
        "orders shown: {} ({} buy, {} sell{}{})",
        rows.clone().count(),
        side("buy"),
        side("sell"),
        if statuses.is_empty() { "" } else { "; " },
        statuses.join(", ")
    );
    let _ = writeln!(out, "{}", summary(shown, stale_rows_in(&v.accounts, "")));
    let st = v.statistics.unwrap_or_default();
    let whole = format!(
        "whole book: {} buy, {} sell, {} completed, {} open, {} rejected, {} trigger pending",
        st.total_buy_orders,
        st.total_sell_orders,
        st.total_completed_orders,
        st.total_open_orders,
        st.total_rejected_orders,
        st.total_trigger_pending_orders
    );
    // The statistics count every order of a stale section, shown or not.
    let stale_book = v.accounts.iter().any(|a| stale_data(&a.account_section()));
    let _ = writeln!(out, "{}", summary(whole, stale_book));
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    out
}

pub fn trades(v: &TradesView, order: BookOrder) -> String {
    let headers = [
        "ACCOUNT",
        "CCY",
        "ORDER ID",
        "TIME",
        "SYMBOL",
        "EXCHANGE",
        "ACTION",
        ">QTY",
        ".AVG PRICE",
        ".VALUE",
        "PRODUCT",
        "DATA",
    ];
    let t = book_table(
        Book {
            name: "trades",
            headers: &headers,
            order,
        },
        &v.accounts,
        |r| &r.trade_value,
        |s, r| {
            vec![
                ccy(s),
                r.order_id.clone(),
                when(r.time.as_ref(), &r.raw_timestamp),
                r.symbol.clone(),
                r.exchange.clone(),
                r.action.clone(),
                r.quantity.clone(),
                money(&r.average_price, &s.currency),
                money(&r.trade_value, &s.currency),
                r.product.clone(),
            ]
        },
    );
    let mut out = with_table(&t, "no trades");
    out.push_str(&problems(&v.accounts));
    let stale_in = |currency: &str| stale_rows_in(&v.accounts, currency);
    if v.values_by_currency.is_empty() {
        let line = format!(
            "buy value: {}, sell value: {}",
            or_dash(&v.buy_value),
            or_dash(&v.sell_value)
        );
        let _ = writeln!(out, "{}", summary(line, stale_in("")));
    }
    for tv in &v.values_by_currency {
        let line = format!(
            "buy value: {}, sell value: {}",
            money_ccy(&tv.buy_value, &tv.currency),
            money_ccy(&tv.sell_value, &tv.currency)
        );
        let _ = writeln!(out, "{}", summary(line, stale_in(&tv.currency)));
    }
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

fn holding_statistics(out: &mut String, st: &HoldingStatistics, stale_inside: bool) {
    let c = st.currency.as_str();
    let line = format!(
        "holding value: {}, investment: {}, pnl: {} ({}%)",
        money_ccy(&st.total_holding_value, c),
        money_ccy(&st.total_investment_value, c),
        money_ccy(&st.total_profit_and_loss, c),
        or_dash(&st.total_pnl_percentage)
    );
    let _ = writeln!(out, "{}", summary(line, stale_inside));
}

pub fn holdings(v: &HoldingsView, net: bool, order: BookOrder) -> String {
    let mut out = String::new();
    if net {
        let mut t = Table::new(&[
            "SYMBOL",
            "EXCHANGE",
            "CCY",
            ">QTY",
            ".PNL",
            ">ACCOUNTS",
            "DATA",
        ]);
        let mut rows: Vec<_> = v.net.iter().collect();
        sort_net(&mut rows, order, |n| &n.pnl);
        for n in rows {
            let stale_inside = v.accounts.iter().any(|a| {
                stale_data(&a.account_section())
                    && a.rows
                        .iter()
                        .any(|r| r.symbol == n.symbol && r.exchange == n.exchange)
            });
            t.row(vec![
                n.symbol.clone(),
                n.exchange.clone(),
                or_dash(&n.currency),
                n.quantity.clone(),
                money(&n.pnl, &n.currency),
                n.account_count.to_string(),
                total_marker(stale_inside),
            ]);
        }
        out.push_str(&with_table(&t, "no holdings"));
        net_markers(&mut out, &v.accounts, "holdings");
    } else {
        let headers = [
            "ACCOUNT", "CCY", "SYMBOL", "EXCHANGE", "PRODUCT", ">QTY", ".PNL", ">PNL %", "DATA",
        ];
        let t = book_table(
            Book {
                name: "holdings",
                headers: &headers,
                order,
            },
            &v.accounts,
            |r| &r.pnl,
            |s, r| {
                vec![
                    ccy(s),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    money(&r.pnl, &s.currency),
                    r.pnl_percent.clone(),
                ]
            },
        );
        out.push_str(&with_table(&t, "no holdings"));
        out.push_str(&problems(&v.accounts));
    }
    let stale_in = |currency: &str| stale_rows_in(&v.accounts, currency);
    if v.statistics_by_currency.is_empty() {
        holding_statistics(
            &mut out,
            &v.statistics.clone().unwrap_or_default(),
            stale_in(""),
        );
    }
    for st in &v.statistics_by_currency {
        holding_statistics(&mut out, st, stale_in(&st.currency));
    }
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

#[cfg(test)]
mod tests {
    use roster_proto::pbjson_types::Duration as PbDuration;
    use roster_proto::v1::{
        AccountBalances, AccountFunds, AccountOrders, AccountPositions, AssetTotal, BalanceRow,
        Funds, HealthReason, NetPosition, OrderRow, OrderStatistics, PositionRow,
    };

    use super::*;

    #[test]
    fn funds_marks_stale_and_failed_accounts_and_totals() {
        let f = |c: &str| {
            Some(Funds {
                cash: c.into(),
                available_cash: c.into(),
                ..Default::default()
            })
        };
        let v = FundsView {
            totals_error: String::new(),
            totals: f("300.50"),
            accounts: vec![
                AccountFunds {
                    account_name: "a".into(),
                    has_data: true,
                    funds: f("100.25"),
                    ..Default::default()
                },
                AccountFunds {
                    account_name: "b".into(),
                    has_data: true,
                    stale: true,
                    age: Some(PbDuration {
                        seconds: 120,
                        nanos: 0,
                    }),
                    error: "timed out".into(),
                    error_reason: HealthReason::Timeout as i32,
                    funds: f("200.25"),
                    ..Default::default()
                },
                AccountFunds {
                    account_name: "c".into(),
                    error: "connection refused".into(),
                    error_reason: HealthReason::Connect as i32,
                    ..Default::default()
                },
            ],
            coverage: Some(Coverage {
                selected: 3,
                fresh: 1,
                stale: 1,
                failed: 1,
                unsupported: 0,
            }),
            totals_by_currency: vec![],
        };
        let out = funds(&v, BookOrder::default());
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("ACCOUNT"));
        assert!(lines[1].starts_with("a ") && !lines[1].contains("stale"));
        assert!(lines[2].ends_with("stale 2m (TIMEOUT)"), "{}", lines[2]);
        assert!(lines[3].ends_with("FAILED: CONNECT"), "{}", lines[3]);
        assert!(lines[4].starts_with("TOTAL") && lines[4].contains("300.50"));
        assert!(out.contains("! c: connection refused"));
        assert!(out.ends_with("accounts: 3 selected, 1 fresh, 1 stale, 1 failed\n"));
    }

    #[test]
    fn positions_rows_net_and_placeholders() {
        let v = PositionsView {
            totals_error: String::new(),
            accounts: vec![
                AccountPositions {
                    account_name: "a".into(),
                    has_data: true,
                    rows: vec![PositionRow {
                        symbol: "INFY".into(),
                        exchange: "NSE".into(),
                        product: "MIS".into(),
                        quantity: "10".into(),
                        average_price: "1500.00".into(),
                        ltp: "1510.00".into(),
                        pnl: "100.00".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                AccountPositions {
                    account_name: "b".into(),
                    error_reason: HealthReason::AuthRejected as i32,
                    ..Default::default()
                },
            ],
            net: vec![NetPosition {
                symbol: "INFY".into(),
                net_quantity: "10".into(),
                account_count: 1,
                ..Default::default()
            }],
            total_pnl: "100.00".into(),
            coverage: None,
            total_pnl_by_currency: vec![],
        };
        let out = positions(&v, false, BookOrder::default());
        assert!(out.contains("INFY"));
        assert!(
            out.lines()
                .any(|l| l.starts_with("b ") && l.ends_with("FAILED: AUTH_REJECTED")),
            "{out}"
        );
        assert!(out.contains("total pnl: 100.00"));
        let out = positions(&v, true, BookOrder::default());
        assert!(out.starts_with("SYMBOL"));
        assert!(out.contains("! b: FAILED: AUTH_REJECTED"));
    }

    fn section(name: &str, currency: &str) -> AccountSection {
        AccountSection {
            account_name: name.into(),
            has_data: true,
            currency: currency.into(),
            connector: if currency == "USD" {
                "alpaca"
            } else {
                "openalgo"
            }
            .into(),
            ..Default::default()
        }
    }

    fn unsupported(name: &str) -> AccountSection {
        AccountSection {
            account_name: name.into(),
            connector: "alpaca".into(),
            unsupported: true,
            ..Default::default()
        }
    }

    fn cols(line: &str) -> Vec<&str> {
        line.split_whitespace().collect()
    }

    /// The lines of `out` that start with `prefix`.
    fn starting<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
        out.lines().filter(|l| l.starts_with(prefix)).collect()
    }

    /// A P&L total in `currency`.
    fn pnl(currency: &str, amount: &str) -> roster_proto::v1::Money {
        roster_proto::v1::Money {
            currency: currency.into(),
            amount: amount.into(),
        }
    }

    /// A net position of one account's `symbol` on NSE.
    fn net_position(symbol: &str, currency: &str, pnl: &str) -> NetPosition {
        NetPosition {
            symbol: symbol.into(),
            exchange: "NSE".into(),
            currency: currency.into(),
            net_quantity: "3".into(),
            pnl: pnl.into(),
            account_count: 1,
            ..Default::default()
        }
    }

    #[test]
    fn the_orders_summary_counts_the_rows_shown_and_names_the_whole_book_apart() {
        let order = |action: &str, status: &str| OrderRow {
            action: action.into(),
            status: status.into(),
            ..Default::default()
        };
        let mut a = AccountOrders {
            // What `--status open` leaves of a book of five.
            rows: vec![order("BUY", "open"), order("SELL", "open")],
            ..Default::default()
        };
        a.set_account_section(section("oa1", "INR"));
        let v = OrdersView {
            accounts: vec![a],
            statistics: Some(OrderStatistics {
                total_buy_orders: 3,
                total_sell_orders: 2,
                total_completed_orders: 2,
                total_open_orders: 2,
                total_rejected_orders: 1,
                total_trigger_pending_orders: 0,
            }),
            ..Default::default()
        };
        let out = orders(&v, BookOrder::default());
        assert!(
            out.contains("orders shown: 2 (1 buy, 1 sell; 2 open)"),
            "{out}"
        );
        assert!(
            out.contains(
                "whole book: 3 buy, 2 sell, 2 completed, 2 open, 1 rejected, 0 trigger pending"
            ),
            "{out}"
        );
    }

    #[test]
    fn net_positions_name_a_failed_account_once_with_its_reason() {
        let mut failed = AccountPositions::default();
        failed.set_account_section(AccountSection {
            has_data: false,
            error: "TIMEOUT: no answer within 5s".into(),
            error_reason: HealthReason::Timeout as i32,
            ..section("oa2", "INR")
        });
        let mut ok = AccountPositions::default();
        ok.set_account_section(section("oa1", "INR"));
        let v = PositionsView {
            accounts: vec![ok, failed],
            ..Default::default()
        };
        let out = positions(&v, true, BookOrder::default());
        let mentions: Vec<&str> = out.lines().filter(|l| l.contains("oa2")).collect();
        assert_eq!(
            mentions,
            ["! oa2: FAILED: TIMEOUT (TIMEOUT: no answer within 5s)"],
            "{out}"
        );
        assert!(!out.contains("oa1"), "{out}");
    }

    #[test]
    fn a_total_that_adds_up_stale_data_says_so_and_only_that_one() {
        let f = |ccy: &str, cash: &str| Funds {
            currency: ccy.into(),
            cash: cash.into(),
            available_cash: cash.into(),
            ..Default::default()
        };
        let mut a = AccountFunds {
            funds: Some(f("INR", "1000.00")),
            ..Default::default()
        };
        a.set_account_section(AccountSection {
            stale: true,
            error: "TIMEOUT: no answer".into(),
            ..section("oa1", "INR")
        });
        let mut b = AccountFunds {
            funds: Some(f("USD", "2000.00")),
            ..Default::default()
        };
        b.set_account_section(section("alp1", "USD"));
        let v = FundsView {
            accounts: vec![a, b],
            totals_by_currency: vec![f("INR", "1000.00"), f("USD", "2000.00")],
            ..Default::default()
        };
        let out = funds(&v, BookOrder::default());
        let total = |ccy: &str| {
            out.lines()
                .find(|l| l.starts_with("TOTAL") && l.contains(ccy))
                .unwrap_or_default()
                .to_string()
        };
        assert!(total("INR").ends_with("includes stale data"), "{out}");
        assert!(!total("USD").contains("stale"), "{out}");

        let row = |asset: &str| BalanceRow {
            asset: asset.into(),
            free: "1".into(),
            total: "1".into(),
            ..Default::default()
        };
        let mut stale = AccountBalances {
            rows: vec![row("BTC")],
            ..Default::default()
        };
        stale.set_account_section(AccountSection {
            stale: true,
            ..section("bn", "")
        });
        let mut fresh = AccountBalances {
            rows: vec![row("USD")],
            ..Default::default()
        };
        fresh.set_account_section(section("cb", ""));
        let asset_total = |asset: &str| AssetTotal {
            asset: asset.into(),
            free: "1".into(),
            total: "1".into(),
            account_count: 1,
            ..Default::default()
        };
        let out = balances(
            &BalancesView {
                accounts: vec![stale, fresh],
                totals: vec![asset_total("BTC"), asset_total("USD")],
                ..Default::default()
            },
            BookOrder::default(),
        );
        let btc = out
            .lines()
            .find(|l| l.starts_with("TOTAL") && l.contains("BTC"));
        let usd = out
            .lines()
            .find(|l| l.starts_with("TOTAL") && l.contains("USD"));
        assert!(
            btc.is_some_and(|l| l.ends_with("includes stale data")),
            "{out}"
        );
        assert!(usd.is_some_and(|l| !l.contains("stale")), "{out}");
    }

    #[test]
    fn funds_in_two_currencies_have_a_total_each_never_summed() {
        let f = |ccy: &str, cash: &str| Funds {
            currency: ccy.into(),
            cash: cash.into(),
            available_cash: cash.into(),
            ..Default::default()
        };
        let mut a = AccountFunds {
            funds: Some(f("INR", "1000.00")),
            ..Default::default()
        };
        a.set_account_section(section("oa1", "INR"));
        let mut b = AccountFunds {
            funds: Some(Funds {
                buying_power: "4000.00".into(),
                equity: "2100.00".into(),
                ..f("USD", "2000.00")
            }),
            ..Default::default()
        };
        b.set_account_section(section("alp1", "USD"));
        let v = FundsView {
            accounts: vec![a, b],
            // What a daemon never sends with two currencies; shown only without by-currency totals.
            totals: Some(f("", "3000.00")),
            totals_by_currency: vec![f("INR", "1000.00"), f("USD", "2000.00")],
            coverage: Some(Coverage {
                selected: 2,
                fresh: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = funds(&v, BookOrder::default());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            cols(lines[0]),
            [
                "ACCOUNT",
                "CCY",
                "CASH",
                "AVAILABLE",
                "COLLATERAL",
                "M2M",
                "PNL",
                "UTILISED",
                "BUYING",
                "POWER",
                "EQUITY",
                "DATA"
            ]
        );
        assert_eq!(cols(lines[1])[..3], ["alp1", "USD", "2000.00"], "{out}");
        assert_eq!(cols(lines[2])[..3], ["oa1", "INR", "1000.00"], "{out}");
        assert!(lines[1].contains("4000.00") && lines[1].contains("2100.00"));
        let totals: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with("TOTAL"))
            .copied()
            .collect();
        assert_eq!(totals.len(), 2, "{out}");
        assert_eq!(cols(totals[0])[..3], ["TOTAL", "INR", "1000.00"], "{out}");
        assert_eq!(cols(totals[1])[..3], ["TOTAL", "USD", "2000.00"], "{out}");
        assert!(
            !out.contains("3000.00"),
            "never added across currencies: {out}"
        );

        // An older daemon: one total, no currency, shown as it came.
        let v = FundsView {
            totals_by_currency: vec![],
            ..v
        };
        let out = funds(&v, BookOrder::default());
        let total = out.lines().find(|l| l.starts_with("TOTAL")).unwrap();
        assert_eq!(cols(total)[..3], ["TOTAL", "-", "3000.00"], "{out}");
        // Without Alpaca's extra columns the OpenAlgo table keeps its width.
        let only_oa = FundsView {
            accounts: vec![v.accounts[0].clone()],
            totals: None,
            ..Default::default()
        };
        assert!(!funds(&only_oa, BookOrder::default()).contains("EQUITY"));
    }

    #[test]
    fn books_total_each_currency_on_its_own_line() {
        use roster_proto::v1::TradeValues;
        let v = PositionsView {
            total_pnl: "999".into(),
            total_pnl_by_currency: vec![pnl("INR", "1.93"), pnl("USD", "-4.50")],
            net: vec![net_position("AAPL", "USD", "-4.50")],
            ..Default::default()
        };
        for net in [false, true] {
            let out = positions(&v, net, BookOrder::default());
            let totals = starting(&out, "total pnl");
            assert_eq!(
                totals,
                ["total pnl: 1.93 INR", "total pnl: -4.50 USD"],
                "{out}"
            );
            assert!(!out.contains("999"), "{out}");
        }
        let out = positions(&v, true, BookOrder::default());
        assert_eq!(
            cols(out.lines().nth(1).unwrap()),
            ["AAPL", "NSE", "USD", "3", "-4.50", "1"],
            "{out}"
        );

        let t = TradesView {
            values_by_currency: vec![
                TradeValues {
                    currency: "INR".into(),
                    buy_value: "100".into(),
                    sell_value: "50".into(),
                },
                TradeValues {
                    currency: "USD".into(),
                    buy_value: "7".into(),
                    sell_value: String::new(),
                },
            ],
            ..Default::default()
        };
        let out = trades(&t, BookOrder::default());
        assert!(
            out.contains(
                "buy value: 100.00 INR, sell value: 50.00 INR\nbuy value: 7.00 USD, sell value: -\n"
            ),
            "{out}"
        );

        let st = |c: &str, v: &str| HoldingStatistics {
            currency: c.into(),
            total_holding_value: v.into(),
            total_investment_value: v.into(),
            total_profit_and_loss: "0".into(),
            total_pnl_percentage: "0".into(),
        };
        let h = HoldingsView {
            statistics: Some(st("", "12")),
            statistics_by_currency: vec![st("INR", "5"), st("USD", "7")],
            ..Default::default()
        };
        let out = holdings(&h, false, BookOrder::default());
        let lines = starting(&out, "holding value");
        assert_eq!(
            lines,
            [
                "holding value: 5.00 INR, investment: 5.00 INR, pnl: 0.00 INR (0%)",
                "holding value: 7.00 USD, investment: 7.00 USD, pnl: 0.00 USD (0%)"
            ],
            "{out}"
        );
        // An older daemon's one total, as today.
        let out = holdings(
            &HoldingsView {
                statistics_by_currency: vec![],
                ..h
            },
            false,
            BookOrder::default(),
        );
        assert!(
            out.contains("holding value: 12, investment: 12, pnl: 0 (0%)"),
            "{out}"
        );
    }

    #[test]
    fn an_unsupported_book_shows_the_account_as_unsupported_not_failed() {
        use roster_proto::v1::{AccountHoldings, HoldingRow};
        let mut oa = AccountHoldings {
            rows: vec![HoldingRow {
                symbol: "INFY".into(),
                quantity: "5".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        oa.set_account_section(section("oa1", "INR"));
        let mut alp = AccountHoldings::default();
        alp.set_account_section(unsupported("alp1"));
        let v = HoldingsView {
            accounts: vec![oa, alp],
            coverage: Some(Coverage {
                selected: 2,
                fresh: 1,
                unsupported: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = holdings(&v, false, BookOrder::default());
        let row = out.lines().find(|l| l.starts_with("alp1")).unwrap();
        assert!(
            row.ends_with("unsupported: alpaca has no holdings"),
            "{out}"
        );
        assert!(
            !out.contains("FAILED") && !out.contains("! alp1") && !row.contains("stale"),
            "{out}"
        );
        assert!(
            out.ends_with("accounts: 2 selected, 1 fresh, 0 stale, 0 failed, 1 unsupported\n"),
            "{out}"
        );
        let out = holdings(&v, true, BookOrder::default());
        assert!(
            out.contains("! alp1: unsupported: alpaca has no holdings"),
            "{out}"
        );
        // No unsupported account, no mention.
        assert!(!funds(&FundsView::default(), BookOrder::default()).contains("unsupported"));
    }

    #[test]
    fn balances_list_assets_per_account_and_total_each_asset() {
        use roster_proto::v1::{AccountBalances, AssetTotal, BalanceRow};
        let row = |asset: &str, free: &str, locked: &str, total: &str| BalanceRow {
            asset: asset.into(),
            free: free.into(),
            locked: locked.into(),
            total: total.into(),
            ..Default::default()
        };
        let v = BalancesView {
            accounts: vec![
                AccountBalances {
                    section: Some(section("oa1", "INR")),
                    rows: vec![row("INR", "900.00", "100.00", "1000.00")],
                },
                AccountBalances {
                    section: Some(section("alp1", "USD")),
                    rows: vec![row("USD", "2000.00", "0", "2000.00")],
                },
                AccountBalances {
                    section: Some(AccountSection {
                        account_name: "down".into(),
                        error: "connection refused".into(),
                        error_reason: roster_proto::v1::HealthReason::Connect as i32,
                        ..Default::default()
                    }),
                    rows: vec![],
                },
            ],
            totals: vec![
                AssetTotal {
                    asset: "INR".into(),
                    free: "900.00".into(),
                    locked: "100.00".into(),
                    total: "1000.00".into(),
                    account_count: 1,
                },
                AssetTotal {
                    asset: "USD".into(),
                    free: "2000.00".into(),
                    locked: "0".into(),
                    total: "2000.00".into(),
                    account_count: 1,
                },
            ],
            coverage: Some(Coverage {
                selected: 3,
                fresh: 2,
                failed: 1,
                ..Default::default()
            }),
            totals_error: String::new(),
        };
        let out = balances(&v, BookOrder::default());
        let lines: Vec<Vec<&str>> = out.lines().map(cols).collect();
        assert_eq!(
            lines[0],
            ["ACCOUNT", "ASSET", "FREE", "LOCKED", "TOTAL", "DATA"]
        );
        // Accounts in natural order of their names; totals last, per asset.
        assert_eq!(lines[1], ["alp1", "USD", "2000.00", "0.00", "2000.00"]);
        assert_eq!(lines[2], ["down", "-", "-", "-", "-", "FAILED:", "CONNECT"]);
        assert_eq!(lines[3], ["oa1", "INR", "900.00", "100.00", "1000.00"]);
        assert_eq!(lines[4], ["TOTAL", "INR", "900.00", "100.00", "1000.00"]);
        assert_eq!(lines[5], ["TOTAL", "USD", "2000.00", "0.00", "2000.00"]);
        assert!(out.contains("! down: connection refused"), "{out}");
        assert!(out.ends_with("accounts: 3 selected, 2 fresh, 0 stale, 1 failed\n"));
        assert!(
            balances(&BalancesView::default(), BookOrder::default()).starts_with("no balances\n")
        );
    }

    #[test]
    fn every_summary_a_stale_section_went_into_says_so_and_only_that_one() {
        use roster_proto::v1::{
            AccountHoldings, AccountTrades, HoldingRow, NetHolding, TradeRow, TradeValues,
        };
        let stale = |name: &str, ccy: &str| AccountSection {
            stale: true,
            error: "TIMEOUT: no answer".into(),
            ..section(name, ccy)
        };
        let position = |symbol: &str, pnl: &str| PositionRow {
            symbol: symbol.into(),
            exchange: "NSE".into(),
            quantity: "1".into(),
            pnl: pnl.into(),
            ..Default::default()
        };
        let mut oa = AccountPositions {
            rows: vec![position("INFY", "10.5")],
            ..Default::default()
        };
        oa.set_account_section(stale("oa1", "INR"));
        let mut alp = AccountPositions {
            rows: vec![position("AAPL", "-4.5")],
            ..Default::default()
        };
        alp.set_account_section(section("alp1", "USD"));
        let v = PositionsView {
            accounts: vec![oa, alp],
            total_pnl_by_currency: vec![pnl("INR", "10.5"), pnl("USD", "-4.5")],
            net: vec![
                net_position("INFY", "INR", "10.5"),
                net_position("AAPL", "USD", "-4.5"),
            ],
            ..Default::default()
        };
        for net in [false, true] {
            let out = positions(&v, net, BookOrder::default());
            let totals = starting(&out, "total pnl");
            assert_eq!(
                totals,
                [
                    "total pnl: 10.50 INR (includes stale data)",
                    "total pnl: -4.50 USD"
                ],
                "{out}"
            );
        }
        let out = positions(&v, true, BookOrder::default());
        let row = |sym: &str| out.lines().find(|l| l.starts_with(sym)).unwrap_or_default();
        assert!(row("INFY").ends_with("includes stale data"), "{out}");
        assert!(!row("AAPL").contains("stale"), "{out}");

        let trade = TradeRow {
            trade_value: "100".into(),
            ..Default::default()
        };
        let mut t_stale = AccountTrades {
            rows: vec![trade.clone()],
            ..Default::default()
        };
        t_stale.set_account_section(stale("oa1", "INR"));
        let mut t_fresh = AccountTrades {
            rows: vec![trade],
            ..Default::default()
        };
        t_fresh.set_account_section(section("alp1", "USD"));
        let tv = |c: &str| TradeValues {
            currency: c.into(),
            buy_value: "100".into(),
            sell_value: "0".into(),
        };
        let out = trades(
            &TradesView {
                accounts: vec![t_stale, t_fresh],
                values_by_currency: vec![tv("INR"), tv("USD")],
                ..Default::default()
            },
            BookOrder::default(),
        );
        assert!(
            out.contains(
                "buy value: 100.00 INR, sell value: 0.00 INR (includes stale data)\n\
                 buy value: 100.00 USD, sell value: 0.00 USD\n"
            ),
            "{out}"
        );

        let holding = HoldingRow {
            symbol: "INFY".into(),
            exchange: "NSE".into(),
            quantity: "5".into(),
            pnl: "1".into(),
            ..Default::default()
        };
        let mut h_stale = AccountHoldings {
            rows: vec![holding],
            ..Default::default()
        };
        h_stale.set_account_section(stale("oa1", "INR"));
        let st = |c: &str| HoldingStatistics {
            currency: c.into(),
            total_holding_value: "1".into(),
            ..Default::default()
        };
        let h = HoldingsView {
            accounts: vec![h_stale],
            statistics_by_currency: vec![st("INR"), st("USD")],
            net: vec![NetHolding {
                symbol: "INFY".into(),
                exchange: "NSE".into(),
                currency: "INR".into(),
                quantity: "5".into(),
                pnl: "1".into(),
                account_count: 1,
            }],
            ..Default::default()
        };
        for net in [false, true] {
            let out = holdings(&h, net, BookOrder::default());
            let stats = starting(&out, "holding value");
            assert!(stats[0].ends_with("(includes stale data)"), "{out}");
            assert!(!stats[1].contains("stale"), "{out}");
        }
        let out = holdings(&h, true, BookOrder::default());
        assert!(
            out.lines()
                .any(|l| l.starts_with("INFY") && l.ends_with("includes stale data")),
            "{out}"
        );

        let mut o = AccountOrders {
            rows: vec![OrderRow {
                action: "BUY".into(),
                status: "open".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        o.set_account_section(stale("oa1", "INR"));
        let out = orders(
            &OrdersView {
                accounts: vec![o.clone()],
                ..Default::default()
            },
            BookOrder::default(),
        );
        assert!(
            out.contains("orders shown: 1 (1 buy, 0 sell; 1 open) (includes stale data)\n"),
            "{out}"
        );
        assert!(
            out.contains("trigger pending (includes stale data)\n"),
            "{out}"
        );
        o.set_account_section(section("oa1", "INR"));
        let out = orders(
            &OrdersView {
                accounts: vec![o],
                ..Default::default()
            },
            BookOrder::default(),
        );
        assert!(!out.contains("stale"), "{out}");
    }

    #[test]
    fn money_has_its_currencys_decimals_and_quantities_stay_as_sent() {
        let mut oa = AccountPositions {
            rows: vec![PositionRow {
                symbol: "INFY".into(),
                quantity: "10.000".into(),
                average_price: "1500.5".into(),
                ltp: "1510".into(),
                pnl: "-0.005".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        oa.set_account_section(section("oa1", "INR"));
        let out = positions(
            &PositionsView {
                accounts: vec![oa],
                ..Default::default()
            },
            false,
            BookOrder::default(),
        );
        let row = cols(out.lines().nth(1).unwrap_or_default())
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert_eq!(
            row,
            [
                "oa1", "INR", "INFY", "10.000", "1500.50", "1510.00", "-0.01"
            ],
            "{out}"
        );

        let row = |asset: &str, total: &str| BalanceRow {
            asset: asset.into(),
            free: total.into(),
            locked: "0".into(),
            total: total.into(),
            ..Default::default()
        };
        let mut bn = AccountBalances {
            rows: vec![row("BTC", "0.5"), row("USDT", "12.3456789012")],
            ..Default::default()
        };
        bn.set_account_section(section("bn", ""));
        let mut oa = AccountBalances {
            rows: vec![row("INR", "1000000000000000")],
            ..Default::default()
        };
        oa.set_account_section(section("oa1", "INR"));
        let out = balances(
            &BalancesView {
                accounts: vec![bn, oa],
                ..Default::default()
            },
            BookOrder::default(),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            cols(lines[1]),
            ["bn", "BTC", "0.50000000", "0.00000000", "0.50000000"]
        );
        assert_eq!(
            cols(lines[2]),
            ["bn", "USDT", "12.34567890", "0.00000000", "12.34567890"]
        );
        assert_eq!(
            cols(lines[3]),
            [
                "oa1",
                "INR",
                "1000000000000000.00",
                "0.00",
                "1000000000000000.00"
            ]
        );
        // One column, one decimal point position.
        let point = |l: &str| l.rfind('.');
        assert_eq!(point(lines[1]), point(lines[3]), "{out}");
    }

    #[test]
    fn order_prices_are_money_and_quantities_are_not() {
        let mut a = AccountOrders {
            rows: vec![OrderRow {
                order_id: "o1".into(),
                action: "BUY".into(),
                quantity: "2.50".into(),
                price: "500.5".into(),
                average_price: "500.125".into(),
                status: "complete".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        a.set_account_section(section("oa1", "INR"));
        let out = orders(
            &OrdersView {
                accounts: vec![a],
                ..Default::default()
            },
            BookOrder::default(),
        );
        let row = out.lines().nth(1).unwrap_or_default();
        assert_eq!(
            cols(row),
            [
                "oa1", "INR", "o1", "-", "BUY", "2.50", "500.50", "500.13", "complete"
            ],
            "{out}"
        );
    }

    #[test]
    fn sort_by_money_moves_rows_and_totals_stay_last() {
        let f = |cash: &str| Funds {
            currency: "INR".into(),
            cash: cash.into(),
            ..Default::default()
        };
        let account = |name: &str, cash: &str| {
            let mut a = AccountFunds {
                funds: Some(f(cash)),
                ..Default::default()
            };
            a.set_account_section(section(name, "INR"));
            a
        };
        let mut down = AccountFunds::default();
        down.set_account_section(AccountSection {
            has_data: false,
            error_reason: HealthReason::Connect as i32,
            ..section("demo-0", "INR")
        });
        let v = FundsView {
            accounts: vec![
                account("demo-10", "300"),
                down,
                account("demo-2", "50"),
                account("demo-1", "1200"),
            ],
            totals_by_currency: vec![f("1550")],
            ..Default::default()
        };
        let names = |order: BookOrder| {
            funds(&v, order)
                .lines()
                .skip(1)
                .take(5)
                .map(|l| cols(l)[0].to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(BookOrder::default()),
            ["demo-0", "demo-1", "demo-2", "demo-10", "TOTAL"]
        );
        assert_eq!(
            names(BookOrder {
                by_money: true,
                desc: false
            }),
            ["demo-2", "demo-10", "demo-1", "demo-0", "TOTAL"]
        );
        assert_eq!(
            names(BookOrder {
                by_money: true,
                desc: true
            }),
            ["demo-1", "demo-10", "demo-2", "demo-0", "TOTAL"]
        );

        // Positions by P&L across accounts; the total line stays after the table.
        let pos = |name: &str, pnl: &str| {
            let mut a = AccountPositions {
                rows: vec![PositionRow {
                    symbol: format!("S{name}"),
                    pnl: pnl.into(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            a.set_account_section(section(name, "INR"));
            a
        };
        let out = positions(
            &PositionsView {
                accounts: vec![pos("a", "5"), pos("b", "-7.25"), pos("c", "0")],
                total_pnl_by_currency: vec![pnl("INR", "-2.25")],
                ..Default::default()
            },
            false,
            BookOrder {
                by_money: true,
                desc: false,
            },
        );
        let order: Vec<&str> = out.lines().skip(1).take(4).map(|l| cols(l)[0]).collect();
        assert_eq!(order, ["b", "c", "a", "total"], "{out}");
    }

    #[test]
    fn empty_views_render() {
        assert!(orders(&OrdersView::default(), BookOrder::default()).starts_with("no orders\n"));
        assert!(trades(&TradesView::default(), BookOrder::default()).starts_with("no trades\n"));
        assert!(
            holdings(&HoldingsView::default(), true, BookOrder::default())
                .starts_with("no holdings\n")
        );
        assert!(funds(&FundsView::default(), BookOrder::default()).contains("TOTAL"));
    }
}
