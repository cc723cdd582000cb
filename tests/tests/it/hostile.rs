//! Hostile clients against the real daemon.
//!
//! - Property tests (bounded case counts) feed CreateAccount, UpdateAccount, ListAccounts, the
//!   portfolio RPCs and the by-name lookups random and boundary strings: empty, huge, unicode,
//!   RTL marks, control characters, NUL, URL schemes, credentials in URLs, selector syntax. The
//!   daemon never answers INTERNAL/UNKNOWN/UNAVAILABLE (no panic), answers INVALID_ARGUMENT with
//!   field violations for bad input, and a refused request changes nothing. Anything it accepts
//!   satisfies rules checked independently here (name charset, key charset, URL scheme).
//! - Messages over `[server] max_request_bytes` are refused on every service.
//! - A client holding hundreds of open streams plus stalled and garbage connections does not
//!   starve another client.
//! - A noisy principal hammering from many tasks gets RESOURCE_EXHAUSTED; a quiet one at the same
//!   time never does, and rate-limit refusals cost no audit writes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use prost::Message as _;
use roster_proto::pbjson_types::{Duration as PbDuration, FieldMask};
use roster_proto::v1 as pb;
use rosterd::pki::Role;
use tonic::Code;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account};

const MAX_REQUEST: usize = 256 * 1024;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    })
}

/// Random and boundary strings.
fn nasty() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("\0".to_string()),
        Just("ok\0name".to_string()),
        Just("\u{202e}gnp.exe".to_string()),
        Just("名前-アカウント".to_string()),
        Just("😀".repeat(17)),
        Just("a".repeat(64)),
        Just("a".repeat(65)),
        Just("k".repeat(256)),
        Just("k".repeat(257)),
        Just("z".repeat(100_000)),
        Just("\r\n\t\x1b[31m".to_string()),
        Just("../../../etc/passwd".to_string()),
        Just("javascript:alert(1)".to_string()),
        Just("file:///etc/passwd".to_string()),
        Just("http://".to_string()),
        Just("http://127.0.0.1:9".to_string()),
        Just("https://algo.example.com:5000/base".to_string()),
        Just("HTTP://127.0.0.1:9".to_string()),
        Just("http://user:pw@127.0.0.1:9".to_string()),
        Just("http://127.0.0.1:9/?apikey=x".to_string()),
        Just("http://127.0.0.1:9/#frag".to_string()),
        Just("http://[::1]:99999".to_string()),
        Just("ws://127.0.0.1:8765".to_string()),
        Just("gopher://127.0.0.1:70".to_string()),
        Just("desk=a,env=prod".to_string()),
        Just("=,=,".to_string()),
        Just("-leading-dash".to_string()),
        Just("acct-1".to_string()),
        "[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}",
        "[ -~]{0,40}",
        ".{0,48}",
        any::<String>(),
    ]
    .boxed()
}

fn labels() -> BoxedStrategy<HashMap<String, String>> {
    prop_oneof![
        3 => proptest::collection::hash_map("[a-z][a-z0-9._/-]{0,10}", "[a-z0-9._-]{0,10}", 0..4),
        1 => proptest::collection::hash_map(nasty(), nasty(), 0..3),
        1 => proptest::collection::hash_map("[a-z]{1,8}", "[a-z]{1,4}", 33..35),
    ]
    .boxed()
}

fn name_ok(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
}

fn key_ok(s: &str) -> bool {
    (1..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

fn url_ok(s: &str, schemes: &[&str]) -> bool {
    let lower = s.to_ascii_lowercase();
    schemes.iter().any(|sc| {
        lower
            .strip_prefix(&format!("{sc}://"))
            .is_some_and(|rest| !rest.is_empty())
    }) && !s.contains('@')
        && !s.contains('?')
        && !s.contains('#')
        && s.len() <= 2048
}

fn labels_ok(l: &HashMap<String, String>) -> bool {
    l.len() <= 32
        && l.iter().all(|(k, v)| {
            (1..=63).contains(&k.len())
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
                && v.len() <= 63
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
}

/// No handler may fail like this on any input.
fn not_a_crash(s: &tonic::Status) -> bool {
    !matches!(
        s.code(),
        Code::Internal | Code::Unknown | Code::Unavailable | Code::DataLoss
    )
}

/// INVALID_ARGUMENT carries at least one field violation.
fn has_violations(s: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    s.get_details_bad_request()
        .is_some_and(|b| !b.field_violations.is_empty())
}

fn start(pki: &Pki, state: &std::path::Path) -> Daemon {
    Daemon::start(
        pki,
        state,
        &DaemonOptions {
            extra_config: format!("[server]\nmax_request_bytes = {MAX_REQUEST}\n"),
            ..DaemonOptions::default()
        },
    )
}

#[test]
fn create_and_update_with_hostile_input_never_crash_and_refusals_change_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = start(&pki, state.path());
    let admin = pki.admin();
    let mut c = rt.block_on(d.accounts(&admin));
    let target = rt
        .block_on(c.create_account(new_account("target-1", "target-key-0123456789")))
        .unwrap()
        .into_inner();
    rt.block_on(c.create_account(new_account("acct-1", "other-key-0123456789")))
        .unwrap();

    // CreateAccount: (name, host, ws, key, labels, connector, request_id).
    let create = (
        nasty(),
        nasty(),
        prop_oneof![Just(String::new()), nasty()],
        nasty(),
        labels(),
        prop_oneof![Just(String::new()), Just("openalgo".to_string()), nasty()],
        prop_oneof![Just(String::new()), nasty()],
    );
    let accepted = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    runner(160)
        .run(
            &create,
            |(name, host, ws, key, labels, connector, request_id)| {
                rt.block_on(async {
                    let before = d.all_accounts(&admin).await;
                    let req = pb::CreateAccountRequest {
                        request_id: request_id.clone(),
                        name: name.clone(),
                        connector: connector.clone(),
                        host_url: host.clone(),
                        ws_url: ws.clone(),
                        api_key: key.clone(),
                        labels: labels.clone(),
                        enabled: Some(false),
                        ..Default::default()
                    };
                    // Up to three 100,000-character fields can exceed the request size limit.
                    let size = req.encoded_len();
                    match c.clone().create_account(req).await {
                        Ok(a) => {
                            let a = a.into_inner();
                            accepted.set(accepted.get() + 1);
                            prop_assert!(name_ok(&name), "accepted name {name:?}");
                            prop_assert!(key_ok(&key), "accepted key {key:?}");
                            prop_assert!(
                                url_ok(&host, &["http", "https"]),
                                "accepted host {host:?}"
                            );
                            prop_assert!(ws.is_empty() || url_ok(&ws, &["ws", "wss"]), "ws {ws:?}");
                            prop_assert!(labels_ok(&labels), "accepted labels {labels:?}");
                            prop_assert!(connector.is_empty() || connector == "openalgo");
                            let shown = format!("{a:?}");
                            prop_assert!(!shown.contains(&key), "key echoed: {shown}");
                            // Clean up so later cases see the same world.
                            c.clone()
                                .delete_account(pb::DeleteAccountRequest {
                                    account: a.id,
                                    etag: String::new(),
                                })
                                .await
                                .unwrap();
                        }
                        Err(s) => {
                            refused.set(refused.get() + 1);
                            prop_assert!(not_a_crash(&s), "create crashed: {s:?}");
                            if size > MAX_REQUEST {
                                prop_assert_eq!(s.code(), Code::OutOfRange, "oversized: {:?}", s);
                                let after = d.all_accounts(&admin).await;
                                prop_assert_eq!(before, after, "an oversized create changed data");
                                return Ok(());
                            }
                            prop_assert!(
                                matches!(
                                    s.code(),
                                    Code::InvalidArgument
                                        | Code::AlreadyExists
                                        | Code::FailedPrecondition
                                ),
                                "create: {s:?}"
                            );
                            if s.code() == Code::InvalidArgument {
                                prop_assert!(has_violations(&s), "no field violations: {s:?}");
                            }
                            let after = d.all_accounts(&admin).await;
                            prop_assert_eq!(before, after, "a refused create changed the accounts");
                        }
                    }
                    Ok(())
                })
            },
        )
        .unwrap();
    let refused = refused.get();
    assert!(refused > 50, "most hostile creates are refused ({refused})");

    // A valid request with exactly one bad field is refused naming that field.
    let bad_one = prop_oneof![
        Just(("name", "")),
        Just(("name", "-x")),
        Just(("name", "a\0b")),
        Just(("host_url", "ftp://127.0.0.1")),
        Just(("host_url", "http://u:p@127.0.0.1:9")),
        Just(("ws_url", "http://127.0.0.1:9")),
        Just(("api_key", "has space in it")),
        Just(("api_key", "nul\0inside")),
        Just(("api_key", "")),
        Just(("connector", "kraken")),
    ];
    runner(40)
        .run(
            &(bad_one, "[a-z][a-z0-9]{3,20}"),
            |((field, value), name)| {
                rt.block_on(async {
                    let mut req = new_account(&format!("ok-{name}"), "good-key-0123456789");
                    match field {
                        "name" => req.name = value.into(),
                        "host_url" => req.host_url = value.into(),
                        "ws_url" => req.ws_url = value.into(),
                        "api_key" => req.api_key = value.into(),
                        _ => req.connector = value.into(),
                    }
                    let s = c.clone().create_account(req).await.unwrap_err();
                    prop_assert_eq!(s.code(), Code::InvalidArgument, "{:?}", s);
                    use tonic_types::StatusExt;
                    let fields: Vec<String> = s
                        .get_details_bad_request()
                        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
                        .unwrap_or_default();
                    prop_assert_eq!(fields, vec![field.to_string()]);
                    Ok(())
                })
            },
        )
        .unwrap();

    // UpdateAccount: random masks and values against one account.
    let path = prop_oneof![
        Just("name".to_string()),
        Just("host_url".to_string()),
        Just("ws_url".to_string()),
        Just("labels".to_string()),
        Just("enabled".to_string()),
        Just("api_key".to_string()),
        Just("account.name".to_string()),
        Just("id".to_string()),
        Just("etag".to_string()),
        Just("create_time".to_string()),
        Just(String::new()),
        Just("NAME".to_string()),
        nasty(),
    ];
    let update = (
        proptest::collection::vec(path, 0..4),
        nasty(),
        nasty(),
        nasty(),
        labels(),
        any::<bool>(),
        prop_oneof![Just(0u8), Just(1u8), Just(2u8)],
    );
    let updated = std::cell::Cell::new(0u32);
    runner(160)
        .run(
            &update,
            |(paths, name, host, key, labels, enabled, etag_kind)| {
                rt.block_on(async {
                    let before = c
                        .clone()
                        .get_account(pb::GetAccountRequest {
                            account: target.id.clone(),
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    let etag = match etag_kind {
                        0 => String::new(),
                        1 => before.etag.clone(),
                        _ => format!("{}x", before.etag),
                    };
                    let req = pb::UpdateAccountRequest {
                        account: Some(pb::Account {
                            id: target.id.clone(),
                            name: name.clone(),
                            host_url: host.clone(),
                            ws_url: host.clone(),
                            labels: labels.clone(),
                            enabled,
                            etag,
                            ..Default::default()
                        }),
                        update_mask: Some(FieldMask {
                            paths: paths.clone(),
                        }),
                        api_key: key.clone(),
                        ..Default::default()
                    };
                    let all_before = d.all_accounts(&admin).await;
                    let size = req.encoded_len();
                    match c.clone().update_account(req).await {
                        Ok(a) => {
                            let a = a.into_inner();
                            updated.set(updated.get() + 1);
                            let has = |p: &str| {
                                paths.iter().any(|x| x == p || *x == format!("account.{p}"))
                            };
                            prop_assert!(etag_kind != 2, "a wrong etag was accepted");
                            if has("name") {
                                prop_assert!(name_ok(&name));
                                prop_assert_eq!(&a.name, &name);
                            } else {
                                prop_assert_eq!(&a.name, &before.name);
                            }
                            if has("host_url") {
                                prop_assert!(url_ok(&host, &["http", "https"]));
                                // Stored normalised: scheme and host lower-cased, no trailing /.
                                prop_assert!(
                                    a.host_url.eq_ignore_ascii_case(host.trim_end_matches('/')),
                                    "stored {:?} for {host:?}",
                                    a.host_url
                                );
                            }
                            if has("ws_url") {
                                prop_assert!(host.is_empty() || url_ok(&host, &["ws", "wss"]));
                            }
                            if has("labels") {
                                prop_assert!(labels_ok(&labels));
                                prop_assert_eq!(&a.labels, &labels);
                            }
                            if has("api_key") {
                                prop_assert!(key_ok(&key), "accepted key {key:?}");
                            }
                            prop_assert!(!paths.is_empty());
                        }
                        Err(s) => {
                            prop_assert!(not_a_crash(&s), "update crashed: {s:?}");
                            if size > MAX_REQUEST {
                                prop_assert_eq!(s.code(), Code::OutOfRange, "oversized: {:?}", s);
                                return Ok(());
                            }
                            prop_assert!(
                                matches!(
                                    s.code(),
                                    Code::InvalidArgument | Code::AlreadyExists | Code::Aborted
                                ),
                                "update: {s:?}"
                            );
                            let all_after = d.all_accounts(&admin).await;
                            prop_assert_eq!(all_before, all_after, "a refused update changed data");
                        }
                    }
                    Ok(())
                })
            },
        )
        .unwrap();
    eprintln!(
        "hostile create/update: {} creates and {} updates accepted",
        accepted.get(),
        updated.get()
    );
    assert!(d.stderr().matches("panicked").count() == 0);
}

#[test]
fn reads_lookups_and_portfolio_with_hostile_input_never_crash() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = start(&pki, state.path());
    let admin = pki.admin();
    let (a, m, p) = rt.block_on(async {
        let mut a = d.accounts(&admin).await;
        for i in 0..3 {
            let mut req = new_account(&format!("keep-{i}"), "keep-key-0123456789");
            req.labels = HashMap::from([("desk".into(), "a".into())]);
            a.create_account(req).await.unwrap();
        }
        (a, d.monitor(&admin).await, d.portfolio(&admin).await)
    });
    let before = rt.block_on(d.all_accounts(&admin));
    let list = (
        any::<i32>(),
        prop_oneof![Just(String::new()), nasty()],
        prop_oneof![Just(String::new()), nasty()],
        proptest::option::of(any::<bool>()),
        prop_oneof![0..7i32, any::<i32>()],
    );
    runner(128)
        .run(&list, |(page_size, token, selector, enabled, state)| {
            rt.block_on(async {
                let req = pb::ListAccountsRequest {
                    page_size,
                    page_token: token,
                    label_selector: selector,
                    enabled,
                    state,
                };
                let size = req.encoded_len();
                let r = a.clone().list_accounts(req).await;
                match r {
                    Ok(r) => {
                        let n = r.into_inner().accounts.len();
                        if page_size > 0 {
                            prop_assert!(n <= usize::try_from(page_size).unwrap());
                        }
                    }
                    Err(s) if size > MAX_REQUEST => {
                        prop_assert_eq!(s.code(), Code::OutOfRange, "{:?}", s);
                    }
                    Err(s) => {
                        prop_assert_eq!(s.code(), Code::InvalidArgument, "{:?}", s);
                        prop_assert!(has_violations(&s));
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    let duration = proptest::option::of((any::<i64>(), any::<i32>()));
    let portfolio = (
        proptest::collection::vec(nasty(), 0..3),
        prop_oneof![Just(String::new()), nasty()],
        duration,
        any::<bool>(),
        prop_oneof![Just(String::new()), nasty()],
        0..5u8,
    );
    runner(128)
        .run(
            &portfolio,
            |(accounts, selector, staleness, refresh, status, rpc)| {
                rt.block_on(async {
                    let req = pb::PortfolioRequest {
                        accounts,
                        label_selector: selector,
                        max_staleness: staleness
                            .map(|(seconds, nanos)| PbDuration { seconds, nanos }),
                        refresh,
                        status,
                    };
                    let mut p = p.clone();
                    let r = match rpc {
                        0 => p.get_funds(req).await.map(|_| ()),
                        1 => p.get_positions(req).await.map(|_| ()),
                        2 => p.get_orders(req).await.map(|_| ()),
                        3 => p.get_trades(req).await.map(|_| ()),
                        _ => p.get_holdings(req).await.map(|_| ()),
                    };
                    if let Err(s) = r {
                        prop_assert!(
                            matches!(s.code(), Code::InvalidArgument | Code::NotFound),
                            "portfolio rpc {rpc}: {s:?}"
                        );
                    }
                    Ok(())
                })
            },
        )
        .unwrap();
    // Lookups by id or name: never a crash, never a hit on a name nobody made, never a delete.
    runner(96)
        .run(&nasty(), |s| {
            rt.block_on(async {
                let exists = before.iter().any(|x| x.id == s || x.name == s);
                let got = a
                    .clone()
                    .get_account(pb::GetAccountRequest { account: s.clone() })
                    .await;
                prop_assert_eq!(got.is_ok(), exists, "{:?}", got);
                let h = m
                    .clone()
                    .get_health(pb::GetHealthRequest { account: s.clone() })
                    .await;
                prop_assert!(h.is_ok() == exists, "{h:?}");
                let mut mm = m.clone();
                if let Err(e) = mm
                    .check_now(pb::CheckNowRequest { account: s.clone() })
                    .await
                {
                    prop_assert!(not_a_crash(&e), "{e:?}");
                }
                if !exists {
                    let e = a
                        .clone()
                        .delete_account(pb::DeleteAccountRequest {
                            account: s.clone(),
                            etag: s.clone(),
                        })
                        .await
                        .unwrap_err();
                    prop_assert!(
                        matches!(e.code(), Code::NotFound | Code::InvalidArgument),
                        "{e:?}"
                    );
                }
                Ok(())
            })
        })
        .unwrap();
    assert_eq!(rt.block_on(d.all_accounts(&admin)), before);
    assert!(d.is_running());
    assert_eq!(d.stderr().matches("panicked").count(), 0);
}

#[tokio::test]
async fn messages_over_the_size_limit_are_refused_on_every_service() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = start(&pki, state.path());
    let admin = pki.admin();
    let mut a = d.accounts(&admin).await;
    let acct = a
        .create_account(new_account("sized-1", "sized-key-0123456789"))
        .await
        .unwrap()
        .into_inner();
    let big = "x".repeat(MAX_REQUEST + 1024);
    let too_big =
        |s: &tonic::Status| matches!(s.code(), Code::OutOfRange | Code::ResourceExhausted);
    let mut refusals = vec![
        a.create_account(new_account(&big, "k1234567890"))
            .await
            .unwrap_err(),
        a.update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: acct.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["api_key".into()],
            }),
            api_key: big.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        a.list_accounts(pb::ListAccountsRequest {
            label_selector: big.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        d.portfolio(&admin)
            .await
            .get_funds(pb::PortfolioRequest {
                accounts: vec![big.clone()],
                ..Default::default()
            })
            .await
            .unwrap_err(),
        d.monitor(&admin)
            .await
            .check_now(pb::CheckNowRequest {
                account: big.clone(),
            })
            .await
            .unwrap_err(),
    ];
    // Many small fields adding up to too much.
    let mut many = new_account("sized-2", "k1234567890");
    many.labels = (0..40_000).map(|i| (format!("k{i}"), "v".into())).collect();
    refusals.push(a.create_account(many).await.unwrap_err());
    for s in &refusals {
        assert!(too_big(s), "{s:?}");
    }
    // Just under the limit is decoded (and then refused on content, not size).
    let s = a
        .create_account(new_account(&"y".repeat(MAX_REQUEST - 1024), "k1234567890"))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
    let all = d.all_accounts(&admin).await;
    assert_eq!(all, vec![acct]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_streams_and_stalled_connections_do_not_starve_another_client() {
    use tokio::io::AsyncWriteExt;
    let pki = Pki::new();
    let (hog, _) = pki.issue("hog", Role::Viewer);
    let (victim, _) = pki.issue("victim", Role::Operator);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            extra_config: "[server]\nhandshake_timeout = \"3s\"\n".into(),
            ..DaemonOptions::default()
        },
    );
    // The hog: 4 connections x 120 open WatchEvents streams, 100 TCP connections that never
    // start TLS, and 50 that send garbage.
    let mut streams = Vec::new();
    for _ in 0..4 {
        let ch = d.channel(&hog).await.unwrap();
        for _ in 0..120 {
            let mut m = pb::monitor_service_client::MonitorServiceClient::new(ch.clone());
            let s = tokio::time::timeout(
                Duration::from_secs(10),
                m.watch_events(pb::WatchEventsRequest {
                    from_sequence: 0,
                    ..Default::default()
                }),
            )
            .await
            .expect("opening a stream hung")
            .unwrap()
            .into_inner();
            streams.push(s);
        }
    }
    let mut stalled = Vec::new();
    for i in 0..150 {
        let mut s = tokio::net::TcpStream::connect(d.addr).await.unwrap();
        if i >= 100 {
            let _ = s
                .write_all(b"\x16\x03\x01\xff\xffGARBAGE not tls at all\r\n")
                .await;
        }
        stalled.push(s);
    }
    assert_eq!(streams.len(), 480);

    // The victim is served promptly: reads, a write, and its own event stream.
    let mut c = d.accounts(&victim).await;
    let mut m = d.monitor(&victim).await;
    let mut mine = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let t = Instant::now();
        c.list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap();
        if i == 10 {
            c.create_account(new_account("victim-1", "victim-key-0123456789"))
                .await
                .unwrap();
        }
        worst = worst.max(t.elapsed());
    }
    assert!(
        worst < Duration::from_secs(2),
        "slowest victim call {worst:?}"
    );
    let ev = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let e = mine.message().await.unwrap().unwrap();
            if e.kind == pb::EventKind::AccountCreated as i32 {
                return e;
            }
        }
    })
    .await
    .expect("the victim's stream got its event");
    assert_eq!(ev.account_name, "victim-1");
    // The hog's streams are alive too (served, not dropped): a sample sees the same event.
    for s in streams.iter_mut().step_by(60) {
        let e = tokio::time::timeout(Duration::from_secs(5), s.message())
            .await
            .expect("a hog stream is stuck")
            .unwrap()
            .unwrap();
        assert!(e.kind == pb::EventKind::AccountCreated as i32 || e.sequence == 0);
    }
    drop(stalled);
    assert!(!d.stderr().contains("panicked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hammering_principal_is_throttled_while_a_quiet_one_is_not() {
    let pki = Pki::new();
    let (noisy, _) = pki.issue("noisy-bot", Role::Viewer);
    let (quiet, _) = pki.issue("quiet-dash", Role::Viewer);
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            requests_per_second: 20,
            burst: 20,
            ..Default::default()
        },
    );
    let audit_before = d.all_audit(&pki.admin()).await.len();
    let run = Duration::from_secs(2);
    let ch = d.channel(&noisy).await.unwrap();
    let mut hammers = Vec::new();
    for _ in 0..8 {
        let mut c = pb::account_service_client::AccountServiceClient::new(ch.clone());
        hammers.push(tokio::spawn(async move {
            let (mut ok, mut exhausted, mut other) = (0u32, 0u32, Vec::new());
            let end = Instant::now() + run;
            while Instant::now() < end {
                match c.list_accounts(pb::ListAccountsRequest::default()).await {
                    Ok(_) => ok += 1,
                    Err(s) if s.code() == Code::ResourceExhausted => exhausted += 1,
                    Err(s) => other.push(s),
                }
            }
            (ok, exhausted, other)
        }));
    }
    let mut q = d.accounts(&quiet).await;
    let end = Instant::now() + run;
    let mut quiet_calls = 0;
    while Instant::now() < end {
        q.list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap_or_else(|s| panic!("the quiet client was refused: {s:?}"));
        quiet_calls += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut ok, mut exhausted) = (0, 0);
    for h in hammers {
        let (o, e, other) = h.await.unwrap();
        assert!(other.is_empty(), "{other:?}");
        ok += o;
        exhausted += e;
    }
    assert!(quiet_calls >= 8);
    assert!(
        exhausted > 100,
        "the noisy client was throttled ({exhausted})"
    );
    // Burst 20 + 20/s for ~2 s (+ slack for timing): the limit really holds.
    assert!(ok <= 20 + 20 * 3, "{ok} noisy calls got through");
    let audit_after = d.all_audit(&pki.admin()).await.len();
    assert_eq!(
        audit_after, audit_before,
        "rate-limit refusals are not written to disk"
    );
}

/// Regression: bad input of 100 KB used to be echoed whole into the error (`grpc-message` and
/// the BadRequest details travel as HTTP/2 headers), which overflowed the client's header-list
/// limit: the client saw RESOURCE_EXHAUSTED "header_list_way_too_large" instead of
/// INVALID_ARGUMENT, and the GOAWAY killed every other call on the same connection.
#[tokio::test]
async fn huge_bad_input_is_invalid_argument_and_the_connection_survives() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = start(&pki, state.path());
    let ch = d.channel(&pki.admin()).await.unwrap();
    let mut a = pb::account_service_client::AccountServiceClient::new(ch.clone());
    let mut m = pb::monitor_service_client::MonitorServiceClient::new(ch);
    // A live stream on the same connection must outlive the bad calls.
    let mut watch = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let huge = "z".repeat(100_000);
    let mut bad_labels = new_account("ok-name", "good-key-0123456789");
    bad_labels.labels = HashMap::from([(huge.clone(), "v".into())]);
    let mut bad_scheme = new_account("ok-name", "good-key-0123456789");
    bad_scheme.host_url = format!("{huge}://127.0.0.1:9");
    let statuses = vec![
        a.list_accounts(pb::ListAccountsRequest {
            label_selector: huge.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        a.create_account(bad_labels).await.unwrap_err(),
        a.create_account(bad_scheme).await.unwrap_err(),
        a.get_account(pb::GetAccountRequest {
            account: huge.clone(),
        })
        .await
        .unwrap_err(),
        m.check_now(pb::CheckNowRequest {
            account: huge.clone(),
        })
        .await
        .unwrap_err(),
    ];
    let codes: Vec<Code> = statuses.iter().map(|s| s.code()).collect();
    assert_eq!(
        codes,
        [
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::InvalidArgument,
            Code::NotFound,
            Code::NotFound
        ],
        "{:?}",
        statuses
            .iter()
            .map(|s| s.message().chars().take(200).collect::<String>())
            .collect::<Vec<_>>()
    );
    for s in &statuses {
        assert!(
            s.message().len() < 2048,
            "error echoes {} bytes",
            s.message().len()
        );
    }
    // Same connection, still serving: a write, and the open stream sees its event.
    a.create_account(new_account("after-1", "after-key-0123456789"))
        .await
        .unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let e = watch.message().await.unwrap().unwrap();
            if e.kind == pb::EventKind::AccountCreated as i32 {
                return e;
            }
        }
    })
    .await
    .expect("the stream on the same connection survived");
    assert_eq!(ev.account_name, "after-1");
}
