//! The one place that knows how an [`AccountSection`] is laid out on the wire: in its own
//! `section` field, and again in the deprecated fields 1-9 of each per-account section message,
//! which older clients still read. The daemon writes through
//! [`PortfolioSection::set_account_section`] so both copies always agree; `rosterctl` reads
//! through [`PortfolioSection::account_section`], which also understands a daemon that predates
//! the field.

use std::borrow::Cow;

use crate::v1::{
    AccountBalances, AccountFunds, AccountHoldings, AccountOrders, AccountPositions,
    AccountSection, AccountTrades,
};

/// A per-account section of a portfolio view.
pub trait PortfolioSection {
    /// Whose section this is and how fresh its data is: the `section` field, or, from a daemon
    /// that does not send it, the deprecated fields.
    fn account_section(&self) -> Cow<'_, AccountSection>;

    /// Sets `section` and its deprecated copies.
    fn set_account_section(&mut self, section: AccountSection);
}

macro_rules! portfolio_section {
    ($($msg:ty),*) => {$(
        impl PortfolioSection for $msg {
            fn account_section(&self) -> Cow<'_, AccountSection> {
                match &self.section {
                    Some(s) => Cow::Borrowed(s),
                    None => Cow::Owned(AccountSection {
                        account_id: self.account_id.clone(),
                        account_name: self.account_name.clone(),
                        fetched_at: self.fetched_at,
                        stale: self.stale,
                        age: self.age,
                        mode: self.mode.clone(),
                        error: self.error.clone(),
                        error_reason: self.error_reason,
                        has_data: self.has_data,
                        // Newer than the deprecated copies: an older daemon knew only OpenAlgo.
                        ..Default::default()
                    }),
                }
            }

            fn set_account_section(&mut self, section: AccountSection) {
                self.account_id.clone_from(&section.account_id);
                self.account_name.clone_from(&section.account_name);
                self.fetched_at = section.fetched_at;
                self.stale = section.stale;
                self.age = section.age;
                self.mode.clone_from(&section.mode);
                self.error.clone_from(&section.error);
                self.error_reason = section.error_reason;
                self.has_data = section.has_data;
                self.section = Some(section);
            }
        }
    )*};
}

portfolio_section!(
    AccountFunds,
    AccountPositions,
    AccountOrders,
    AccountTrades,
    AccountHoldings
);

/// Newer than the deprecated fields: only `section`.
impl PortfolioSection for AccountBalances {
    fn account_section(&self) -> Cow<'_, AccountSection> {
        match &self.section {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(AccountSection::default()),
        }
    }

    fn set_account_section(&mut self, section: AccountSection) {
        self.section = Some(section);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::HealthReason;

    #[test]
    fn both_copies_agree_and_an_older_daemon_is_read_from_the_deprecated_fields() {
        let s = AccountSection {
            account_id: "0190-a".into(),
            account_name: "acc1".into(),
            stale: true,
            mode: "live".into(),
            error: "TIMEOUT: no answer".into(),
            error_reason: HealthReason::Timeout as i32,
            has_data: true,
            ..Default::default()
        };
        let mut m = AccountOrders::default();
        m.set_account_section(s.clone());
        assert_eq!(m.section.as_ref(), Some(&s));
        assert_eq!(
            (m.account_name.as_str(), m.stale, m.error_reason, m.has_data),
            ("acc1", true, HealthReason::Timeout as i32, true)
        );
        let mut old = m.clone();
        old.section = None;
        assert_eq!(old.account_section().into_owned(), s);
        assert!(matches!(m.account_section(), Cow::Borrowed(_)));
    }
}
