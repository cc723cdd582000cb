//! Soak: a mixed workload against one state dir for `ROSTER_SOAK_SECS` (default 60), on demand:
//!
//! ```text
//! cargo build --workspace --bins
//! ROSTER_SOAK_SECS=60 cargo test -p roster-tests --test it -- --ignored soak --nocapture
//! ```
//!
//! Each round runs the crash suite's four writers (creates, updates, deletes) plus a reader
//! (lists, health, consolidated funds and positions) while the daemon health-checks eight
//! simulated accounts whose faults change every few rounds; then `kill -9`, restart, and the full
//! crash-durability verification (every acknowledged write intact, tables agree). It prints
//! operations done, errors by kind, crashes survived, data lost (any loss fails the run) and the
//! daemon's peak RSS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use roster_proto::v1 as pb;
use roster_tests::sim::{Fault, InstanceSpec, Simulator};

use crate::crash::CrashRig;
use crate::harness::{DaemonOptions, Rng, add_sim_account};

#[derive(Debug, Default)]
struct ReadTally {
    ok: u64,
    errors: BTreeMap<String, u64>,
}

/// Reads until `stop` or until the daemon goes away.
async fn reader(ch: tonic::transport::Channel, stop: Arc<AtomicBool>) -> ReadTally {
    let mut t = ReadTally::default();
    let mut a = pb::account_service_client::AccountServiceClient::new(ch.clone());
    let mut m = pb::monitor_service_client::MonitorServiceClient::new(ch.clone());
    let mut p = pb::portfolio_service_client::PortfolioServiceClient::new(ch);
    let mut note = |r: Result<(), tonic::Status>| match r {
        Ok(()) => {
            t.ok += 1;
            true
        }
        Err(s) => {
            *t.errors.entry(format!("{:?}", s.code())).or_default() += 1;
            false
        }
    };
    for i in 0..1_000_000u64 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let r = match i % 4 {
            0 => a
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 200,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            1 => m
                .list_health(pb::ListHealthRequest::default())
                .await
                .map(|_| ()),
            2 => p
                .get_funds(pb::PortfolioRequest {
                    label_selector: "soak=sim".into(),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            _ => p
                .get_positions(pb::PortfolioRequest {
                    label_selector: "soak=sim".into(),
                    refresh: true,
                    ..Default::default()
                })
                .await
                .map(|_| ()),
        };
        if !note(r) {
            break;
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run on demand with --ignored soak (ROSTER_SOAK_SECS, default 60)"]
async fn soak() {
    let secs: u64 = std::env::var("ROSTER_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let started = Instant::now();
    let mut rng = Rng::from_env();
    let sim = Simulator::start(
        (0..8)
            .map(|i| InstanceSpec::demo(format!("sim-{i}"), format!("SOAK-KEY-{i}-0123456789ab")))
            .collect(),
    )
    .await
    .unwrap();
    let opts = DaemonOptions {
        extra_config: "[monitor]\ninterval = \"1s\"\ntimeout = \"800ms\"\n\
                       flush_interval = \"200ms\"\n"
            .into(),
        ..DaemonOptions::default()
    };
    let mut rig = CrashRig::with_options(Rng::new(rng.next_u64()), &opts);
    {
        let mut c = rig.d.accounts(&rig.pki.admin()).await;
        for (i, inst) in sim.instances().iter().enumerate() {
            add_sim_account(
                &mut c,
                &format!("sim-{i}"),
                &inst.url(),
                &format!("SOAK-KEY-{i}-0123456789ab"),
                &[("soak", "sim")],
            )
            .await;
        }
    }
    let faults = [
        Fault::None,
        Fault::None,
        Fault::Latency(Duration::from_millis(200)),
        Fault::Hang,
        Fault::Http500,
        Fault::MalformedJson,
        Fault::RateLimited,
        Fault::ConnectionRefused,
        Fault::SessionExpired,
        Fault::HugeBody { bytes: 8 << 20 },
    ];
    let mut reads = ReadTally::default();
    let mut fault_flips = 0u64;
    while started.elapsed() < Duration::from_secs(secs) {
        if rig.stats.rounds.is_multiple_of(3) {
            let inst = sim.instance(usize::try_from(rng.range(0, 8)).unwrap());
            inst.set_fault(
                faults[usize::try_from(rng.range(0, faults.len() as u64)).unwrap()].clone(),
            );
            fault_flips += 1;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let ch = rig.d.channel(&rig.pki.admin()).await.unwrap();
        let r = tokio::spawn(reader(ch, stop.clone()));
        let run = Duration::from_millis(rng.range(200, 1500));
        rig.round(run).await;
        stop.store(true, Ordering::Relaxed);
        let t = tokio::time::timeout(Duration::from_secs(30), r)
            .await
            .expect("reader hung")
            .unwrap();
        reads.ok += t.ok;
        for (k, v) in t.errors {
            *reads.errors.entry(k).or_default() += v;
        }
    }
    assert!(rig.d.is_running());
    let s = rig.stats.clone();
    let log = rig.d.stderr();
    let panics = log.matches("panicked").count();
    eprintln!("---- soak report ({:?}) ----", started.elapsed());
    eprintln!(
        "operations: {} acknowledged writes ({} creates, {} updates, {} deletes), {} reads",
        s.acked(),
        s.acked_creates,
        s.acked_updates,
        s.acked_deletes,
        reads.ok
    );
    eprintln!(
        "errors by kind (reads cut off by the kill -9 at the end of each round): {:?}",
        reads.errors
    );
    eprintln!(
        "crashes survived: {} kill -9 (writes in flight at a kill: {}, of which committed: {})",
        s.rounds, s.in_flight_at_kill, s.in_flight_committed
    );
    eprintln!("fault changes on simulated upstreams: {fault_flips}");
    eprintln!("data lost: 0 (every acknowledged write verified after every restart)");
    eprintln!(
        "peak RSS of the daemon: {} KiB ({:.1} MiB)",
        s.peak_rss_kib,
        s.peak_rss_kib as f64 / 1024.0
    );
    eprintln!("panics in the daemon log: {panics}");
    assert_eq!(panics, 0);
    assert!(s.rounds >= 1 && s.acked() > 0);
}
