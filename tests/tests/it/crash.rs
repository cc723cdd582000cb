//! Crash durability: concurrent account writes, `kill -9` of the daemon at a random moment,
//! restart on the same state dir, and a check that
//!
//! - every write the client saw acknowledged is there, field for field (an acknowledged update's
//!   values are visible, an acknowledged delete is gone);
//! - a write that was in flight at the kill is either wholly there or wholly absent (every record's
//!   fields come from one write: the `gen` label and the host port always agree);
//! - the event table (WatchEvents from sequence 1) and the audit table (ListAuditEvents) agree
//!   with each other and with the accounts table: one create per live account, one delete per
//!   acknowledged delete, as many updates as were acknowledged (plus at most the in-flight one).
//!
//! CI runs `ROSTER_CRASH_ITERATIONS` rounds (default 20); the soak test reuses [`CrashRig`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1 as pb;
use roster_proto::v1::account_service_client::AccountServiceClient;
use tonic::transport::Channel;

use crate::harness::{Daemon, DaemonOptions, Pki, Rng};

const WRITERS: u64 = 4;

/// The key a write with generation `generation` uses.
fn key_of(w: u64, generation: u64) -> String {
    format!("crashkey-w{w}-{generation:08}")
}

/// The hint the daemon derives from a key longer than 12 characters.
fn hint_of(key: &str) -> String {
    let head: String = key.chars().take(4).collect();
    let tail: String = key.chars().skip(key.chars().count() - 4).collect();
    format!("{head}…{tail}")
}

/// What one write sets: host port, `gen` label and (maybe) key all derive from one number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    host_url: String,
    labels: HashMap<String, String>,
    api_key_hint: Option<String>,
}

fn fields_of(w: u64, generation: u64, with_key: bool) -> Fields {
    Fields {
        host_url: format!("http://127.0.0.1:{}", 10_000 + generation % 50_000),
        labels: HashMap::from([
            ("w".to_string(), w.to_string()),
            ("gen".to_string(), generation.to_string()),
        ]),
        api_key_hint: with_key.then(|| hint_of(&key_of(w, generation))),
    }
}

fn matches(a: &pb::Account, f: &Fields) -> bool {
    a.host_url == f.host_url
        && a.labels == f.labels
        && f.api_key_hint.as_ref().is_none_or(|h| *h == a.api_key_hint)
}

/// A record is whole when its fields come from one write.
fn is_whole(a: &pb::Account) -> bool {
    let Some(generation) = a.labels.get("gen").and_then(|g| g.parse::<u64>().ok()) else {
        return false;
    };
    a.host_url == format!("http://127.0.0.1:{}", 10_000 + generation % 50_000)
}

/// The one write a writer had in flight when the daemon died (not acknowledged).
#[derive(Debug, Clone)]
enum Pending {
    Create { name: String, fields: Fields },
    Update { id: String, fields: Fields },
    Delete { id: String },
}

/// What one writer task saw acknowledged.
#[derive(Debug, Default)]
struct WriterOutcome {
    acked_creates: Vec<pb::Account>,
    acked_updates: Vec<pb::Account>,
    acked_deletes: Vec<String>,
    pending: Option<Pending>,
    /// Errors other than the connection dying (must be none).
    unexpected: Vec<String>,
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// One writer: creates, updates and deletes its own accounts until the connection dies.
async fn writer(
    mut c: AccountServiceClient<Channel>,
    w: u64,
    round: u64,
    mut live: Vec<pb::Account>,
    mut rng: Rng,
    mut generation: u64,
) -> WriterOutcome {
    let mut out = WriterOutcome::default();
    for n in 0..100_000u64 {
        generation += 1;
        let roll = rng.range(0, 10);
        let result = if live.is_empty() || roll < 5 {
            let name = format!("w{w}-r{round}-{n}");
            let f = fields_of(w, generation, true);
            out.pending = Some(Pending::Create {
                name: name.clone(),
                fields: f.clone(),
            });
            c.create_account(pb::CreateAccountRequest {
                name,
                host_url: f.host_url.clone(),
                api_key: key_of(w, generation),
                labels: f.labels.clone(),
                enabled: Some(false),
                ..Default::default()
            })
            .await
            .map(|r| {
                let a = r.into_inner();
                out.acked_creates.push(a.clone());
                live.push(a);
            })
        } else if roll < 8 {
            let i = usize::try_from(rng.range(0, live.len() as u64)).unwrap();
            let with_key = roll == 7;
            let f = fields_of(w, generation, with_key);
            let id = live[i].id.clone();
            out.pending = Some(Pending::Update {
                id: id.clone(),
                fields: f.clone(),
            });
            let mut paths = vec!["host_url", "labels"];
            if with_key {
                paths.push("api_key");
            }
            c.update_account(pb::UpdateAccountRequest {
                account: Some(pb::Account {
                    id,
                    host_url: f.host_url.clone(),
                    labels: f.labels.clone(),
                    etag: live[i].etag.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&paths),
                api_key: if with_key {
                    key_of(w, generation)
                } else {
                    String::new()
                },
                ..Default::default()
            })
            .await
            .map(|r| {
                let a = r.into_inner();
                out.acked_updates.push(a.clone());
                live[i] = a;
            })
        } else {
            let i = usize::try_from(rng.range(0, live.len() as u64)).unwrap();
            let gone = live[i].clone();
            out.pending = Some(Pending::Delete {
                id: gone.id.clone(),
            });
            c.delete_account(pb::DeleteAccountRequest {
                account: gone.id.clone(),
                etag: gone.etag.clone(),
            })
            .await
            .map(|_| {
                out.acked_deletes.push(gone.id.clone());
                live.swap_remove(i);
            })
        };
        match result {
            Ok(()) => out.pending = None,
            Err(s) => {
                // The daemon died under us: Unavailable/Unknown with a transport cause. Anything
                // with a clean application code is a real failure.
                if !matches!(
                    s.code(),
                    tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
                ) {
                    out.unexpected.push(format!("{s:?}"));
                }
                return out;
            }
        }
    }
    out
}

/// Totals over a run, printed at the end (and by the soak test).
#[derive(Debug, Default, Clone)]
pub struct CrashStats {
    pub rounds: u64,
    pub acked_creates: u64,
    pub acked_updates: u64,
    pub acked_deletes: u64,
    pub in_flight_at_kill: u64,
    pub in_flight_committed: u64,
    /// Highest VmHWM (peak RSS) of any daemon process, read just before each kill.
    pub peak_rss_kib: u64,
}

impl CrashStats {
    pub fn acked(&self) -> u64 {
        self.acked_creates + self.acked_updates + self.acked_deletes
    }
}

/// A daemon being crashed over and over, and everything the clients saw acknowledged.
pub struct CrashRig {
    pub pki: Pki,
    _root: tempfile::TempDir,
    pub d: Daemon,
    /// Acknowledged state of every account the writers own (by id).
    acked: BTreeMap<String, pb::Account>,
    /// Every acknowledged delete.
    deleted: HashSet<String>,
    /// Acknowledged updates per id, and updates that were in flight at a kill.
    acked_updates: HashMap<String, u64>,
    maybe_updates: HashMap<String, u64>,
    /// Names of creates in flight at a kill that did not commit (they may never appear later).
    rng: Rng,
    generation: u64,
    pub stats: CrashStats,
}

impl CrashRig {
    pub fn new(rng: Rng) -> Self {
        Self::with_options(rng, &DaemonOptions::default())
    }

    /// Accounts whose name starts with `sim-` belong to the caller (the soak test) and are left
    /// out of the writers' model.
    pub fn with_options(rng: Rng, opts: &DaemonOptions) -> Self {
        let pki = Pki::new();
        let root = tempfile::tempdir().unwrap();
        let state: PathBuf = root.path().join("state");
        let d = Daemon::start(&pki, &state, opts);
        Self {
            pki,
            _root: root,
            d,
            acked: BTreeMap::new(),
            deleted: HashSet::new(),
            acked_updates: HashMap::new(),
            maybe_updates: HashMap::new(),
            rng,
            generation: 0,
            stats: CrashStats::default(),
        }
    }

    /// One round: writers for `run` (then `kill -9`), restart, verify everything.
    pub async fn round(&mut self, run: Duration) {
        let round = self.stats.rounds;
        let channel = self.d.channel(&self.pki.admin()).await.unwrap();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let live: Vec<pb::Account> = self
                .acked
                .values()
                .filter(|a| a.labels.get("w") == Some(&w.to_string()))
                .cloned()
                .collect();
            let rng = Rng::new(self.rng.next_u64());
            // Generations are disjoint per writer and round, so every write is distinguishable.
            let generation = self.generation + w * 1_000_000;
            tasks.push(tokio::spawn(writer(
                AccountServiceClient::new(channel.clone()),
                w,
                round,
                live,
                rng,
                generation,
            )));
        }
        self.generation += WRITERS * 1_000_000;
        tokio::time::sleep(run).await;
        self.stats.peak_rss_kib = self.stats.peak_rss_kib.max(self.d.status_kib("VmHWM"));
        self.d.kill9();
        let mut outcomes = Vec::new();
        for t in tasks {
            let o = tokio::time::timeout(Duration::from_secs(30), t)
                .await
                .expect("a writer did not notice the daemon dying")
                .unwrap();
            assert!(
                o.unexpected.is_empty(),
                "round {round}: writes refused for a reason other than the crash: {:?}",
                o.unexpected
            );
            outcomes.push(o);
        }
        self.d.restart();
        self.verify(round, outcomes).await;
        self.stats.rounds += 1;
    }

    async fn verify(&mut self, round: u64, outcomes: Vec<WriterOutcome>) {
        let admin = self.pki.admin();
        // Fold the acknowledged writes into the model, in each writer's order.
        let mut pendings = Vec::new();
        for o in outcomes {
            self.stats.acked_creates += o.acked_creates.len() as u64;
            self.stats.acked_updates += o.acked_updates.len() as u64;
            self.stats.acked_deletes += o.acked_deletes.len() as u64;
            for a in o.acked_creates {
                self.acked.insert(a.id.clone(), a);
            }
            for a in o.acked_updates {
                *self.acked_updates.entry(a.id.clone()).or_default() += 1;
                self.acked.insert(a.id.clone(), a);
            }
            for id in o.acked_deletes {
                self.acked.remove(&id);
                self.deleted.insert(id);
            }
            if let Some(p) = o.pending {
                if let Pending::Update { id, .. } = &p {
                    *self.maybe_updates.entry(id.clone()).or_default() += 1;
                }
                pendings.push(p);
            }
        }
        self.stats.in_flight_at_kill += pendings.len() as u64;

        let everything = self.d.all_accounts(&admin).await;
        let live_ids: HashSet<String> = everything.iter().map(|a| a.id.clone()).collect();
        let actual: BTreeMap<String, pb::Account> = everything
            .into_iter()
            .filter(|a| !a.name.starts_with("sim-") || a.labels.contains_key("w"))
            .map(|a| (a.id.clone(), a))
            .collect();
        for a in actual.values() {
            assert!(is_whole(a), "round {round}: half-written record {a:?}");
        }
        let mut resolved = 0;
        for (id, want) in &self.acked {
            let pending = pendings.iter().find(|p| match p {
                Pending::Update { id: p, .. } | Pending::Delete { id: p } => p == id,
                Pending::Create { .. } => false,
            });
            match (actual.get(id), pending) {
                (Some(a), _) if a == want => {}
                (Some(a), Some(Pending::Update { fields, .. })) if matches(a, fields) => {
                    resolved += 1;
                }
                (None, Some(Pending::Delete { .. })) => resolved += 1,
                (got, _) => panic!(
                    "round {round}: acknowledged account {} lost or changed after kill -9\n\
                     acknowledged: {want:?}\nafter restart: {got:?}\nin flight: {pending:?}",
                    want.name
                ),
            }
        }
        for id in &self.deleted {
            assert!(
                !actual.contains_key(id),
                "round {round}: acknowledged delete of {id} came back after kill -9"
            );
        }
        for (id, a) in &actual {
            if self.acked.contains_key(id) {
                continue;
            }
            // Not acknowledged: only a create that was in flight at the kill may be here, whole.
            let ok = pendings.iter().any(|p| {
                matches!(p, Pending::Create { name, fields } if *name == a.name && matches(a, fields))
            });
            assert!(ok, "round {round}: account nobody created: {a:?}");
            resolved += 1;
        }
        self.stats.in_flight_committed += resolved;

        self.check_tables(round, &actual, &live_ids).await;
        // The restarted daemon's state is the new truth for the next round.
        self.acked = actual;
    }

    /// Events and audit records agree with each other and with the accounts table.
    async fn check_tables(
        &self,
        round: u64,
        actual: &BTreeMap<String, pb::Account>,
        live_ids: &HashSet<String>,
    ) {
        let admin = self.pki.admin();
        let audit = self.d.all_audit(&admin).await;
        let mut from_audit: HashMap<(&str, String), u64> = HashMap::new();
        for r in &audit {
            let kind = match r.action.as_str() {
                "account.create" => "create",
                "account.update" => "update",
                "account.delete" => "delete",
                _ => continue,
            };
            assert!(
                r.outcome.starts_with("ok"),
                "round {round}: audited refusal in a crash run: {r:?}"
            );
            let id = r
                .target
                .strip_prefix("account/")
                .and_then(|t| t.split(' ').next())
                .unwrap_or_default()
                .to_string();
            *from_audit.entry((kind, id)).or_default() += 1;
        }
        let want: u64 = from_audit.values().sum();
        let count_account_events = |evs: &[pb::Event]| {
            evs.iter()
                .filter(|e| {
                    matches!(
                        pb::EventKind::try_from(e.kind),
                        Ok(pb::EventKind::AccountCreated
                            | pb::EventKind::AccountUpdated
                            | pb::EventKind::AccountDeleted)
                    )
                })
                .count() as u64
        };
        let events = self
            .d
            .stored_events(&admin, Duration::from_secs(3), |evs| {
                count_account_events(evs) >= want
            })
            .await;
        let mut from_events: HashMap<(&str, String), u64> = HashMap::new();
        for e in &events {
            let kind = match pb::EventKind::try_from(e.kind) {
                Ok(pb::EventKind::AccountCreated) => "create",
                Ok(pb::EventKind::AccountUpdated) => "update",
                Ok(pb::EventKind::AccountDeleted) => "delete",
                _ => continue,
            };
            *from_events.entry((kind, e.account_id.clone())).or_default() += 1;
        }
        assert!(
            events.windows(2).all(|w| w[0].sequence < w[1].sequence),
            "round {round}: event sequence not increasing"
        );
        if from_events != from_audit {
            let mut diff: Vec<_> = from_audit
                .keys()
                .chain(from_events.keys())
                .collect::<HashSet<_>>()
                .into_iter()
                .filter(|k| from_audit.get(*k) != from_events.get(*k))
                .map(|k| (k.clone(), from_audit.get(k), from_events.get(k)))
                .collect();
            diff.sort();
            panic!("round {round}: audit and event tables disagree (key, audit, events): {diff:?}");
        }
        let n = |kind: &'static str, id: &str| {
            from_audit
                .get(&(kind, id.to_string()))
                .copied()
                .unwrap_or(0)
        };
        for id in actual.keys() {
            assert_eq!(
                n("create", id),
                1,
                "round {round}: live account {id} without exactly one create record"
            );
            assert_eq!(
                n("delete", id),
                0,
                "round {round}: live account {id} has a delete record"
            );
            let acked = self.acked_updates.get(id).copied().unwrap_or(0);
            let maybe = self.maybe_updates.get(id).copied().unwrap_or(0);
            let got = n("update", id);
            assert!(
                (acked..=acked + maybe).contains(&got),
                "round {round}: {id}: {got} update records for {acked} acknowledged (+{maybe} in flight)"
            );
        }
        for id in &self.deleted {
            assert_eq!(n("create", id), 1, "round {round}: deleted {id}: create");
            assert_eq!(n("delete", id), 1, "round {round}: deleted {id}: delete");
        }
        for (kind, id) in from_audit.keys() {
            if *kind == "create" {
                assert!(
                    live_ids.contains(id) || n("delete", id) == 1,
                    "round {round}: {id} was created, never deleted, and is gone"
                );
            }
        }
    }
}

/// Iterations from `ROSTER_CRASH_ITERATIONS` (default 20).
fn iterations() -> u64 {
    std::env::var("ROSTER_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_repeated_kill_9_and_tables_agree() {
    let started = Instant::now();
    let mut rng = Rng::from_env();
    let mut rig = CrashRig::new(Rng::new(rng.next_u64()));
    let n = iterations();
    for _ in 0..n {
        let run = Duration::from_millis(rng.range(150, 400));
        rig.round(run).await;
    }
    let s = &rig.stats;
    eprintln!(
        "crash: {} rounds in {:?}: {} creates, {} updates, {} deletes acknowledged; \
         {} writes in flight at a kill, {} of them committed",
        s.rounds,
        started.elapsed(),
        s.acked_creates,
        s.acked_updates,
        s.acked_deletes,
        s.in_flight_at_kill,
        s.in_flight_committed
    );
    assert_eq!(s.rounds, n);
    // The loop must actually exercise all three kinds of write, or it proves nothing.
    assert!(
        s.acked_creates >= n && s.acked_updates >= n / 2 && s.acked_deletes >= n / 4,
        "too few writes to mean anything: {s:?}"
    );
}
