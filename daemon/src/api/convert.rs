//! Domain records to roster.v1 messages.

use roster_proto::pbjson_types::Timestamp;
use roster_proto::v1 as pb;

use crate::connector::Venue;
use crate::domain::FailureReason;
use crate::store::{AccountRecord, UnixMillis};

pub fn timestamp(ms: UnixMillis) -> Option<Timestamp> {
    if ms <= 0 {
        return None;
    }
    Some(Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    })
}

/// A request's timestamp as Unix milliseconds; `None` when it is not a valid time.
pub fn millis(t: &Timestamp) -> Option<UnixMillis> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return None;
    }
    t.seconds
        .checked_mul(1000)?
        .checked_add(i64::from(t.nanos / 1_000_000))
}

pub fn system_timestamp(t: std::time::SystemTime) -> Option<Timestamp> {
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(Timestamp {
        seconds: i64::try_from(d.as_secs()).ok()?,
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    })
}

pub fn duration(d: std::time::Duration) -> roster_proto::pbjson_types::Duration {
    roster_proto::pbjson_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// The one mapping of a failure reason onto the API's enum (no reason: `UNSPECIFIED`).
pub fn health_reason(r: Option<FailureReason>) -> pb::HealthReason {
    match r {
        None => pb::HealthReason::Unspecified,
        Some(FailureReason::Timeout) => pb::HealthReason::Timeout,
        Some(FailureReason::Connect) => pb::HealthReason::Connect,
        Some(FailureReason::Tls) => pb::HealthReason::Tls,
        Some(FailureReason::Http5xx) => pb::HealthReason::Http5xx,
        Some(FailureReason::AuthRejected) => pb::HealthReason::AuthRejected,
        Some(FailureReason::RateLimited) => pb::HealthReason::RateLimited,
        Some(FailureReason::BadResponse) => pb::HealthReason::BadResponse,
        Some(FailureReason::SessionExpired) => pb::HealthReason::SessionExpired,
        Some(FailureReason::IpBanned) => pb::HealthReason::IpBanned,
        Some(FailureReason::AccountRestricted) => pb::HealthReason::AccountRestricted,
        Some(FailureReason::ClockSkew) => pb::HealthReason::ClockSkew,
        Some(FailureReason::PermissionDenied) => pb::HealthReason::PermissionDenied,
    }
}

/// What a venue is, needs and has (`rosterctl venues`).
pub fn venue(v: &Venue) -> pb::Venue {
    pb::Venue {
        connector: v.kind.into(),
        title: v.title.into(),
        credential_fields: v
            .credential_fields
            .iter()
            .map(|f| pb::CredentialField {
                name: f.name.into(),
                description: f.description.into(),
            })
            .collect(),
        environments: v
            .environments
            .iter()
            .map(|e| pb::VenueEnvironment {
                name: e.name.into(),
                default_host_url: e.default_host.unwrap_or_default().into(),
            })
            .collect(),
        books: v.books.iter().map(|b| b.as_str().into()).collect(),
        rate_budget: v.rate_budget.into(),
        currency: v.currency.into(),
        health_probe: v.health_probe.into(),
    }
}

/// The API view of an account: everything but the credential, which is shown only as one hint
/// per field.
pub fn account(r: &AccountRecord) -> pb::Account {
    pb::Account {
        id: r.id.clone(),
        name: r.name.clone(),
        connector: r.connector.clone(),
        environment: r.environment.clone(),
        credential_hints: r
            .credential_hints
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        host_url: r.host_url.clone(),
        ws_url: r.ws_url.clone(),
        api_key_hint: r
            .credential_hints
            .get("api_key")
            .cloned()
            .unwrap_or_default(),
        broker: r.broker.clone(),
        enabled: r.enabled,
        labels: r
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        create_time: timestamp(r.create_time),
        update_time: timestamp(r.update_time),
        etag: r.etag(),
        mode: r.mode.clone(),
        key_id: r.sealed_key.key_id.clone(),
        tenant: r.tenant.clone(),
    }
}
