//! Upstream faults against the real daemon: every fault the simulator can inject, alone (one per
//! account, each classified) and then mixed in a storm across the fleet that flips faults every
//! 150 ms while portfolio refreshes, CheckNow and TestConnection calls run; plus the faults below
//! HTTP: a TCP peer that accepts and never answers, a server trickling 1 byte/s, a body over
//! `[upstream] max_response_bytes`, https against a plain-HTTP server, and an unresolvable name.
//!
//! Asserted: the daemon never panics and keeps running; healthy accounts stay UP through it all;
//! no connection to a hanging peer outlives its account's checks (the daemon's own sockets to
//! those ports, found through /proc, drop to zero); open file descriptors return to the baseline.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use roster_tests::sim::{Fault, InstanceSpec, Simulator, blackhole, trickle_server};

use crate::harness::{Daemon, DaemonOptions, Pki, Rng};

const UP: i32 = pb::HealthState::Up as i32;
const DOWN: i32 = pb::HealthState::Down as i32;
const CAP: u64 = 64 * 1024;

fn key(name: &str) -> String {
    format!("FAULT-{name}-0a1b2c3d4e5f6789")
}

fn options() -> DaemonOptions {
    DaemonOptions {
        extra_config: format!(
            "[monitor]\ninterval = \"800ms\"\ntimeout = \"800ms\"\nfailures_before_down = 2\n\
             successes_before_up = 1\nflush_interval = \"200ms\"\ndown_backoff_max = \"1s\"\n\
             auth_backoff_max = \"1s\"\n\
             [upstream]\nrequest_timeout = \"800ms\"\nconnect_timeout = \"500ms\"\n\
             max_response_bytes = {CAP}\n"
        ),
        ..DaemonOptions::default()
    }
}

/// Every simulator fault, as the storm picks them.
fn all_faults() -> Vec<Fault> {
    vec![
        Fault::None,
        Fault::Latency(Duration::from_millis(50)),
        Fault::Hang,
        Fault::SlowBody { bytes_per_sec: 1 },
        Fault::Http500,
        Fault::MalformedJson,
        Fault::InvalidKey403,
        Fault::IpBanned,
        Fault::RateLimited,
        Fault::ConnectionRefused,
        Fault::SessionExpired,
        Fault::HugeBody { bytes: 8 * CAP },
    ]
}

/// The daemon's TCP sockets whose remote port is one of `ports` (its fds matched to
/// /proc/net/tcp by inode).
fn daemon_sockets_to(pid: u32, ports: &HashSet<u16>) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")
                        .and_then(|s| s.strip_suffix(']'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut n = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(rem), Some(inode)) = (cols.get(2), cols.get(9)) else {
                continue;
            };
            let port = rem
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if port.is_some_and(|p| ports.contains(&p)) && inodes.contains(*inode) {
                n += 1;
            }
        }
    }
    n
}

async fn health_by_name(d: &Daemon, pki: &Pki) -> HashMap<String, pb::AccountHealth> {
    crate::harness::health_by_name(&mut d.monitor(&pki.admin()).await).await
}

fn assert_alive(d: &mut Daemon, when: &str) {
    assert!(d.is_running(), "rosterd died {when}:\n{}", d.stderr());
    let log = d.stderr();
    assert!(
        !log.contains("panicked"),
        "rosterd panicked {when}:\n{}",
        log.lines()
            .filter(|l| l.contains("panicked"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_alone_and_in_a_storm_never_panic_leak_or_take_healthy_accounts_down() {
    use pb::HealthReason as R;
    let mut rng = Rng::from_env();
    // Instances: 4 healthy, then one per simulator fault (the "alone" phase).
    let healthy: Vec<String> = (0..4).map(|i| format!("ok{i}")).collect();
    let alone: Vec<(String, Fault, i32, i32)> = vec![
        (
            "latency".into(),
            Fault::Latency(Duration::from_millis(100)),
            UP,
            0,
        ),
        ("hang".into(), Fault::Hang, DOWN, R::Timeout as i32),
        (
            "slow".into(),
            Fault::SlowBody { bytes_per_sec: 1 },
            DOWN,
            R::Timeout as i32,
        ),
        ("e500".into(), Fault::Http500, DOWN, R::Http5xx as i32),
        (
            "garbled".into(),
            Fault::MalformedJson,
            DOWN,
            R::BadResponse as i32,
        ),
        (
            "badkey".into(),
            Fault::InvalidKey403,
            DOWN,
            R::AuthRejected as i32,
        ),
        ("banned".into(), Fault::IpBanned, DOWN, R::IpBanned as i32),
        (
            "limited".into(),
            Fault::RateLimited,
            DOWN,
            R::RateLimited as i32,
        ),
        (
            "refused".into(),
            Fault::ConnectionRefused,
            DOWN,
            R::Connect as i32,
        ),
        (
            "expired".into(),
            Fault::SessionExpired,
            DOWN,
            R::SessionExpired as i32,
        ),
        (
            "huge".into(),
            Fault::HugeBody { bytes: 8 * CAP },
            DOWN,
            R::BadResponse as i32,
        ),
    ];
    let mut specs: Vec<InstanceSpec> = healthy
        .iter()
        .map(|n| InstanceSpec::demo(n.clone(), key(n)))
        .collect();
    specs.extend(
        alone
            .iter()
            .map(|(n, ..)| InstanceSpec::demo(n.clone(), key(n))),
    );
    let sim = Simulator::start(specs).await.unwrap();
    for (i, (_, f, ..)) in alone.iter().enumerate() {
        let inst = sim.instance(healthy.len() + i);
        inst.set_fault(f.clone());
        inst.settle().await;
    }
    let (_, hole) = blackhole().await.unwrap();
    let (_, drip) = trickle_server(1).await.unwrap();
    // Faults below HTTP, each on its own account.
    let below: Vec<(String, String, i32)> = vec![
        ("blackhole".into(), hole.url(), R::Timeout as i32),
        ("trickle".into(), drip.url(), R::Timeout as i32),
        (
            "badtls".into(),
            sim.instance(0).url().replace("http://", "https://"),
            R::Tls as i32,
        ),
        (
            "nodns".into(),
            "http://no-such-host.invalid:5000".into(),
            R::Connect as i32,
        ),
    ];

    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &options());
    let mut c = d.accounts(&pki.admin()).await;
    let mut ids = HashMap::new();
    for (i, inst) in sim.instances().iter().enumerate() {
        let name = inst.name().to_string();
        let a = crate::harness::add_sim_account(&mut c, &name, &inst.url(), &key(&name), &[]).await;
        ids.insert(name, a);
        assert_eq!(i < healthy.len(), inst.name().starts_with("ok"));
    }
    for (name, url, _) in &below {
        let a = crate::harness::add_sim_account(&mut c, name, url, &key(name), &[]).await;
        ids.insert(name.clone(), a);
    }

    // Alone: each fault is classified as predicted, the healthy accounts are UP.
    let start = Instant::now();
    let expected: Vec<(String, i32, i32)> = healthy
        .iter()
        .map(|n| (n.clone(), UP, 0))
        .chain(alone.iter().map(|(n, _, s, r)| (n.clone(), *s, *r)))
        .chain(below.iter().map(|(n, _, r)| (n.clone(), DOWN, *r)))
        .collect();
    loop {
        let h = health_by_name(&d, &pki).await;
        let wrong: Vec<_> = expected
            .iter()
            .filter(|(n, s, r)| h.get(n).is_none_or(|x| x.state != *s || x.reason != *r))
            .map(|(n, s, r)| (n, (s, r), h.get(n).map(|x| (x.state, x.reason, &x.message))))
            .collect();
        if wrong.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "faults alone not classified as predicted (name, want, got): {wrong:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // TestConnection reaches the same verdicts for the faults below HTTP.
    for (name, url, reason) in &below {
        let t = c
            .test_connection(pb::TestConnectionRequest {
                host_url: url.clone(),
                api_key: key(name),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!t.key_accepted && t.reason == *reason, "{name}: {t:?}");
    }
    let mut p = d.portfolio(&pki.admin()).await;
    let refresh = pb::PortfolioRequest {
        refresh: true,
        ..Default::default()
    };
    let funds = p.get_funds(refresh.clone()).await.unwrap().into_inner();
    assert_eq!(funds.accounts.len(), ids.len(), "one section per account");
    p.get_positions(refresh.clone()).await.unwrap();
    assert_alive(&mut d, "with every fault alone");
    let fds_before = d.open_fds();

    // The storm: every 150 ms each faulty instance gets a random fault (instance-wide or on one
    // endpoint) while clients refresh books, force checks and test the hanging peers.
    let faults = all_faults();
    let storm_for = Duration::from_secs(5);
    let accepted_before = hole.accepted() + drip.accepted();
    let clients = {
        let ch = d.channel(&pki.admin()).await.unwrap();
        let mut tasks = Vec::new();
        let mut p = pb::portfolio_service_client::PortfolioServiceClient::new(ch.clone());
        let refresh = refresh.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let end = Instant::now() + storm_for;
            while Instant::now() < end {
                if let Err(s) = p.get_funds(refresh.clone()).await {
                    errors.push(format!("GetFunds: {s:?}"));
                }
                if let Err(s) = p.get_orders(refresh.clone()).await {
                    errors.push(format!("GetOrders: {s:?}"));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            errors
        }));
        let mut m = pb::monitor_service_client::MonitorServiceClient::new(ch.clone());
        let names: Vec<String> = ids.keys().cloned().collect();
        let mut local = Rng::new(rng.next_u64());
        tasks.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let end = Instant::now() + storm_for;
            while Instant::now() < end {
                let n = &names[usize::try_from(local.range(0, names.len() as u64)).unwrap()];
                // DOWN accounts in backoff may answer DEADLINE_EXCEEDED/Busy; never INTERNAL.
                if let Err(s) = m
                    .check_now(pb::CheckNowRequest { account: n.clone() })
                    .await
                    && matches!(s.code(), tonic::Code::Internal | tonic::Code::Unknown)
                {
                    errors.push(format!("CheckNow {n}: {s:?}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            errors
        }));
        let mut a = pb::account_service_client::AccountServiceClient::new(ch);
        let targets: Vec<(String, String)> = below
            .iter()
            .map(|(n, u, _)| (n.clone(), u.clone()))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let end = Instant::now() + storm_for;
            let mut i = 0;
            while Instant::now() < end {
                let (n, u) = &targets[i % targets.len()];
                i += 1;
                match a
                    .test_connection(pb::TestConnectionRequest {
                        host_url: u.clone(),
                        api_key: key(n),
                        ..Default::default()
                    })
                    .await
                {
                    Ok(t) if !t.get_ref().key_accepted => {}
                    other => errors.push(format!("TestConnection {n}: {other:?}")),
                }
            }
            errors
        }));
        tasks
    };
    // The hanging instances keep hanging throughout, so no pooled (idle, legitimately open)
    // connection to them can exist: every socket to them belongs to a check in flight.
    let stuck = [1, 2];
    let storm_start = Instant::now();
    let mut samples = 0;
    let mut flips = 0;
    while storm_start.elapsed() < storm_for {
        for i in 0..alone.len() {
            if stuck.contains(&i) {
                continue;
            }
            let inst = sim.instance(healthy.len() + i);
            let f = faults[usize::try_from(rng.range(0, faults.len() as u64)).unwrap()].clone();
            if rng.range(0, 4) == 0 {
                let ep = ["ping", "funds", "orderbook", "positionbook"]
                    [usize::try_from(rng.range(0, 4)).unwrap()];
                inst.set_endpoint_fault(ep, f).unwrap();
            } else {
                inst.clear_endpoint_faults();
                inst.set_fault(f);
            }
            flips += 1;
        }
        let h = health_by_name(&d, &pki).await;
        for n in &healthy {
            let x = &h[n];
            assert_eq!(
                (x.state, x.consecutive_failures),
                (UP, 0),
                "healthy {n} hurt by the storm after {:?}: {x:?}",
                storm_start.elapsed()
            );
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    for t in clients {
        let errors = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("a storm client hung")
            .unwrap();
        assert!(errors.is_empty(), "calls failed in the storm: {errors:#?}");
    }
    assert_alive(&mut d, "after the storm");
    let storm_conns = hole.accepted() + drip.accepted() - accepted_before;
    assert!(
        samples >= 10 && flips >= 100 && storm_conns >= 10,
        "the storm was too small to prove anything: {samples} samples, {flips} flips, \
         {storm_conns} connections to hanging peers"
    );

    // Calm: back to the faults-alone setup, then the accounts on hanging peers are disabled.
    // Every daemon socket to those peers must close (no leaked connection or task holding one).
    for (i, (_, f, ..)) in alone.iter().enumerate() {
        let inst = sim.instance(healthy.len() + i);
        inst.clear_endpoint_faults();
        inst.set_fault(f.clone());
        inst.settle().await;
    }
    let hanging = ["hang", "slow", "blackhole", "trickle"];
    let ports: HashSet<u16> = [
        sim.instance(healthy.len() + 1).port(),
        sim.instance(healthy.len() + 2).port(),
        hole.addr().port(),
        drip.addr().port(),
    ]
    .into();
    for n in hanging {
        c.update_account(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: ids[n].clone(),
                enabled: false,
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["enabled".into()],
            }),
            api_key: String::new(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let pid = d.pid();
    let calm = Instant::now();
    loop {
        let open = daemon_sockets_to(pid, &ports);
        if open == 0 {
            break;
        }
        let per_port: Vec<(u16, usize)> = ports
            .iter()
            .map(|p| (*p, daemon_sockets_to(pid, &HashSet::from([*p]))))
            .collect();
        assert!(
            calm.elapsed() < Duration::from_secs(10),
            "{open} daemon connections to hanging peers still open 10 s after their accounts \
             were disabled (timeout 0.8 s): a leaked connection or task; (port, open): {per_port:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Healthy accounts are still UP, and the descriptor count is back near the baseline (idle
    // pooled connections to healthy hosts may differ by a few).
    let h = health_by_name(&d, &pki).await;
    for n in &healthy {
        assert_eq!(h[n].state, UP, "{n}: {:?}", h[n]);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fds_after = d.open_fds();
    let slack = sim.len() + 8;
    eprintln!(
        "faults: {samples} samples, {flips} fault flips, {storm_conns} connections to hanging \
         peers; fds {fds_before} -> {fds_after}"
    );
    assert!(
        fds_after <= fds_before + slack,
        "file descriptors grew from {fds_before} to {fds_after} across the storm \
         (slack {slack}; {storm_conns} connections were made to hanging peers)"
    );
    assert_alive(&mut d, "at the end");
}
