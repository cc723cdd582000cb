//! The process, the disk and the store file under attack: core dumps, a lost or damaged
//! `roster.redb`, a full disk (simulated with a file size limit on the running daemon, which
//! needs no root: writes past the limit fail with EFBIG as they would with ENOSPC), a rotation
//! on a full disk, killed and concurrent backups, and a file that only ever grew.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use roster_proto::v1::account_service_client::AccountServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{Daemon, DaemonOptions, Pki, bin, new_account};

const KEY: &str = "disk-test-key-5f4e3d2c1b";

/// An account of ~5 KB (32 labels of 126 characters), disabled so nothing checks it.
fn big_account(name: &str) -> pb::CreateAccountRequest {
    let mut req = new_account(name, KEY);
    req.enabled = Some(false);
    req.labels = (0..32)
        .map(|i| (format!("l{i:02}{}", "k".repeat(60)), "v".repeat(63)))
        .collect();
    req
}

/// Creates `n` big accounts, 16 at a time; returns their ids.
async fn create_big(c: &AccountServiceClient<Channel>, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
        let calls = chunk.iter().map(|i| {
            let mut c = c.clone();
            let req = big_account(&format!("{prefix}-{i}"));
            async move { c.create_account(req).await.unwrap().into_inner().id }
        });
        ids.extend(futures::future::join_all(calls).await);
    }
    ids
}

/// Starts `rosterd` on `d`'s config (which must not be running) and expects it to refuse to
/// start: returns its exit status and stderr. Fails the test if it starts serving instead.
fn start_refused(d: &Daemon, extra: &[&str]) -> (ExitStatus, String) {
    let mut child = Command::new(bin("rosterd"))
        .arg("--config")
        .arg(d.config_path())
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(extra)
        .env("ROSTER_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "rosterd kept running on a lost or damaged store:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("rosterd listening"),
        "it served before exiting: {stdout}"
    );
    (status, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn backup_copies(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("roster.redb.backup-")
        })
        .count()
}

/// Sets the soft file size limit of a running process (`prlimit`, no privilege needed since
/// the hard limit stays).
fn set_file_size_limit(pid: u32, soft: &str) {
    let ok = Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--fsize={soft}:"))
        .status()
        .expect("prlimit (util-linux) is needed for the disk-full tests")
        .success();
    assert!(ok, "prlimit --fsize={soft}: failed");
}

async fn serving_status(d: &Daemon, profile: &Path) -> i32 {
    let mut h =
        tonic_health::pb::health_client::HealthClient::new(d.channel(profile).await.unwrap());
    h.check(tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
    .status
}

async fn storage_error(d: &Daemon, profile: &Path) -> String {
    let mut a = d.admin(profile).await;
    a.get_status(pb::GetStatusRequest::default())
        .await
        .unwrap()
        .into_inner()
        .storage_error
}

#[tokio::test]
async fn the_daemon_leaves_no_core_dump() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", d.pid())).unwrap();
    let core: Vec<&str> = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max core file size"))
        .unwrap()
        .split_whitespace()
        .collect();
    // Soft and hard: nothing later in the process can raise it again.
    assert_eq!(core.get(..2), Some(&["0", "0"][..]), "{limits}");
    // Not dumpable is seen as the /proc files' owner turning root, which only shows when the
    // daemon runs as another user; the unit test (coredump::tests) checks the call itself.
}

#[tokio::test]
async fn a_lost_or_damaged_store_file_stops_the_start_with_a_message() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let c = d.accounts(&pki.admin()).await;
    create_big(&c, "kept", 8).await;
    drop(c);
    d.stop();
    let db = state.path().join("roster.redb");
    let good = std::fs::read(&db).unwrap();

    // Truncated to 0 bytes.
    std::fs::write(&db, b"").unwrap();
    let (status, stderr) = start_refused(&d, &[]);
    assert!(!status.success());
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("empty (0 bytes)"), "{stderr}");
    assert!(stderr.contains("--init-store"), "{stderr}");

    // Deleted.
    std::fs::remove_file(&db).unwrap();
    let (status, stderr) = start_refused(&d, &[]);
    assert!(!status.success());
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("is missing"), "{stderr}");

    // Garbage over the page that holds an account's labels.
    let mut bad = good.clone();
    let at = bad
        .windows(8)
        .position(|w| w == b"kkkkkkkk")
        .expect("labels in the file");
    let page = at / 4096 * 4096;
    let end = (page + 8192).min(bad.len());
    bad[page..end].iter_mut().for_each(|b| *b = 0xA5);
    std::fs::write(&db, &bad).unwrap();
    let (status, stderr) = start_refused(&d, &[]);
    assert!(!status.success());
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bad,
        "a refused file is left as it was"
    );

    // The good file starts again with its accounts; `--init-store` is how an empty one begins.
    std::fs::write(&db, &good).unwrap();
    d.restart();
    assert_eq!(d.all_accounts(&pki.admin()).await.len(), 8);
    d.stop();
    std::fs::remove_file(&db).unwrap();
    d.restart_with_args(&["--init-store"]);
    assert!(d.all_accounts(&pki.admin()).await.is_empty());
}

#[tokio::test]
async fn writes_fail_while_the_disk_is_full_and_work_again_after() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let opts = DaemonOptions {
        env: vec![("ROSTER_LOG".into(), "info".into())],
        ..DaemonOptions::default()
    };
    let mut d = Daemon::start(&pki, state.path(), &opts);
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    let mut acked = create_big(&c, "before", 4).await;

    // "Disk full": every write past 64 KiB of any file fails (EFBIG, and SIGXFSZ, which
    // used to kill the daemon).
    set_file_size_limit(d.pid(), "65536");
    let mut refused = None;
    for i in 0..50 {
        match c.create_account(big_account(&format!("full-{i}"))).await {
            Ok(a) => acked.push(a.into_inner().id),
            Err(s) => {
                refused = Some(s);
                break;
            }
        }
    }
    let refused = refused.expect("a write fails while the disk is full");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("storage"), "{refused:?}");
    // Said so while it lasts: gRPC health and GetStatus (what `rosterctl status` prints).
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = (false, false);
    while Instant::now() < deadline && seen != (true, true) {
        let _ = c.create_account(big_account("while-full")).await;
        if !storage_error(&d, &admin).await.is_empty() {
            seen.0 = true;
        }
        if serving_status(&d, &admin).await
            == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32
        {
            seen.1 = true;
        }
    }
    assert_eq!(
        seen,
        (true, true),
        "storage_error in GetStatus, NOT_SERVING in health"
    );
    let ctl = d.ctl(&admin, &["status"], "");
    assert!(
        String::from_utf8_lossy(&ctl.stdout).contains("storage") && d.is_running(),
        "daemon alive and status answered"
    );

    // Space is back: writes work again without a restart.
    set_file_size_limit(d.pid(), "unlimited");
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        match c.create_account(big_account("after-space")).await {
            Ok(a) => break a.into_inner().id,
            Err(s) if Instant::now() < deadline => {
                assert_eq!(s.code(), Code::Unavailable, "{s:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(s) => panic!("writes still fail after space returned: {s:?}"),
        }
    };
    acked.push(after);
    assert_eq!(storage_error(&d, &admin).await, "");
    assert_eq!(
        serving_status(&d, &admin).await,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Nothing acknowledged was lost, before or after a restart.
    for restart in [false, true] {
        if restart {
            d.restart();
            c = d.accounts(&admin).await;
        }
        for id in &acked {
            c.get_account(pb::GetAccountRequest {
                account: id.clone(),
            })
            .await
            .unwrap_or_else(|s| {
                panic!("acknowledged account {id} lost (restart: {restart}): {s:?}")
            });
        }
    }
}

#[tokio::test]
async fn a_rotation_on_a_full_disk_leaves_no_broken_key_and_the_next_start_works() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let opts = DaemonOptions {
        env: vec![("ROSTER_LOG".into(), "info".into())],
        ..DaemonOptions::default()
    };
    let mut d = Daemon::start(&pki, state.path(), &opts);
    let admin = pki.admin();
    let c = d.accounts(&admin).await;
    create_big(&c, "sealed", 2).await;
    let next = state.path().join("master-key.next");

    // Room for half a key: the staged key file cannot be written whole.
    set_file_size_limit(d.pid(), "16");
    let err = d
        .admin(&admin)
        .await
        .rotate_encryption_key(pb::RotateEncryptionKeyRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(!next.exists(), "no partial master-key.next is left");
    set_file_size_limit(d.pid(), "unlimited");
    d.restart();
    assert_eq!(d.all_accounts(&admin).await.len(), 2);

    // A 0-byte staged key (as older versions left) does not stop a start either, and says so.
    d.stop();
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&next)
            .unwrap();
    }
    d.restart();
    assert!(
        d.stderr()
            .contains("ignoring an incomplete staged master key"),
        "the log says why the file was ignored"
    );
    assert!(!next.exists(), "set aside");
    // The next rotation stages a complete key and re-seals.
    let rotated = d
        .admin(&admin)
        .await
        .rotate_encryption_key(pb::RotateEncryptionKeyRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rotated.resealed_accounts, 2);
    d.restart();
    assert_eq!(d.all_accounts(&admin).await.len(), 2);
}

#[tokio::test]
async fn one_backup_at_a_time_and_a_killed_backup_leaves_no_copy() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let admin = pki.admin();
    let c = d.accounts(&admin).await;
    // Enough data that an unread backup stream cannot finish into the transport's buffers.
    create_big(&c, "bulk", 1200).await;

    let mut first = d
        .admin(&admin)
        .await
        .backup(pb::BackupRequest::default())
        .await
        .unwrap()
        .into_inner();
    let chunk = first.message().await.unwrap().unwrap();
    assert!(!chunk.data.is_empty());
    assert_eq!(backup_copies(state.path()), 1);
    let second = d
        .admin(&admin)
        .await
        .backup(pb::BackupRequest::default())
        .await
        .expect_err("a second backup while one runs is refused");
    assert_eq!(second.code(), Code::Unavailable, "{second:?}");
    assert!(
        second.message().contains("a backup is already running"),
        "{second:?}"
    );
    assert_eq!(backup_copies(state.path()), 1, "at most one copy at a time");
    // The first completes; then the next may run.
    let mut total = chunk.data.len() as u64;
    let mut last = None;
    while let Some(chunk) = first.message().await.unwrap() {
        total += chunk.data.len() as u64;
        if chunk.total_size != 0 {
            last = Some(chunk.total_size);
        }
    }
    assert_eq!(last, Some(total));
    let deadline = Instant::now() + Duration::from_secs(10);
    let third = loop {
        match d
            .admin(&admin)
            .await
            .backup(pb::BackupRequest::default())
            .await
        {
            Ok(s) => break s.into_inner(),
            Err(s) if s.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("the next backup: {s:?}"),
        }
    };
    drop(third);

    // A daemon killed mid-backup leaves its copy; the next start removes it.
    d.kill9();
    let stale = state.path().join("roster.redb.backup-00000000deadbeef");
    std::fs::write(&stale, vec![0u8; 1 << 20]).unwrap();
    d.restart();
    assert!(!stale.exists(), "the stale copy is removed at startup");
    assert!(
        d.stderr()
            .contains("removed the copy left by an interrupted backup"),
        "and the log says so"
    );
    // (Counted by GetStatus: a ListAccounts page of 1,000 accounts this big exceeds the
    // client's default 4 MiB message limit.)
    let status = d
        .admin(&admin)
        .await
        .get_status(pb::GetStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.account_count, 1200);
}

#[tokio::test]
async fn a_file_that_is_mostly_free_shrinks_at_the_next_start() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    let ids = create_big(&c, "gone", 800).await;
    let keep = c
        .create_account(big_account("kept"))
        .await
        .unwrap()
        .into_inner()
        .id;
    for id in &ids {
        c.delete_account(pb::DeleteAccountRequest {
            account: id.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    }
    d.stop();
    let db = state.path().join("roster.redb");
    let before = std::fs::metadata(&db).unwrap().len();
    // The harness's config has its own [store] table: the key goes into it.
    let config = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        config.replacen("[store]\n", "[store]\ncompact_min_bytes = 1048576\n", 1),
    )
    .unwrap();
    d.restart();
    let after = std::fs::metadata(&db).unwrap().len();
    assert!(
        after * 2 < before,
        "the file shrank: {before} -> {after} bytes"
    );
    assert!(d.stderr().contains("database compacted"));
    let all = d.all_accounts(&admin).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, keep);
}

/// Notify datagrams received within `within` (a pretend systemd's socket).
async fn notifications(sock: &tokio::net::UnixDatagram, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return seen;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(left, sock.recv(&mut buf)).await {
            seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

#[tokio::test]
async fn under_systemd_a_full_disk_withholds_the_watchdog_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = tokio::net::UnixDatagram::bind(&sock_path).unwrap();
    let pki = Pki::new();
    let opts = DaemonOptions {
        env: vec![
            ("NOTIFY_SOCKET".into(), sock_path.display().to_string()),
            ("WATCHDOG_USEC".into(), "600000".into()),
            ("ROSTER_LOG".into(), "info".into()),
        ],
        extra_config: "[monitor]\nflush_interval = \"100ms\"\n".into(),
        ..DaemonOptions::default()
    };
    let d = Daemon::start(&pki, &dir.path().join("state"), &opts);
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    let pings = |seen: &[String]| {
        seen.iter()
            .filter(|m| m.lines().any(|l| l == "WATCHDOG=1"))
            .count()
    };
    assert!(pings(&notifications(&sock, Duration::from_secs(2)).await) > 0);

    set_file_size_limit(d.pid(), "65536");
    let mut refused = None;
    for i in 0..50 {
        if let Err(s) = c.create_account(big_account(&format!("full-{i}"))).await {
            refused = Some(s);
            break;
        }
    }
    let refused = refused.expect("a write fails while the disk is full");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    // Let a ping already on its way arrive, then none may come while the disk stays full; the
    // STATUS= line (what `systemctl status` shows) says why.
    let _ = notifications(&sock, Duration::from_millis(700)).await;
    let seen = notifications(&sock, Duration::from_secs(3)).await;
    assert_eq!(
        pings(&seen),
        0,
        "watchdog pinged while writes fail: {seen:?}"
    );
    assert!(
        seen.iter().any(|m| m.contains("STORAGE FAILING")),
        "STATUS= says why: {seen:?}"
    );

    set_file_size_limit(d.pid(), "unlimited");
    let seen = notifications(&sock, Duration::from_secs(4)).await;
    assert!(pings(&seen) > 0, "pings again once writes work: {seen:?}");
    c.create_account(big_account("after")).await.unwrap();
}

#[tokio::test]
async fn a_damaged_backup_is_refused_by_restore_without_a_panic() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let c = d.accounts(&pki.admin()).await;
    create_big(&c, "backed-up", 8).await;
    let file = state.path().join("full.redb");
    let out = d.ctl(
        &pki.admin(),
        &["backup", "--out", file.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    d.stop();
    let live = std::fs::read(state.path().join("roster.redb")).unwrap();
    let mut bad = std::fs::read(&file).unwrap();
    let at = bad
        .windows(8)
        .position(|w| w == b"kkkkkkkk")
        .expect("labels in the backup");
    let page = at / 4096 * 4096;
    let end = (page + 8192).min(bad.len());
    bad[page..end].iter_mut().for_each(|b| *b = 0xA5);
    std::fs::write(&file, &bad).unwrap();
    let o = Command::new(bin("rosterd"))
        .args(["restore", "--state-dir"])
        .arg(state.path())
        .arg("--from")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("damaged"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(state.path().join("roster.redb")).unwrap(),
        live,
        "nothing replaced"
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        bad,
        "the backup is not changed"
    );
    assert_eq!(backup_copies(state.path()), 0, "no copy left behind");
}
