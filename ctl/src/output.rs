//! Rendering responses: `-o json` prints the message as one pretty proto3-JSON document; the
//! table form is aligned columns (or `key: value` lines for a single object) that a person can
//! scan. Every renderer is a pure function from the response to a `String`, so it is tested
//! without a daemon, and none of them can panic on whatever the server sends.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use roster_proto::pbjson_types::{Duration as PbDuration, Timestamp};
use roster_proto::v1::{
    Account, AccountHealth, AuditEvent, Coverage, Event, EventKind, FundsView, HealthReason,
    HealthState, HoldingsView, ListAccountsResponse, ListAuditEventsResponse, ListHealthResponse,
    OrdersView, PositionsView, Status, TestConnectionResponse, TradesView,
};

/// A text table: headers, rows, and which columns are numbers (right-aligned).
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns whose header starts with `>` are right-aligned (the `>` is not printed).
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers
                .iter()
                .map(|h| h.trim_start_matches('>').to_owned())
                .collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Two spaces between columns; no trailing spaces; cells sanitized to one line.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                (0..n)
                    .map(|i| clean(r.get(i).map_or("", String::as_str)))
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(rows.iter()) {
            let mut s = String::new();
            for (i, cell) in line.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = w.saturating_sub(cell.chars().count());
                let last = i + 1 == n;
                if i > 0 {
                    s.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    if !last {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the keys padded to one width.
pub fn kv(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(
            out,
            "{:<w$}  {}",
            format!("{k}:"),
            v.replace(['\n', '\r'], " "),
            w = w + 1
        );
    }
    out
}

/// One pretty JSON document (proto3 JSON mapping via the pbjson serde impls).
pub fn json<T: serde::Serialize>(msg: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(msg)?;
    s.push('\n');
    Ok(s)
}

/// One JSON object on one line (for streams).
pub fn json_line<T: serde::Serialize>(msg: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string(msg)?;
    s.push('\n');
    Ok(s)
}

/// Latest instant humantime can print (9999-12-31T23:59:59Z).
const MAX_PRINTABLE_SECS: i64 = 253_402_300_799;

/// A timestamp as `SystemTime`, or `None` when it is malformed or outside 1970..=9999: the
/// formatter cannot print those, and a bogus server value must not crash the CLI.
pub fn to_system(ts: &Timestamp) -> Option<SystemTime> {
    let nanos = u32::try_from(ts.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    if !(0..=MAX_PRINTABLE_SECS).contains(&ts.seconds) {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::new(u64::try_from(ts.seconds).ok()?, nanos))
}

pub fn to_std(d: &PbDuration) -> Option<Duration> {
    let secs = u64::try_from(d.seconds).ok()?;
    let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    Some(Duration::new(secs, nanos))
}

/// An absolute time in UTC, to the second; `-` when unset.
pub fn time(ts: Option<&Timestamp>) -> String {
    ts.and_then(to_system)
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|| "-".into())
}

/// A compact span: `850ms`, `12s`, `5m`, `3h`, `2d` (one unit is enough to scan a column).
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        format!("{}ms", d.as_millis())
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// How long ago `ts` was, relative to `now`: `12s ago`; `-` when unset.
pub fn ago(ts: Option<&Timestamp>, now: SystemTime) -> String {
    match ts.and_then(to_system) {
        Some(t) => match now.duration_since(t) {
            Ok(d) => format!("{} ago", span(d)),
            // The daemon's clock is ahead of ours; do not print a negative age.
            Err(_) => "just now".into(),
        },
        None => "-".into(),
    }
}

/// Time since `ts` without the "ago" (for "in this state FOR").
pub fn since(ts: Option<&Timestamp>, now: SystemTime) -> String {
    ts.and_then(to_system)
        .map(|t| span(now.duration_since(t).unwrap_or_default()))
        .unwrap_or_else(|| "-".into())
}

/// Latency: `42ms` under a second, `1.25s` above.
pub fn latency(d: Option<&PbDuration>) -> String {
    match d.and_then(to_std) {
        Some(d) if d.as_secs() == 0 => format!("{}ms", d.as_millis()),
        Some(d) => format!("{:.2}s", d.as_secs_f64()),
        None => "-".into(),
    }
}

pub fn state_name(v: i32) -> String {
    match HealthState::try_from(v) {
        Ok(HealthState::Unspecified) => "-".into(),
        Ok(s) => s
            .as_str_name()
            .trim_start_matches("HEALTH_STATE_")
            .to_owned(),
        Err(_) => format!("state({v})"),
    }
}

pub fn reason_name(v: i32) -> String {
    match HealthReason::try_from(v) {
        Ok(HealthReason::Unspecified) => "-".into(),
        Ok(r) => r
            .as_str_name()
            .trim_start_matches("HEALTH_REASON_")
            .to_owned(),
        Err(_) => format!("reason({v})"),
    }
}

pub fn kind_name(v: i32) -> String {
    match EventKind::try_from(v) {
        Ok(EventKind::Unspecified) => "-".into(),
        Ok(k) => k.as_str_name().trim_start_matches("EVENT_KIND_").to_owned(),
        Err(_) => format!("kind({v})"),
    }
}

fn labels(l: &std::collections::HashMap<String, String>) -> String {
    let mut v: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.sort();
    v.join(",")
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

pub fn account_list(resp: &ListAccountsResponse) -> String {
    let mut t = Table::new(&["NAME", "ID", "HOST", "ENABLED", "BROKER", "LABELS", "KEY"]);
    for a in &resp.accounts {
        t.row(vec![
            a.name.clone(),
            a.id.clone(),
            a.host_url.clone(),
            yes_no(a.enabled),
            or_dash(&a.broker),
            labels(&a.labels),
            or_dash(&a.api_key_hint),
        ]);
    }
    let mut out = if t.is_empty() {
        String::new()
    } else {
        t.render()
    };
    let n = resp.accounts.len();
    let _ = writeln!(out, "{n} account{}", if n == 1 { "" } else { "s" });
    out
}

pub fn account(a: &Account) -> String {
    kv(&[
        ("name", a.name.clone()),
        ("id", a.id.clone()),
        ("connector", or_dash(&a.connector)),
        ("host", a.host_url.clone()),
        ("ws", or_dash(&a.ws_url)),
        ("enabled", yes_no(a.enabled)),
        ("broker", or_dash(&a.broker)),
        ("mode", or_dash(&a.mode)),
        ("labels", or_dash(&labels(&a.labels))),
        ("api key", or_dash(&a.api_key_hint)),
        ("key id", or_dash(&a.key_id)),
        ("created", time(a.create_time.as_ref())),
        ("updated", time(a.update_time.as_ref())),
        ("etag", or_dash(&a.etag)),
    ])
}

fn health_name(h: &AccountHealth) -> String {
    if h.account_name.is_empty() {
        h.account_id.clone()
    } else {
        h.account_name.clone()
    }
}

pub fn health_list(resp: &ListHealthResponse, now: SystemTime) -> String {
    let mut t = Table::new(&["NAME", "STATE", "REASON", ">LATENCY", "LAST OK", "FOR"]);
    for h in &resp.accounts {
        t.row(vec![
            health_name(h),
            state_name(h.state),
            reason_name(h.reason),
            latency(h.latency.as_ref()),
            ago(h.last_success_time.as_ref(), now),
            since(h.state_since.as_ref(), now),
        ]);
    }
    let mut out = if t.is_empty() {
        String::new()
    } else {
        t.render()
    };
    // Counts in a fixed, meaningful order; unknown keys after, so nothing the server sends is lost.
    let order = ["UP", "DEGRADED", "DOWN", "UNKNOWN", "DISABLED"];
    let mut parts: Vec<String> = order
        .iter()
        .filter_map(|k| {
            resp.counts
                .get(*k)
                .map(|n| format!("{n} {}", k.to_lowercase()))
        })
        .collect();
    let mut rest: Vec<_> = resp
        .counts
        .iter()
        .filter(|(k, _)| !order.contains(&k.as_str()))
        .collect();
    rest.sort();
    parts.extend(
        rest.into_iter()
            .map(|(k, n)| format!("{n} {}", k.to_lowercase())),
    );
    let n = resp.accounts.len();
    let _ = write!(out, "{n} account{}", if n == 1 { "" } else { "s" });
    if !parts.is_empty() {
        let _ = write!(out, ": {}", parts.join(", "));
    }
    out.push('\n');
    out
}

pub fn health(h: &AccountHealth, now: SystemTime) -> String {
    kv(&[
        ("account", health_name(h)),
        ("id", h.account_id.clone()),
        ("state", state_name(h.state)),
        ("reason", reason_name(h.reason)),
        ("message", or_dash(&h.message)),
        ("in state for", since(h.state_since.as_ref(), now)),
        ("latency", latency(h.latency.as_ref())),
        ("last check", ago(h.last_check_time.as_ref(), now)),
        ("last ok", ago(h.last_success_time.as_ref(), now)),
        ("failures in a row", h.consecutive_failures.to_string()),
        ("successes in a row", h.consecutive_successes.to_string()),
        ("broker", or_dash(&h.broker)),
        ("mode", or_dash(&h.mode)),
        ("next check", time(h.next_check_time.as_ref())),
    ])
}

pub fn test_connection(r: &TestConnectionResponse) -> String {
    kv(&[
        ("reachable", yes_no(r.reachable)),
        ("key accepted", yes_no(r.key_accepted)),
        ("session alive", yes_no(r.session_alive)),
        ("broker", or_dash(&r.broker)),
        ("mode", or_dash(&r.mode)),
        ("latency", latency(r.latency.as_ref())),
        ("reason", reason_name(r.reason)),
        ("message", or_dash(&r.message)),
    ])
}

/// The per-account freshness marker shared by every portfolio view.
pub struct Section<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub stale: bool,
    pub age: Option<&'a PbDuration>,
    pub error: &'a str,
    pub error_reason: i32,
    pub has_data: bool,
}

impl Section<'_> {
    fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.to_owned()
        } else {
            self.name.to_owned()
        }
    }

    /// Empty when fresh; `stale 2m` when served from an old snapshot; `FAILED: REASON` when
    /// there is no data at all. A stale section also says why the refresh failed.
    pub fn marker(&self) -> String {
        let why = if self.error_reason != 0 {
            reason_name(self.error_reason)
        } else {
            self.error.chars().take(60).collect()
        };
        if !self.has_data && (!self.error.is_empty() || self.error_reason != 0) {
            return format!("FAILED: {why}");
        }
        if self.stale {
            let age = self
                .age
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
}

macro_rules! section {
    ($s:expr) => {
        Section {
            name: &$s.account_name,
            id: &$s.account_id,
            stale: $s.stale,
            age: $s.age.as_ref(),
            error: &$s.error,
            error_reason: $s.error_reason,
            has_data: $s.has_data,
        }
    };
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
fn problems<'a>(sections: impl Iterator<Item = Section<'a>>) -> String {
    let mut out = String::new();
    for s in sections {
        if !s.error.is_empty() {
            let _ = writeln!(
                out,
                "! {}: {}",
                s.label(),
                s.error.replace(['\n', '\r'], " ")
            );
        }
    }
    out
}

fn with_table(t: &Table, empty: &str) -> String {
    if t.is_empty() {
        format!("{empty}\n")
    } else {
        t.render()
    }
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
        let s = section!(a);
        t.row(vec![
            s.label(),
            or_dash(&f.cash),
            or_dash(&f.available_cash),
            or_dash(&f.collateral),
            or_dash(&f.m2m_pnl),
            or_dash(&f.utilised_debits),
            s.marker(),
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
    out.push_str(&problems(v.accounts.iter().map(|a| section!(a))));
    let _ = writeln!(out, "{}", coverage(v.coverage.as_ref()));
    if !v.totals_error.is_empty() {
        let _ = writeln!(out, "TOTALS LEFT OUT: {}", v.totals_error);
    }
    out
}

/// Rows of every section, plus one placeholder row for a stale or failed section with no rows,
/// so every problem account shows up in the table itself.
fn placeholder(s: &Section<'_>, width: usize) -> Option<Vec<String>> {
    let m = s.marker();
    if m.is_empty() {
        return None;
    }
    let mut row = vec![s.label()];
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
            let s = section!(a);
            let m = s.marker();
            if !m.is_empty() {
                let _ = writeln!(out, "! {}: {m}", s.label());
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
            let s = section!(a);
            if a.rows.is_empty()
                && let Some(r) = placeholder(&s, headers.len())
            {
                t.row(r);
            }
            for r in &a.rows {
                t.row(vec![
                    s.label(),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    r.average_price.clone(),
                    r.ltp.clone(),
                    r.pnl.clone(),
                    s.marker(),
                ]);
            }
        }
        out.push_str(&with_table(&t, "no positions"));
    }
    out.push_str(&problems(v.accounts.iter().map(|a| section!(a))));
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
        let s = section!(a);
        if a.rows.is_empty()
            && let Some(r) = placeholder(&s, headers.len())
        {
            t.row(r);
        }
        for r in &a.rows {
            let when = when(r.time.as_ref(), &r.raw_timestamp);
            t.row(vec![
                s.label(),
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
                s.marker(),
            ]);
        }
    }
    let mut out = with_table(&t, "no orders");
    out.push_str(&problems(v.accounts.iter().map(|a| section!(a))));
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
        let s = section!(a);
        if a.rows.is_empty()
            && let Some(r) = placeholder(&s, headers.len())
        {
            t.row(r);
        }
        for r in &a.rows {
            let when = when(r.time.as_ref(), &r.raw_timestamp);
            t.row(vec![
                s.label(),
                r.order_id.clone(),
                when,
                r.symbol.clone(),
                r.exchange.clone(),
                r.action.clone(),
                r.quantity.clone(),
                r.average_price.clone(),
                r.trade_value.clone(),
                r.product.clone(),
                s.marker(),
            ]);
        }
    }
    let mut out = with_table(&t, "no trades");
    out.push_str(&problems(v.accounts.iter().map(|a| section!(a))));
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
            let s = section!(a);
            let m = s.marker();
            if !m.is_empty() {
                let _ = writeln!(out, "! {}: {m}", s.label());
            }
        }
    } else {
        let headers = [
            "ACCOUNT", "SYMBOL", "EXCHANGE", "PRODUCT", ">QTY", ">PNL", ">PNL %", "DATA",
        ];
        let mut t = Table::new(&headers);
        for a in &v.accounts {
            let s = section!(a);
            if a.rows.is_empty()
                && let Some(r) = placeholder(&s, headers.len())
            {
                t.row(r);
            }
            for r in &a.rows {
                t.row(vec![
                    s.label(),
                    r.symbol.clone(),
                    r.exchange.clone(),
                    r.product.clone(),
                    r.quantity.clone(),
                    r.pnl.clone(),
                    r.pnl_percent.clone(),
                    s.marker(),
                ]);
            }
        }
        out.push_str(&with_table(&t, "no holdings"));
    }
    out.push_str(&problems(v.accounts.iter().map(|a| section!(a))));
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

pub fn status(s: &Status, now: SystemTime) -> String {
    let mut counts: Vec<String> = s
        .counts_by_state
        .iter()
        .map(|(k, n)| format!("{n} {}", k.to_lowercase()))
        .collect();
    counts.sort();
    let expiry = match s.server_cert_expiry.as_ref().and_then(to_system) {
        Some(t) => match t.duration_since(now) {
            // Under 30 days is a warning: renewal needs a new certificate and a reload.
            Ok(left) if left < std::time::Duration::from_secs(30 * 86_400) => format!(
                "{} (in {}) WARNING: renew soon",
                time(s.server_cert_expiry.as_ref()),
                span(left)
            ),
            Ok(left) => format!(
                "{} (in {})",
                time(s.server_cert_expiry.as_ref()),
                span(left)
            ),
            Err(_) => format!("{} (EXPIRED)", time(s.server_cert_expiry.as_ref())),
        },
        None => "-".into(),
    };
    kv(&[
        ("version", or_dash(&s.version)),
        (
            "uptime",
            s.uptime
                .as_ref()
                .and_then(to_std)
                .map(|d| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        ("started", time(s.start_time.as_ref())),
        ("accounts", s.account_count.to_string()),
        ("by state", or_dash(&counts.join(", "))),
        ("db size", bytes(s.db_size_bytes)),
        ("server cert expires", expiry),
        ("active key id", or_dash(&s.active_key_id)),
        ("key ids", or_dash(&s.key_ids.join(", "))),
        ("config generation", s.config_generation.to_string()),
        ("schema version", s.schema_version.to_string()),
        ("instance id", or_dash(&s.instance_id)),
        (
            "storage",
            if s.storage_error.is_empty() {
                "ok".to_string()
            } else {
                format!("FAILING: {}", s.storage_error)
            },
        ),
        (
            "you are",
            format!("{} ({})", or_dash(&s.principal), or_dash(&s.role)),
        ),
    ])
}

/// Bytes in binary units: `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}

pub fn audit(r: &ListAuditEventsResponse) -> String {
    let mut t = Table::new(&[
        ">SEQ",
        "TIME",
        "PRINCIPAL",
        "ROLE",
        "ACTION",
        "TARGET",
        "OUTCOME",
    ]);
    for e in &r.events {
        t.row(audit_row(e));
    }
    with_table(&t, "no audit records")
}

fn audit_row(e: &AuditEvent) -> Vec<String> {
    vec![
        e.sequence.to_string(),
        time(e.time.as_ref()),
        e.principal.clone(),
        e.role.clone(),
        e.action.clone(),
        or_dash(&e.target),
        e.outcome.clone(),
    ]
}

/// One line per event: `TIME #SEQ KIND account: PREV -> STATE (REASON) message`.
pub fn event_line(e: &Event) -> String {
    let who = if e.account_name.is_empty() {
        or_dash(&e.account_id)
    } else {
        e.account_name.clone()
    };
    let mut s = format!(
        "{} #{} {} {who}",
        time(e.time.as_ref()),
        e.sequence,
        kind_name(e.kind)
    );
    if e.state != 0 {
        if e.previous_state != 0 {
            let _ = write!(
                s,
                ": {} -> {}",
                state_name(e.previous_state),
                state_name(e.state)
            );
        } else {
            let _ = write!(s, ": {}", state_name(e.state));
        }
        if e.reason != 0 {
            let _ = write!(s, " ({})", reason_name(e.reason));
        }
    }
    if !e.message.is_empty() {
        let _ = write!(s, " {}", e.message.replace(['\n', '\r'], " "));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_proto::v1::{AccountFunds, AccountPositions, Funds, NetPosition, PositionRow};

    fn ts(secs: i64) -> Timestamp {
        Timestamp {
            seconds: secs,
            nanos: 0,
        }
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["NAME", ">N", "X"]);
        t.row(vec!["a".into(), "1".into(), "x".into()]);
        t.row(vec!["longer".into(), "100".into(), String::new()]);
        assert_eq!(t.render(), "NAME      N  X\na         1  x\nlonger  100\n");
    }

    #[test]
    fn tables_tolerate_short_rows_control_chars_and_unicode() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["ab12…9f3c".into()]);
        t.row(vec!["x\ny".into(), "z".into()]);
        assert_eq!(t.render(), "A          B\nab12…9f3c\nx y        z\n");
    }

    #[test]
    fn spans_and_ages() {
        assert_eq!(span(Duration::from_millis(850)), "850ms");
        assert_eq!(span(Duration::from_secs(12)), "12s");
        assert_eq!(span(Duration::from_secs(300)), "5m");
        assert_eq!(span(Duration::from_secs(3 * 3600)), "3h");
        assert_eq!(span(Duration::from_secs(2 * 86_400)), "2d");
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(ago(Some(&ts(988)), now), "12s ago");
        assert_eq!(ago(Some(&ts(2000)), now), "just now");
        assert_eq!(ago(None, now), "-");
        assert_eq!(
            ago(
                Some(&Timestamp {
                    seconds: 1,
                    nanos: -5
                }),
                now
            ),
            "-"
        );
        assert_eq!(
            latency(Some(&PbDuration {
                seconds: 0,
                nanos: 42_000_000
            })),
            "42ms"
        );
        assert_eq!(
            latency(Some(&PbDuration {
                seconds: 1,
                nanos: 250_000_000
            })),
            "1.25s"
        );
        assert_eq!(
            latency(Some(&PbDuration {
                seconds: -1,
                nanos: 0
            })),
            "-"
        );
        assert_eq!(time(Some(&ts(0))), "1970-01-01T00:00:00Z");
        assert_eq!(time(Some(&ts(i64::MAX))), "-");
        assert_eq!(time(Some(&ts(-1))), "-");
        assert_eq!(time(Some(&ts(MAX_PRINTABLE_SECS + 1))), "-");
        assert_eq!(since(Some(&ts(i64::MIN)), now), "-");
    }

    #[test]
    fn enum_names_survive_unknown_values() {
        assert_eq!(state_name(HealthState::Up as i32), "UP");
        assert_eq!(state_name(0), "-");
        assert_eq!(state_name(99), "state(99)");
        assert_eq!(
            reason_name(HealthReason::AuthRejected as i32),
            "AUTH_REJECTED"
        );
        assert_eq!(kind_name(EventKind::HealthChanged as i32), "HEALTH_CHANGED");
    }

    #[test]
    fn account_list_shows_the_hint_never_more() {
        let mut a = Account {
            name: "acc1".into(),
            id: "0190-aa".into(),
            host_url: "http://127.0.0.1:5000".into(),
            enabled: true,
            api_key_hint: "ab12…9f3c".into(),
            ..Default::default()
        };
        a.labels.insert("desk".into(), "a".into());
        a.labels.insert("b".into(), "2".into());
        let out = account_list(&ListAccountsResponse {
            accounts: vec![a],
            ..Default::default()
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["NAME", "ID", "HOST", "ENABLED", "BROKER", "LABELS", "KEY"]
        );
        assert!(lines[1].starts_with("acc1  "));
        assert!(lines[1].contains("b=2,desk=a") && lines[1].ends_with("ab12…9f3c"));
        assert_eq!(lines[2], "1 account");
        assert_eq!(
            account_list(&ListAccountsResponse::default()),
            "0 accounts\n"
        );
    }

    #[test]
    fn health_list_rows_and_counts() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        let h = AccountHealth {
            account_name: "acc1".into(),
            state: HealthState::Down as i32,
            reason: HealthReason::Timeout as i32,
            latency: Some(PbDuration {
                seconds: 0,
                nanos: 5_000_000,
            }),
            last_success_time: Some(ts(9_988)),
            state_since: Some(ts(9_700)),
            ..Default::default()
        };
        let mut resp = ListHealthResponse {
            accounts: vec![h],
            ..Default::default()
        };
        resp.counts.insert("DOWN".into(), 1);
        resp.counts.insert("UP".into(), 0);
        let out = health_list(&resp, now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "NAME  STATE  REASON   LATENCY  LAST OK  FOR");
        assert_eq!(lines[1], "acc1  DOWN   TIMEOUT      5ms  12s ago  5m");
        assert_eq!(lines[2], "1 account: 0 up, 1 down");
    }

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
        assert_eq!(
            audit(&ListAuditEventsResponse::default()),
            "no audit records\n"
        );
    }

    #[test]
    fn status_and_events() {
        let mut s = Status {
            version: "0.1.0".into(),
            account_count: 2,
            db_size_bytes: 1536,
            server_cert_expiry: Some(ts(100)),
            principal: "admin".into(),
            role: "admin".into(),
            ..Default::default()
        };
        s.counts_by_state.insert("UP".into(), 2);
        let out = status(&s, UNIX_EPOCH + Duration::from_secs(200));
        assert!(out.contains("version:"));
        assert!(out.contains("1.5 KiB"));
        assert!(out.contains("(EXPIRED)"));
        assert!(out.contains("2 up"));
        assert!(out.contains("admin (admin)"));
        let e = Event {
            sequence: 7,
            time: Some(ts(0)),
            kind: EventKind::HealthChanged as i32,
            account_name: "acc1".into(),
            previous_state: HealthState::Up as i32,
            state: HealthState::Degraded as i32,
            reason: HealthReason::Timeout as i32,
            message: "no answer in 5s".into(),
            ..Default::default()
        };
        assert_eq!(
            event_line(&e),
            "1970-01-01T00:00:00Z #7 HEALTH_CHANGED acc1: UP -> DEGRADED (TIMEOUT) no answer in 5s\n"
        );
    }

    #[test]
    fn json_is_proto3_mapping() {
        let a = Account {
            name: "x".into(),
            create_time: Some(ts(0)),
            ..Default::default()
        };
        let out = json(&a).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["name"], "x");
        assert_eq!(v["createTime"], "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
    }
}
