//! Hostile account input and audit coverage, end to end: URLs that parsers read differently
//! and names in an account id's shape are INVALID_ARGUMENT naming the field and change nothing;
//! good URLs are stored normalised; an ad-hoc TestConnection (an unsaved key sent wherever the
//! caller says) is in the audit log with its host; the audit log stays within its retention.

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account, text};

const KEY: &str = "HOSTILE-input-key-9a8b7c6d5e4f";

/// URLs every parser does not read the same way, or that carry what must not be stored.
const BAD_URLS: &[&str] = &[
    "http://127.0.0.1:9\r\nX-Injected: 1",
    "http://127.0.0.1:9/\n",
    " http://127.0.0.1:9",
    "http://127.0.0.1:9 ",
    "http://127.0.0.1:9/a b",
    "http://127.0.0.1\t:9",
    "http:\\\\127.0.0.1:9\\",
    "http://evil.example\\@127.0.0.1:9",
    "http://user:pass@127.0.0.1:9",
    "http://@127.0.0.1:9",
    "http:127.0.0.1:9",
    "http:/127.0.0.1:9",
    "http://127.0.0.1:9/#frag",
    "http://127.0.0.1:9/?apikey=x",
    "http://127.0.0.1:9\u{202e}",
    "http://bücher.example",
    "ftp://127.0.0.1:9",
];

fn violated_fields(err: &tonic::Status) -> Vec<String> {
    err.get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn tricky_urls_and_id_like_names_are_invalid_argument_and_change_nothing() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let base = c
        .create_account(new_account("base", KEY))
        .await
        .unwrap()
        .into_inner();
    let accounts_before = d.all_accounts(&pki.admin()).await;
    let audit_before = d.all_audit(&pki.admin()).await.len();

    for (i, url) in BAD_URLS.iter().enumerate() {
        let name = format!("bad-{i}");
        let err = c
            .create_account(pb::CreateAccountRequest {
                host_url: (*url).into(),
                ..new_account(&name, KEY)
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "create {url:?}: {err:?}");
        assert_eq!(violated_fields(&err), ["host_url"], "create {url:?}");
        assert!(!err.message().contains(KEY));

        let ws = url.replacen("http", "ws", 1);
        let err = c
            .create_account(pb::CreateAccountRequest {
                ws_url: ws.clone(),
                ..new_account(&name, KEY)
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "ws_url {ws:?}: {err:?}");
        assert_eq!(violated_fields(&err), ["ws_url"], "ws_url {ws:?}");

        let err = c
            .update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account {
                    id: base.id.clone(),
                    etag: base.etag.clone(),
                    host_url: (*url).into(),
                    ..Default::default()
                }),
                update_mask: mask(&["host_url"]),
                api_key: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "update {url:?}: {err:?}");
        assert_eq!(
            violated_fields(&err),
            ["account.host_url"],
            "update {url:?}"
        );

        let err = c
            .test_connection(pb::TestConnectionRequest {
                host_url: (*url).into(),
                api_key: KEY.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "test {url:?}: {err:?}");
        assert_eq!(violated_fields(&err), ["host_url"], "test {url:?}");
    }

    // A name in an account id's shape (any spelling a UUID parser takes) could pass for another
    // account wherever an id or a name is accepted.
    for name in [
        base.id.clone(),
        base.id.to_uppercase(),
        base.id.replace('-', ""),
        "0190b6a4-7c2e-7d3f-9a1b-2c3d4e5f6a7b".to_string(),
    ] {
        let err = c.create_account(new_account(&name, KEY)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "name {name:?}: {err:?}");
        assert_eq!(violated_fields(&err), ["name"], "name {name:?}");
        let err = c
            .update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account {
                    id: base.id.clone(),
                    etag: base.etag.clone(),
                    name: name.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["name"]),
                api_key: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "rename {name:?}: {err:?}"
        );
        assert_eq!(violated_fields(&err), ["account.name"], "rename {name:?}");
    }

    // Through rosterctl too: refused, nothing printed about the key.
    for url in [
        "http://u:p@127.0.0.1:9",
        "http://127.0.0.1:9/#x",
        "http:\\\\h",
    ] {
        let o = d.ctl(
            &pki.admin(),
            &[
                "account",
                "add",
                "--name",
                "via-cli",
                "--host",
                url,
                "--api-key-stdin",
            ],
            &format!("{KEY}\n"),
        );
        let (out, err) = text(&o);
        assert!(!o.status.success(), "{url:?} accepted: {out}");
        assert!(err.contains("host_url"), "{url:?}: {err}");
        assert!(!out.contains(KEY) && !err.contains(KEY));
    }

    // Nothing changed: the same accounts, and no audit record of a change.
    assert_eq!(d.all_accounts(&pki.admin()).await, accounts_before);
    assert_eq!(d.all_audit(&pki.admin()).await.len(), audit_before);
}

#[tokio::test]
async fn urls_are_stored_normalised() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let a = c
        .create_account(pb::CreateAccountRequest {
            host_url: "HTTP://LocalHost:80/Algo/".into(),
            ws_url: "WS://LocalHost:80/ws/".into(),
            ..new_account("normal", KEY)
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.host_url, "http://localhost/Algo");
    assert_eq!(a.ws_url, "ws://localhost/ws");
    let a = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                etag: a.etag.clone(),
                host_url: "https://Algo.Example.COM:443/".into(),
                ..Default::default()
            }),
            update_mask: mask(&["host_url"]),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.host_url, "https://algo.example.com");
    // As read back, and through the CLI, which resolves the name.
    let got = c
        .get_account(pb::GetAccountRequest {
            account: "normal".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.host_url, "https://algo.example.com");
    let o = d.ctl(
        &pki.admin(),
        &["account", "get", "normal", "-o", "json"],
        "",
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("\"https://algo.example.com\""), "{out}");
}

#[tokio::test]
async fn an_adhoc_connection_test_is_audited_with_its_host_and_never_its_key() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    // Nothing listens on the discard port: the test fails fast, and is audited all the same.
    let o = d.ctl(
        &pki.admin(),
        &[
            "account",
            "test",
            "--host",
            "HTTP://127.0.0.1:9/",
            "--api-key-stdin",
        ],
        &format!("{KEY}\n"),
    );
    assert!(!o.status.success(), "nothing listens there: {:?}", text(&o));

    let o = d.ctl(&pki.admin(), &["audit", "--limit", "10", "-o", "json"], "");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(!out.contains(KEY), "the key is in the audit log: {out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tests: Vec<&serde_json::Value> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "account.test")
        .collect();
    assert_eq!(tests.len(), 1, "{out}");
    let t = tests[0];
    assert_eq!(t["principal"], "admin", "{t}");
    assert_eq!(t["target"], "host http://127.0.0.1:9", "{t}");
    let outcome = t["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("failed;") && outcome.contains("CONNECT"),
        "{outcome}"
    );
    // The text form shows the host too.
    let o = d.ctl(&pki.admin(), &["audit"], "");
    let (out, _) = text(&o);
    assert!(out.contains("host http://127.0.0.1:9"), "{out}");
}

#[tokio::test]
async fn audit_records_beyond_the_retention_are_dropped_oldest_first() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    d.stop();
    let config = std::fs::read_to_string(d.config_path()).unwrap();
    let config = config.replacen("[store]\n", "[store]\naudit_retention_count = 5\n", 1);
    std::fs::write(d.config_path(), config).unwrap();
    d.restart();

    let mut c = d.accounts(&pki.admin()).await;
    for i in 0..12 {
        c.create_account(new_account(&format!("kept-{i}"), KEY))
            .await
            .unwrap();
    }
    let audit = d.all_audit(&pki.admin()).await;
    assert_eq!(audit.len(), 5, "{audit:#?}");
    // The newest five, newest first: the creates of kept-11 down to kept-7.
    let targets: Vec<String> = audit
        .iter()
        .map(|e| e.target.rsplit('(').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        targets,
        ["kept-11)", "kept-10)", "kept-9)", "kept-8)", "kept-7)"]
    );
    // Sequences go on from where they were; only the oldest went.
    assert!(audit.windows(2).all(|w| w[0].sequence == w[1].sequence + 1));
    // Still serving, still bounded after more records of other kinds.
    let any = c
        .get_account(pb::GetAccountRequest {
            account: "kept-0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    c.test_connection(pb::TestConnectionRequest {
        account: any.id,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(d.all_audit(&pki.admin()).await.len(), 5);
}
