//! Alpaca's time formats (reference §2.7): RFC 3339 in UTC with 9 (orders) or 6 (activities)
//! fractional digits, the US/Eastern offset on `GET /v2/clock`, the 17-digit Eastern timestamp
//! that prefixes activity ids, and the US equity session (09:30-16:00 ET, Monday to Friday) the
//! clock reports. Holidays are not modelled: pin the clock with
//! [`AlpacaSim::set_clock`](super::AlpacaSim::set_clock) when a test needs one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// Seconds and nanoseconds since the epoch (0 before 1970, which a simulator never sees).
fn epoch(t: SystemTime) -> (i64, u32) {
    t.duration_since(UNIX_EPOCH)
        .map(|d| {
            (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            )
        })
        .unwrap_or((0, 0))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 0 = Sunday.
fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The `n`-th Sunday (1-based) of a month, as days since the epoch.
fn nth_sunday(y: i64, m: u32, n: i64) -> i64 {
    let first = days_from_civil(y, m, 1);
    first + (7 - weekday(first)) % 7 + 7 * (n - 1)
}

/// `YYYY-MM-DDTHH:MM:SS` of an epoch second, via humantime (which owns the calendar maths).
fn civil(secs: i64) -> String {
    // humantime refuses (a Display error, a panic in `to_string`) from year 10000 on.
    let secs = secs.clamp(0, 253_402_300_799);
    let t = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.trim_end_matches('Z').to_owned()
}

fn year_of(secs: i64) -> i64 {
    civil(secs)
        .get(..4)
        .and_then(|y| y.parse().ok())
        .unwrap_or(1970)
}

/// US/Eastern offset from UTC in seconds at a UTC instant: -4 h from the second Sunday of March
/// 02:00 EST to the first Sunday of November 02:00 EDT, -5 h otherwise.
pub(crate) fn eastern_offset(utc_secs: i64) -> i64 {
    let y = year_of(utc_secs);
    let start = nth_sunday(y, 3, 2) * DAY + 7 * HOUR;
    let end = nth_sunday(y, 11, 1) * DAY + 6 * HOUR;
    if (start..end).contains(&utc_secs) {
        -4 * HOUR
    } else {
        -5 * HOUR
    }
}

fn offset_text(offset: i64) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    format!("{sign}{:02}:{:02}", a / HOUR, a % HOUR / 60)
}

/// RFC 3339 UTC with `digits` (0-9) fractional digits, e.g. `2026-11-24T15:02:11.409223611Z`.
pub fn rfc3339_utc(t: SystemTime, digits: usize) -> String {
    let (secs, nanos) = epoch(t);
    frac(&civil(secs), nanos, digits) + "Z"
}

fn frac(base: &str, nanos: u32, digits: usize) -> String {
    let digits = digits.min(9);
    if digits == 0 {
        return base.to_owned();
    }
    let all = format!("{nanos:09}");
    format!("{base}.{}", all.get(..digits).unwrap_or(&all))
}

/// RFC 3339 in US/Eastern with its offset, e.g. `2026-11-25T10:41:07.112039204-05:00`.
pub fn rfc3339_eastern(t: SystemTime, digits: usize) -> String {
    let (secs, nanos) = epoch(t);
    let off = eastern_offset(secs);
    frac(&civil(secs + off), nanos, digits) + &offset_text(off)
}

/// The 17-digit Eastern-time prefix of an activity id: `YYYYMMDDHHMMSSmmm`.
pub fn activity_stamp(t: SystemTime) -> String {
    let (secs, nanos) = epoch(t);
    let digits: String = civil(secs + eastern_offset(secs))
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    format!("{digits}{:03}", nanos / 1_000_000)
}

/// What `GET /v2/clock` reports at `now` for a Monday-to-Friday 09:30-16:00 ET session:
/// `(is_open, next_open, next_close)`, the two times in ET with their offset and no fraction.
pub(crate) fn session(now: SystemTime) -> (bool, String, String) {
    let (utc, _) = epoch(now);
    let local = utc + eastern_offset(utc);
    let today = local.div_euclid(DAY);
    let at = |day: i64, secs_of_day: i64| {
        let l = day * DAY + secs_of_day;
        // 09:30 and 16:00 are hours away from the 02:00 switch, so the offset of the
        // standard-time guess is exact.
        let off = eastern_offset(l + 5 * HOUR);
        (l, format!("{}{}", civil(l), offset_text(off)))
    };
    let trading_days = (0..9)
        .map(|d| today + d)
        .filter(|d| (1..=5).contains(&weekday(*d)));
    let mut next_open = None;
    let mut next_close = None;
    let mut is_open = false;
    for day in trading_days {
        let (open_l, open_s) = at(day, 9 * HOUR + 1_800);
        let (close_l, close_s) = at(day, 16 * HOUR);
        if day == today && (open_l..close_l).contains(&local) {
            is_open = true;
        }
        if next_open.is_none() && open_l > local {
            next_open = Some(open_s);
        }
        if next_close.is_none() && close_l > local {
            next_close = Some(close_s);
        }
        if next_open.is_some() && next_close.is_some() {
            break;
        }
    }
    (
        is_open,
        next_open.unwrap_or_default(),
        next_close.unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn formats_match_the_reference_examples() {
        // 2026-11-24T15:02:11.905438Z (EST): the reference's fill.
        let t = at(1_795_532_531, 905_438_000);
        assert_eq!(rfc3339_utc(t, 6), "2026-11-24T15:02:11.905438Z");
        assert_eq!(rfc3339_utc(t, 9), "2026-11-24T15:02:11.905438000Z");
        assert_eq!(activity_stamp(t), "20261124100211905");
        assert_eq!(rfc3339_eastern(t, 0), "2026-11-24T10:02:11-05:00");
        // July is daylight time.
        let summer = at(1_783_000_000, 0);
        assert!(rfc3339_eastern(summer, 3).ends_with(".000-04:00"));
        // Far future times clamp instead of panicking.
        assert!(rfc3339_utc(at(u64::MAX / 4, 0), 0).starts_with("9999-12-31"));
    }

    #[test]
    fn dst_switches_on_the_us_sundays() {
        // 2026: DST from 2026-03-08 07:00Z to 2026-11-01 06:00Z.
        let start = days_from_civil(2026, 3, 8) * DAY + 7 * HOUR;
        let end = days_from_civil(2026, 11, 1) * DAY + 6 * HOUR;
        assert_eq!(eastern_offset(start - 1), -5 * HOUR);
        assert_eq!(eastern_offset(start), -4 * HOUR);
        assert_eq!(eastern_offset(end - 1), -4 * HOUR);
        assert_eq!(eastern_offset(end), -5 * HOUR);
    }

    #[test]
    fn session_opens_on_weekdays_only() {
        // Wednesday 2026-11-25 10:41 ET (15:41Z): open, closes today, opens tomorrow.
        let wed = days_from_civil(2026, 11, 25) * DAY + 15 * HOUR + 41 * 60;
        let (open, next_open, next_close) = session(at(wed as u64, 0));
        assert!(open);
        assert_eq!(next_open, "2026-11-26T09:30:00-05:00");
        assert_eq!(next_close, "2026-11-25T16:00:00-05:00");
        // Saturday: closed until Monday.
        let sat = days_from_civil(2026, 11, 28) * DAY + 15 * HOUR;
        let (open, next_open, next_close) = session(at(sat as u64, 0));
        assert!(!open);
        assert_eq!(next_open, "2026-11-30T09:30:00-05:00");
        assert_eq!(next_close, "2026-11-30T16:00:00-05:00");
    }
}
