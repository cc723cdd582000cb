//! Coinbase's request budget (`okx-coinbase-api.md` B7): 30 private requests per second per
//! authenticated user, every endpoint together. The user is the key's organization: a CDP key
//! name is `organizations/{org_id}/apiKeys/{key_id}`, and every key of one organization (one per
//! portfolio, B8) is assumed to spend the same user's budget; a key name of another form is its
//! own user.
//!
//! - Our own GCRA limiter keyed by user, 22 a second with a burst of 4: a GCRA with rate r and
//!   burst b admits at most b + r requests into any one-period window, so 26 in any second,
//!   however many accounts, checks, books and pages share the user: four under Coinbase's 30,
//!   so that requests bunched up on the way (a pooled connection, a slow hop) still arrive
//!   fewer than 30 to a second. A call waits for
//!   a slot until its deadline, then fails `RATE_LIMITED` without sending.
//! - Coinbase's own word: a 429 (its body may be an HTML page, so only the status is read) pauses
//!   the user for [`PAUSE_AFTER_429`]; calls in the pause fail at once with `RATE_LIMITED`.
//!
//! The state is a [`KeyedBudget`] keyed by user. Key names are never put in a message.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime};

use governor::Quota;
use tokio::time::Instant;

use crate::connector::keyed_budget::KeyedBudget;
use crate::connector::{FailureReason, UpstreamError};

/// Our rate per user, under Coinbase's 30 a second.
pub const PER_SECOND: NonZeroU32 = NonZeroU32::MIN.saturating_add(21);
/// Requests a user may send at once after being idle.
pub const BURST: NonZeroU32 = NonZeroU32::MIN.saturating_add(3);
/// How long a 429 pauses its user: the window is a second, and no reset time is documented.
pub const PAUSE_AFTER_429: Duration = Duration::from_secs(2);
const USERS_SOFT_CAP: usize = 4096;

fn quota() -> Quota {
    Quota::per_second(PER_SECOND).allow_burst(BURST)
}

/// The user a key name spends the budget of (see the module doc).
pub fn user_of(key_name: &str) -> &str {
    key_name
        .strip_prefix("organizations/")
        .and_then(|rest| rest.split_once("/apiKeys/"))
        .map(|(org, _)| org)
        .filter(|org| !org.is_empty())
        .unwrap_or(key_name)
}

#[derive(Debug)]
pub struct Budget(KeyedBudget);

impl Budget {
    pub fn new() -> Self {
        Self(KeyedBudget::new(quota(), USERS_SOFT_CAP))
    }

    /// One request's slot for the user of `key_name`: refused at once in a pause, else waited
    /// for until `deadline` at most.
    pub async fn take(
        &self,
        key_name: &str,
        deadline: Instant,
        request_timeout: Duration,
    ) -> Result<(), UpstreamError> {
        let user = user_of(key_name);
        if self.0.paused_until(user, SystemTime::now()).is_some() {
            return Err(UpstreamError::new(
                FailureReason::RateLimited,
                "coinbase: answered 429 for this key's user a moment ago; calls wait out the \
                 pause",
                None,
            ));
        }
        self.0.slot(user, deadline).await.map_err(|_| {
            UpstreamError::new(
                FailureReason::RateLimited,
                format!(
                    "coinbase: the local request budget ({PER_SECOND}/s + {BURST} per user, \
                     under Coinbase's 30/s) had no slot within {}",
                    humantime::format_duration(request_timeout)
                ),
                None,
            )
        })
    }

    /// A 429 for `key_name`'s user pauses it.
    pub fn observe(&self, key_name: &str, status: u16) {
        if status == 429 {
            let now = SystemTime::now();
            self.0.pause(user_of(key_name), now + PAUSE_AFTER_429, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_the_keys_organization() {
        assert_eq!(user_of("organizations/org-1/apiKeys/k-1"), "org-1");
        assert_eq!(user_of("organizations/org-1/apiKeys/k-2"), "org-1");
        assert_eq!(user_of("3f0c9a4e-uuid"), "3f0c9a4e-uuid");
        assert_eq!(
            user_of("organizations//apiKeys/k"),
            "organizations//apiKeys/k"
        );
    }

    #[tokio::test]
    async fn never_more_than_thirty_in_a_second_across_a_users_keys() {
        let b = Budget::new();
        // Every take ends by the deadline, so all that were admitted fit in one second.
        let deadline = Instant::now() + Duration::from_millis(900);
        let mut sent = 0;
        for i in 0..100 {
            let key = format!("organizations/o/apiKeys/k{}", i % 3);
            if b.take(&key, deadline, Duration::from_secs(1)).await.is_ok() {
                sent += 1;
            }
        }
        assert!(sent <= 26, "{sent}");
        assert!(sent >= 4, "{sent}");
        // Another user is not affected.
        let now = Instant::now();
        b.take("organizations/p/apiKeys/k", now, Duration::from_secs(1))
            .await
            .unwrap();
        b.observe("organizations/p/apiKeys/other", 429);
        let e = b
            .take("organizations/p/apiKeys/k", now, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(e.reason, FailureReason::RateLimited);
        assert!(!e.message.contains("organizations"));
    }
}
