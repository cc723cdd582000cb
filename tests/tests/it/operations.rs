//! Operations through the real rosterctl: audit filters (principal, action, account, time window,
//! outcome), the account a refused request named in its audit record (another tenant's reads
//! like a missing one), one account's health history (live, deleted, another tenant's), and watch
//! filters on the snapshot and on live events. Bad filters are usage errors or INVALID_ARGUMENT
//! and change nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use roster_tests::sim::{Fault, InstanceSpec, Simulator};
use rosterd::pki::Role;
use serde_json::Value;
use tonic::Code;

use crate::harness::{
    Daemon, DaemonOptions, Pki, add_sim_account, fast_monitor, new_account, text,
};
use crate::upstream_tls::wait_for_state;

const KEY: &str = "ops-key-0123456789abcdef";
const MISSING_ID: &str = "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee";

/// `rosterctl -o json ARGS` as `who`: the parsed document (the command must succeed).
async fn json(d: &Daemon, who: &Path, args: &[&str]) -> Value {
    let mut all = vec!["-o", "json"];
    all.extend_from_slice(args);
    let o = d.ctl_async(who, &all, "").await;
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

/// The sequences of the audit records `rosterctl audit ARGS` lists.
async fn audit_seqs(d: &Daemon, who: &Path, args: &[&str]) -> Vec<u64> {
    let mut all = vec!["audit", "--limit", "1000"];
    all.extend_from_slice(args);
    let v = json(d, who, &all).await;
    v["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["sequence"].as_str().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn seqs_where(all: &[pb::AuditEvent], keep: impl Fn(&pb::AuditEvent) -> bool) -> Vec<u64> {
    all.iter().filter(|e| keep(e)).map(|e| e.sequence).collect()
}

fn rfc3339(t: &roster_proto::pbjson_types::Timestamp) -> String {
    let at = std::time::UNIX_EPOCH
        + Duration::new(
            u64::try_from(t.seconds).unwrap(),
            u32::try_from(t.nanos).unwrap(),
        );
    humantime::format_rfc3339_nanos(at).to_string()
}

fn millis(t: &roster_proto::pbjson_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos / 1_000_000)
}

async fn update_labels(
    d: &Daemon,
    who: &Path,
    account: &str,
) -> Result<pb::Account, tonic::Status> {
    d.accounts(who)
        .await
        .update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: account.into(),
                labels: [("desk".to_string(), "x".to_string())].into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["labels".into()],
            }),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_filters_return_exactly_the_matching_records() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let admin = pki.admin();
    let (ops, _) = pki.issue("ops", Role::Operator);
    let (eve, _) = pki.issue("eve", Role::Viewer);
    let mut a = d.accounts(&admin).await;
    let desk_a = a.create_account(new_account("desk-a", KEY)).await.unwrap();
    let desk_a = desk_a.into_inner();
    a.create_account(new_account("desk-b", KEY)).await.unwrap();
    update_labels(&d, &ops, &desk_a.id).await.unwrap();
    // A viewer's refused updates, one naming desk-a by name through the CLI, one by id.
    let o = d
        .ctl_async(&eve, &["account", "update", "desk-a", "--label", "k=v"], "")
        .await;
    assert!(!o.status.success(), "{:?}", text(&o));
    let e = update_labels(&d, &eve, &desk_a.id).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // And one that names desk-b (by name) to delete it.
    let e = d
        .accounts(&eve)
        .await
        .delete_account(pb::DeleteAccountRequest {
            account: "desk-b".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    let all = d.all_audit(&admin).await;
    // The refusals name the account the request named, and the RPC in their outcome.
    let refused: Vec<(&str, &str)> = all
        .iter()
        .filter(|r| r.principal == "eve")
        .map(|r| (r.target.as_str(), r.outcome.as_str()))
        .collect();
    let by_id = format!("account/{}", desk_a.id);
    assert_eq!(refused.len(), 3, "{all:#?}");
    assert_eq!(
        refused.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        ["account/desk-b", by_id.as_str(), "account/desk-a"],
        "{all:#?}"
    );
    assert!(
        refused[1]
            .1
            .starts_with("roster.v1.AccountService/UpdateAccount: refused: permission denied")
    );

    // Each filter through the CLI lists exactly the records the same predicate picks here.
    let cases: Vec<(Vec<&str>, Vec<u64>)> = vec![
        (vec![], seqs_where(&all, |_| true)),
        (
            vec!["--principal", "eve"],
            seqs_where(&all, |r| r.principal == "eve"),
        ),
        (
            vec!["--principal", "ops"],
            seqs_where(&all, |r| r.principal == "ops"),
        ),
        (
            vec!["--action", "UpdateAccount"],
            seqs_where(&all, |r| {
                r.action == "account.update" || r.outcome.contains("/UpdateAccount: refused")
            }),
        ),
        (
            vec!["--action", "account.create"],
            seqs_where(&all, |r| r.action == "account.create"),
        ),
        (
            vec!["--account", "desk-a"],
            seqs_where(&all, |r| {
                r.target.starts_with(&by_id) || r.target == "account/desk-a"
            }),
        ),
        (
            vec!["--account", &desk_a.id],
            seqs_where(&all, |r| {
                r.target.starts_with(&by_id) || r.target == "account/desk-a"
            }),
        ),
        (
            vec!["--outcome", "refused"],
            seqs_where(&all, |r| r.principal == "eve"),
        ),
        (
            vec!["--outcome", "ok", "--principal", "admin"],
            seqs_where(&all, |r| r.principal == "admin"),
        ),
        (
            vec!["--account", "desk-b", "--outcome", "refused"],
            seqs_where(&all, |r| r.target == "account/desk-b"),
        ),
        (vec!["--since", "1h"], seqs_where(&all, |_| true)),
        (vec!["--until", "1h"], vec![]),
        (vec!["--principal", "nobody"], vec![]),
    ];
    for (args, want) in &cases {
        assert!(
            args.is_empty()
                || args.contains(&"--until")
                || args.contains(&"nobody")
                || !want.is_empty(),
            "a case that expects nothing proves nothing: {args:?}"
        );
        assert_eq!(&audit_seqs(&d, &admin, args).await, want, "{args:?}");
    }
    // A time window: from the operator's update (inclusive) to eve's first refusal (exclusive).
    let update = all.iter().find(|r| r.principal == "ops").unwrap();
    let first_refusal = all.iter().rev().find(|r| r.principal == "eve").unwrap();
    let (since, until) = (
        update.time.as_ref().unwrap(),
        first_refusal.time.as_ref().unwrap(),
    );
    let want = seqs_where(&all, |r| {
        let t = millis(r.time.as_ref().unwrap());
        t >= millis(since) && t < millis(until)
    });
    assert!(want.contains(&update.sequence), "{all:#?}");
    assert_eq!(
        audit_seqs(
            &d,
            &admin,
            &["--since", &rfc3339(since), "--until", &rfc3339(until)]
        )
        .await,
        want
    );
    // The table names the filtered records too.
    let o = d
        .ctl_async(
            &admin,
            &["audit", "--principal", "eve", "--account", "desk-b"],
            "",
        )
        .await;
    let (stdout, _) = text(&o);
    assert!(
        o.status.success() && stdout.contains("account/desk-b"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");

    // Bad filters: usage errors (exit 2) from the CLI, INVALID_ARGUMENT naming the field from
    // the daemon; nothing is written.
    for bad in [
        &["audit", "--since", "1m", "--until", "1h"][..],
        &["audit", "--principal", "  "],
        &["audit", "--outcome", "maybe"],
        &["audit", "--since", "last tuesday"],
    ] {
        let o = d.ctl_async(&admin, bad, "").await;
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {:?}", text(&o));
    }
    let now = roster_proto::pbjson_types::Timestamp {
        seconds: 2_000_000_000,
        nanos: 0,
    };
    let mut ad = d.admin(&admin).await;
    for (field, req) in [
        (
            "until",
            pb::ListAuditEventsRequest {
                since: Some(now),
                until: Some(now),
                ..Default::default()
            },
        ),
        (
            "principal",
            pb::ListAuditEventsRequest {
                principal: " ".into(),
                ..Default::default()
            },
        ),
        (
            "outcome",
            pb::ListAuditEventsRequest {
                outcome: "maybe".into(),
                ..Default::default()
            },
        ),
        (
            "since",
            pb::ListAuditEventsRequest {
                since: Some(roster_proto::pbjson_types::Timestamp {
                    seconds: 1,
                    nanos: -5,
                }),
                ..Default::default()
            },
        ),
        (
            "limit",
            pb::ListAuditEventsRequest {
                limit: -1,
                ..Default::default()
            },
        ),
    ] {
        let e = ad.list_audit_events(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().starts_with(field), "{field}: {}", e.message());
    }
    assert_eq!(d.all_audit(&admin).await, all, "bad filters wrote nothing");
    // A page that ends early says where to continue.
    let page = ad
        .list_audit_events(pb::ListAuditEventsRequest {
            limit: 1,
            principal: "eve".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.events.len(), 1);
    let rest = ad
        .list_audit_events(pb::ListAuditEventsRequest {
            before_sequence: page.next_before_sequence,
            principal: "eve".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.events.len(), 2);
    assert_eq!(rest.next_before_sequence, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_naming_another_tenants_account_reads_like_one_naming_a_missing_account() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let a_viewer = pki.issue_in_tenant("alpha-eve", Role::Viewer, "alpha");
    let a_admin = pki.issue_in_tenant("alpha-admin", Role::Admin, "alpha");
    let b_admin = pki.issue_in_tenant("beta-admin", Role::Admin, "beta");
    let b = d
        .accounts(&b_admin)
        .await
        .create_account(new_account("b-desk", KEY))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.tenant, "beta");
    let mut statuses = Vec::new();
    for target in [b.id.as_str(), MISSING_ID] {
        let e = d
            .accounts(&a_viewer)
            .await
            .delete_account(pb::DeleteAccountRequest {
                account: target.into(),
                etag: String::new(),
            })
            .await
            .unwrap_err();
        statuses.push((e.code(), e.message().to_string()));
    }
    assert_eq!(statuses[0], statuses[1]);
    assert_eq!(statuses[0].0, Code::PermissionDenied);

    // Both are alpha's records, alike but for the id the request named.
    let alpha = d.all_audit(&a_admin).await;
    let mine: Vec<_> = alpha
        .iter()
        .filter(|r| r.principal == "alpha-eve")
        .collect();
    assert_eq!(mine.len(), 2, "{alpha:#?}");
    let (missing, beta) = (mine[0], mine[1]);
    assert_eq!(beta.target, format!("account/{}", b.id));
    assert_eq!(missing.target, format!("account/{MISSING_ID}"));
    for r in [beta, missing] {
        assert_eq!(
            (r.tenant.as_str(), r.role.as_str(), r.action.as_str()),
            ("alpha", "viewer", "auth")
        );
    }
    assert_eq!(beta.outcome, missing.outcome);
    // beta's admin sees neither; alpha's `--account` filter finds each by what it named.
    let beta_audit = d.all_audit(&b_admin).await;
    assert!(beta_audit.iter().all(|r| r.principal != "alpha-eve"));
    for (named, want) in [(b.id.as_str(), beta), (MISSING_ID, missing)] {
        let got = audit_seqs(&d, &a_admin, &["--account", named]).await;
        assert_eq!(got, [want.sequence], "{named}");
    }
    // A refused create is recorded under the name it asked for, and never with its key.
    let e = d
        .accounts(&a_viewer)
        .await
        .create_account(new_account("new-desk", KEY))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let alpha = d.all_audit(&a_admin).await;
    assert_eq!(alpha[0].target, "account/new-desk", "{alpha:#?}");
    assert!(
        !format!("{alpha:?}").contains(KEY),
        "a key in the audit: {alpha:#?}"
    );
}

/// Waits (bounded) until `name` is in `state`.
async fn wait_state(d: &Daemon, pki: &Pki, name: &str, state: pb::HealthState) {
    let mut m = d.monitor(&pki.admin()).await;
    wait_for_state(&mut m, name, state, Duration::from_secs(20)).await;
}

/// (previous, new) state names of the health changes in a `health history -o json` answer,
/// oldest first.
fn transitions(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "EVENT_KIND_HEALTH_CHANGED")
        .map(|e| {
            let name = |k: &str| {
                e[k].as_str()
                    .unwrap_or("")
                    .trim_start_matches("HEALTH_STATE_")
                    .to_string()
            };
            (name("previousState"), name("state"))
        })
        .collect();
    out.reverse();
    out
}

/// Whether the changes chain (each starts where the one before ended) and go UP, then DOWN
/// (through DEGRADED or not), then UP again.
fn up_down_up(t: &[(String, String)]) -> bool {
    let chained = t.windows(2).all(|w| w[0].1 == w[1].0);
    let states: Vec<&str> = t.iter().map(|(_, now)| now.as_str()).collect();
    let up = states.iter().position(|s| *s == "UP");
    let down = up.and_then(|u| {
        states
            .iter()
            .skip(u)
            .position(|s| *s == "DOWN")
            .map(|d| u + d)
    });
    let again = down.and_then(|d| states.iter().skip(d).position(|s| *s == "UP"));
    chained && again.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_history_shows_each_transition_in_order_even_after_a_delete() {
    let sim = Simulator::start(vec![InstanceSpec::demo("hist", KEY)])
        .await
        .unwrap();
    let up = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    let admin = pki.admin();
    let (viewer, _) = pki.issue("histviewer", Role::Viewer);
    let b_viewer = pki.issue_in_tenant("beta-viewer", Role::Viewer, "beta");
    let mut a = d.accounts(&admin).await;
    let id = add_sim_account(&mut a, "hist", &up.url(), KEY, &[]).await;
    wait_state(&d, &pki, "hist", pb::HealthState::Up).await;
    up.set_fault(Fault::ConnectionRefused);
    up.settle().await;
    wait_state(&d, &pki, "hist", pb::HealthState::Down).await;
    up.clear_fault();
    up.settle().await;
    wait_state(&d, &pki, "hist", pb::HealthState::Up).await;

    // A viewer reads it by name: UP, DOWN, UP again, newest first in the listing.
    let v = json(&d, &viewer, &["health", "history", "hist"]).await;
    assert!(up_down_up(&transitions(&v)), "{v:#}");
    let o = d
        .ctl_async(&viewer, &["health", "history", "hist"], "")
        .await;
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    let down = stdout.find("-> DOWN").unwrap_or_else(|| panic!("{stdout}"));
    let back = stdout
        .find("DOWN -> UP")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(back < down, "newest first: {stdout}");
    assert!(
        stdout.contains("CONNECT") && stdout.contains("ACCOUNT_CREATED"),
        "{stdout}"
    );
    let one = json(&d, &viewer, &["health", "history", "hist", "--limit", "1"]).await;
    assert_eq!(one["events"].as_array().unwrap().len(), 1, "{one:#}");

    // Deleted: still answers by id, the deletion first.
    a.delete_account(pb::DeleteAccountRequest {
        account: id.clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    let v = json(&d, &viewer, &["health", "history", &id]).await;
    assert_eq!(
        v["events"][0]["kind"], "EVENT_KIND_ACCOUNT_DELETED",
        "{v:#}"
    );
    assert!(up_down_up(&transitions(&v)), "{v:#}");

    // Another tenant's account is NOT_FOUND exactly like a missing one.
    let mut m = d.monitor(&b_viewer).await;
    let mut answers = Vec::new();
    for named in [id.as_str(), MISSING_ID] {
        let e = m
            .list_events(pb::ListEventsRequest {
                account: named.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        answers.push((e.code(), e.message().replace(named, "X")));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, Code::NotFound);
    let o = d
        .ctl_async(&b_viewer, &["health", "history", &id], "")
        .await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    // Bad requests.
    let mut m = d.monitor(&viewer).await;
    for (field, req) in [
        ("account", pb::ListEventsRequest::default()),
        (
            "kinds",
            pb::ListEventsRequest {
                account: id.clone(),
                kinds: vec![0],
                ..Default::default()
            },
        ),
    ] {
        let e = m.list_events(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}");
        assert!(e.message().starts_with(field), "{}", e.message());
    }
    let o = d.ctl_async(&viewer, &["health", "history"], "").await;
    assert_eq!(o.status.code(), Some(2));
}

/// A `rosterctl -o json watch ...` running in the background; killed when dropped.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(d: &Daemon, who: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(crate::harness::bin("rosterctl"))
            .args(["--addr", &d.url(), "--profile"])
            .arg(who)
            .args(["-o", "json", "watch"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// Events read until `done` holds for one (included), within a bound.
    async fn until(&self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match self.lines.try_recv() {
                Ok(v) => {
                    let stop = done(&v);
                    out.push(v);
                    if stop {
                        return out;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        panic!("not seen in time; got {out:#?}");
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is(v: &Value, kind: &str, name: &str, state: &str) -> bool {
    v["kind"] == format!("EVENT_KIND_{kind}")
        && v["accountName"] == name
        && v["state"] == format!("HEALTH_STATE_{state}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_filters_apply_to_the_snapshot_and_to_live_events() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("w-a", KEY),
        InstanceSpec::demo("w-b", KEY),
    ])
    .await
    .unwrap();
    let (ia, ib) = (sim.instance(0), sim.instance(1));
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    let admin = pki.admin();
    let mut a = d.accounts(&admin).await;
    add_sim_account(&mut a, "w-a", &ia.url(), KEY, &[("desk", "a")]).await;
    add_sim_account(&mut a, "w-b", &ib.url(), KEY, &[("desk", "b")]).await;
    wait_state(&d, &pki, "w-a", pb::HealthState::Up).await;
    wait_state(&d, &pki, "w-b", pb::HealthState::Up).await;

    // --account: w-a's snapshot, then only w-a's live events.
    let by_account = Watch::start(&d, &admin, &["--account", "w-a"]);
    let snapshot = by_account
        .until(|v| is(v, "HEALTH_SNAPSHOT", "w-a", "UP"))
        .await;
    assert_eq!(snapshot.len(), 1, "{snapshot:#?}");
    ib.set_fault(Fault::ConnectionRefused);
    ia.set_fault(Fault::ConnectionRefused);
    wait_state(&d, &pki, "w-b", pb::HealthState::Down).await;
    wait_state(&d, &pki, "w-a", pb::HealthState::Down).await;
    let live = by_account
        .until(|v| is(v, "HEALTH_CHANGED", "w-a", "DOWN"))
        .await;
    assert!(live.iter().all(|v| v["accountName"] == "w-a"), "{live:#?}");

    // --label and --state: w-b's DOWN snapshot; not w-a's (DOWN too, other label); then, as w-b
    // recovers (UP: filtered out) and fails again, only that DOWN change.
    let by_label = Watch::start(&d, &admin, &["--label", "desk=b", "--state", "down"]);
    let snapshot = by_label
        .until(|v| is(v, "HEALTH_SNAPSHOT", "w-b", "DOWN"))
        .await;
    assert_eq!(snapshot.len(), 1, "{snapshot:#?}");
    ib.clear_fault();
    ia.clear_fault();
    wait_state(&d, &pki, "w-b", pb::HealthState::Up).await;
    wait_state(&d, &pki, "w-a", pb::HealthState::Up).await;
    ib.set_fault(Fault::ConnectionRefused);
    let live = by_label
        .until(|v| is(v, "HEALTH_CHANGED", "w-b", "DOWN"))
        .await;
    assert_eq!(
        live.len(),
        1,
        "w-a's changes and w-b's recovery filtered out: {live:#?}"
    );
    // Meanwhile the account watcher saw w-a recover, and nothing of w-b.
    let rest = by_account
        .until(|v| is(v, "HEALTH_CHANGED", "w-a", "UP"))
        .await;
    assert!(rest.iter().all(|v| v["accountName"] == "w-a"), "{rest:#?}");

    // --kind on a replay from the first event: only the creations, none of the health changes.
    a.create_account(new_account("w-c", KEY)).await.unwrap();
    let by_kind = Watch::start(&d, &admin, &["--from", "1", "--kind", "account-created"]);
    let created = by_kind.until(|v| v["accountName"] == "w-c").await;
    let shown: Vec<(&str, &str)> = created
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap_or(""),
                v["accountName"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let created_kind = "EVENT_KIND_ACCOUNT_CREATED";
    assert_eq!(
        shown,
        [
            (created_kind, "w-a"),
            (created_kind, "w-b"),
            (created_kind, "w-c")
        ]
    );

    // An account that does not exist is NOT_FOUND before anything streams; a bad selector or
    // state is refused; the CLI's own checks exit 2.
    let o = d
        .ctl_async(&admin, &["watch", "--account", "no-such-desk"], "")
        .await;
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    for bad in [
        &["watch", "--label", "desk"][..],
        &["watch", "--state", "sideways"],
    ] {
        let o = d.ctl_async(&admin, bad, "").await;
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
    let mut m = d.monitor(&admin).await;
    for (field, req) in [
        (
            "label_selector",
            pb::WatchEventsRequest {
                label_selector: "desk".into(),
                ..Default::default()
            },
        ),
        (
            "states",
            pb::WatchEventsRequest {
                states: vec![0],
                ..Default::default()
            },
        ),
        (
            "kinds",
            pb::WatchEventsRequest {
                kinds: vec![42],
                ..Default::default()
            },
        ),
    ] {
        let e = m.watch_events(req).await.map(|_| ()).unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().starts_with(field), "{}", e.message());
    }
}
