//! Which events a watcher or a history listing asks for: accounts, labels, kinds and the new
//! health state. Checked once per request (a bad filter is INVALID_ARGUMENT, an unknown account
//! NOT_FOUND, before anything streams) and then matched against each outgoing event.

use std::collections::HashSet;

use roster_proto::v1 as pb;
use tonic::Status;

use super::errors::{invalid_field, status_of};
use super::monitor::{state_filter, state_to_pb};
use crate::accounts::{Accounts, LabelSelector};
use crate::auth::Scope;

/// Accounts, kinds or states one request may name at most (each is a set kept for the stream).
pub const MAX_NAMED: usize = 1000;

#[derive(Debug, Default)]
pub struct EventFilter {
    /// Account ids (empty: any account).
    accounts: HashSet<String>,
    /// `None`: labels are not looked at.
    selector: Option<LabelSelector>,
    kinds: HashSet<i32>,
    /// New health states (`pb::HealthState` values); non-empty: only health events.
    states: HashSet<i32>,
}

/// The kinds a request names, checked.
pub fn kinds(field: &str, values: &[i32]) -> Result<HashSet<i32>, Status> {
    if values.len() > MAX_NAMED {
        return Err(invalid_field(field, format!("at most {MAX_NAMED}")));
    }
    values
        .iter()
        .map(|&v| match pb::EventKind::try_from(v) {
            Ok(pb::EventKind::Unspecified) | Err(_) => {
                Err(invalid_field(field, format!("unknown event kind {v}")))
            }
            Ok(_) => Ok(v),
        })
        .collect()
}

fn is_health(kind: i32) -> bool {
    kind == pb::EventKind::HealthChanged as i32 || kind == pb::EventKind::HealthSnapshot as i32
}

impl EventFilter {
    /// A watch request's filters, with its accounts resolved among those `scope` sees (another
    /// tenant's is NOT_FOUND, exactly like a missing one).
    pub fn of_watch(
        r: &pb::WatchEventsRequest,
        scope: &Scope,
        registry: &Accounts,
    ) -> Result<Self, Status> {
        if r.accounts.len() > MAX_NAMED {
            return Err(invalid_field("accounts", format!("at most {MAX_NAMED}")));
        }
        let mut accounts = HashSet::new();
        for named in &r.accounts {
            let named = named.trim();
            if named.is_empty() {
                return Err(invalid_field("accounts", "an account must not be blank"));
            }
            accounts.insert(registry.get_in(scope, named).map_err(status_of)?.id.clone());
        }
        let selector =
            LabelSelector::parse("label_selector", &r.label_selector).map_err(status_of)?;
        if r.states.len() > MAX_NAMED {
            return Err(invalid_field("states", format!("at most {MAX_NAMED}")));
        }
        let mut states = HashSet::new();
        for &v in &r.states {
            let Some(s) = state_filter("states", v)? else {
                return Err(invalid_field("states", "UNSPECIFIED is not a state"));
            };
            states.insert(state_to_pb(s) as i32);
        }
        Ok(Self {
            accounts,
            selector: (!selector.is_empty()).then_some(selector),
            kinds: kinds("kinds", &r.kinds)?,
            states,
        })
    }

    /// Whether `e` passes; `labelled` says whether the account's current labels match the
    /// selector (false for an account that is gone), asked only when a selector was given.
    pub fn passes(&self, e: &pb::Event, labelled: impl FnOnce(&LabelSelector) -> bool) -> bool {
        (self.accounts.is_empty() || self.accounts.contains(&e.account_id))
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.states.is_empty() || (is_health(e.kind) && self.states.contains(&e.state)))
            && self.selector.as_ref().is_none_or(labelled)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn ev(kind: pb::EventKind, account: &str, state: pb::HealthState) -> pb::Event {
        pb::Event {
            kind: kind as i32,
            account_id: account.into(),
            state: state as i32,
            ..pb::Event::default()
        }
    }

    #[test]
    fn events_pass_on_account_kind_state_and_labels() {
        use pb::{EventKind as K, HealthState as S};
        let desk_a: BTreeMap<String, String> = [("desk".to_string(), "a".to_string())].into();
        let events = [
            ev(K::HealthSnapshot, "A", S::Up),
            ev(K::HealthChanged, "A", S::Down),
            ev(K::AccountUpdated, "A", S::Unspecified),
            ev(K::HealthChanged, "B", S::Down),
        ];
        let shown = |f: &EventFilter| -> Vec<usize> {
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| f.passes(e, |s| e.account_id == "A" && s.matches(&desk_a)))
                .map(|(i, _)| i)
                .collect()
        };
        assert_eq!(shown(&EventFilter::default()), [0, 1, 2, 3]);
        let only_a = EventFilter {
            accounts: ["A".to_string()].into(),
            ..EventFilter::default()
        };
        assert_eq!(shown(&only_a), [0, 1, 2]);
        let down = EventFilter {
            states: [S::Down as i32].into(),
            ..EventFilter::default()
        };
        // Only health events: the update (no state) does not pass a state filter.
        assert_eq!(shown(&down), [1, 3]);
        let changes = EventFilter {
            kinds: [K::HealthChanged as i32].into(),
            ..EventFilter::default()
        };
        assert_eq!(shown(&changes), [1, 3]);
        let labelled = EventFilter {
            selector: Some(LabelSelector::parse("l", "desk=a").unwrap()),
            ..EventFilter::default()
        };
        // B's labels are unknown (gone): it does not match.
        assert_eq!(shown(&labelled), [0, 1, 2]);
    }

    #[test]
    fn bad_kinds_are_refused_naming_the_field() {
        for bad in [[0], [99]] {
            let e = kinds("kinds", &bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.message().starts_with("kinds:"), "{}", e.message());
        }
        assert_eq!(
            kinds("kinds", &[pb::EventKind::HealthChanged as i32]).unwrap(),
            [pb::EventKind::HealthChanged as i32].into()
        );
    }
}
