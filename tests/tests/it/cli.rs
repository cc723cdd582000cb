//! The real `rosterctl` binary against the real daemon: the commands scripts rely on, their
//! output, exit codes, and the one-line errors people see.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rosterd::pki::Role;

use crate::harness::{Daemon, DaemonOptions, Pki, bin, run_ctl, text};

const KEY: &str = "cli-secret-key-5e6f7a8b9c";

#[test]
fn account_commands_round_trip_and_never_print_the_key() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let admin = pki.admin();
    let ok = |args: &[&str], stdin: &str| {
        let o = d.ctl(&admin, args, stdin);
        let (out, err) = text(&o);
        assert!(o.status.success(), "rosterctl {args:?} failed: {err}");
        assert!(
            !out.contains(KEY) && !err.contains(KEY),
            "key printed by {args:?}"
        );
        out
    };

    ok(
        &[
            "account",
            "add",
            "--name",
            "cli-1",
            "--host",
            "http://127.0.0.1:9",
            "--label",
            "desk=a",
            "--api-key-stdin",
        ],
        &format!("{KEY}\n"),
    );
    let key_file = state.path().join("key.txt");
    std::fs::write(&key_file, KEY).unwrap();
    ok(
        &[
            "accounts",
            "add",
            "--name",
            "cli-2",
            "--host",
            "https://127.0.0.1:10",
            "--api-key-file",
            key_file.to_str().unwrap(),
        ],
        "",
    );

    let table = ok(&["account", "list"], "");
    assert!(
        table.contains("cli-1") && table.contains("cli-2") && table.contains("desk=a"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(
        &["account", "list", "--label", "desk=a", "-o", "json"],
        "",
    ))
    .unwrap();
    let accounts = json["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0]["name"], "cli-1");
    assert_eq!(
        accounts[0]["apiKeyHint"], "cli-…8b9c",
        "proto3 JSON uses lowerCamelCase names"
    );

    let got: serde_json::Value =
        serde_json::from_str(&ok(&["account", "get", "cli-1", "-o", "json"], "")).unwrap();
    assert_eq!(got["hostUrl"], "http://127.0.0.1:9");
    ok(
        &[
            "account",
            "update",
            "cli-1",
            "--host",
            "http://127.0.0.1:11",
            "--label",
            "desk=b",
        ],
        "",
    );
    ok(&["account", "disable", "cli-1"], "");
    let got: serde_json::Value =
        serde_json::from_str(&ok(&["account", "get", "cli-1", "-o", "json"], "")).unwrap();
    assert_eq!(got["hostUrl"], "http://127.0.0.1:11");
    assert_eq!(got["labels"]["desk"], "b");
    assert!(
        !got.get("enabled")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        "disabled"
    );
    ok(&["account", "enable", "cli-1"], "");
    ok(
        &["account", "update", "cli-1", "--api-key-stdin"],
        "a-new-key-000111222\n",
    );
    ok(&["account", "remove", "cli-2"], "");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["account", "list", "-o", "json"], "")).unwrap();
    assert_eq!(json["accounts"].as_array().unwrap().len(), 1);
    let status = ok(&["status"], "");
    assert!(
        status.contains("admin"),
        "status names the caller: {status}"
    );

    // Refusals: one line on stderr, exit 1, naming the cause.
    let o = d.ctl(
        &admin,
        &[
            "account",
            "add",
            "--name",
            "cli-1",
            "--host",
            "http://h",
            "--api-key-stdin",
        ],
        "k",
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("ALREADY_EXISTS"), "{err}");
    let o = d.ctl(
        &admin,
        &[
            "account",
            "add",
            "--name",
            "bad",
            "--host",
            "javascript:alert(1)",
            "--api-key-stdin",
        ],
        "k",
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("INVALID_ARGUMENT") && err.contains("host_url"),
        "{err}"
    );
    let o = d.ctl(&admin, &["account", "get", "nope"], "");
    assert!(text(&o).1.contains("NOT_FOUND"));
    // A key on the command line is a usage error (exit 2), never sent.
    let o = d.ctl(
        &admin,
        &[
            "account",
            "add",
            "--name",
            "x",
            "--host",
            "http://h",
            "--api-key",
            KEY,
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn rejected_clients_get_a_one_line_reason() {
    let pki = Pki::new();
    let (viewer, _) = pki.issue("viewer-cli", Role::Viewer);
    let (revoked, serial) = pki.issue("revoked-cli", Role::Admin);
    let expired = pki.issue_expired("expired-cli", Role::Admin);
    let other = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(
        &pki,
        state.path(),
        &DaemonOptions {
            revoked: vec![serial],
            ..Default::default()
        },
    );

    let refused = |profile: &std::path::Path, args: &[&str], stdin: &str, expect: &[&str]| {
        let o = d.ctl(profile, args, stdin);
        let (out, err) = text(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{args:?} should fail: {out} {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            expect.iter().any(|e| err.contains(e)),
            "{args:?}: {err:?} should name one of {expect:?}"
        );
    };
    refused(
        &viewer,
        &[
            "account",
            "add",
            "--name",
            "v",
            "--host",
            "http://h",
            "--api-key-stdin",
        ],
        "k",
        &["PERMISSION_DENIED"],
    );
    refused(
        &viewer,
        &["account", "remove", "anything"],
        "",
        &["PERMISSION_DENIED"],
    );
    refused(&revoked, &["account", "list"], "", &["revoked"]);
    refused(&expired, &["account", "list"], "", &["expired"]);
    // A client of another CA: the daemon is not trusted by it either, so use our CA to verify the
    // daemon and the foreign client certificate to authenticate.
    let args = vec![
        "--addr".to_string(),
        d.url(),
        "--ca".into(),
        pki.path().join("ca.pem").display().to_string(),
        "--cert".into(),
        other.admin().join("cert.pem").display().to_string(),
        "--key".into(),
        other.admin().join("key.pem").display().to_string(),
        "account".into(),
        "list".into(),
    ];
    let o = run_ctl(&args, "");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("UnknownCA") || err.to_lowercase().contains("unknown ca"),
        "{err}"
    );
    // No client certificate at all.
    let args = vec![
        "--addr".to_string(),
        d.url(),
        "--ca".into(),
        pki.path().join("ca.pem").display().to_string(),
        "account".into(),
        "list".into(),
    ];
    let o = run_ctl(&args, "");
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    // Nothing listening.
    let o = run_ctl(
        &[
            "--addr".into(),
            "https://127.0.0.1:9".into(),
            "--profile".into(),
            pki.admin().display().to_string(),
            "status".into(),
        ],
        "",
    );
    assert!(
        text(&o).1.to_lowercase().contains("refused"),
        "{:?}",
        text(&o)
    );
}

/// A script that waits for the port and then reads the output (as `contract-smoke` does) must
/// find the instructions: they are printed before the port accepts connections, not after.
#[test]
fn rosterd_dev_has_printed_its_rosterctl_command_when_the_port_first_answers() {
    let state = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = state.path().join("out.log");
    let mut child = Command::new(bin("rosterd"))
        .args(["--dev", "--state-dir"])
        .arg(state.path().join("dev"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "rosterd never listened"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let printed = std::fs::read_to_string(&out).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        printed.contains(&format!(
            "cargo run -q -p rosterctl -- --addr https://127.0.0.1:{port}"
        )),
        "when the port first answered, rosterd had printed: {printed:?}"
    );
}

#[test]
fn rosterd_dev_prints_a_rosterctl_command_that_works() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("dev");
    let mut child = Command::new(bin("rosterd"))
        .args(["--dev", "--state-dir"])
        .arg(&dir)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, args)) = line.split_once("cargo run -q -p rosterctl -- ") {
                printed = Some(args.to_string());
            }
            // The command is printed just before the port accepts connections and "listening
            // on" just after (microseconds apart): a person reads the one, a script waits for
            // the other, as this test does.
            if line.starts_with("rosterd listening on") {
                let _ = tx.send(printed.take());
            }
        }
    });
    let printed = rx
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .flatten()
        .expect("rosterd --dev printed a rosterctl command before listening");
    let args: Vec<String> = printed.split_whitespace().map(str::to_string).collect();
    let o = run_ctl(&args, "");
    let (out, err) = text(&o);
    assert!(
        o.status.success(),
        "printed command `{printed}` failed: {err}"
    );
    assert!(out.contains("admin"), "{out}");
    // The printed profile can write too, and the dev PKI dir works with `pki issue`.
    let mut add = args[..4].to_vec();
    add.extend(
        [
            "account",
            "add",
            "--name",
            "dev-1",
            "--host",
            "http://127.0.0.1:9",
            "--api-key-stdin",
        ]
        .map(String::from),
    );
    assert!(run_ctl(&add, "dev-key-123456").status.success());
    let issue = [
        "pki",
        "issue",
        "--dir",
        dir.to_str().unwrap(),
        "--name",
        "v1",
        "--role",
        "viewer",
        "--out",
        dir.join("v1").to_str().unwrap(),
    ]
    .map(String::from);
    assert!(run_ctl(&issue, "").status.success());
    let _ = child.kill();
    let _ = child.wait();
}

/// `rosterd check-config` validates every section startup validates, `[upstream]` included, and
/// names the file and the problem.
#[test]
fn check_config_rejects_what_startup_would() {
    let dir = tempfile::tempdir().unwrap();
    let check = |toml: &str| {
        let path = dir.path().join("rosterd.toml");
        std::fs::write(&path, toml).unwrap();
        let o = Command::new(bin("rosterd"))
            .arg("check-config")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let (out, err) = text(&o);
        (o.status.success(), out, err)
    };
    let (ok, out, _) = check("[upstream]\nrequest_timeout = \"2s\"\n");
    assert!(ok && out.contains("ok"), "{out}");
    let (ok, _, err) = check("[upstream]\nrequests_per_second_per_endpoint = 0\n");
    assert!(!ok, "a zero upstream budget passed check-config");
    assert!(
        err.contains("rosterd.toml: upstream.requests_per_second_per_endpoint must be > 0"),
        "{err}"
    );
    // A wrong type or unknown key is reported at its place: FILE:LINE:COL: key: problem, once.
    let (ok, _, err) = check("[server]\n\n[monitor]\ninterval = 5\n");
    assert!(!ok);
    assert!(
        err.contains("rosterd.toml:4:12: monitor.interval: invalid type"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // `rosterd --dev --config FILE` names FILE and its line, not the dev config it is laid over.
    let over = dir.path().join("over.toml");
    std::fs::write(&over, "[limits]\nburst = 7\n\n[monitor]\ntimeout = 3\n").unwrap();
    let o = Command::new(bin("rosterd"))
        .arg("--dev")
        .arg("--state-dir")
        .arg(dir.path().join("dev"))
        .arg("--config")
        .arg(&over)
        .output()
        .unwrap();
    let (_, err) = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("over.toml:5:11: monitor.timeout: invalid type"),
        "{err}"
    );
}

/// `account add` tests the connection after saving: a refused key is a warning (the account is
/// saved; `--no-test` skips the test). `account test` fails, for scripts, when the broker
/// session is dead even though the key is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_warns_about_a_refused_key_and_test_fails_on_a_dead_session() {
    use roster_tests::sim::{InstanceSpec, Simulator};
    let sim = Simulator::start(vec![
        InstanceSpec::demo("good", "good-key-0123456789abcdef"),
        InstanceSpec::demo("dead", "dead-key-0123456789abcdef"),
    ])
    .await
    .unwrap();
    sim.instance(1).set_session_expired(true);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let admin = pki.admin();
    let good = sim.instance(0).url();
    let add =
        |name: &'static str, host: String, key: &'static str, extra: &'static [&'static str]| {
            let d = &d;
            let admin = admin.clone();
            async move {
                let mut args = vec![
                    "account",
                    "add",
                    "--name",
                    name,
                    "--host",
                    &host,
                    "--api-key-stdin",
                ];
                args.extend_from_slice(extra);
                d.ctl_async(&admin, &args, key).await
            }
        };

    let o = add("ok", good.clone(), "good-key-0123456789abcdef", &[]).await;
    let (_, err) = text(&o);
    assert!(o.status.success() && !err.contains("warning"), "{err}");

    let o = add("typo", good.clone(), "wrong-key-0123456789abcdef", &[]).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "saved anyway: {err}");
    assert!(out.contains("created account typo"), "{out}");
    assert!(
        err.contains("warning: account typo saved, but its connection test failed"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-key-0123456789abcdef"),
        "the key was printed: {err}"
    );

    let o = add("quiet", good, "wrong-key-0123456789abcdef", &["--no-test"]).await;
    let (_, err) = text(&o);
    assert!(o.status.success() && !err.contains("warning"), "{err}");
    // Three accounts saved, the refused key's included.
    let listed = d
        .ctl_async(&admin, &["account", "list", "-o", "json"], "")
        .await;
    let (out, _) = text(&listed);
    for name in ["\"ok\"", "\"typo\"", "\"quiet\""] {
        assert!(out.contains(name), "{out}");
    }

    let o = add(
        "dead",
        sim.instance(1).url(),
        "dead-key-0123456789abcdef",
        &["--no-test"],
    )
    .await;
    assert!(o.status.success());
    let o = d.ctl_async(&admin, &["account", "test", "dead"], "").await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("session"), "{err}");
    let o = d.ctl_async(&admin, &["account", "test", "ok"], "").await;
    assert!(o.status.success(), "{}", text(&o).1);
}

/// A SIGHUP with a changed restart-only setting applies the rest and says which sections keep
/// their running values, instead of staying silent about them.
#[test]
fn a_reload_says_which_settings_need_a_restart() {
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let good = std::fs::read_to_string(d.config_path()).unwrap();
    std::fs::write(
        d.config_path(),
        format!("{good}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    d.hup();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !d.stderr().contains("configuration reloaded") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.stderr();
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("take effect only at a restart") && l.contains("[metrics]")),
        "{log}"
    );
    let o = d.ctl(&pki.admin(), &["status"], "");
    assert!(o.status.success(), "{}", text(&o).1);
}

/// Book commands tell a script whether the answer is complete: exit 0 when every selected
/// account's section is fresh, 3 when one failed or is stale, with the book printed either way
/// (table and JSON) and nothing on stderr. Every section also carries the shared `section`
/// message, equal to the deprecated copies of its fields that older clients read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_commands_exit_3_on_a_partial_answer_and_still_print_it() {
    use crate::harness::add_sim_account;
    use roster_tests::sim::{Fault, InstanceSpec, Simulator};
    const BOOKS: [&[&str]; 5] = [
        &["funds"],
        &["positions", "--net"],
        &["orders"],
        &["trades"],
        &["holdings"],
    ];
    let names = ["healthy", "failing", "flaky"];
    let key = |name: &str| format!("{name}-key-0123456789abcdef");
    let sim = Simulator::start(
        names
            .iter()
            .map(|n| InstanceSpec::demo(*n, key(n)))
            .collect(),
    )
    .await
    .unwrap();
    sim.instance(1).set_fault(Fault::Http500);
    let pki = Pki::new();
    let state = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(&pki, state.path(), &DaemonOptions::default());
    let mut accounts = d.accounts(&pki.admin()).await;
    for (i, name) in names.iter().enumerate() {
        add_sim_account(&mut accounts, name, &sim.instance(i).url(), &key(name), &[]).await;
    }
    let admin = pki.admin();
    // Runs a book command; returns its exit code, stdout and stderr.
    let book = |args: Vec<&'static str>| {
        let d = &d;
        let admin = admin.clone();
        async move {
            let o = d.ctl_async(&admin, &args, "").await;
            let (out, err) = text(&o);
            (o.status.code(), out, err)
        }
    };
    // The JSON document of a book, checked: every section's `section` agrees with the
    // deprecated fields beside it.
    let json_book = |args: Vec<&'static str>| {
        let book = &book;
        async move {
            let mut with_json = vec!["-o", "json"];
            with_json.extend(&args);
            let (code, out, err) = book(with_json).await;
            let doc: serde_json::Value = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("{args:?} -o json: {e}: {out}{err}"));
            for a in doc["accounts"].as_array().unwrap() {
                for field in [
                    "accountId",
                    "accountName",
                    "fetchedAt",
                    "stale",
                    "age",
                    "mode",
                    "error",
                    "errorReason",
                    "hasData",
                ] {
                    assert_eq!(a["section"][field], a[field], "{args:?} {field}: {a}");
                }
                assert!(a["section"]["accountId"].is_string(), "no section: {a}");
            }
            (code, doc, err)
        }
    };

    // Complete: the healthy and the (still healthy) flaky account, fetched now.
    for args in BOOKS {
        let mut a = args.to_vec();
        a.extend(["--account", "healthy", "--account", "flaky", "--refresh"]);
        let (code, out, err) = book(a.clone()).await;
        assert_eq!(code, Some(0), "{a:?}: {out}{err}");
        assert!(out.contains("2 selected, 2 fresh"), "{a:?}: {out}");
        let (code, doc, err) = json_book(a.clone()).await;
        assert_eq!(code, Some(0), "{a:?}: {doc}{err}");
    }

    // Partial: the failing account's section failed. The book is still printed: the healthy
    // accounts' rows, the failed section marked, and no error line.
    for args in BOOKS {
        let (code, out, err) = book(args.to_vec()).await;
        assert_eq!(code, Some(3), "{args:?}: {out}{err}");
        assert!(err.is_empty(), "{args:?} printed on stderr: {err}");
        assert!(
            out.lines()
                .any(|l| l.contains("failing") && l.contains("FAILED: HTTP_5XX")),
            "{args:?}: {out}"
        );
        assert!(
            out.contains("3 selected, 2 fresh, 0 stale, 1 failed"),
            "{args:?}: {out}"
        );
        let (code, doc, err) = json_book(args.to_vec()).await;
        assert_eq!(code, Some(3), "{args:?}: {doc}{err}");
        let sections = doc["accounts"].as_array().unwrap();
        assert_eq!(sections.len(), 3, "{doc}");
        let failed = sections
            .iter()
            .find(|a| a["section"]["accountName"] == "failing")
            .unwrap();
        assert_eq!(failed["section"]["errorReason"], "HEALTH_REASON_HTTP_5XX");
    }

    // Stale: flaky now fails, so its last good snapshot is served, marked stale.
    sim.instance(2).set_fault(Fault::Http500);
    for args in BOOKS {
        let mut a = args.to_vec();
        a.extend(["--account", "flaky", "--refresh"]);
        let (code, out, err) = book(a.clone()).await;
        assert_eq!(code, Some(3), "{a:?}: {out}{err}");
        assert!(
            out.contains("stale") && out.contains("HTTP_5XX"),
            "{a:?}: {out}"
        );
        assert!(out.contains("1 selected, 0 fresh, 1 stale"), "{a:?}: {out}");
        let (code, doc, _) = json_book(a.clone()).await;
        assert_eq!(code, Some(3), "{a:?}: {doc}");
        assert_eq!(doc["accounts"][0]["section"]["stale"], true, "{doc}");
        assert_eq!(doc["accounts"][0]["section"]["hasData"], true, "{doc}");
    }

    // The healthy account alone is still a complete answer.
    let (code, out, err) = book(vec!["funds", "--account", "healthy"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(d.is_running(), "the daemon died");
}
