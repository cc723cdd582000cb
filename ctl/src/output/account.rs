//! `rosterctl account ...`: accounts and connection tests.

use std::cmp::Ordering;
use std::fmt::Write as _;

use roster_proto::v1::{Account, ListAccountsResponse, ListVenuesResponse, TestConnectionResponse};

use super::format::{labels, latency, or_dash, reason_name, time, yes_no};
use super::sort::natural_cmp;
use super::table::{Table, kv};
use crate::cli::AccountSort;

/// Whether a listing names tenants: only when its rows span more than one (which only a global
/// admin can see); a tenant's own listings stay as they were.
pub fn several_tenants<'a>(mut tenants: impl Iterator<Item = &'a str>) -> bool {
    let first = tenants.next();
    tenants.any(|t| Some(t) != first)
}

/// `account list --sort`: by name in natural order, connector, or state (enabled first); ties
/// by name. Reversed under `--desc`.
pub fn sort_accounts(accounts: &mut [Account], key: AccountSort, desc: bool) {
    accounts.sort_by(|a, b| {
        let o = match key {
            AccountSort::Name => Ordering::Equal,
            AccountSort::Connector => a.connector.cmp(&b.connector),
            AccountSort::State => b.enabled.cmp(&a.enabled),
        }
        .then_with(|| natural_cmp(&a.name, &b.name));
        if desc { o.reverse() } else { o }
    });
}

pub fn account_list(resp: &ListAccountsResponse) -> String {
    let tenants = several_tenants(resp.accounts.iter().map(|a| a.tenant.as_str()));
    let mut headers = vec!["NAME"];
    if tenants {
        headers.push("TENANT");
    }
    headers.extend([
        "ID",
        "CONNECTOR",
        "ENV",
        "HOST",
        "ENABLED",
        "BROKER",
        "LABELS",
        "KEY",
    ]);
    let mut t = Table::new(&headers);
    for a in &resp.accounts {
        let mut row = vec![a.name.clone()];
        if tenants {
            row.push(a.tenant.clone());
        }
        row.extend([
            a.id.clone(),
            or_dash(&a.connector),
            or_dash(&a.environment),
            a.host_url.clone(),
            yes_no(a.enabled),
            or_dash(&a.broker),
            labels(&a.labels),
            or_dash(&key_hints(a)),
        ]);
        t.row(row);
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

/// OpenAlgo's one key as its bare hint (as before venues); any other venue's fields as
/// `field=hint,...` in field order. Hints only: the daemon never sends a value.
fn key_hints(a: &Account) -> String {
    let openalgo = a.connector.is_empty() || a.connector == "openalgo";
    if (openalgo && !a.api_key_hint.is_empty()) || a.credential_hints.is_empty() {
        return a.api_key_hint.clone();
    }
    sorted_hints(a)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn sorted_hints(a: &Account) -> impl Iterator<Item = (&String, &String)> {
    let mut hints: Vec<(&String, &String)> = a.credential_hints.iter().collect();
    hints.sort();
    hints.into_iter()
}

pub fn account(a: &Account) -> String {
    let mut pairs = vec![
        ("name", a.name.clone()),
        ("id", a.id.clone()),
        ("connector", or_dash(&a.connector)),
        ("environment", or_dash(&a.environment)),
        ("host", a.host_url.clone()),
        ("ws", or_dash(&a.ws_url)),
        ("enabled", yes_no(a.enabled)),
        ("broker", or_dash(&a.broker)),
        ("mode", or_dash(&a.mode)),
        ("labels", or_dash(&labels(&a.labels))),
        ("api key", or_dash(&a.api_key_hint)),
    ];
    for (field, hint) in sorted_hints(a) {
        pairs.push(("credential", format!("{field}={hint}")));
    }
    pairs.extend([
        ("key id", or_dash(&a.key_id)),
        ("created", time(a.create_time.as_ref())),
        ("updated", time(a.update_time.as_ref())),
        ("etag", or_dash(&a.etag)),
    ]);
    kv(&pairs)
}

/// One block per venue: what its accounts need (credential fields, an environment and the host
/// it defaults to) and what they get (books, rate budget, currency, health probe).
pub fn venues(resp: &ListVenuesResponse) -> String {
    let mut out = String::new();
    for (i, v) in resp.venues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}  {}", v.connector, v.title);
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for f in &v.credential_fields {
            pairs.push((
                "credential",
                format!("{}: {}", f.name, or_dash(&f.description)),
            ));
        }
        for e in &v.environments {
            let host = if e.default_host_url.is_empty() {
                "(no default host: --host is required)".to_owned()
            } else {
                e.default_host_url.clone()
            };
            pairs.push(("environment", format!("{}  {host}", e.name)));
        }
        pairs.extend([
            ("books", or_dash(&v.books.join(", "))),
            ("rate budget", or_dash(&v.rate_budget)),
            ("currency", or_dash(&v.currency)),
            ("health probe", or_dash(&v.health_probe)),
        ]);
        for line in kv(&pairs).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if resp.venues.is_empty() {
        out.push_str("no venues\n");
    }
    out
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
    fn accounts_sort_naturally_by_name_connector_or_state() {
        let a = |name: &str, connector: &str, enabled: bool| Account {
            name: name.into(),
            connector: connector.into(),
            enabled,
            ..Default::default()
        };
        let all = vec![
            a("demo-10", "openalgo", true),
            a("demo-2", "alpaca", false),
            a("demo-1", "openalgo", false),
            a("Demo-3", "alpaca", true),
        ];
        let order = |key: AccountSort, desc: bool| {
            let mut v = all.clone();
            sort_accounts(&mut v, key, desc);
            v.into_iter().map(|a| a.name).collect::<Vec<_>>()
        };
        assert_eq!(
            order(AccountSort::Name, false),
            ["demo-1", "demo-2", "Demo-3", "demo-10"]
        );
        assert_eq!(
            order(AccountSort::Name, true),
            ["demo-10", "Demo-3", "demo-2", "demo-1"]
        );
        assert_eq!(
            order(AccountSort::Connector, false),
            ["demo-2", "Demo-3", "demo-1", "demo-10"]
        );
        assert_eq!(
            order(AccountSort::State, false),
            ["Demo-3", "demo-10", "demo-1", "demo-2"]
        );
    }

    #[test]
    fn a_tenant_column_appears_only_when_rows_span_tenants() {
        let acc = |name: &str, tenant: &str| Account {
            name: name.into(),
            id: format!("id-{name}"),
            tenant: tenant.into(),
            ..Default::default()
        };
        let one = account_list(&ListAccountsResponse {
            accounts: vec![acc("a", "alpha"), acc("b", "alpha")],
            ..Default::default()
        });
        assert!(!one.contains("TENANT"), "{one}");
        let two = account_list(&ListAccountsResponse {
            accounts: vec![acc("a", "alpha"), acc("b", "beta")],
            ..Default::default()
        });
        let lines: Vec<Vec<&str>> = two
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(&lines[0][..3], ["NAME", "TENANT", "ID"]);
        assert_eq!(&lines[2][..3], ["b", "beta", "id-b"]);
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
            [
                "NAME",
                "ID",
                "CONNECTOR",
                "ENV",
                "HOST",
                "ENABLED",
                "BROKER",
                "LABELS",
                "KEY"
            ]
        );
        assert!(lines[1].starts_with("acc1  "));
        assert!(lines[1].contains("b=2,desk=a") && lines[1].ends_with("ab12…9f3c"));
        assert_eq!(lines[2], "1 account");
        assert_eq!(
            account_list(&ListAccountsResponse::default()),
            "0 accounts\n"
        );
    }

    fn alpaca() -> Account {
        let mut a = Account {
            name: "alp1".into(),
            id: "0190-bb".into(),
            connector: "alpaca".into(),
            environment: "paper".into(),
            host_url: "https://paper-api.alpaca.markets".into(),
            enabled: true,
            ..Default::default()
        };
        a.credential_hints
            .insert("secret_key".into(), "abcd…wxyz".into());
        a.credential_hints
            .insert("key_id".into(), "PKTE…0001".into());
        a
    }

    #[test]
    fn account_list_shows_venue_environment_and_each_fields_hint() {
        let mut oa = Account {
            name: "oa1".into(),
            id: "0190-aa".into(),
            connector: "openalgo".into(),
            environment: "live".into(),
            host_url: "http://127.0.0.1:5000".into(),
            api_key_hint: "ab12…9f3c".into(),
            ..Default::default()
        };
        oa.credential_hints
            .insert("api_key".into(), "ab12…9f3c".into());
        let out = account_list(&ListAccountsResponse {
            accounts: vec![oa, alpaca()],
            ..Default::default()
        });
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[1],
            [
                "oa1",
                "0190-aa",
                "openalgo",
                "live",
                "http://127.0.0.1:5000",
                "no",
                "-",
                "ab12…9f3c"
            ],
            "{out}"
        );
        assert_eq!(rows[2][2..4], ["alpaca", "paper"], "{out}");
        assert_eq!(
            rows[2].last().copied(),
            Some("key_id=PKTE…0001,secret_key=abcd…wxyz"),
            "{out}"
        );
        // An older daemon: no connector, no hints map, the api_key hint as before.
        let old = Account {
            name: "old".into(),
            api_key_hint: "zz99…0000".into(),
            ..Default::default()
        };
        assert!(
            account_list(&ListAccountsResponse {
                accounts: vec![old],
                ..Default::default()
            })
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("zz99…0000")
        );
    }

    #[test]
    fn account_get_shows_one_line_per_credential_hint() {
        let out = account(&alpaca());
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&"connector:    alpaca"), "{out}");
        assert!(lines.contains(&"environment:  paper"), "{out}");
        let creds: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with("credential:"))
            .copied()
            .collect();
        assert_eq!(
            creds,
            [
                "credential:   key_id=PKTE…0001",
                "credential:   secret_key=abcd…wxyz"
            ],
            "{out}"
        );
    }

    #[test]
    fn venues_list_fields_environments_books_and_budget() {
        use roster_proto::v1::{CredentialField, Venue, VenueEnvironment};
        let field = |n: &str, d: &str| CredentialField {
            name: n.into(),
            description: d.into(),
        };
        let env = |n: &str, h: &str| VenueEnvironment {
            name: n.into(),
            default_host_url: h.into(),
        };
        let resp = ListVenuesResponse {
            venues: vec![
                Venue {
                    connector: "openalgo".into(),
                    title: "OpenAlgo".into(),
                    credential_fields: vec![field("api_key", "the instance's API key")],
                    environments: vec![env("live", "")],
                    books: vec!["funds".into(), "holdings".into()],
                    rate_budget: "8/s per host and endpoint".into(),
                    currency: "INR".into(),
                    health_probe: "POST /api/v1/ping".into(),
                },
                Venue {
                    connector: "alpaca".into(),
                    title: "Alpaca Trading API v2".into(),
                    credential_fields: vec![
                        field("key_id", "API key ID"),
                        field("secret_key", "API secret key"),
                    ],
                    environments: vec![
                        env("live", "https://api.alpaca.markets"),
                        env("paper", "https://paper-api.alpaca.markets"),
                    ],
                    books: vec!["funds".into(), "positions".into()],
                    rate_budget: "200 requests/min per API key".into(),
                    currency: "the account's currency (USD)".into(),
                    health_probe: "GET /v2/account".into(),
                },
            ],
        };
        let out = venues(&resp);
        let blocks: Vec<&str> = out.split("\n\n").collect();
        assert_eq!(blocks.len(), 2, "{out}");
        assert!(blocks[0].starts_with("openalgo  OpenAlgo\n"), "{out}");
        assert!(
            blocks[0].contains("(no default host: --host is required)"),
            "{out}"
        );
        let alpaca = blocks[1];
        for line in [
            "alpaca  Alpaca Trading API v2",
            "  credential:    key_id: API key ID",
            "  credential:    secret_key: API secret key",
            "  environment:   live  https://api.alpaca.markets",
            "  environment:   paper  https://paper-api.alpaca.markets",
            "  books:         funds, positions",
            "  rate budget:   200 requests/min per API key",
            "  currency:      the account's currency (USD)",
            "  health probe:  GET /v2/account",
        ] {
            assert!(alpaca.lines().any(|l| l == line), "no {line:?} in {out}");
        }
        assert_eq!(venues(&ListVenuesResponse::default()), "no venues\n");
    }
}
