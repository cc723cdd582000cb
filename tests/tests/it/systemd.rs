//! The systemd notify protocol as systemd sees it: a datagram socket in NOTIFY_SOCKET receives
//! READY, STATUS, WATCHDOG, RELOADING and STOPPING at the right moments.

use std::time::{Duration, Instant};

use tokio::net::UnixDatagram;

use crate::harness::{Daemon, DaemonOptions, Pki, new_account};

/// Collects notify messages until `want` is among them or `within` passes.
async fn wait_for(
    sock: &UnixDatagram,
    seen: &mut Vec<String>,
    want: &str,
    within: Duration,
) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 4096];
    loop {
        if seen.iter().any(|m| m.lines().any(|l| l.starts_with(want))) {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(left, sock.recv(&mut buf)).await {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

/// A daemon under a pretend systemd: NOTIFY_SOCKET bound in `dir`, WATCHDOG_USEC set.
struct Notified {
    daemon: Daemon,
    sock: UnixDatagram,
    pki: Pki,
}

fn notified(
    dir: &std::path::Path,
    watchdog_usec: &str,
    more_env: &[(&str, &str)],
    extra_config: &str,
) -> Notified {
    let sock_path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let pki = Pki::new();
    let mut env = vec![
        ("NOTIFY_SOCKET".into(), sock_path.display().to_string()),
        ("WATCHDOG_USEC".into(), watchdog_usec.into()),
    ];
    env.extend(more_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let daemon = Daemon::start(
        &pki,
        &dir.join("state"),
        &DaemonOptions {
            env,
            extra_config: extra_config.into(),
            ..Default::default()
        },
    );
    Notified { daemon, sock, pki }
}

#[tokio::test]
async fn ready_status_watchdog_reload_and_stopping_are_notified() {
    let dir = tempfile::tempdir().unwrap();
    let Notified {
        daemon: mut d,
        sock,
        pki,
    } = notified(
        dir.path(),
        "1000000",
        &[],
        "[monitor]\ninterval = \"500ms\"\ntimeout = \"200ms\"\nflush_interval = \"100ms\"\n",
    );
    let mut seen = Vec::new();
    assert!(
        wait_for(&sock, &mut seen, "READY=1", Duration::from_secs(10)).await,
        "{seen:?}"
    );
    let ready = seen.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(ready.contains("STATUS=serving on 127.0.0.1:"), "{ready}");
    assert!(
        wait_for(&sock, &mut seen, "WATCHDOG=1", Duration::from_secs(5)).await,
        "{seen:?}"
    );

    // STATUS follows the accounts' health.
    let mut c = d.accounts(&pki.admin()).await;
    c.create_account(new_account("notified-1", "notify-key-123456"))
        .await
        .unwrap();
    let mut got_status = false;
    for _ in 0..10 {
        seen.clear();
        wait_for(&sock, &mut seen, "STATUS=", Duration::from_secs(1)).await;
        if seen.iter().any(|m| m.contains("1 accounts:")) {
            got_status = true;
            break;
        }
    }
    assert!(got_status, "STATUS never counted the new account: {seen:?}");

    seen.clear();
    d.hup();
    assert!(
        wait_for(&sock, &mut seen, "RELOADING=1", Duration::from_secs(5)).await,
        "{seen:?}"
    );
    let reloading = seen.iter().find(|m| m.contains("RELOADING=1")).unwrap();
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    assert!(
        wait_for(&sock, &mut seen, "READY=1", Duration::from_secs(5)).await,
        "{seen:?}"
    );

    seen.clear();
    drop(c);
    let status = d.stop();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    assert!(
        wait_for(&sock, &mut seen, "STOPPING=1", Duration::from_secs(1)).await,
        "{seen:?}"
    );
}

#[tokio::test]
async fn the_watchdog_stops_when_the_monitor_stalls() {
    let dir = tempfile::tempdir().unwrap();
    let Notified {
        daemon: _d, sock, ..
    } = notified(
        dir.path(),
        "600000",
        &[("ROSTER_TEST_STALL_MONITOR_AFTER", "2s")],
        "[monitor]\nflush_interval = \"100ms\"\n",
    );
    let mut seen = Vec::new();
    assert!(
        wait_for(&sock, &mut seen, "WATCHDOG=1", Duration::from_secs(5)).await,
        "pings while healthy: {seen:?}"
    );
    // Past the stall (2 s) plus one watchdog period, no ping may come any more.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(50), sock.recv(&mut buf)).await
    {
    }
    seen.clear();
    assert!(
        !wait_for(&sock, &mut seen, "WATCHDOG=1", Duration::from_secs(2)).await,
        "watchdog kept pinging with a stalled monitor: {seen:?}"
    );
}

/// A service manager that stops reading (a busy PID 1; here nobody reads at all): the kernel
/// queues only 10 datagrams per receiver, and the daemon must neither stall its API nor hang on
/// SIGTERM. It once did both: the watchdog and STATUS tasks blocked on the full queue and took
/// the runtime's worker threads with them.
#[tokio::test]
async fn a_notify_socket_nobody_reads_never_wedges_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    // Never read. A watchdog ping every 100 ms fills its queue within about a second.
    let Notified {
        daemon: mut d,
        sock: _unread,
        pki,
    } = notified(
        dir.path(),
        "200000",
        &[],
        "[monitor]\nflush_interval = \"50ms\"\n",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut c = d.accounts(&pki.admin()).await;
    for i in 0..3 {
        // Each new account changes STATUS as well.
        tokio::time::timeout(
            Duration::from_secs(5),
            c.create_account(new_account(&format!("unread-{i}"), "unread-key-123456")),
        )
        .await
        .expect("the API stalled behind a full notify queue")
        .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(c);
    let started = Instant::now();
    let status = d.stop();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    // The drain waits up to 5 s for the client connection this blocked test cannot close.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sighup_applies_a_new_log_filter() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let d = Daemon::start(
        &pki,
        &dir.path().join("state"),
        &DaemonOptions {
            // No ROSTER_LOG: the config's [log] filter decides.
            env: vec![("ROSTER_LOG".into(), String::new())],
            extra_config: "[log]\nfilter = \"warn\"\n".into(),
            ..Default::default()
        },
    );
    let mut c = d.accounts(&pki.admin()).await;
    c.list_accounts(roster_proto::v1::ListAccountsRequest::default())
        .await
        .unwrap();
    assert!(
        !d.stderr().contains("rpc done"),
        "debug lines under a warn filter"
    );

    let config = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        config.replace("filter = \"warn\"", "filter = \"info,rosterd=debug\""),
    )
    .unwrap();
    d.hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        c.list_accounts(roster_proto::v1::ListAccountsRequest::default())
            .await
            .unwrap();
        if d.stderr().contains("rpc done") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new filter was not applied:\n{}",
            d.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn sighup_applies_monitor_and_portfolio_settings() {
    use roster_tests::sim::{InstanceSpec, Simulator};
    let sim = Simulator::start(vec![InstanceSpec {
        rate_limit_per_second: 0,
        ..InstanceSpec::demo("r1", "reload-key-1")
    }])
    .await
    .unwrap();
    let inst = sim.instance(0);
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let d = Daemon::start(
        &pki,
        &dir.path().join("state"),
        &DaemonOptions {
            extra_config: "[monitor]\ninterval = \"30s\"\ntimeout = \"1s\"\n[portfolio]\nrefresh_interval = \"0s\"\n".into(),
            ..Default::default()
        },
    );
    let mut c = d.accounts(&pki.admin()).await;
    crate::harness::add_sim_account(&mut c, "r1", &inst.url(), "reload-key-1", &[]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let slow = inst.request_count("ping");
    assert!(slow <= 1, "a 30 s interval pinged {slow} times in 1.5 s");
    assert_eq!(
        inst.request_count("positionbook"),
        0,
        "background refresh is off"
    );

    let config = std::fs::read_to_string(d.config_path()).unwrap();
    let faster = config
        .replace("interval = \"30s\"", "interval = \"200ms\"")
        .replace("timeout = \"1s\"", "timeout = \"150ms\"")
        .replace("refresh_interval = \"0s\"", "refresh_interval = \"300ms\"");
    std::fs::write(d.config_path(), faster).unwrap();
    d.hup();
    // The account's pending slot was computed under the old interval (up to 30 s away): one
    // check now puts it on the new schedule. Without the reload it would then wait 30 s again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut m = d.monitor(&pki.admin()).await;
    let accounts = c
        .list_accounts(roster_proto::v1::ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;
    let before = inst.request_count("ping");
    m.check_now(roster_proto::v1::CheckNowRequest {
        account: accounts[0].id.clone(),
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let pings = inst.request_count("ping") - before;
    assert!(
        pings >= 6,
        "2 s at the reloaded 200 ms interval gave only {pings} pings"
    );
    assert!(
        inst.request_count("positionbook") >= 1,
        "background refresh not turned on by the reload"
    );
}
