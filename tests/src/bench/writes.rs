//! Scenario `writes`: sustained CreateAccount + UpdateAccount (each a durable commit with its
//! event and audit record) at several client concurrencies: the throughput curve.

use std::time::{Duration, Instant};

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1::UpdateAccountRequest;
use roster_proto::v1::account_service_client::AccountServiceClient;

use super::daemon::Env;
use super::measure::{Latencies, ms};
use super::report::Report;

#[derive(Debug, Clone)]
pub struct WritesOpts {
    pub concurrency: Vec<usize>,
    pub secs: u64,
}

pub async fn run(o: &WritesOpts, keep: bool) -> anyhow::Result<Report> {
    let mut report = Report::new(
        "writes",
        "Writes: CreateAccount + UpdateAccount, durable commits",
    );
    let mut env = Env::new("")?;
    if keep {
        env.keep();
    }
    let daemon = env.spawn()?;
    let mut rows = Vec::new();
    for &c in &o.concurrency {
        let mut channels = Vec::new();
        for _ in 0..c {
            channels.push(daemon.channel().await?);
        }
        let s0 = daemon.sample()?;
        let started = Instant::now();
        let end = started + Duration::from_secs(o.secs);
        let mut tasks = Vec::new();
        for (k, ch) in channels.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut client = AccountServiceClient::new(ch);
                let mut creates = Vec::new();
                let mut updates = Vec::new();
                let mut errors = 0u64;
                let mut i = 0u64;
                while Instant::now() < end {
                    i += 1;
                    // Disabled: the figure is the write path, not the monitor starting tasks.
                    let req = super::account(
                        format!("w{c}-{k}-{i}"),
                        "http://127.0.0.1:9".into(),
                        format!("key-{c}-{k}-{i}-bench"),
                        false,
                    );
                    let t = Instant::now();
                    let Ok(acct) = client.create_account(req).await else {
                        errors += 1;
                        continue;
                    };
                    creates.push(t.elapsed());
                    let mut acct = acct.into_inner();
                    acct.labels.insert("desk".into(), format!("d{}", i % 7));
                    let t = Instant::now();
                    let up = client
                        .update_account(UpdateAccountRequest {
                            account: Some(acct),
                            update_mask: Some(FieldMask {
                                paths: vec!["labels".into()],
                            }),
                            ..Default::default()
                        })
                        .await;
                    match up {
                        Ok(_) => updates.push(t.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                (creates, updates, errors)
            }));
        }
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (cr, up, e) = t.await?;
            creates.extend(cr);
            updates.extend(up);
            errors += e;
        }
        let wall = started.elapsed().as_secs_f64();
        let s1 = daemon.sample()?;
        let (_, pct) = s1.cpu_since(&s0);
        let (cr, up) = (Latencies::new(creates), Latencies::new(updates));
        let total = (cr.len() + up.len()) as f64 / wall;
        eprintln!("{c} clients: {total:.0} writes/s");
        rows.push(format!(
            "| {c} | {total:.0} | {:.0} | {:.0} | {} / {} | {} / {} | {pct:.0} % | {errors} |",
            cr.len() as f64 / wall,
            up.len() as f64 / wall,
            ms(cr.pct(50.0)),
            ms(cr.pct(99.0)),
            ms(up.pct(50.0)),
            ms(up.pct(99.0)),
        ));
    }
    report.row("seconds per concurrency level", o.secs.to_string(), "");
    report.block(format!(
        "| clients | writes/s | creates/s | updates/s | create p50 / p99 | update p50 / p99 | daemon CPU | errors |\n|---|---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    ));
    report.note("Accounts accumulate across levels (the store grows during the run).");
    report.note("Each client has its own mTLS connection and loops: CreateAccount (disabled account, new name), then UpdateAccount of its labels with the returned etag. Every write is one redb transaction with `Durability::Immediate` (fsync) holding the account, its event and its audit record.");
    Ok(report)
}
