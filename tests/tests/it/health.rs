//! Health monitoring end to end: the real daemon checks simulated OpenAlgo instances on loopback.
//! Intervals are short (300-500 ms) and thresholds 2, so every wait is bounded by a few seconds;
//! deadlines are generous because the CI machine is shared.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use roster_proto::v1::monitor_service_client::MonitorServiceClient;
use roster_tests::sim::{Fault, InstanceHandle, InstanceSpec, Simulator};
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{Daemon, Pki, collect_events, fast_monitor, text};

type Monitor = MonitorServiceClient<Channel>;
type Events = tokio::sync::mpsc::UnboundedReceiver<Result<pb::Event, tonic::Status>>;

const UP: i32 = pb::HealthState::Up as i32;
const DOWN: i32 = pb::HealthState::Down as i32;
const DEGRADED: i32 = pb::HealthState::Degraded as i32;
const UNKNOWN: i32 = pb::HealthState::Unknown as i32;
const DISABLED: i32 = pb::HealthState::Disabled as i32;

fn key(name: &str) -> String {
    format!("KEY-{name}-9f8e7d6c5b4a39281706")
}

async fn add(
    d: &Daemon,
    pki: &Pki,
    name: &str,
    host: &str,
    key: &str,
    enabled: bool,
) -> pb::Account {
    d.accounts(&pki.admin())
        .await
        .create_account(pb::CreateAccountRequest {
            name: name.into(),
            host_url: host.into(),
            api_key: key.into(),
            enabled: Some(enabled),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn list(m: &mut Monitor) -> pb::ListHealthResponse {
    m.list_health(pb::ListHealthRequest::default())
        .await
        .unwrap()
        .into_inner()
}

fn by_name(r: &pb::ListHealthResponse) -> HashMap<String, pb::AccountHealth> {
    r.accounts
        .iter()
        .map(|h| (h.account_name.clone(), h.clone()))
        .collect()
}

/// Polls ListHealth until `done` holds; panics with the last answer after `limit`.
async fn wait_until(
    m: &mut Monitor,
    what: &str,
    limit: Duration,
    done: impl Fn(&HashMap<String, pb::AccountHealth>) -> bool,
) -> HashMap<String, pb::AccountHealth> {
    let start = Instant::now();
    loop {
        let now = by_name(&list(m).await);
        if done(&now) {
            return now;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not reached in {limit:?}: {now:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn state_is(h: &HashMap<String, pb::AccountHealth>, name: &str, state: i32, reason: i32) -> bool {
    h.get(name)
        .is_some_and(|x| x.state == state && x.reason == reason)
}

/// Next event from a collector, within `limit`.
async fn next_event(rx: &mut Events, limit: Duration) -> pb::Event {
    tokio::time::timeout(limit, rx.recv())
        .await
        .expect("no event in time")
        .expect("stream ended")
        .expect("stream failed")
}

/// Health transitions of `account` from a collector until `until` (inclusive) is seen.
async fn transitions_until(rx: &mut Events, account: &str, until: (i32, i32)) -> Vec<pb::Event> {
    let mut out = Vec::new();
    loop {
        let ev = next_event(rx, Duration::from_secs(15)).await;
        if ev.kind == pb::EventKind::HealthChanged as i32 && ev.account_id == account {
            let done = (ev.previous_state, ev.state) == until;
            out.push(ev);
            if done {
                return out;
            }
        }
    }
}

fn pairs(evs: &[pb::Event]) -> Vec<(i32, i32, i32)> {
    evs.iter()
        .map(|e| (e.previous_state, e.state, e.reason))
        .collect()
}

/// Every fault ends in the state and reason the reference predicts; the key travels only to its
/// own host in the body and is never logged; the CLI shows it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_of_faults_ends_in_predicted_states_and_keys_stay_put() {
    use pb::HealthReason as R;
    let cases: Vec<(&str, Option<Fault>, i32, i32)> = vec![
        ("healthy", None, UP, 0),
        ("http500", Some(Fault::Http500), DOWN, R::Http5xx as i32),
        ("banned", Some(Fault::IpBanned), DOWN, R::IpBanned as i32),
        (
            "badkey",
            Some(Fault::InvalidKey403),
            DOWN,
            R::AuthRejected as i32,
        ),
        (
            "limited",
            Some(Fault::RateLimited),
            DOWN,
            R::RateLimited as i32,
        ),
        (
            "refused",
            Some(Fault::ConnectionRefused),
            DOWN,
            R::Connect as i32,
        ),
        (
            "garbled",
            Some(Fault::MalformedJson),
            DOWN,
            R::BadResponse as i32,
        ),
        ("hung", Some(Fault::Hang), DOWN, R::Timeout as i32),
        (
            "expired",
            Some(Fault::SessionExpired),
            DOWN,
            R::SessionExpired as i32,
        ),
        (
            "slow",
            Some(Fault::SlowBody { bytes_per_sec: 5 }),
            DOWN,
            R::Timeout as i32,
        ),
    ];
    let mut specs: Vec<InstanceSpec> = cases
        .iter()
        .map(|(n, ..)| InstanceSpec::demo(*n, key(n)))
        .collect();
    specs.push(InstanceSpec::demo("off", key("off")));
    let sim = Simulator::start(specs).await.unwrap();
    for (i, (_, fault, ..)) in cases.iter().enumerate() {
        if let Some(f) = fault {
            sim.instance(i).set_fault(f.clone());
            sim.instance(i).settle().await;
        }
    }
    let off = sim.instance(cases.len());

    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    for (i, (name, ..)) in cases.iter().enumerate() {
        add(&d, &pki, name, &sim.instance(i).url(), &key(name), true).await;
    }
    add(&d, &pki, "off", &off.url(), &key("off"), false).await;
    let mut m = d.monitor(&pki.admin()).await;

    let health = wait_until(
        &mut m,
        "every fault classified",
        Duration::from_secs(20),
        |h| cases.iter().all(|(n, _, s, r)| state_is(h, n, *s, *r)),
    )
    .await;
    let healthy = &health["healthy"];
    assert_eq!(healthy.broker, "zerodha");
    assert_eq!(healthy.mode, "live");
    assert!(healthy.latency.is_some() && healthy.last_success_time.is_some());
    assert!(health["http500"].consecutive_failures >= 2);
    assert!(!health["http500"].message.is_empty());
    assert_eq!(health["off"].state, DISABLED);
    let counts = list(&mut m).await.counts;
    assert_eq!(counts.get("UP"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("DOWN"), Some(&9), "{counts:?}");
    assert_eq!(counts.get("DISABLED"), Some(&1), "{counts:?}");
    // The broker learned from the upstream is stored on the account.
    let acct = d
        .accounts(&pki.admin())
        .await
        .get_account(pb::GetAccountRequest {
            account: "healthy".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (acct.broker.as_str(), acct.mode.as_str()),
        ("zerodha", "live")
    );
    // A state filter, and ListAccounts filtered by health.
    let down = m
        .list_health(pb::ListHealthRequest {
            state: DOWN,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(down.accounts.len(), 9);
    let up_accounts = d
        .accounts(&pki.admin())
        .await
        .list_accounts(pb::ListAccountsRequest {
            state: UP,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        up_accounts
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["healthy"]
    );

    // The CLI: list, get, check, test (existing account and host + key before saving).
    let out = d.ctl_async(&pki.admin(), &["health"], "").await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        "healthy",
        "UP",
        "hung",
        "TIMEOUT",
        "SESSION_EXPIRED",
        "IP_BANNED",
        "DISABLED",
    ] {
        assert!(stdout.contains(needle), "{needle} missing in:\n{stdout}");
    }
    assert!(
        stdout.contains("1 up") && stdout.contains("9 down"),
        "{stdout}"
    );
    let out = d
        .ctl_async(&pki.admin(), &["health", "get", "expired"], "")
        .await;
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("DOWN") && stdout.contains("SESSION_EXPIRED"),
        "{stdout}"
    );
    let out = d
        .ctl_async(&pki.admin(), &["health", "check", "healthy"], "")
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("UP") && stdout.contains("zerodha"),
        "{stdout}"
    );
    let out = d
        .ctl_async(&pki.admin(), &["account", "test", "healthy"], "")
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("zerodha") && stdout.contains("live"),
        "{stdout}"
    );
    let url = sim.instance(0).url();
    let out = d
        .ctl_async(
            &pki.admin(),
            &["account", "test", "--host", &url, "--api-key-stdin"],
            "wrong-key-123456789\n",
        )
        .await;
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "a refused key fails the command");
    assert!(stdout.contains("AUTH_REJECTED"), "{stdout}\n{stderr}");
    let out = d
        .ctl_async(&pki.admin(), &["health", "check", "off"], "")
        .await;
    assert!(
        !out.status.success(),
        "checking a disabled account is refused"
    );

    // TestConnection over gRPC: every step reported, the key never echoed.
    let t = d
        .accounts(&pki.admin())
        .await
        .test_connection(pb::TestConnectionRequest {
            account: "expired".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(t.reachable && t.key_accepted && !t.session_alive, "{t:?}");
    assert_eq!(t.reason, R::SessionExpired as i32);
    assert!(!format!("{t:?}").contains(&key("expired")));
    let t = d
        .accounts(&pki.admin())
        .await
        .test_connection(pb::TestConnectionRequest {
            host_url: sim.instance(5).url(),
            api_key: key("refused"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!t.reachable && t.reason == R::Connect as i32, "{t:?}");

    // The disabled account was never contacted (with its key: the port of a simulator that
    // another test stopped may be this one's now, and its daemon may still knock).
    assert!(
        off.received()
            .iter()
            .all(|r| !r.body_text().contains(&key("off"))),
        "the disabled account was contacted"
    );
    // Each key went only to its own host, only in the body, and is in no log line.
    let log = d.stderr();
    for (i, (name, ..)) in cases.iter().enumerate() {
        let own = key(name);
        for r in sim.instance(i).received() {
            assert!(!r.leaks_outside_body(&own), "{name}: key outside the body");
            if r.endpoint.is_some() && r.body_json().is_some() {
                let sent = r.body_json().unwrap()["apikey"].as_str().map(String::from);
                assert!(
                    sent.as_deref() == Some(own.as_str())
                        || sent.as_deref() == Some("wrong-key-123456789"),
                    "{name} got a foreign key: {sent:?}"
                );
            }
            for (other, ..) in &cases {
                if other != name {
                    assert!(
                        !r.body_text().contains(&key(other)),
                        "{other}'s key sent to {name}"
                    );
                }
            }
        }
        assert!(!log.contains(&own), "{name}'s key is in the daemon log");
    }
    assert!(!log.contains("wrong-key-123456789"));
    assert!(
        log.contains("health changed"),
        "the log holds the health changes (and so would show a key logged with them)"
    );
}

/// Ten hanging upstreams do not hold up the checks of healthy accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_upstreams_do_not_delay_healthy_accounts() {
    let mut specs: Vec<InstanceSpec> = (0..10)
        .map(|i| InstanceSpec::demo(format!("hang{i}"), key(&format!("hang{i}"))))
        .collect();
    specs.extend((0..5).map(|i| InstanceSpec::demo(format!("ok{i}"), key(&format!("ok{i}")))));
    let sim = Simulator::start(specs).await.unwrap();
    for i in 0..10 {
        sim.instance(i).set_fault(Fault::Hang);
    }
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(500, 450));
    for (i, inst) in sim.instances().iter().enumerate() {
        let name = inst.name().to_string();
        add(&d, &pki, &name, &inst.url(), &key(&name), true).await;
        assert_eq!(i < 10, name.starts_with("hang"));
    }
    let mut m = d.monitor(&pki.admin()).await;
    wait_until(
        &mut m,
        "hung DOWN, healthy UP",
        Duration::from_secs(20),
        |h| {
            (0..10).all(|i| {
                state_is(
                    h,
                    &format!("hang{i}"),
                    DOWN,
                    pb::HealthReason::Timeout as i32,
                )
            }) && (0..5).all(|i| state_is(h, &format!("ok{i}"), UP, 0))
        },
    )
    .await;
    // Measure the healthy accounts over 3 s: at 500 ms they should be checked ~6 times each;
    // demand 3 (generous: the machine is shared), and that none ever falls 2.5 s behind.
    let healthy: Vec<InstanceHandle> = sim.instances()[10..].to_vec();
    for h in &healthy {
        h.reset_requests();
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let now = std::time::SystemTime::now();
        for h in list(&mut m)
            .await
            .accounts
            .iter()
            .filter(|h| h.account_name.starts_with("ok"))
        {
            let last = h.last_check_time.unwrap();
            let last =
                std::time::UNIX_EPOCH + Duration::new(last.seconds as u64, last.nanos as u32);
            let behind = now.duration_since(last).unwrap_or_default();
            assert!(
                behind < Duration::from_millis(2500),
                "{} last checked {behind:?} ago",
                h.account_name
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for h in &healthy {
        let pings = h.request_count("ping");
        assert!(
            pings >= 3,
            "{} was pinged only {pings} times in 3 s",
            h.name()
        );
    }
}

/// Session expiry is seen (ping ok, funds empty), then the recovery, each transition in order on
/// a WatchEvents stream; a watcher that disconnects and resumes misses nothing and sees nothing
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_expiry_recovery_and_resumable_watch() {
    use pb::HealthReason as R;
    let sim = Simulator::start(vec![InstanceSpec::demo("acct", key("acct"))])
        .await
        .unwrap();
    let up = sim.instance(0);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    let mut m = d.monitor(&pki.admin()).await;
    // Watching from 0 before the account exists: the snapshot is empty, then live.
    let live = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut live = collect_events(live);
    let a = add(&d, &pki, "acct", &up.url(), &key("acct"), true).await;
    let created = next_event(&mut live, Duration::from_secs(10)).await;
    assert_eq!(created.kind, pb::EventKind::AccountCreated as i32);
    let first = transitions_until(&mut live, &a.id, (UNKNOWN, UP)).await;
    assert_eq!(pairs(&first), [(UNKNOWN, UP, 0)]);

    // The broker token dies overnight: ping still answers, funds is empty.
    up.set_session_expired(true);
    let down = transitions_until(&mut live, &a.id, (DEGRADED, DOWN)).await;
    let expired = R::SessionExpired as i32;
    assert_eq!(
        pairs(&down),
        [(UP, DEGRADED, expired), (DEGRADED, DOWN, expired)]
    );
    let h = m
        .get_health(pb::GetHealthRequest {
            account: "acct".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((h.state, h.reason), (DOWN, expired));
    assert!(h.message.contains("session"), "{}", h.message);

    // A second watcher reads from the start, then disconnects mid-way.
    let resumed_from = {
        let s = m
            .watch_events(pb::WatchEventsRequest {
                from_sequence: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut rx = collect_events(s);
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(next_event(&mut rx, Duration::from_secs(5)).await.sequence);
        }
        assert_eq!(seen, [1, 2]);
        drop(rx);
        3
    };

    // While it is away: recovery (needs successes_before_up = 2 checks) and more flapping.
    up.set_session_expired(false);
    let back = transitions_until(&mut live, &a.id, (DOWN, UP)).await;
    assert_eq!(pairs(&back), [(DOWN, UP, 0)]);
    up.set_fault(Fault::Http500);
    transitions_until(&mut live, &a.id, (UP, DEGRADED)).await;
    up.clear_fault();
    transitions_until(&mut live, &a.id, (DEGRADED, UP)).await;

    // The resumed watcher and a fresh full replay must agree exactly, without gaps.
    let s = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: resumed_from,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut rx = collect_events(s);
    let mut resumed = vec![1, 2];
    loop {
        let ev = next_event(&mut rx, Duration::from_secs(5)).await;
        resumed.push(ev.sequence);
        if ev.previous_state == DEGRADED && ev.state == UP {
            break;
        }
    }
    let n = resumed.len() as u64;
    assert_eq!(resumed, (1..=n).collect::<Vec<_>>(), "no gap, no duplicate");
    // The live watcher saw the same sequence numbers (it started before the first event).
    // (Checked through the ordering asserts above; here only that nothing arrives twice.)
    let kinds: Vec<i32> = {
        let s = m
            .watch_events(pb::WatchEventsRequest {
                from_sequence: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut rx = collect_events(s);
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(next_event(&mut rx, Duration::from_secs(5)).await.kind);
        }
        v
    };
    assert_eq!(kinds[0], pb::EventKind::AccountCreated as i32);
    assert!(
        kinds[1..]
            .iter()
            .all(|k| *k == pb::EventKind::HealthChanged as i32)
    );

    // From 0 again: a snapshot first (sequence 0, current state), then live.
    let s = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut rx = collect_events(s);
    let snap = next_event(&mut rx, Duration::from_secs(5)).await;
    assert_eq!(snap.kind, pb::EventKind::HealthSnapshot as i32);
    assert_eq!(
        (snap.sequence, snap.state, snap.account_name.as_str()),
        (0, UP, "acct")
    );

    // Too far ahead is OUT_OF_RANGE.
    let err = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 1_000_000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange);

    // The CLI replays too.
    let child = {
        let args: Vec<String> = vec![
            "--addr".into(),
            d.url(),
            "--profile".into(),
            pki.admin().display().to_string(),
            "watch".into(),
            "--from".into(),
            "1".into(),
        ];
        std::process::Command::new(crate::harness::bin("rosterctl"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("#1 ACCOUNT_CREATED acct"), "{stdout}");
    assert!(
        stdout.contains("UP -> DEGRADED (SESSION_EXPIRED)"),
        "{stdout}"
    );
}

/// With funds probes made sparse (`funds_probe_every = 100`), an account's first check still
/// probes its session: a new account whose broker session is dead is not shown UP for the next
/// 99 checks, and a healthy one has its broker and mode from that first check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_accounts_first_check_probes_its_session_however_sparse_probes_are() {
    let sim = Simulator::start(vec![
        InstanceSpec::demo("fresh", key("fresh")),
        InstanceSpec::demo("dead", key("dead")),
    ])
    .await
    .unwrap();
    sim.instance(1).set_session_expired(true);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut opts = fast_monitor(500, 450);
    opts.extra_config = opts
        .extra_config
        .replace("[monitor]\n", "[monitor]\nfunds_probe_every = 100\n");
    let d = Daemon::start(&pki, state.path(), &opts);
    let mut m = d.monitor(&pki.admin()).await;
    add(
        &d,
        &pki,
        "fresh",
        &sim.instance(0).url(),
        &key("fresh"),
        true,
    )
    .await;
    add(&d, &pki, "dead", &sim.instance(1).url(), &key("dead"), true).await;
    let expired = pb::HealthReason::SessionExpired as i32;
    let h = wait_until(&mut m, "first checks", Duration::from_secs(10), |h| {
        ["fresh", "dead"]
            .iter()
            .all(|n| h.get(*n).is_some_and(|x| x.state != UNKNOWN))
    })
    .await;
    assert!(state_is(&h, "dead", DEGRADED, expired), "{h:#?}");
    let fresh = &h["fresh"];
    assert_eq!(fresh.state, UP);
    assert_eq!(
        (fresh.broker.as_str(), fresh.mode.as_str()),
        ("zerodha", "live")
    );
    assert_eq!(sim.instance(0).request_count("funds"), 1);
}

/// An account whose broker session is dead from the start keeps what ping told (broker, and
/// live: the analyzer has no session to lose); a new failure reason while it stays failing is an
/// event `watch` shows, and every health change is logged at the default level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasons_change_while_down_and_what_ping_told_is_kept() {
    use pb::HealthReason as R;
    let sim = Simulator::start(vec![InstanceSpec::demo("dead", key("dead"))])
        .await
        .unwrap();
    let up = sim.instance(0);
    up.set_broker("zerodha");
    up.set_session_expired(true);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    // A 250 s interval: after the first scheduled check, only the ones asked for below run.
    let d = Daemon::start(&pki, state.path(), &fast_monitor(250_000, 2_000));
    let mut m = d.monitor(&pki.admin()).await;
    let live = m
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut live = collect_events(live);
    let a = add(&d, &pki, "dead", &up.url(), &key("dead"), true).await;
    let check = |m: &mut Monitor| {
        let mut m = m.clone();
        async move {
            m.check_now(pb::CheckNowRequest {
                account: "dead".into(),
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let expired = R::SessionExpired as i32;
    let h = check(&mut m).await;
    assert_eq!((h.state, h.reason), (DEGRADED, expired));
    assert_eq!((h.broker.as_str(), h.mode.as_str()), ("zerodha", "live"));
    let first = transitions_until(&mut live, &a.id, (UNKNOWN, DEGRADED)).await;
    assert_eq!(pairs(&first), [(UNKNOWN, DEGRADED, expired)]);

    // failures_before_down = 2: DOWN. Then an IP ban, and back: one event each, and the same
    // reason again is no event.
    let h = check(&mut m).await;
    assert_eq!((h.state, h.reason), (DOWN, expired));
    let banned = R::IpBanned as i32;
    up.set_fault(Fault::IpBanned);
    let h = check(&mut m).await;
    assert_eq!((h.state, h.reason), (DOWN, banned));
    check(&mut m).await;
    up.clear_fault();
    let h = check(&mut m).await;
    assert_eq!((h.state, h.reason), (DOWN, expired));
    let mut rest = transitions_until(&mut live, &a.id, (DOWN, DOWN)).await;
    rest.extend(transitions_until(&mut live, &a.id, (DOWN, DOWN)).await);
    assert_eq!(
        pairs(&rest),
        [
            (DEGRADED, DOWN, expired),
            (DOWN, DOWN, banned),
            (DOWN, DOWN, expired)
        ]
    );
    // The account record learned the broker too.
    let acct = d
        .accounts(&pki.admin())
        .await
        .get_account(pb::GetAccountRequest {
            account: "dead".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acct.broker, "zerodha");
    let log = d.stderr();
    assert!(
        log.lines()
            .any(|l| l.contains("health changed") && l.contains("DOWN") && l.contains("IP_BANNED")),
        "{log}"
    );
}

/// Health and events survive a restart (a DOWN account is DOWN with its reason before any new
/// check); a disabled account is never contacted; enable/disable/delete act at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_health_and_account_changes_act_live() {
    use pb::HealthReason as R;
    let sim = Simulator::start(vec![
        InstanceSpec::demo("gone", key("gone")),
        InstanceSpec::demo("quiet", key("quiet")),
    ])
    .await
    .unwrap();
    let (gone, quiet) = (sim.instance(0), sim.instance(1));
    gone.set_fault(Fault::ConnectionRefused);
    gone.settle().await;
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &fast_monitor(400, 300));
    let g = add(&d, &pki, "gone", &gone.url(), &key("gone"), true).await;
    let q = add(&d, &pki, "quiet", &quiet.url(), &key("quiet"), false).await;
    let mut m = d.monitor(&pki.admin()).await;
    let connect = R::Connect as i32;
    wait_until(&mut m, "DOWN/CONNECT", Duration::from_secs(15), |h| {
        state_is(h, "gone", DOWN, connect) && state_is(h, "quiet", DISABLED, 0)
    })
    .await;
    let before: Vec<pb::Event> = {
        let s = m
            .watch_events(pb::WatchEventsRequest {
                from_sequence: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut rx = collect_events(s);
        let mut v = Vec::new();
        while let Ok(Some(Ok(ev))) =
            tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
        {
            v.push(ev);
        }
        v
    };
    assert!(
        before
            .iter()
            .any(|e| e.account_id == g.id && e.state == DOWN && e.reason == connect),
        "{before:#?}"
    );

    tokio::task::block_in_place(|| d.restart());
    let mut m = d.monitor(&pki.admin()).await;
    let h = m
        .get_health(pb::GetHealthRequest {
            account: "gone".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (h.state, h.reason),
        (DOWN, connect),
        "DOWN survives the restart"
    );
    assert!(h.consecutive_failures >= 2);
    let out = tokio::task::block_in_place(|| d.ctl(&pki.admin(), &["health", "get", "gone"], ""));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("DOWN") && stdout.contains("CONNECT"),
        "{stdout}"
    );
    let after: Vec<pb::Event> = {
        let s = m
            .watch_events(pb::WatchEventsRequest {
                from_sequence: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut rx = collect_events(s);
        let mut v = Vec::new();
        for _ in 0..before.len() {
            v.push(next_event(&mut rx, Duration::from_secs(5)).await);
        }
        v
    };
    assert_eq!(after, before, "events survive the restart");
    // Over a few intervals it never flickers through UNKNOWN/DEGRADED.
    for _ in 0..10 {
        let h = by_name(&list(&mut m).await);
        assert_eq!(h["gone"].state, DOWN);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The disabled account was never contacted; enabling it takes effect without a restart.
    assert_eq!(quiet.total_requests(), 0);
    let mut c = d.accounts(&pki.admin()).await;
    let enable = |enabled: bool| pb::UpdateAccountRequest {
        account: Some(pb::Account {
            id: q.id.clone(),
            enabled,
            ..Default::default()
        }),
        update_mask: Some(roster_proto::pbjson_types::FieldMask {
            paths: vec!["enabled".into()],
        }),
        api_key: String::new(),
        ..Default::default()
    };
    c.update_account(enable(true)).await.unwrap();
    wait_until(&mut m, "enabled account UP", Duration::from_secs(10), |h| {
        state_is(h, "quiet", UP, 0)
    })
    .await;
    c.update_account(enable(false)).await.unwrap();
    wait_until(&mut m, "disabled again", Duration::from_secs(5), |h| {
        state_is(h, "quiet", DISABLED, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = quiet.total_requests();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        quiet.total_requests(),
        n,
        "a disabled account is not contacted"
    );

    // Deleting an account stops its checks and drops its health.
    gone.clear_fault();
    gone.settle().await;
    c.delete_account(pb::DeleteAccountRequest {
        account: "gone".into(),
        etag: String::new(),
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = gone.total_requests();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        gone.total_requests(),
        n,
        "a deleted account is not contacted"
    );
    let err = m
        .get_health(pb::GetHealthRequest {
            account: "gone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let status = d
        .admin(&pki.admin())
        .await
        .get_status(pb::GetStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.counts_by_state.get("DISABLED"), Some(&1));
}

/// A watcher that stops reading is cut off (RESOURCE_EXHAUSTED, with the sequence to resume
/// from) instead of holding the daemon: writes and other watchers keep going meanwhile.
#[tokio::test]
async fn a_watcher_that_stops_reading_is_cut_off_and_others_are_not_slowed() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &crate::harness::DaemonOptions::default(),
    );
    // A small HTTP/2 window (the client default is 2 MiB), so the daemon's side fills quickly.
    let read = |f: &str| std::fs::read(pki.admin().join(f)).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(read("ca.pem")))
        .identity(tonic::transport::Identity::from_pem(
            read("cert.pem"),
            read("key.pem"),
        ))
        .domain_name("localhost");
    let stalled_channel = Channel::from_shared(d.url())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .initial_stream_window_size(Some(16 * 1024))
        .connect()
        .await
        .unwrap();
    let mut stalled = MonitorServiceClient::new(stalled_channel)
        .watch_events(pb::WatchEventsRequest {
            from_sequence: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // A healthy watcher on its own connection, read all along.
    let mut healthy = collect_events(
        d.monitor(&pki.admin())
            .await
            .watch_events(pb::WatchEventsRequest {
                from_sequence: 0,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner(),
    );
    // Far more events than the watcher's buffer and the HTTP/2 window hold.
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut c = d.accounts(&pki.admin()).await;
        writers.push(tokio::spawn(async move {
            for i in 0..400 {
                c.create_account(pb::CreateAccountRequest {
                    name: format!("flood-{w}-{i}"),
                    host_url: "http://127.0.0.1:9".into(),
                    api_key: "flood-key-1234567".into(),
                    enabled: Some(false),
                    ..Default::default()
                })
                .await
                .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let writing = started.elapsed();
    assert!(
        writing < Duration::from_secs(30),
        "writes were held up: {writing:?}"
    );
    let mut seen = 0;
    while seen < 1600 {
        match tokio::time::timeout(Duration::from_secs(10), healthy.recv()).await {
            Ok(Some(Ok(ev))) if ev.kind == pb::EventKind::AccountCreated as i32 => seen += 1,
            Ok(Some(Ok(_))) => {}
            other => panic!("the healthy watcher stopped after {seen} creates: {other:?}"),
        }
    }
    // The stalled watcher is cut off after its grace period (the daemon says so in its log);
    // reading now drains what was in flight and then ends with the reason and where to resume.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !d.stderr().contains("watcher cut off") {
        assert!(
            Instant::now() < deadline,
            "the stalled watcher was never cut off"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(10), stalled.message()).await {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => panic!("the stream ended without saying why"),
            Ok(Err(status)) => break status,
            Err(_) => panic!("the stalled stream neither ended nor delivered"),
        }
    };
    assert_eq!(end.code(), Code::ResourceExhausted, "{end:?}");
    assert!(
        end.message().contains("from_sequence="),
        "{}",
        end.message()
    );
}
