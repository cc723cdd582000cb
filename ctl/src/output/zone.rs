//! The operator's time zone: every absolute time a table shows is in it, as RFC 3339 with the
//! zone's offset (`2026-12-06T09:15:00+05:30`; `Z` when the offset is zero), so a time reads as
//! the operator's clock and still names one instant. `-o json` keeps the proto's UTC.
//!
//! The zone is chosen once per process, from `--tz` / `ROSTER_TZ`, else the system's (TZ, then
//! /etc/localtime), before anything is printed; a renderer asks for it instead of carrying it
//! through every signature. Unit tests never set it, so they see UTC on any machine.

use std::sync::OnceLock;

use jiff::tz::TimeZone;

static ZONE: OnceLock<TimeZone> = OnceLock::new();
static UTC: TimeZone = TimeZone::UTC;

/// A zone by name: `UTC` or an IANA name (`Asia/Kolkata`); the error says what is accepted.
/// The tz database is bundled, so this works where /usr/share/zoneinfo is missing.
pub fn parse(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") || name == "Z" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| {
        format!("unknown time zone {name:?}: use UTC or an IANA name such as Asia/Kolkata or America/New_York")
    })
}

/// The system's zone (TZ, then /etc/localtime); UTC when it cannot be told.
pub fn system() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// Chooses the zone for this process (the first call wins).
pub fn set(zone: TimeZone) {
    let _ = ZONE.set(zone);
}

/// The zone tables print times in: the one chosen, else UTC.
pub fn current() -> &'static TimeZone {
    ZONE.get().unwrap_or(&UTC)
}

/// `secs.nanos` since the epoch in `zone`, to the second; `None` outside what can be printed.
pub fn rfc3339(secs: i64, nanos: i32, zone: &TimeZone) -> Option<String> {
    let t = jiff::Timestamp::new(secs, nanos).ok()?;
    let z = t.to_zoned(zone.clone());
    if z.offset().seconds() == 0 {
        Some(z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
    } else {
        Some(z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_show_their_offset() {
        // 2026-12-06T03:45:00Z
        let t = 1_796_528_700;
        let utc = parse("UTC").unwrap();
        assert_eq!(rfc3339(t, 0, &utc).unwrap(), "2026-12-06T03:45:00Z");
        let ist = parse("Asia/Kolkata").unwrap();
        assert_eq!(rfc3339(t, 0, &ist).unwrap(), "2026-12-06T09:15:00+05:30");
        let ny = parse("America/New_York").unwrap();
        assert_eq!(rfc3339(t, 0, &ny).unwrap(), "2026-12-05T22:45:00-05:00");
        // Summer time is the zone's, at that instant.
        assert_eq!(
            rfc3339(t - 180 * 86_400, 0, &ny).unwrap(),
            "2026-06-08T23:45:00-04:00"
        );
        assert_eq!(rfc3339(i64::MAX, 0, &utc), None);
    }

    #[test]
    fn the_tz_database_is_built_in() {
        // What a host or container without /usr/share/zoneinfo falls back to.
        let db = jiff::tz::TimeZoneDatabase::bundled();
        let ist = db.get("Asia/Kolkata").unwrap();
        assert_eq!(
            rfc3339(1_796_528_700, 0, &ist).unwrap(),
            "2026-12-06T09:15:00+05:30"
        );
    }

    #[test]
    fn an_unknown_zone_is_refused_with_what_is_accepted() {
        for bad in ["Mars/Olympus", "", "Asia/Kolkata/x", "../../etc/passwd"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("use UTC or an IANA name"), "{bad:?}: {e}");
        }
        assert!(parse("utc").is_ok());
        assert_eq!(current(), &TimeZone::UTC, "unset: UTC");
    }
}
