//! `rosterctl health ...` and `rosterctl watch`.

use std::time::SystemTime;

use anyhow::{Result, bail};
use roster_proto::v1::{CheckNowRequest, GetHealthRequest, ListHealthRequest, WatchEventsRequest};

use super::{emit, show};
use crate::cli::{HealthArgs, HealthCmd, HealthListArgs, Output, label_selector};
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
pub async fn watch(client: &Client, from: u64, output: Output) -> Result<()> {
    let mut stream = client
        .monitor()
        .watch_events(WatchEventsRequest {
            from_sequence: from,
        })
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
