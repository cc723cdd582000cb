//! `rosterctl funds|positions|orders|trades|holdings`: per-account sections, each marked fresh,
//! stale or failed, and the consolidated totals.

use std::fmt::Write as _;

use roster_proto::pbjson_types::Timestamp;
use roster_proto::section::PortfolioSection;
use roster_proto::v1::{
    AccountSection, Coverage, FundsView, HoldingsView, OrdersView, PositionsView, TradesView,
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
/// no data at all. A stale section also says why the refresh failed.
fn marker(s: &AccountSection) -> String {
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

fn coverage(c: Option<&Coverage>) -> String {
    match c {
        Some(c) => format!(
            "accounts: {} selected, {} fresh, {} stale, {} failed",
            c.selected, c.fresh, c.stale, c.failed
        ),
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

pub fn funds(v: &FundsView) -> String {
    let mut t = Table::new(&[
        "ACCOUNT",
        ">CASH",
        ">AVAILABLE",
        ">COLLATERAL",
        ">M2M PNL",
        ">UTILISED",
        "DATA",
    ]);
    for a in &v.accounts {
        let f = a.funds.clone().unwrap_or_default();
        let s = a.account_section();
        t.row(vec![
            label(&s),
            or_dash(&f.cash),
            or_dash(&f.available_cash),
            or_dash(&f.collateral),
            or_dash(&f.m2m_pnl),
            or_dash(&f.utilised_debits),
            marker(&s),
        ]);
    }
    let tot = v.totals.clone().unwrap_or_default();
    t.row(vec![
        "TOTAL".into(),
        or_dash(&tot.cash),
        or_dash(&tot.available_cash),
        or_dash(&tot.collateral),
        or_dash(&tot.m2m_pnl),
        or_dash(&tot.utilised_debits),
        String::new(),
    ]);
    let mut out = t.render();
    out.push_str(&problems(&v.accounts));
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    if !v.totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {}", v.totals_error);
    }
    out
}

/// Rows of every section, plus one placeholder row for a stale or failed section with no rows,
/// so every problem account shows up in the table itself.
fn placeholder(s: &AccountSection, width: usize) -> Option<Vec<String>> {
    let m = marker(s);
    if m.is_empty() {
        return None;
    }
    let mut row = vec![label(s)];
    row.extend(std::iter::repeat_n("-".to_owned(), width.saturating_sub(2)));
    row.push(m);
    Some(row)
}

pub fn positions(v: &PositionsView, net: bool) -> String {
    let mut out = String::new();
    if net {
        let mut t = Table::new(&[
            "SYMBOL",
            "EXCHANGE",
            "PRODUCT",
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
                n.net_quantity.clone(),
                n.long_quantity.clone(),
                n.short_quantity.clone(),
                n.pnl.clone(),
                n.account_count.to_string(),
            ]);
        }
        out.push_str(&with_table(&t, "no positions"));
        for a in &v.accounts {
            let s = a.account_section();
            let m = marker(&s);
            if !m.is_empty() {
                let _ = writeln!(out, "! {}: {m}", label(&s));
            }
        }
    } else {
        let headers = [
            "ACCOUNT",
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
                && let Some(r) = placeholder(&s, headers.len())
            {
                t.row(r);
            }
            for r in &a.rows {
                t.row(vec![
                    label(&s),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    r.average_price.clone(),
                    r.ltp.clone(),
                    r.pnl.clone(),
                    marker(&s),
                ]);
            }
        }
        out.push_str(&with_table(&t, "no positions"));
    }
    out.push_str(&problems(&v.accounts));
    let _ = writeln!(out, "total pnl: {}", or_dash(&v.total_pnl));
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    if !v.totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {}", v.totals_error);
    }
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
        "ACCOUNT", "ORDER ID", "TIME", "SYMBOL", "EXCHANGE", "ACTION", ">QTY", ">PRICE", "TYPE",
        "PRODUCT", "STATUS", "DATA",
    ];
    let mut t = Table::new(&headers);
    for a in &v.accounts {
        let s = a.account_section();
        if a.rows.is_empty()
            && let Some(r) = placeholder(&s, headers.len())
        {
            t.row(r);
        }
        for r in &a.rows {
            let when = when(r.time.as_ref(), &r.raw_timestamp);
            t.row(vec![
                label(&s),
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
                marker(&s),
            ]);
        }
    }
    let mut out = with_table(&t, "no orders");
    out.push_str(&problems(&v.accounts));
    let st = v.statistics.unwrap_or_default();
    let _ = writeln!(
        out,
        "orders: {} buy, {} sell, {} completed, {} open, {} rejected, {} trigger pending",
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
            && let Some(r) = placeholder(&s, headers.len())
        {
            t.row(r);
        }
        for r in &a.rows {
            let when = when(r.time.as_ref(), &r.raw_timestamp);
            t.row(vec![
                label(&s),
                r.order_id.clone(),
                when,
                r.symbol.clone(),
                r.exchange.clone(),
                r.action.clone(),
                r.quantity.clone(),
                r.average_price.clone(),
                r.trade_value.clone(),
                r.product.clone(),
                marker(&s),
            ]);
        }
    }
    let mut out = with_table(&t, "no trades");
    out.push_str(&problems(&v.accounts));
    let _ = writeln!(
        out,
        "buy value: {}, sell value: {}",
        or_dash(&v.buy_value),
        or_dash(&v.sell_value)
    );
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    if !v.totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {}", v.totals_error);
    }
    out
}

pub fn holdings(v: &HoldingsView, net: bool) -> String {
    let mut out = String::new();
    if net {
        let mut t = Table::new(&["SYMBOL", "EXCHANGE", ">QTY", ">PNL", ">ACCOUNTS"]);
        for n in &v.net {
            t.row(vec![
                n.symbol.clone(),
                n.exchange.clone(),
                n.quantity.clone(),
                n.pnl.clone(),
                n.account_count.to_string(),
            ]);
        }
        out.push_str(&with_table(&t, "no holdings"));
        for a in &v.accounts {
            let s = a.account_section();
            let m = marker(&s);
            if !m.is_empty() {
                let _ = writeln!(out, "! {}: {m}", label(&s));
            }
        }
    } else {
        let headers = [
            "ACCOUNT", "SYMBOL", "EXCHANGE", "PRODUCT", ">QTY", ">PNL", ">PNL %", "DATA",
        ];
        let mut t = Table::new(&headers);
        for a in &v.accounts {
            let s = a.account_section();
            if a.rows.is_empty()
                && let Some(r) = placeholder(&s, headers.len())
            {
                t.row(r);
            }
            for r in &a.rows {
                t.row(vec![
                    label(&s),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    r.pnl.clone(),
                    r.pnl_percent.clone(),
                    marker(&s),
                ]);
            }
        }
        out.push_str(&with_table(&t, "no holdings"));
    }
    out.push_str(&problems(&v.accounts));
    let st = v.statistics.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "holding value: {}, investment: {}, pnl: {} ({}%)",
        or_dash(&st.total_holding_value),
        or_dash(&st.total_investment_value),
        or_dash(&st.total_profit_and_loss),
        or_dash(&st.total_pnl_percentage)
    );
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    if !v.totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {}", v.totals_error);
    }
    out
}

#[cfg(test)]
mod tests {
    use roster_proto::pbjson_types::Duration as PbDuration;
    use roster_proto::v1::{
        AccountFunds, AccountPositions, Funds, HealthReason, NetPosition, PositionRow,
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
            }),
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

    #[test]
    fn empty_views_render() {
        assert!(orders(&OrdersView::default()).starts_with("no orders\n"));
        assert!(trades(&TradesView::default()).starts_with("no trades\n"));
        assert!(holdings(&HoldingsView::default(), true).starts_with("no holdings\n"));
        assert!(funds(&FundsView::default()).contains("TOTAL"));
    }
}
