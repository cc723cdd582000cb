//! AccountService end to end: round trips, restart, idempotency, bad input, secrecy.

use std::collections::HashMap;

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use tonic::Code;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account};

const KEY_A: &str = "ALPHA-key-7f3c9e1d2b4a6f80";
const KEY_B: &str = "BRAVO-key-0011223344556677";

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn create_get_list_update_delete_round_trip_survives_restart() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;

    let mut req = new_account("desk-a-1", KEY_A);
    req.labels = HashMap::from([("desk".to_string(), "a".to_string())]);
    req.ws_url = "ws://127.0.0.1:8765".into();
    let a = c.create_account(req).await.unwrap().into_inner();
    assert_eq!(a.name, "desk-a-1");
    assert_eq!(a.connector, "openalgo");
    assert_eq!(a.api_key_hint, "ALPH…6f80");
    assert!(a.enabled);
    assert!(!a.etag.is_empty() && !a.id.is_empty() && a.create_time.is_some());
    let b = c
        .create_account(new_account("desk-b-1", KEY_B))
        .await
        .unwrap()
        .into_inner();

    // Get by id and by name.
    let by_id = c
        .get_account(pb::GetAccountRequest {
            account: a.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let by_name = c
        .get_account(pb::GetAccountRequest {
            account: "desk-a-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id, a);
    assert_eq!(by_name, a);

    // List with a label filter, and paging with page_size 1.
    let list = c
        .list_accounts(pb::ListAccountsRequest {
            label_selector: "desk=a".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        list.accounts
            .iter()
            .map(|x| x.name.as_str())
            .collect::<Vec<_>>(),
        ["desk-a-1"]
    );
    let p1 = c
        .list_accounts(pb::ListAccountsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p1.accounts.len(), 1);
    assert_eq!(p1.total_size, 2);
    assert!(!p1.next_page_token.is_empty());
    let p2 = c
        .list_accounts(pb::ListAccountsRequest {
            page_size: 1,
            page_token: p1.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p2.accounts.len(), 1);
    assert_ne!(p1.accounts[0].id, p2.accounts[0].id);
    assert!(p2.next_page_token.is_empty());

    // Update with a field mask and the current etag; a stale etag is ABORTED.
    let updated = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                host_url: "https://algo.example.com".into(),
                enabled: false,
                etag: a.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["host_url", "enabled"]),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.host_url, "https://algo.example.com");
    assert!(!updated.enabled);
    assert_eq!(updated.name, "desk-a-1", "fields outside the mask are kept");
    assert_ne!(updated.etag, a.etag);
    let stale = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                name: "renamed".into(),
                etag: a.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["name"]),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    // Pages are served from cached encodings of each account: a page listed before the update
    // must not come back unchanged after it.
    let listed = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.accounts.contains(&updated), "{listed:?}");

    // Delete b; it is gone.
    c.delete_account(pb::DeleteAccountRequest {
        account: b.id.clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    let gone = c
        .get_account(pb::GetAccountRequest {
            account: b.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let listed = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.accounts, vec![updated.clone()]);

    // Restart on the same state dir: the same accounts come back, field for field.
    drop(c);
    d.restart();
    let mut c = d.accounts(&pki.admin()).await;
    let after = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.accounts, vec![updated]);
}

#[tokio::test]
async fn retried_create_with_the_same_request_id_makes_one_account() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let mut req = new_account("retry-me", KEY_A);
    req.request_id = "req-123".into();
    let first = c.create_account(req.clone()).await.unwrap().into_inner();
    let second = c.create_account(req.clone()).await.unwrap().into_inner();
    assert_eq!(first, second);
    // Concurrent retries too.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let mut c = c.clone();
        let req = req.clone();
        handles.push(tokio::spawn(async move {
            c.create_account(req).await.map(|r| r.into_inner().id)
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap(), first.id);
    }
    let list = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts.len(), 1);
    // A new request id with the same name is a duplicate name.
    req.request_id = "req-124".into();
    assert_eq!(
        c.create_account(req).await.unwrap_err().code(),
        Code::AlreadyExists
    );
}

#[tokio::test]
async fn bad_input_is_refused_with_invalid_argument_and_changes_nothing() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let base = c
        .create_account(new_account("existing", KEY_A))
        .await
        .unwrap()
        .into_inner();
    let db_before = d.db_bytes().len();

    let cases: Vec<(&str, pb::CreateAccountRequest, Code)> = vec![
        ("empty name", new_account("", KEY_B), Code::InvalidArgument),
        (
            "long name",
            new_account(&"n".repeat(65), KEY_B),
            Code::InvalidArgument,
        ),
        (
            "bad charset",
            new_account("semi;colon", KEY_B),
            Code::InvalidArgument,
        ),
        ("empty key", new_account("k1", ""), Code::InvalidArgument),
        (
            "long key",
            new_account("k2", &"k".repeat(257)),
            Code::InvalidArgument,
        ),
        (
            "control char key",
            new_account("k3", "abc\u{7}def"),
            Code::InvalidArgument,
        ),
        (
            "javascript url",
            pb::CreateAccountRequest {
                host_url: "javascript:alert(1)".into(),
                ..new_account("u1", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "no scheme",
            pb::CreateAccountRequest {
                host_url: "127.0.0.1:5000".into(),
                ..new_account("u2", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "creds in url",
            pb::CreateAccountRequest {
                host_url: "http://u:p@h".into(),
                ..new_account("u3", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "http ws url",
            pb::CreateAccountRequest {
                ws_url: "http://h".into(),
                ..new_account("u4", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "bad label key",
            pb::CreateAccountRequest {
                labels: HashMap::from([("".into(), "x".into())]),
                ..new_account("l1", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "bad label value",
            pb::CreateAccountRequest {
                labels: HashMap::from([("k".into(), "<b>".into())]),
                ..new_account("l2", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "unknown connector",
            pb::CreateAccountRequest {
                connector: "alpaca".into(),
                ..new_account("c1", KEY_B)
            },
            Code::InvalidArgument,
        ),
        (
            "duplicate name",
            new_account("existing", KEY_B),
            Code::AlreadyExists,
        ),
    ];
    for (what, req, code) in cases {
        let err = c.create_account(req).await.unwrap_err();
        assert_eq!(err.code(), code, "{what}: {err:?}");
        assert!(!err.message().is_empty(), "{what}: the error says why");
        assert!(
            !err.message().contains(KEY_B),
            "{what}: the key is not echoed"
        );
    }

    // Every bad field is named in google.rpc.BadRequest details.
    use tonic_types::StatusExt;
    let err = c
        .create_account(pb::CreateAccountRequest {
            host_url: "javascript:x".into(),
            ..new_account("", "")
        })
        .await
        .unwrap_err();
    let fields: Vec<String> = err
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["name", "host_url", "api_key"]);

    // Updates: bad mask, bad value, unknown account, bad page token.
    let bad_mask = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: base.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["api_key_hint"]),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_mask.code(), Code::InvalidArgument, "{bad_mask:?}");
    // A field named twice is refused, not half-applied (api_key twice once set, then cleared,
    // the key and still answered OK).
    let twice = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: base.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["api_key", "account.api_key"]),
            api_key: "k".repeat(5000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::InvalidArgument, "{twice:?}");
    assert!(twice.message().contains("more than once"), "{twice:?}");
    let empty_mask = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: base.id.clone(),
                ..Default::default()
            }),
            update_mask: None,
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(empty_mask.code(), Code::InvalidArgument);
    let bad_url = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: base.id.clone(),
                host_url: "file:///etc/passwd".into(),
                ..Default::default()
            }),
            update_mask: mask(&["host_url"]),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_url.code(), Code::InvalidArgument);
    let missing = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: "no-such-account".into(),
                ..Default::default()
            }),
            update_mask: mask(&["enabled"]),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let bad_token = c
        .list_accounts(pb::ListAccountsRequest {
            page_token: "bm90LWEtdG9rZW4".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_token.code(), Code::InvalidArgument);
    let bad_selector = c
        .list_accounts(pb::ListAccountsRequest {
            label_selector: "desk".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_selector.code(), Code::InvalidArgument);

    // Non-UTF-8 in a label (raw protobuf bytes a generated client cannot produce).
    let status = send_raw(&d, &pki, "CreateAccount", &invalid_utf8_label_request())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // The same in ListAccounts, which is answered in front of the generated server
    // (`api::listing`, its own codec): label_selector (field 3) holding FF FE.
    let status = send_raw(&d, &pki, "ListAccounts", &[0x1a, 0x02, 0xff, 0xfe])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // Nothing changed: still exactly the one account, unchanged.
    let list = c
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.accounts, vec![base]);
    let _ = db_before;
}

/// A CreateAccountRequest whose label value holds the bytes FF FE (not UTF-8).
fn invalid_utf8_label_request() -> Vec<u8> {
    use prost::Message;
    let valid = new_account("utf8-test", KEY_B);
    let mut bytes = valid.encode_to_vec();
    // labels (field 7) map entry: key (1) "k", value (2) 0xFF 0xFE.
    let entry = [0x0a, 0x01, b'k', 0x12, 0x02, 0xff, 0xfe];
    bytes.push(0x3a);
    bytes.push(u8::try_from(entry.len()).unwrap());
    bytes.extend_from_slice(&entry);
    bytes
}

/// Calls an AccountService `method` with a raw protobuf `body`; the answer's raw bytes.
async fn send_raw(
    d: &Daemon,
    pki: &Pki,
    method: &str,
    body: &[u8],
) -> Result<Vec<u8>, tonic::Status> {
    let channel = d.channel(&pki.admin()).await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path =
        http::uri::PathAndQuery::try_from(format!("/roster.v1.AccountService/{method}")).unwrap();
    grpc.unary::<Vec<u8>, Vec<u8>, _>(tonic::Request::new(body.to_vec()), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Sends and receives raw protobuf bytes.
#[derive(Clone, Default)]
struct RawCodec;
struct RawEnc;
struct RawDec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEnc;
    type Decoder = RawDec;
    fn encoder(&mut self) -> RawEnc {
        RawEnc
    }
    fn decoder(&mut self) -> RawDec {
        RawDec
    }
}

impl tonic::codec::Encoder for RawEnc {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

#[tokio::test]
async fn the_api_key_never_appears_in_responses_logs_or_the_database_file() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut c = d.accounts(&pki.admin()).await;
    let mut responses = Vec::new();
    let a = c
        .create_account(new_account("secret-1", KEY_A))
        .await
        .unwrap()
        .into_inner();
    responses.push(format!("{a:?}"));
    let u = c
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: a.id.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["api_key"]),
            api_key: KEY_B.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    responses.push(format!("{u:?}"));
    assert_eq!(u.api_key_hint, "BRAV…6677");
    responses.push(format!(
        "{:?}",
        c.list_accounts(pb::ListAccountsRequest::default())
            .await
            .unwrap()
            .into_inner()
    ));
    responses.push(format!(
        "{:?}",
        c.get_account(pb::GetAccountRequest {
            account: a.id.clone()
        })
        .await
        .unwrap()
        .into_inner()
    ));
    // A failing request that carries the key.
    let err = c
        .create_account(new_account("secret-1", KEY_B))
        .await
        .unwrap_err();
    responses.push(format!("{err:?}"));
    let mut admin = d.admin(&pki.admin()).await;
    responses.push(format!(
        "{:?}",
        admin
            .get_status(pb::GetStatusRequest {})
            .await
            .unwrap()
            .into_inner()
    ));
    d.stop();

    let log = d.stderr();
    assert!(
        log.contains("rpc"),
        "trace logging was on, so the log has request spans:\n{log}"
    );
    let db = d.db_bytes();
    for key in [KEY_A, KEY_B] {
        for r in &responses {
            assert!(!r.contains(key), "key in a response: {r}");
        }
        assert!(!log.contains(key), "key in the daemon log");
        assert!(
            !db.windows(key.len()).any(|w| w == key.as_bytes()),
            "key in plain text in the redb file"
        );
    }
}

/// Writes acknowledged by the daemon survive `kill -9` at an arbitrary moment (a short loop here;
/// the crash-durability suite runs many more iterations).
#[tokio::test]
async fn acknowledged_creates_survive_kill_9() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut acknowledged = Vec::new();
    for round in 0..5u32 {
        let c = d.accounts(&pki.admin()).await;
        let mut writers = Vec::new();
        for w in 0..4u32 {
            let mut c = c.clone();
            writers.push(tokio::spawn(async move {
                let mut done = Vec::new();
                for i in 0..1000u32 {
                    let name = format!("r{round}-w{w}-{i}");
                    match c
                        .create_account(new_account(&name, "kill9-key-abcdef"))
                        .await
                    {
                        Ok(a) => done.push((a.into_inner().id, name)),
                        Err(_) => break,
                    }
                }
                done
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(
            150 + u64::from(round) * 70,
        ))
        .await;
        d.kill9();
        for w in writers {
            acknowledged.extend(w.await.unwrap());
        }
        d.restart();
        let mut c = d.accounts(&pki.admin()).await;
        let mut seen = std::collections::HashMap::new();
        let mut token = String::new();
        loop {
            let page = c
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 1000,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            for a in page.accounts {
                seen.insert(a.id, a.name);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        for (id, name) in &acknowledged {
            assert_eq!(
                seen.get(id),
                Some(name),
                "acknowledged account {name} lost after kill -9 in round {round}"
            );
        }
    }
    assert!(
        acknowledged.len() > 20,
        "the loop made real writes ({})",
        acknowledged.len()
    );
}
