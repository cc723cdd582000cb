//! `rosterctl health ...` and `rosterctl watch`.

use std::time::SystemTime;

use anyhow::{Result, bail};
use roster_proto::v1::{
    CheckNowRequest, EventKind, GetHealthRequest, ListEventsRequest, ListEventsResponse,
    ListHealthRequest, WatchEventsRequest,
};

use super::{emit, newest_pages, show};
use crate::cli::{
    EventKindArg, HealthArgs, HealthCmd, HealthListArgs, Output, WatchFilterArgs, label_selector,
};
use crate::client::Client;
use crate::commands::account::state;
use crate::output;

pub fn list_request(a: &HealthListArgs) -> ListHealthRequest {
    ListHealthRequest {
        label_selector: label_selector(&a.labels),
        state: a.state.map_or(0, |s| state(s) as i32),
    }
}

pub async fn health(client: &Client, args: HealthArgs, output: Output) -> Result<()> {
    let mut svc = client.monitor();
    match args.cmd {
        None => list(client, &args.list, output).await,
        Some(HealthCmd::List(l)) => list(client, &l, output).await,
        Some(HealthCmd::Get { account }) => {
            let h = svc
                .get_health(GetHealthRequest { account })
                .await?
                .into_inner();
            show(output, &h, |h| {
                output::monitor::health(h, SystemTime::now())
            })
        }
        Some(HealthCmd::Check { account }) => {
            let h = svc
                .check_now(CheckNowRequest { account })
                .await?
                .into_inner();
            show(output, &h, |h| {
                output::monitor::health(h, SystemTime::now())
            })
        }
        Some(HealthCmd::History { account, limit }) => {
            let (events, next_before_sequence) = newest_pages(limit, |before, n| {
                let mut monitor = client.monitor();
                let request = ListEventsRequest {
                    account: account.clone(),
                    limit: n,
                    before_sequence: before,
                    ..ListEventsRequest::default()
                };
                async move {
                    let page = monitor.list_events(request).await?.into_inner();
                    Ok((page.events, page.next_before_sequence))
                }
            })
            .await?;
            let r = ListEventsResponse {
                events,
                next_before_sequence,
            };
            show(output, &r, output::monitor::history)
        }
    }
}

fn kind(k: EventKindArg) -> EventKind {
    match k {
        EventKindArg::AccountCreated => EventKind::AccountCreated,
        EventKindArg::AccountUpdated => EventKind::AccountUpdated,
        EventKindArg::AccountDeleted => EventKind::AccountDeleted,
        EventKindArg::HealthChanged => EventKind::HealthChanged,
        EventKindArg::KeyRotated => EventKind::KeyRotated,
        EventKindArg::HealthSnapshot => EventKind::HealthSnapshot,
    }
}

pub fn watch_request(from: u64, f: &WatchFilterArgs) -> WatchEventsRequest {
    WatchEventsRequest {
        from_sequence: from,
        accounts: f.accounts.clone(),
        label_selector: label_selector(&f.labels),
        kinds: f.kinds.iter().map(|&k| kind(k) as i32).collect(),
        states: f.states.iter().map(|&s| state(s) as i32).collect(),
    }
}

async fn list(client: &Client, a: &HealthListArgs, output: Output) -> Result<()> {
    let resp = client
        .monitor()
        .list_health(list_request(a))
        .await?
        .into_inner();
    // Only the table's rows are ordered; -o json is the daemon's answer as it came.
    show(output, &resp, |r| {
        let mut r = r.clone();
        output::monitor::sort_health(&mut r.accounts, a.sort, a.desc);
        output::monitor::health_list(&r, SystemTime::now())
    })
}

/// Streams events until Ctrl-C (exit 0). The daemon ending the stream is reported as an error,
/// since "until interrupted" means anything else is unexpected for a script that watches.
pub async fn watch(
    client: &Client,
    from: u64,
    filter: &WatchFilterArgs,
    output: Output,
) -> Result<()> {
    let mut stream = client
        .monitor()
        .watch_events(watch_request(from, filter))
        .await?
        .into_inner();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            msg = stream.message() => match msg? {
                Some(ev) => match output {
                    Output::Json => emit(&output::json_line(&ev)?)?,
                    Output::Table => emit(&output::monitor::event_line(&ev))?,
                },
                None => bail!("the daemon ended the event stream"),
            },
        }
    }
}
