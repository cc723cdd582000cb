//! MonitorService: GetHealth, ListHealth (with counts per state), CheckNow and WatchEvents; and
//! the conversions of health records and events to roster.v1 messages, which AccountService
//! shares.

use std::collections::HashMap;

use futures::StreamExt;
use roster_proto::v1 as pb;
use roster_proto::v1::monitor_service_server::MonitorService;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::health_reason;
use super::errors::{invalid_field, page_limit, status_of};
use super::event_filter::{self, EventFilter};
use super::{ApiState, convert};
use crate::accounts::LabelSelector;
use crate::auth::Caller;
use crate::domain::FailureReason;
use crate::monitor::{CheckError, WatchEnd, WatchError, WatchItem};
use crate::store::{
    AccountRecord, Bounds, EventKind, EventRecord, HealthRecord, HealthState, SCAN_BUDGET, Store,
};

pub struct MonitorApi(pub ApiState);

pub fn state_to_pb(s: HealthState) -> pb::HealthState {
    match s {
        HealthState::Unknown => pb::HealthState::Unknown,
        HealthState::Up => pb::HealthState::Up,
        HealthState::Degraded => pb::HealthState::Degraded,
        HealthState::Down => pb::HealthState::Down,
        HealthState::Disabled => pb::HealthState::Disabled,
    }
}

/// `None` for UNSPECIFIED (no filter).
pub fn state_from_pb(s: pb::HealthState) -> Option<HealthState> {
    match s {
        pb::HealthState::Unspecified => None,
        pb::HealthState::Unknown => Some(HealthState::Unknown),
        pb::HealthState::Up => Some(HealthState::Up),
        pb::HealthState::Degraded => Some(HealthState::Degraded),
        pb::HealthState::Down => Some(HealthState::Down),
        pb::HealthState::Disabled => Some(HealthState::Disabled),
    }
}

/// Validates a request's health-state filter.
pub fn state_filter(field: &str, v: i32) -> Result<Option<HealthState>, Status> {
    pb::HealthState::try_from(v)
        .map(state_from_pb)
        .map_err(|_| invalid_field(field, format!("unknown health state {v}")))
}

/// Events store the reason by name.
fn reason_by_name(s: &str) -> pb::HealthReason {
    health_reason(FailureReason::parse(s))
}

fn state_by_name(s: &str) -> i32 {
    HealthState::parse(s).map_or(0, |st| state_to_pb(st) as i32)
}

pub fn health(h: &HealthRecord, account: &AccountRecord) -> pb::AccountHealth {
    let checked = h.last_check > 0;
    pb::AccountHealth {
        account_id: account.id.clone(),
        state: state_to_pb(h.state) as i32,
        reason: health_reason(h.reason) as i32,
        consecutive_failures: h.consecutive_failures,
        last_check_time: convert::timestamp(h.last_check),
        last_success_time: convert::timestamp(h.last_success),
        latency: checked.then(|| convert::duration(std::time::Duration::from_micros(h.latency_us))),
        broker: if h.broker.is_empty() {
            account.broker.clone()
        } else {
            h.broker.clone()
        },
        mode: if h.mode.is_empty() {
            account.mode.clone()
        } else {
            h.mode.clone()
        },
        account_name: account.name.clone(),
        tenant: account.tenant.clone(),
        consecutive_successes: h.consecutive_successes,
        message: h.message.clone(),
        state_since: convert::timestamp(h.state_since),
        next_check_time: if h.state == HealthState::Disabled {
            None
        } else {
            convert::timestamp(h.next_check)
        },
    }
}

/// An account the monitor has not seen yet (created a moment ago).
fn unseen(a: &AccountRecord) -> HealthRecord {
    let state = if a.enabled {
        HealthState::Unknown
    } else {
        HealthState::Disabled
    };
    HealthRecord::new(&a.id, state, 0)
}

fn kind_to_pb(k: EventKind) -> pb::EventKind {
    match k {
        EventKind::AccountCreated => pb::EventKind::AccountCreated,
        EventKind::AccountUpdated => pb::EventKind::AccountUpdated,
        EventKind::AccountDeleted => pb::EventKind::AccountDeleted,
        EventKind::HealthChanged => pb::EventKind::HealthChanged,
        EventKind::KeyRotated => pb::EventKind::KeyRotated,
    }
}

pub fn event(e: &EventRecord) -> pb::Event {
    let kind = kind_to_pb(e.kind);
    pb::Event {
        sequence: e.sequence,
        time: convert::timestamp(e.time),
        kind: kind as i32,
        account_id: e.account_id.clone(),
        account_name: e.account_name.clone(),
        previous_state: state_by_name(&e.previous_state),
        state: state_by_name(&e.state),
        reason: reason_by_name(&e.reason) as i32,
        message: e.message.clone(),
    }
}

fn snapshot_event(h: &HealthRecord, name: &str) -> pb::Event {
    pb::Event {
        sequence: 0,
        time: convert::timestamp(if h.last_check > 0 {
            h.last_check
        } else {
            crate::store::now_millis()
        }),
        kind: pb::EventKind::HealthSnapshot as i32,
        account_id: h.account_id.clone(),
        account_name: name.to_string(),
        previous_state: 0,
        state: state_to_pb(h.state) as i32,
        reason: health_reason(h.reason) as i32,
        message: h.message.clone(),
    }
}

fn check_status(e: CheckError) -> Status {
    match e {
        CheckError::NotFound(_) => Status::not_found(super::errors::bounded(&e.to_string())),
        CheckError::Disabled(_) => Status::failed_precondition(e.to_string()),
        CheckError::Busy(_) => Status::deadline_exceeded(e.to_string()),
        CheckError::Stopped => Status::unavailable(e.to_string()),
    }
}

fn end_status(e: WatchEnd) -> Status {
    match e {
        WatchEnd::TooSlow(..) => Status::resource_exhausted(e.to_string()),
        WatchEnd::OutOfRange(_) => Status::out_of_range(e.to_string()),
        WatchEnd::Store(_) | WatchEnd::ShuttingDown(_) => Status::unavailable(e.to_string()),
    }
}

/// The generated trait's stream type (tonic's `BoxStream`).
type EventStream = tonic::codegen::BoxStream<pb::Event>;

#[tonic::async_trait]
impl MonitorService for MonitorApi {
    async fn get_health(
        &self,
        request: Request<pb::GetHealthRequest>,
    ) -> Result<Response<pb::AccountHealth>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        if r.account.trim().is_empty() {
            return Err(invalid_field("account", "is required"));
        }
        let account = self
            .0
            .accounts
            .get_in(&caller.scope, &r.account)
            .map_err(status_of)?;
        let h = self
            .0
            .monitor
            .health(&account.id)
            .unwrap_or_else(|| unseen(&account));
        Ok(Response::new(health(&h, &account)))
    }

    async fn list_health(
        &self,
        request: Request<pb::ListHealthRequest>,
    ) -> Result<Response<pb::ListHealthResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let want = state_filter("state", r.state)?;
        let selector =
            LabelSelector::parse("label_selector", &r.label_selector).map_err(status_of)?;
        let accounts = self.0.accounts.all();
        let (rows, counts) = self.0.monitor.view(|v| {
            // Counts cover every account the selector matches, whatever the state filter, so a
            // `--state down` listing still says how the rest are doing.
            let mut counts: HashMap<String, u32> = HashMap::new();
            let mut rows = Vec::new();
            for a in accounts
                .iter()
                .filter(|a| caller.scope.sees(&a.tenant) && selector.matches(&a.labels))
            {
                let seen = v.get(&a.id);
                let state = seen.map_or_else(|| unseen(a).state, |h| h.state);
                *counts.entry(state.as_str().to_string()).or_default() += 1;
                if want.is_none_or(|w| w == state) {
                    rows.push(match seen {
                        Some(h) => health(h, a),
                        None => health(&unseen(a), a),
                    });
                }
            }
            (rows, counts)
        });
        Ok(Response::new(pb::ListHealthResponse {
            accounts: rows,
            counts,
        }))
    }

    async fn check_now(
        &self,
        request: Request<pb::CheckNowRequest>,
    ) -> Result<Response<pb::AccountHealth>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        if r.account.trim().is_empty() {
            return Err(invalid_field("account", "is required"));
        }
        // Resolved in the caller's scope first: another tenant's account is NOT_FOUND here.
        let account = self
            .0
            .accounts
            .get_in(&caller.scope, &r.account)
            .map_err(status_of)?;
        let h = self
            .0
            .monitor
            .check_now(&account.id)
            .await
            .map_err(check_status)?;
        let account = self.0.accounts.get(&h.account_id).map_err(status_of)?;
        Ok(Response::new(health(&h, &account)))
    }

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let filter = EventFilter::of_watch(&r, &caller.scope, &self.0.accounts)?;
        let w = self
            .0
            .monitor
            .watch(r.from_sequence)
            .await
            .map_err(|e| match e {
                WatchError::OutOfRange(m) => Status::out_of_range(m),
                WatchError::Store(s) => {
                    Status::unavailable(format!("event storage unavailable: {s}"))
                }
            })?;
        // A tenant's stream carries only its accounts' snapshots and events, live or replayed
        // from any sequence; global events (key rotation) reach global admins only. The
        // request's filters apply after that, to whatever the tenant may see.
        let scope = caller.scope;
        let accounts = self.0.accounts.clone();
        let items = ReceiverStream::new(w.items).filter_map(move |item| {
            let shown = match &item {
                WatchItem::Snapshot { health, .. } => {
                    accounts.get_in(&scope, &health.account_id).is_ok()
                }
                WatchItem::Event(ev) => match ev.kind {
                    EventKind::KeyRotated => scope.is_global(),
                    _ => scope.sees(&ev.tenant),
                },
            };
            let out = shown
                .then(|| match item {
                    WatchItem::Snapshot { health, name } => snapshot_event(&health, &name),
                    WatchItem::Event(ev) => event(&ev),
                })
                .filter(|e| {
                    filter.passes(e, |s| {
                        accounts
                            .get_in(&scope, &e.account_id)
                            .is_ok_and(|a| s.matches(&a.labels))
                    })
                })
                .map(Ok);
            async move { out }
        });
        // After the last item, the reason the daemon ended the stream (if it did) as the status.
        let end = futures::stream::once(w.end)
            .filter_map(|r| async move { r.ok().map(|e| Err(end_status(e))) });
        Ok(Response::new(Box::pin(items.chain(end))))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        Ok(Response::new(self.account_history(&caller, r).await?))
    }
}

impl MonitorApi {
    /// One account's retained events, newest first (see `list_events`).
    async fn account_history(
        &self,
        caller: &Caller,
        r: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse, Status> {
        let named = r.account.trim().to_string();
        if named.is_empty() {
            return Err(invalid_field("account", "is required"));
        }
        let kinds = event_filter::kinds("kinds", &r.kinds)?;
        let bounds = Bounds {
            before: r.before_sequence,
            limit: page_limit(r.limit)?,
            budget: SCAN_BUDGET,
        };
        // A live account is resolved in the caller's scope. One that is not (deleted, never
        // existed, or another tenant's) is taken as an id: its retained events in the caller's
        // scope are its history, and when there are none it is NOT_FOUND with the text of a
        // missing account, whichever of the three it was.
        let (id, live) = match self.0.accounts.get_in(&caller.scope, &named) {
            Ok(a) => (a.id.clone(), true),
            Err(crate::accounts::AccountError::NotFound(_)) => (named.clone(), false),
            Err(e) => return Err(status_of(e)),
        };
        let scope = caller.scope.clone();
        let (page, seen) = self
            .0
            .accounts
            .store()
            .read(move |rtx| {
                let seen = std::cell::Cell::new(false);
                let page = Store::events_scan(rtx, bounds, |e| {
                    let mine = e.account_id == id && scope.sees(&e.tenant);
                    seen.set(seen.get() || mine);
                    mine && (kinds.is_empty() || kinds.contains(&(kind_to_pb(e.kind) as i32)))
                })?;
                Ok::<_, crate::store::StoreError>((page, seen.get()))
            })
            .await
            .map_err(|e| Status::unavailable(format!("event storage unavailable: {e}")))?;
        // Nothing of it in the whole retained table: not an account this caller can name.
        if !live && !seen && r.before_sequence == 0 && page.next_before == 0 {
            return Err(status_of(crate::accounts::AccountError::NotFound(named)));
        }
        Ok(pb::ListEventsResponse {
            events: page.records.iter().map(event).collect(),
            next_before_sequence: page.next_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_proto_enums() {
        for s in HealthState::ALL {
            assert_eq!(state_by_name(s.as_str()), state_to_pb(s) as i32);
            assert_eq!(state_from_pb(state_to_pb(s)), Some(s));
        }
        assert_eq!(state_by_name(""), 0);
        for r in FailureReason::ALL {
            // The event's name maps to the same API reason as the record, and to a distinct one.
            assert_ne!(health_reason(Some(r)), pb::HealthReason::Unspecified);
            assert_eq!(reason_by_name(r.as_str()), health_reason(Some(r)));
        }
        assert_eq!(reason_by_name(""), pb::HealthReason::Unspecified);
    }
}
