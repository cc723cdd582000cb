//! `rosterctl funds|balances|positions|orders|trades|holdings`: per-account sections, each marked
//! fresh, stale, failed or unsupported, and the consolidated totals, one per currency (money in
//! different currencies is never added up, here or in the daemon).

use std::fmt::Write as _;

use roster_proto::pbjson_types::Timestamp;
use roster_proto::section::PortfolioSection;
use roster_proto::v1::{
    AccountSection, BalancesView, Coverage, Funds, FundsView, HoldingStatistics, HoldingsView,
    OrdersView, PositionsView, TradesView,
};

use super::format::{or_dash, reason_name, span, time, to_std};
use super::table::{Table, with_table};

/// The name a section is shown under: its account's name, else its id.
fn label(s: &AccountSection) -> String {
    if s.account_name.is_empty() {
        s.account_id.clone()
    } else {
        s.account_name.clone()
    }
}

/// Empty when fresh; `stale 2m` when served from an old snapshot; `FAILED: REASON` when there is
/// no data at all; `unsupported: alpaca has no holdings` when the account's venue does not have
/// the book (not a failure). A stale section also says why the refresh failed.
/// What a TOTAL row's DATA column says: that it adds up stale data, so it is not a fresh total.
fn total_marker(stale_inside: bool) -> String {
    if stale_inside {
        "includes stale data".into()
    } else {
        String::new()
    }
}

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

/// Errors of failed or stale sections in full (the table only has room for the reason).
fn problems<S: PortfolioSection>(sections: &[S]) -> String {
    let mut out = String::new();
    for s in sections {
        let s = s.account_section();
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

/// `-` for an unknown amount, else the amount followed by its currency when there is one.
fn money(amount: &str, currency: &str) -> String {
    if amount.is_empty() || currency.is_empty() {
        or_dash(amount)
    } else {
        format!("{amount} {currency}")
    }
}

/// The footer every book ends with: coverage, and which totals were left out.
fn footer(out: &mut String, c: Option<&Coverage>, totals_error: &str) {
    let _ = writeln!(out, "{}", coverage(c));
    if !totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {totals_error}");
    }
}

pub fn funds(v: &FundsView) -> String {
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
        ">CASH",
        ">AVAILABLE",
        ">COLLATERAL",
        ">M2M PNL",
        ">UTILISED",
    ];
    if extra {
        headers.extend([">BUYING POWER", ">EQUITY"]);
    }
    headers.push("DATA");
    let mut t = Table::new(&headers);
    let cells = |name: String, currency: String, f: &Funds, data: String| {
        let mut row = vec![
            name,
            currency,
            or_dash(&f.cash),
            or_dash(&f.available_cash),
            or_dash(&f.collateral),
            or_dash(&f.m2m_pnl),
            or_dash(&f.utilised_debits),
        ];
        if extra {
            row.extend([or_dash(&f.buying_power), or_dash(&f.equity)]);
        }
        row.push(data);
        row
    };
    for a in &v.accounts {
        let f = a.funds.clone().unwrap_or_default();
        let s = a.account_section();
        let currency = if f.currency.is_empty() {
            ccy(&s)
        } else {
            f.currency.clone()
        };
        t.row(cells(label(&s), currency, &f, marker(&s, "funds")));
    }
    // Whether a stale section's funds went into the total of `currency` ("" for any).
    let stale_in = |currency: &str| {
        v.accounts.iter().any(|a| {
            let s = a.account_section();
            s.stale
                && s.has_data
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

pub fn balances(v: &BalancesView) -> String {
    let headers = ["ACCOUNT", "ASSET", ">FREE", ">LOCKED", ">TOTAL", "DATA"];
    let mut t = Table::new(&headers);
    for a in &v.accounts {
        let s = a.account_section();
        if a.rows.is_empty()
            && let Some(r) = placeholder(&s, headers.len(), "balances")
        {
            t.row(r);
        }
        for r in &a.rows {
            t.row(vec![
                label(&s),
                r.asset.clone(),
                or_dash(&r.free),
                or_dash(&r.locked),
                or_dash(&r.total),
                marker(&s, "balances"),
            ]);
        }
    }
    for tot in &v.totals {
        let stale_inside = v.accounts.iter().any(|a| {
            let s = a.account_section();
            s.stale && s.has_data && a.rows.iter().any(|r| r.asset == tot.asset)
        });
        t.row(vec![
            "TOTAL".into(),
            tot.asset.clone(),
            or_dash(&tot.free),
            or_dash(&tot.locked),
            or_dash(&tot.total),
            total_marker(stale_inside),
        ]);
    }
    let mut out = with_table(&t, "no balances");
    out.push_str(&problems(&v.accounts));
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

/// One placeholder row for a stale, failed or unsupported section with no rows, so every such
/// account shows up in the table itself.
fn placeholder(s: &AccountSection, width: usize, book: &str) -> Option<Vec<String>> {
    let m = marker(s, book);
    if m.is_empty() {
        return None;
    }
    let mut row = vec![label(s)];
    row.extend(std::iter::repeat_n("-".to_owned(), width.saturating_sub(2)));
    row.push(m);
    Some(row)
}

/// The `! account: marker` lines under a net table, which has no per-account rows.
/// Under `--net`, where no row names an account: one line per account whose section is not
/// fresh, with its state and, when it failed, why (once: these lines replace `problems`).
fn net_markers<S: PortfolioSection>(out: &mut String, sections: &[S], book: &str) {
    for a in sections {
        let s = a.account_section();
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

pub fn positions(v: &PositionsView, net: bool) -> String {
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
            ">PNL",
            ">ACCOUNTS",
        ]);
        for n in &v.net {
            t.row(vec![
                n.symbol.clone(),
                n.exchange.clone(),
                n.product.clone(),
                or_dash(&n.currency),
                n.net_quantity.clone(),
                n.long_quantity.clone(),
                n.short_quantity.clone(),
                n.pnl.clone(),
                n.account_count.to_string(),
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
            ">AVG PRICE",
            ">LTP",
            ">PNL",
            "DATA",
        ];
        let mut t = Table::new(&headers);
        for a in &v.accounts {
            let s = a.account_section();
            if a.rows.is_empty()
                && let Some(r) = placeholder(&s, headers.len(), "positions")
            {
                t.row(r);
            }
            for r in &a.rows {
                t.row(vec![
                    label(&s),
                    ccy(&s),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    r.average_price.clone(),
                    r.ltp.clone(),
                    r.pnl.clone(),
                    marker(&s, "positions"),
                ]);
            }
        }
        out.push_str(&with_table(&t, "no positions"));
        out.push_str(&problems(&v.accounts));
    }
    if v.total_pnl_by_currency.is_empty() {
        let _ = writeln!(out, "total pnl: {}", or_dash(&v.total_pnl));
    }
    for m in &v.total_pnl_by_currency {
        let _ = writeln!(out, "total pnl: {}", money(&m.amount, &m.currency));
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

pub fn orders(v: &OrdersView) -> String {
    let headers = [
        "ACCOUNT", "CCY", "ORDER ID", "TIME", "SYMBOL", "EXCHANGE", "ACTION", ">QTY", ">PRICE",
        "TYPE", "PRODUCT", "STATUS", "DATA",
    ];
    let mut t = Table::new(&headers);
    for a in &v.accounts {
        let s = a.account_section();
        if a.rows.is_empty()
            && let Some(r) = placeholder(&s, headers.len(), "orders")
        {
            t.row(r);
        }
        for r in &a.rows {
            let when = when(r.time.as_ref(), &r.raw_timestamp);
            t.row(vec![
                label(&s),
                ccy(&s),
                r.order_id.clone(),
                when,
                r.symbol.clone(),
                r.exchange.clone(),
                r.action.clone(),
                r.quantity.clone(),
                r.price.clone(),
                r.price_type.clone(),
                r.product.clone(),
                r.status.clone(),
                marker(&s, "orders"),
            ]);
        }
    }
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
    let _ = writeln!(
        out,
        "orders shown: {} ({} buy, {} sell{}{})",
        rows.clone().count(),
        side("buy"),
        side("sell"),
        if statuses.is_empty() { "" } else { "; " },
        statuses.join(", ")
    );
    let st = v.statistics.unwrap_or_default();
    let _ = writeln!(
        out,
        "whole book: {} buy, {} sell, {} completed, {} open, {} rejected, {} trigger pending",
        st.total_buy_orders,
        st.total_sell_orders,
        st.total_completed_orders,
        st.total_open_orders,
        st.total_rejected_orders,
        st.total_trigger_pending_orders
    );
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    out
}

pub fn trades(v: &TradesView) -> String {
    let headers = [
        "ACCOUNT",
        "CCY",
        "ORDER ID",
        "TIME",
        "SYMBOL",
        "EXCHANGE",
        "ACTION",
        ">QTY",
        ">AVG PRICE",
        ">VALUE",
        "PRODUCT",
        "DATA",
    ];
    let mut t = Table::new(&headers);
    for a in &v.accounts {
        let s = a.account_section();
        if a.rows.is_empty()
            && let Some(r) = placeholder(&s, headers.len(), "trades")
        {
            t.row(r);
        }
        for r in &a.rows {
            let when = when(r.time.as_ref(), &r.raw_timestamp);
            t.row(vec![
                label(&s),
                ccy(&s),
                r.order_id.clone(),
                when,
                r.symbol.clone(),
                r.exchange.clone(),
                r.action.clone(),
                r.quantity.clone(),
                r.average_price.clone(),
                r.trade_value.clone(),
                r.product.clone(),
                marker(&s, "trades"),
            ]);
        }
    }
    let mut out = with_table(&t, "no trades");
    out.push_str(&problems(&v.accounts));
    if v.values_by_currency.is_empty() {
        let _ = writeln!(
            out,
            "buy value: {}, sell value: {}",
            or_dash(&v.buy_value),
            or_dash(&v.sell_value)
        );
    }
    for tv in &v.values_by_currency {
        let _ = writeln!(
            out,
            "buy value: {}, sell value: {}",
            money(&tv.buy_value, &tv.currency),
            money(&tv.sell_value, &tv.currency)
        );
    }
    footer(&mut out, v.coverage.as_ref(), &v.totals_error);
    out
}

fn holding_statistics(out: &mut String, st: &HoldingStatistics) {
    let c = st.currency.as_str();
    let _ = writeln!(
        out,
        "holding value: {}, investment: {}, pnl: {} ({}%)",
        money(&st.total_holding_value, c),
        money(&st.total_investment_value, c),
        money(&st.total_profit_and_loss, c),
        or_dash(&st.total_pnl_percentage)
    );
}

pub fn holdings(v: &HoldingsView, net: bool) -> String {
    let mut out = String::new();
    if net {
        let mut t = Table::new(&["SYMBOL", "EXCHANGE", "CCY", ">QTY", ">PNL", ">ACCOUNTS"]);
        for n in &v.net {
            t.row(vec![
                n.symbol.clone(),
                n.exchange.clone(),
                or_dash(&n.currency),
                n.quantity.clone(),
                n.pnl.clone(),
                n.account_count.to_string(),
            ]);
        }
        out.push_str(&with_table(&t, "no holdings"));
        net_markers(&mut out, &v.accounts, "holdings");
    } else {
        let headers = [
            "ACCOUNT", "CCY", "SYMBOL", "EXCHANGE", "PRODUCT", ">QTY", ">PNL", ">PNL %", "DATA",
        ];
        let mut t = Table::new(&headers);
        for a in &v.accounts {
            let s = a.account_section();
            if a.rows.is_empty()
                && let Some(r) = placeholder(&s, headers.len(), "holdings")
            {
                t.row(r);
            }
            for r in &a.rows {
                t.row(vec![
                    label(&s),
                    ccy(&s),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    r.pnl.clone(),
                    r.pnl_percent.clone(),
                    marker(&s, "holdings"),
                ]);
            }
        }
        out.push_str(&with_table(&t, "no holdings"));
        out.push_str(&problems(&v.accounts));
    }
    if v.statistics_by_currency.is_empty() {
        holding_statistics(&mut out, &v.statistics.clone().unwrap_or_default());
    }
    for st in &v.statistics_by_currency {
        holding_statistics(&mut out, st);
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
        let out = funds(&v);
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
        let out = positions(&v, false);
        assert!(out.contains("INFY"));
        assert!(
            out.lines()
                .any(|l| l.starts_with("b ") && l.ends_with("FAILED: AUTH_REJECTED")),
            "{out}"
        );
        assert!(out.contains("total pnl: 100.00"));
        let out = positions(&v, true);
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
        let out = orders(&v);
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
        let out = positions(&v, true);
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
        let out = funds(&v);
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
        let out = balances(&BalancesView {
            accounts: vec![stale, fresh],
            totals: vec![asset_total("BTC"), asset_total("USD")],
            ..Default::default()
        });
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
        let out = funds(&v);
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
        assert_eq!(cols(lines[1])[..3], ["oa1", "INR", "1000.00"], "{out}");
        assert_eq!(cols(lines[2])[..3], ["alp1", "USD", "2000.00"], "{out}");
        assert!(lines[2].contains("4000.00") && lines[2].contains("2100.00"));
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
        let out = funds(&v);
        let total = out.lines().find(|l| l.starts_with("TOTAL")).unwrap();
        assert_eq!(cols(total)[..3], ["TOTAL", "-", "3000.00"], "{out}");
        // Without Alpaca's extra columns the OpenAlgo table keeps its width.
        let only_oa = FundsView {
            accounts: vec![v.accounts[0].clone()],
            totals: None,
            ..Default::default()
        };
        assert!(!funds(&only_oa).contains("EQUITY"));
    }

    #[test]
    fn books_total_each_currency_on_its_own_line() {
        use roster_proto::v1::{Money, TradeValues};
        let money = |c: &str, a: &str| Money {
            currency: c.into(),
            amount: a.into(),
        };
        let v = PositionsView {
            total_pnl: "999".into(),
            total_pnl_by_currency: vec![money("INR", "1.93"), money("USD", "-4.50")],
            net: vec![NetPosition {
                symbol: "AAPL".into(),
                currency: "USD".into(),
                net_quantity: "3".into(),
                pnl: "-4.50".into(),
                account_count: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        for net in [false, true] {
            let out = positions(&v, net);
            let totals: Vec<&str> = out.lines().filter(|l| l.starts_with("total pnl")).collect();
            assert_eq!(
                totals,
                ["total pnl: 1.93 INR", "total pnl: -4.50 USD"],
                "{out}"
            );
            assert!(!out.contains("999"), "{out}");
        }
        let out = positions(&v, true);
        assert_eq!(
            cols(out.lines().nth(1).unwrap()),
            ["AAPL", "USD", "3", "-4.50", "1"],
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
        let out = trades(&t);
        assert!(
            out.contains(
                "buy value: 100 INR, sell value: 50 INR\nbuy value: 7 USD, sell value: -\n"
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
        let out = holdings(&h, false);
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("holding value"))
            .collect();
        assert_eq!(
            lines,
            [
                "holding value: 5 INR, investment: 5 INR, pnl: 0 INR (0%)",
                "holding value: 7 USD, investment: 7 USD, pnl: 0 USD (0%)"
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
        let out = holdings(&v, false);
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
        let out = holdings(&v, true);
        assert!(
            out.contains("! alp1: unsupported: alpaca has no holdings"),
            "{out}"
        );
        // No unsupported account, no mention.
        assert!(!funds(&FundsView::default()).contains("unsupported"));
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
        let out = balances(&v);
        let lines: Vec<Vec<&str>> = out.lines().map(cols).collect();
        assert_eq!(
            lines[0],
            ["ACCOUNT", "ASSET", "FREE", "LOCKED", "TOTAL", "DATA"]
        );
        assert_eq!(lines[1], ["oa1", "INR", "900.00", "100.00", "1000.00"]);
        assert_eq!(lines[2], ["alp1", "USD", "2000.00", "0", "2000.00"]);
        assert_eq!(lines[3], ["down", "-", "-", "-", "-", "FAILED:", "CONNECT"]);
        assert_eq!(lines[4], ["TOTAL", "INR", "900.00", "100.00", "1000.00"]);
        assert_eq!(lines[5], ["TOTAL", "USD", "2000.00", "0", "2000.00"]);
        assert!(out.contains("! down: connection refused"), "{out}");
        assert!(out.ends_with("accounts: 3 selected, 2 fresh, 0 stale, 1 failed\n"));
        assert!(balances(&BalancesView::default()).starts_with("no balances\n"));
    }

    #[test]
    fn empty_views_render() {
        assert!(orders(&OrdersView::default()).starts_with("no orders\n"));
        assert!(trades(&TradesView::default()).starts_with("no trades\n"));
        assert!(holdings(&HoldingsView::default(), true).starts_with("no holdings\n"));
        assert!(funds(&FundsView::default()).contains("TOTAL"));
    }
}
