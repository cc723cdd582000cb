//! `rosterctl account ...`: accounts and connection tests.

use std::fmt::Write as _;

use roster_proto::v1::{Account, ListAccountsResponse, TestConnectionResponse};

use super::format::{labels, latency, or_dash, reason_name, time, yes_no};
use super::table::{Table, kv};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
