//! The real `rosterctl` acting on many accounts by label (`account enable|disable|remove
//! --label`), completing account names from a running daemon, the man pages it ships, and the
//! no-echo prompt for a credential typed on a terminal.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use roster_tests::sim::{InstanceSpec, Simulator};
use rosterd::pki::Role;

use crate::harness::{Daemon, Pki, add_sim_account, fast_monitor, health_by_name, text};

fn key(name: &str) -> String {
    format!("KEY-{name}-bulk-4c3b2a19")
}

/// rosterctl as the holder of `profile`, reading `stdin` (not a terminal): its exit code,
/// stdout and stderr.
async fn ctl(
    d: &Daemon,
    profile: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (Option<i32>, String, String) {
    let o = d.ctl_async(profile, args, stdin).await;
    let (out, err) = text(&o);
    (o.status.code(), out, err)
}

/// Who is enabled, by name.
async fn enabled(d: &Daemon, pki: &Pki) -> HashMap<String, bool> {
    d.all_accounts(&pki.admin())
        .await
        .into_iter()
        .map(|a| (a.name, a.enabled))
        .collect()
}

/// Disabling desk=a acts on exactly its accounts: refused without a terminal unless --yes, then
/// done once (a second run rewrites nothing), and the disabled accounts' upstreams are no
/// longer contacted while the others still are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_by_label_acts_on_exactly_the_matching_accounts() {
    // a2 before a10: the plan names them in natural order.
    let desk_a = ["a1", "a2", "a10"];
    let desk_b = ["b1", "b2"];
    let names: Vec<&str> = desk_a.iter().chain(&desk_b).copied().collect();
    let sim = Simulator::start(
        names
            .iter()
            .map(|n| InstanceSpec::demo(*n, key(n)))
            .collect(),
    )
    .await
    .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    for (i, n) in names.iter().enumerate() {
        let desk = if desk_a.contains(n) { "a" } else { "b" };
        add_sim_account(
            &mut c,
            n,
            &sim.instance(i).url(),
            &key(n),
            &[("desk", desk)],
        )
        .await;
    }
    let mut m = d.monitor(&admin).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !health_by_name(&mut m)
        .await
        .values()
        .all(|h| h.state == pb::HealthState::Up as i32)
    {
        assert!(Instant::now() < deadline, "accounts never came up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No terminal, no --yes: the plan is shown, nothing is changed, exit 2.
    let (code, out, err) = ctl(
        &d,
        &admin,
        &["account", "disable", "--label", "desk=a"],
        "y\n",
    )
    .await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("disable 3 accounts: a1, a2, a10") && err.contains("--yes"),
        "{err}"
    );
    assert!(enabled(&d, &pki).await.values().all(|e| *e));

    let (code, out, err) = ctl(
        &d,
        &admin,
        &["account", "disable", "--label", "desk=a", "--yes"],
        "",
    )
    .await;
    assert!(code == Some(0), "{out}{err}");
    assert_eq!(out, "disabled 3, already disabled 0, failed 0\n");
    let now = enabled(&d, &pki).await;
    for n in &names {
        assert_eq!(now[*n], desk_b.contains(n), "{n}: {now:?}");
    }
    let health = health_by_name(&mut m).await;
    for n in desk_a {
        assert_eq!(health[n].state, pb::HealthState::Disabled as i32, "{n}");
    }

    // Their health checks stop; desk b's go on. A check in flight at the moment of the disable
    // may still land, so count from a little later.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for inst in sim.instances() {
        inst.reset_requests();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (i, n) in names.iter().enumerate() {
        let hits = sim.instance(i).total_requests();
        if desk_a.contains(n) {
            assert_eq!(hits, 0, "disabled {n} was still contacted");
        } else {
            assert!(hits > 0, "enabled {n} was no longer checked");
        }
    }

    // Again: nothing left to do, nothing rewritten (no new audit record), no question asked.
    let audit_before = d.all_audit(&admin).await.len();
    let (code, out, err) = ctl(&d, &admin, &["account", "disable", "--label", "desk=a"], "").await;
    assert!(code == Some(0), "{out}{err}");
    assert_eq!(out, "disabled 0, already disabled 3, failed 0\n");
    assert_eq!(d.all_audit(&admin).await.len(), audit_before);

    // Enable them back, as a script reads it.
    let (code, out, err) = ctl(
        &d,
        &admin,
        &[
            "account", "enable", "--label", "desk=a", "--yes", "-o", "json",
        ],
        "",
    )
    .await;
    assert!(code == Some(0), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["done"], serde_json::json!(["a1", "a2", "a10"]));
    assert_eq!(report["failed"], serde_json::json!([]));
    assert!(enabled(&d, &pki).await.values().all(|e| *e));

    // No account matches: said, nothing sent, exit 0 (without --yes too).
    let (code, out, err) = ctl(
        &d,
        &admin,
        &["account", "remove", "--label", "desk=zzz"],
        "",
    )
    .await;
    assert!(code == Some(0), "{out}{err}");
    assert!(err.contains("no account has the labels desk=zzz"), "{err}");
    assert_eq!(d.all_accounts(&admin).await.len(), names.len());

    // Remove by label: exactly desk b goes.
    let (code, out, err) = ctl(
        &d,
        &admin,
        &["account", "rm", "--label", "desk=b", "-y"],
        "",
    )
    .await;
    assert!(code == Some(0), "{out}{err}");
    assert_eq!(out, "removed 2, failed 0\n");
    let mut left: Vec<String> = enabled(&d, &pki).await.into_keys().collect();
    left.sort();
    assert_eq!(left, ["a1", "a10", "a2"]);
}

/// An account the caller may not change is named with the daemon's reason; the exit status is
/// 1 and nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_account_is_named_and_the_exit_status_is_1() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &fast_monitor(300, 250));
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    for n in ["x1", "x2"] {
        add_sim_account(&mut c, n, "http://127.0.0.1:9", &key(n), &[("desk", "x")]).await;
    }
    let (viewer, _) = pki.issue("bulk-viewer", Role::Viewer);
    let (code, out, err) = ctl(
        &d,
        &viewer,
        &["account", "disable", "--label", "desk=x", "--yes"],
        "",
    )
    .await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with("disabled 0, already disabled 0, failed 2\n"),
        "{out}"
    );
    for n in ["x1", "x2"] {
        assert!(
            out.contains(&format!("failed: {n}: PERMISSION_DENIED")),
            "{n} not named: {out}"
        );
    }
    assert!(
        err.contains("2 of 2 accounts could not be disabled: x1, x2"),
        "{err}"
    );
    assert!(enabled(&d, &pki).await.values().all(|e| *e));
}

/// More accounts than the daemon's per-caller budget allows at once: the requests it refuses
/// with RESOURCE_EXHAUSTED are waited out and retried, and every account is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_larger_than_the_rate_limit_is_done_whole() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(
        &pki,
        state.path(),
        &crate::harness::DaemonOptions::default(),
    );
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    let names: Vec<String> = (1..=20).map(|i| format!("r{i}")).collect();
    for n in &names {
        add_sim_account(&mut c, n, "http://127.0.0.1:9", &key(n), &[("desk", "r")]).await;
    }
    // Now 10 requests a second, 5 at once, for every caller.
    let config = std::fs::read_to_string(d.config_path()).unwrap();
    let limited = config.replace(
        "requests_per_second = 10000\nburst = 10000",
        "requests_per_second = 10\nburst = 5",
    );
    assert_ne!(config, limited);
    std::fs::write(d.config_path(), limited).unwrap();
    d.restart();

    let (code, out, err) = ctl(
        &d,
        &admin,
        &["account", "disable", "--label", "desk=r", "--yes"],
        "",
    )
    .await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out, "disabled 20, already disabled 0, failed 0\n");
    // The admin's budget refills before it is used to look.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(enabled(&d, &pki).await.values().all(|e| !*e));
}

/// What a shell gets for the words typed so far, through the entry point its script calls
/// (`ROSTERCTL_COMPLETE=SHELL rosterctl -- WORDS...`): one candidate per line for fish, separated by the
/// script's IFS for bash.
fn complete(shell: &str, words: &[&str], env: &[(&str, &str)]) -> (Vec<String>, String) {
    let mut args = vec!["--".to_owned()];
    args.extend(words.iter().map(|w| w.to_string()));
    let index = (words.len() - 1).to_string();
    let mut all_env = vec![
        ("ROSTERCTL_COMPLETE", shell),
        ("_CLAP_COMPLETE_INDEX", index.as_str()),
        ("_CLAP_IFS", "\n"),
    ];
    all_env.extend_from_slice(env);
    let o = crate::harness::run_ctl_with_env(&args, &all_env, "");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{words:?}: {out}{err}");
    let candidates = out
        .lines()
        .filter(|l| !l.is_empty())
        // fish: "value<TAB>help"
        .map(|l| l.split('\t').next().unwrap_or_default().to_owned())
        .collect();
    (candidates, err)
}

/// Tab after an account argument offers the daemon's account names that start with what is
/// typed, with the connection given by flags or by the environment; with the daemon down it
/// offers nothing and says nothing.
#[test]
fn account_names_complete_from_the_running_daemon() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &crate::harness::DaemonOptions::default(),
    );
    let admin = pki.admin();
    for n in ["acc10", "acc2", "acc1", "other"] {
        let o = d.ctl(
            &admin,
            &[
                "account",
                "add",
                "--name",
                n,
                "--host",
                "http://127.0.0.1:9",
                "--disabled",
                "--api-key-stdin",
            ],
            &key(n),
        );
        assert!(o.status.success(), "{}", text(&o).1);
    }
    let url = d.url();
    let profile = admin.display().to_string();
    let flags = ["rosterctl", "--addr", &url, "--profile", &profile];

    for (shell, tail) in [
        ("fish", &["account", "get", "ac"][..]),
        ("bash", &["account", "disable", "ac"]),
        ("fish", &["health", "check", "ac"]),
        ("bash", &["positions", "--account", "ac"]),
    ] {
        let words: Vec<&str> = flags.iter().chain(tail).copied().collect();
        let (names, err) = complete(shell, &words, &[]);
        assert_eq!(names, ["acc1", "acc2", "acc10"], "{shell} {tail:?}");
        assert!(err.is_empty(), "{err}");
    }
    // Every account for an empty word (the command's flags besides); the connection from the
    // environment.
    let (mut names, _) = complete(
        "bash",
        &["rosterctl", "account", "update", ""],
        &[("ROSTER_ADDR", &url), ("ROSTER_PROFILE", &profile)],
    );
    names.retain(|n| !n.starts_with('-'));
    assert_eq!(names, ["acc1", "acc2", "acc10", "other"]);
    // Subcommands still complete as before.
    let (subs, _) = complete("fish", &["rosterctl", "account", "dis"], &[]);
    assert_eq!(subs, ["disable"]);

    // A COMPLETE left in the environment by another tool is not a completion request.
    let o = crate::harness::run_ctl_with_env(
        &[
            "--addr".into(),
            url.clone(),
            "--profile".into(),
            profile.clone(),
            "account".into(),
            "list".into(),
        ],
        &[("COMPLETE", "bash")],
        "",
    );
    assert!(
        o.status.success() && text(&o).0.contains("acc10"),
        "{:?}",
        text(&o)
    );

    // The daemon is gone: no names, no message, no error status.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://{}", l.local_addr().unwrap())
    };
    for shell in ["bash", "fish"] {
        let (names, err) = complete(
            shell,
            &[
                "rosterctl",
                "--addr",
                &down,
                "--profile",
                &profile,
                "account",
                "get",
                "ac",
            ],
            &[],
        );
        assert!(names.is_empty() && err.is_empty(), "{names:?} {err}");
    }
}

/// Runs the real rosterctl on a pseudo-terminal, typing each of `typed` once the next `prompt`
/// is on the screen (and, for a `hidden` prompt, once the terminal has stopped echoing: the
/// prompt is written a moment before echo goes off, and what arrives in between would be shown,
/// however unlikely a person is to type in those microseconds); returns everything the terminal
/// showed and rosterctl's exit code. Bounded: 30 s in all, the process killed past it.
fn on_terminal(args: &[String], prompt: &str, typed: &[&str], hidden: bool) -> (String, u32) {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(crate::harness::bin("rosterctl"));
    cmd.args(args);
    // Plain text: the assertions read words, not colour codes.
    cmd.env("NO_COLOR", "1");
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let sink = screen.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EOF or EIO once rosterctl has exited and the terminal has no writer left.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        let _ = done_tx.send(());
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut writer = pair.master.take_writer().unwrap();
    for (i, answer) in typed.iter().enumerate() {
        let echoing = || {
            pair.master
                .get_termios()
                .is_none_or(|t| t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO))
        };
        while shown().matches(prompt).count() <= i || (hidden && echoing()) {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "no prompt #{} on the terminal (or, hidden, it still echoes): {:?}",
                    i + 1,
                    shown()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // As a person types it: the characters, then Enter.
        writer.write_all(answer.as_bytes()).unwrap();
        writer.write_all(b"\r").unwrap();
        writer.flush().unwrap();
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rosterctl did not finish: {:?}", shown());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(writer);
    drop(pair.master);
    let _ = done_rx.recv_timeout(Duration::from_secs(5));
    (shown(), status.exit_code())
}

/// How rosterctl's credential prompts end.
const NO_ECHO: &str = "(not echoed): ";

/// A credential typed at the terminal prompt (`--api-key-stdin`, `--credentials-stdin` for a
/// two-field venue) is never shown on it, and it is the credential the account is created with:
/// the upstream accepts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_typed_on_a_terminal_is_not_echoed_and_is_used() {
    use roster_tests::alpaca_sim::{AlpacaAccountSpec, AlpacaSim, Environment, demo_keys};

    let oa_key = key("pty-oa");
    let sim = Simulator::start(vec![InstanceSpec::demo("pty-oa", oa_key.clone())])
        .await
        .unwrap();
    let (key_id, secret) = demo_keys(Environment::Paper, 1);
    let alpaca = AlpacaSim::start(
        Environment::Paper,
        vec![AlpacaAccountSpec::demo(key_id.clone(), secret.clone())],
    )
    .await
    .unwrap();
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &crate::harness::DaemonOptions::default(),
    );
    let admin = pki.admin();
    let conn = [
        "--addr".to_owned(),
        d.url(),
        "--profile".to_owned(),
        admin.display().to_string(),
    ];
    let with = |rest: &[&str]| -> Vec<String> {
        conn.iter()
            .cloned()
            .chain(rest.iter().map(|s| s.to_string()))
            .collect()
    };

    let oa_args = with(&[
        "account",
        "add",
        "--name",
        "pty-oa",
        "--host",
        &sim.instance(0).url(),
        "--api-key-stdin",
    ]);
    let oa_key_typed = oa_key.clone();
    let (screen, code) =
        tokio::task::spawn_blocking(move || on_terminal(&oa_args, NO_ECHO, &[&oa_key_typed], true))
            .await
            .unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("API key (not echoed): "), "{screen}");
    assert!(screen.contains("created account pty-oa"), "{screen}");
    // Saved and tested with the typed key: no "connection test failed" warning.
    assert!(!screen.contains("warning"), "{screen}");
    assert!(
        !screen.contains(&oa_key),
        "the API key was echoed: {screen}"
    );

    let alp_args = with(&[
        "account",
        "add",
        "--name",
        "pty-alp",
        "--connector",
        "alpaca",
        "--env",
        "paper",
        "--host",
        &alpaca.url(),
        "--credentials-stdin",
    ]);
    let typed = [key_id.clone(), secret.clone()];
    let (screen, code) = tokio::task::spawn_blocking(move || {
        on_terminal(
            &alp_args,
            NO_ECHO,
            &[typed[0].as_str(), typed[1].as_str()],
            true,
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{screen}");
    let (id_prompt, secret_prompt) = (
        screen.find("key_id").unwrap_or(usize::MAX),
        screen.find("secret_key").unwrap_or(usize::MAX),
    );
    assert!(
        id_prompt < secret_prompt && secret_prompt < usize::MAX,
        "{screen}"
    );
    assert!(screen.contains("created account pty-alp"), "{screen}");
    assert!(!screen.contains("warning"), "{screen}");
    for typed in [&key_id, &secret] {
        assert!(
            !screen.contains(typed.as_str()),
            "a credential field was echoed: {screen}"
        );
    }

    // The daemon holds what was typed: each upstream accepts the stored credential.
    let mut c = d.accounts(&admin).await;
    for name in ["pty-oa", "pty-alp"] {
        let t = c
            .test_connection(pb::TestConnectionRequest {
                account: name.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(t.reachable && t.key_accepted, "{name}: {t:?}");
    }
}

/// On a terminal the bulk action asks before acting: "n" (or just Enter) changes nothing, "y"
/// goes ahead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_a_bulk_action_asks_first() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &crate::harness::DaemonOptions::default(),
    );
    let admin = pki.admin();
    let mut c = d.accounts(&admin).await;
    for n in ["t1", "t2", "u1"] {
        let desk = if n.starts_with('t') { "t" } else { "u" };
        add_sim_account(&mut c, n, "http://127.0.0.1:9", &key(n), &[("desk", desk)]).await;
    }
    let args: Vec<String> = [
        "--addr",
        &d.url(),
        "--profile",
        &admin.display().to_string(),
        "account",
        "disable",
        "--label",
        "desk=t",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (answer, code, disabled) in [("n", 1, false), ("", 1, false), ("y", 0, true)] {
        let a = args.clone();
        let (screen, got) =
            tokio::task::spawn_blocking(move || on_terminal(&a, "[y/N] ", &[answer], false))
                .await
                .unwrap();
        assert!(
            screen.contains("disable 2 accounts: t1, t2\r\nProceed? [y/N] "),
            "{screen}"
        );
        assert_eq!(got, code, "answer {answer:?}: {screen}");
        let now = enabled(&d, &pki).await;
        assert_eq!(
            (now["t1"], now["t2"], now["u1"]),
            (!disabled, !disabled, true),
            "answer {answer:?}: {screen}"
        );
    }
}
