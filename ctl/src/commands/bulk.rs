//! `rosterctl account enable|disable|remove --label K=V...`: one action on every account a label
//! selector matches. The accounts are listed first and named, a person confirms (a script says
//! `--yes`), then each account gets its own request, a few at a time, so one failure is named
//! and the rest are still done.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::time::Duration;

use anyhow::{Result, anyhow};
use roster_proto::v1::{Account, DeleteAccountRequest};
use serde::Serialize;
use tokio::task::JoinSet;
use tonic::Code;
use tonic_types::StatusExt;

use super::account::{enable_request, list_all};
use super::{UsageError, show};
use crate::cli::{Output, label_selector};
use crate::client::Client;

/// Requests in flight at once: quick for a fleet, gentle on the daemon's per-caller budget.
const CONCURRENCY: usize = 8;
/// How many names the plan spells out before "and N more": a fleet of thousands stays one
/// readable paragraph.
const PLAN_NAMES: usize = 20;
/// From this many accounts on, progress is reported on stderr (ten steps at most).
const PROGRESS_FROM: usize = 50;
/// How long one account's request keeps being retried while the daemon answers
/// RESOURCE_EXHAUSTED (its rate limit) before the account is reported as failed. The requests in
/// flight compete for the same budget, so it is a time, not a number of tries.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// What a bulk command does to each matching account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Enable,
    Disable,
    Remove,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Remove => "remove",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Action::Enable => "enabled",
            Action::Disable => "disabled",
            Action::Remove => "removed",
        }
    }

    /// An account the action would not change: it is not rewritten (no audit record, no
    /// event, no etag bump for nothing).
    fn already(self, a: &Account) -> bool {
        match self {
            Action::Enable => a.enabled,
            Action::Disable => !a.enabled,
            Action::Remove => false,
        }
    }
}

/// What happened to each matching account, for people and for `-o json`.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub action: String,
    pub label_selector: String,
    /// Names of the accounts the action changed.
    pub done: Vec<String>,
    /// Names of the accounts that were already as wanted.
    pub unchanged: Vec<String>,
    pub failed: Vec<Failure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Failure {
    pub account: String,
    pub error: String,
}

/// Lists the accounts `labels` selects, confirms, acts on each, and prints the summary. Any
/// failed account makes it an error (exit 1) after the summary; a refused confirmation is a
/// usage error (exit 2) before anything is sent.
pub async fn run(
    client: &Client,
    action: Action,
    labels: &[(String, String)],
    yes: bool,
    output: Output,
) -> Result<()> {
    let selector = label_selector(labels);
    let mut matched = list_all(client, &selector, None).await?.accounts;
    matched.sort_by(|a, b| roster_proto::names::natural_order(&a.name, &b.name));
    let mut report = Report {
        action: action.verb().to_owned(),
        label_selector: selector.clone(),
        ..Report::default()
    };
    if matched.is_empty() {
        if output == Output::Table {
            eprintln!(
                "no account has the labels {selector}: nothing to {}",
                action.verb()
            );
        }
        return show(output, &report, |_| String::new());
    }
    let (unchanged, todo): (Vec<Account>, Vec<Account>) =
        matched.into_iter().partition(|a| action.already(a));
    report.unchanged = unchanged.into_iter().map(|a| a.name).collect();
    if !todo.is_empty() {
        let names: Vec<&str> = todo.iter().map(|a| a.name.as_str()).collect();
        let plan = plan(action, &names, report.unchanged.len());
        if !yes {
            confirm(&plan, action, names.len())?;
        } else if output == Output::Table {
            eprintln!("{plan}");
        }
        let total = todo.len();
        let mut progress = Progress::new(action, total);
        let results = for_each_bounded(
            todo,
            CONCURRENCY,
            |a| act(client, action, a),
            |n| {
                if let Some(line) = progress.advance(n) {
                    eprintln!("{line}");
                }
            },
        )
        .await;
        for (name, result) in results {
            match result {
                Ok(()) => report.done.push(name),
                Err(error) => report.failed.push(Failure {
                    account: name,
                    error,
                }),
            }
        }
        // Finished out of order (concurrency): report in the order the plan named them.
        report
            .done
            .sort_by(|a, b| roster_proto::names::natural_order(a, b));
        report
            .failed
            .sort_by(|a, b| roster_proto::names::natural_order(&a.account, &b.account));
    }
    show(output, &report, |r| summary(action, r))?;
    match report.failed.len() {
        0 => Ok(()),
        n => Err(anyhow!(
            "{n} of {} accounts could not be {}: {}",
            n + report.done.len(),
            action.done(),
            names_line(
                &report
                    .failed
                    .iter()
                    .map(|f| f.account.as_str())
                    .collect::<Vec<_>>()
            )
        )),
    }
}

/// One request for one account, by id (a rename between list and act cannot redirect it) and
/// with the listed etag, so an account changed meanwhile (relabelled out of the selection, say)
/// is refused with ABORTED instead of acted on unseen. A fleet is more requests than the
/// daemon's per-caller budget allows at once (100 in a burst, 50/s by default): an answer of
/// RESOURCE_EXHAUSTED is waited out as the daemon says and retried, for [`RETRY_FOR`] at most.
fn act(
    client: &Client,
    action: Action,
    a: Account,
) -> impl Future<Output = (String, std::result::Result<(), String>)> + Send + 'static {
    let mut svc = client.accounts();
    async move {
        let give_up = tokio::time::Instant::now() + RETRY_FOR;
        let result = loop {
            let sent = match action {
                Action::Enable | Action::Disable => {
                    let mut req = enable_request(&a.id, action == Action::Enable);
                    if let Some(acc) = req.account.as_mut() {
                        acc.etag.clone_from(&a.etag);
                    }
                    svc.update_account(req).await.map(|_| ())
                }
                Action::Remove => svc
                    .delete_account(DeleteAccountRequest {
                        account: a.id.clone(),
                        etag: a.etag.clone(),
                    })
                    .await
                    .map(|_| ()),
            };
            match sent {
                Err(s)
                    if s.code() == Code::ResourceExhausted
                        && tokio::time::Instant::now() + retry_delay(&s) < give_up =>
                {
                    tokio::time::sleep(retry_delay(&s)).await;
                }
                other => break other,
            }
        };
        let result = result.map_err(|s| crate::errors::render(&anyhow::Error::from(s)));
        (a.name, result)
    }
}

/// How long the daemon asked a refused caller to wait (google.rpc.RetryInfo), kept within
/// reason; a refusal without one waits a second.
fn retry_delay(s: &tonic::Status) -> Duration {
    s.get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .unwrap_or(Duration::from_secs(1))
        .clamp(Duration::from_millis(50), Duration::from_secs(5))
}

/// Runs `act` on every item with at most `limit` in flight, calling `progress` with the count
/// finished after each; every item is attempted whatever the others' results.
pub async fn for_each_bounded<T, F, Fut>(
    items: Vec<T>,
    limit: usize,
    act: F,
    mut progress: impl FnMut(usize),
) -> Vec<(String, std::result::Result<(), String>)>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = (String, std::result::Result<(), String>)> + Send + 'static,
{
    let total = items.len();
    let mut pending = items.into_iter();
    let mut running = JoinSet::new();
    let mut results = Vec::with_capacity(total);
    loop {
        while running.len() < limit.max(1) {
            match pending.next() {
                Some(item) => {
                    running.spawn(act(item));
                }
                None => break,
            }
        }
        match running.join_next().await {
            Some(Ok(r)) => results.push(r),
            // A task that panicked has no name to report: count it as failed all the same.
            Some(Err(e)) => results.push((String::from("?"), Err(format!("internal error: {e}")))),
            None => return results,
        }
        progress(results.len());
    }
}

/// "disable 12 accounts: a, b, ... and 2 more (1 already disabled)".
pub fn plan(action: Action, names: &[&str], unchanged: usize) -> String {
    let mut s = format!(
        "{} {} account{}: {}",
        action.verb(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names_line(names)
    );
    if unchanged > 0 {
        s.push_str(&format!(" ({unchanged} already {})", action.done()));
    }
    s
}

/// Up to [`PLAN_NAMES`] names, then how many more.
fn names_line(names: &[&str]) -> String {
    let shown = names.len().min(PLAN_NAMES);
    let mut s = names[..shown].join(", ");
    if names.len() > shown {
        s.push_str(&format!(", ... and {} more", names.len() - shown));
    }
    s
}

/// Asks on a terminal; without one, refuses: a script must say `--yes` to act on a fleet.
fn confirm(plan: &str, action: Action, count: usize) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!("{plan}");
        return Err(UsageError(format!(
            "not confirmed: stdin is not a terminal; pass --yes to {} these {count} account{} \
             (nothing was changed)",
            action.verb(),
            if count == 1 { "" } else { "s" }
        ))
        .into());
    }
    let mut err = std::io::stderr().lock();
    write!(err, "{plan}\nProceed? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    // A bounded read: a line of an answer, not whatever is pasted.
    stdin.lock().take(64).read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(anyhow!("not confirmed: nothing was changed"))
    }
}

/// The summary table output prints: counts, then every failure by name.
pub fn summary(action: Action, r: &Report) -> String {
    let mut s = format!("{} {}", action.done(), r.done.len());
    if action != Action::Remove {
        s.push_str(&format!(
            ", already {} {}",
            action.done(),
            r.unchanged.len()
        ));
    }
    s.push_str(&format!(", failed {}\n", r.failed.len()));
    for f in &r.failed {
        s.push_str(&format!("  failed: {}: {}\n", f.account, f.error));
    }
    s
}

/// Progress lines on stderr for long runs: at each tenth of the way.
struct Progress {
    action: Action,
    total: usize,
    next: usize,
}

impl Progress {
    fn new(action: Action, total: usize) -> Self {
        Self {
            action,
            total,
            next: if total >= PROGRESS_FROM {
                total.div_ceil(10)
            } else {
                usize::MAX
            },
        }
    }

    /// The line to print now that `finished` accounts are done, if one is due.
    fn advance(&mut self, finished: usize) -> Option<String> {
        if finished < self.next || finished >= self.total {
            return None;
        }
        self.next = finished + self.total.div_ceil(10);
        Some(format!(
            "{}: {finished}/{} done",
            self.action.verb(),
            self.total
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_plan_names_accounts_and_stops_at_a_screenful() {
        assert_eq!(
            plan(Action::Disable, &["a", "b"], 1),
            "disable 2 accounts: a, b (1 already disabled)"
        );
        assert_eq!(plan(Action::Remove, &["x"], 0), "remove 1 account: x");
        let many: Vec<String> = (1..=1000).map(|i| format!("acc{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let p = plan(Action::Enable, &many, 0);
        assert!(p.starts_with("enable 1000 accounts: acc1, acc2, "), "{p}");
        assert!(p.ends_with("acc20, ... and 980 more"), "{p}");
        assert!(p.len() < 300, "{p}");
    }

    #[test]
    fn a_rate_limited_request_waits_as_the_daemon_says_within_bounds() {
        use tonic_types::{ErrorDetails, StatusExt};
        let with = |d: Duration| {
            tonic::Status::with_error_details(
                Code::ResourceExhausted,
                "slow down",
                ErrorDetails::with_retry_info(Some(d)),
            )
        };
        assert_eq!(
            retry_delay(&with(Duration::from_millis(300))),
            Duration::from_millis(300)
        );
        assert_eq!(
            retry_delay(&with(Duration::from_secs(3600))),
            Duration::from_secs(5)
        );
        assert_eq!(
            retry_delay(&with(Duration::ZERO)),
            Duration::from_millis(50)
        );
        assert_eq!(
            retry_delay(&tonic::Status::resource_exhausted("x")),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn long_runs_report_progress_at_each_tenth() {
        let mut p = Progress::new(Action::Disable, 1000);
        let lines: Vec<String> = (1..=1000).filter_map(|n| p.advance(n)).collect();
        assert_eq!(lines.len(), 9, "{lines:?}");
        assert_eq!(lines[0], "disable: 100/1000 done");
        assert_eq!(lines[8], "disable: 900/1000 done");
        let mut short = Progress::new(Action::Remove, 12);
        assert!((1..=12).all(|n| short.advance(n).is_none()));
    }

    #[test]
    fn only_accounts_not_yet_as_wanted_are_acted_on() {
        let on = Account {
            enabled: true,
            ..Account::default()
        };
        let off = Account::default();
        assert!(Action::Enable.already(&on) && !Action::Enable.already(&off));
        assert!(Action::Disable.already(&off) && !Action::Disable.already(&on));
        assert!(!Action::Remove.already(&on) && !Action::Remove.already(&off));
    }

    #[test]
    fn the_summary_counts_and_names_each_failure() {
        let r = Report {
            done: vec!["a".into(), "b".into()],
            unchanged: vec!["c".into()],
            failed: vec![Failure {
                account: "d".into(),
                error: "NOT_FOUND: no account d".into(),
            }],
            ..Report::default()
        };
        assert_eq!(
            summary(Action::Disable, &r),
            "disabled 2, already disabled 1, failed 1\n  failed: d: NOT_FOUND: no account d\n"
        );
        assert!(summary(Action::Remove, &r).starts_with("removed 2, failed 1\n"));
    }

    #[tokio::test]
    async fn every_account_is_tried_with_a_bounded_number_in_flight() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut reported = Vec::new();
        let results = for_each_bounded(
            (0..40).collect(),
            8,
            |i: u32| {
                let (in_flight, peak) = (in_flight.clone(), peak.clone());
                async move {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let r = if i == 7 {
                        Err("refused".to_owned())
                    } else {
                        Ok(())
                    };
                    (format!("acc{i}"), r)
                }
            },
            |n| reported.push(n),
        )
        .await;
        assert_eq!(results.len(), 40);
        let failed: Vec<&str> = results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(failed, ["acc7"]);
        assert!(peak.load(Ordering::SeqCst) <= 8);
        assert_eq!(reported, (1..=40).collect::<Vec<_>>());
    }
}
