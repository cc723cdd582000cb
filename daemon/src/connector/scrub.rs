//! Scrubbing every field of the account's credential out of everything an upstream sends back,
//! before any of it is stored (snapshots, health, events, the account's broker) or shown
//! (answers, logs).
//!
//! A hostile or broken upstream may echo a key anywhere: the broker name, an error message, a
//! symbol. Every string of a decoded answer and every error message goes through here in each
//! venue's one call path ([`scrub_credential`], [`scrub_error_of`]). Error text is
//! scrubbed whole and only then cut to its display length, so a key straddling the cut cannot
//! survive as a prefix (the decoders keep [`RAW_DETAIL_CHARS`](super::decode) of text for that).

use super::decode::short_detail;
use super::{
    Balances, Funds, Holding, Holdings, Order, OrderBook, PingInfo, Position, Positions, Trade,
    TradeBook, UpstreamError,
};
use crate::secret::Credential;

/// What a scrubbed key is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Replaces every occurrence of `secret` in `s`.
pub fn scrub_str(s: &mut String, secret: &str) {
    if !secret.is_empty() && s.contains(secret) {
        *s = s.replace(secret, REDACTED);
    }
}

/// A decoded upstream answer whose strings can be scrubbed in place.
pub trait Scrub {
    fn scrub(&mut self, secret: &str);
}

impl Scrub for PingInfo {
    fn scrub(&mut self, secret: &str) {
        scrub_str(&mut self.broker, secret);
        scrub_str(&mut self.message, secret);
    }
}

impl Scrub for Funds {
    fn scrub(&mut self, secret: &str) {
        scrub_str(&mut self.currency, secret);
    }
}

impl Scrub for Balances {
    fn scrub(&mut self, secret: &str) {
        for r in &mut self.rows {
            scrub_str(&mut r.asset, secret);
        }
    }
}

impl Scrub for Position {
    fn scrub(&mut self, secret: &str) {
        for s in [&mut self.symbol, &mut self.exchange, &mut self.product] {
            scrub_str(s, secret);
        }
    }
}

impl Scrub for Order {
    fn scrub(&mut self, secret: &str) {
        for s in [
            &mut self.order_id,
            &mut self.symbol,
            &mut self.exchange,
            &mut self.action,
            &mut self.price_type,
            &mut self.product,
            &mut self.status,
            &mut self.timestamp,
            &mut self.rejection_reason,
        ] {
            scrub_str(s, secret);
        }
    }
}

impl Scrub for Trade {
    fn scrub(&mut self, secret: &str) {
        for s in [
            &mut self.order_id,
            &mut self.symbol,
            &mut self.exchange,
            &mut self.action,
            &mut self.product,
            &mut self.timestamp,
            &mut self.trade_id,
        ] {
            scrub_str(s, secret);
        }
    }
}

impl Scrub for Holding {
    fn scrub(&mut self, secret: &str) {
        for s in [&mut self.symbol, &mut self.exchange, &mut self.product] {
            scrub_str(s, secret);
        }
    }
}

impl Scrub for Positions {
    fn scrub(&mut self, secret: &str) {
        self.rows.iter_mut().for_each(|r| r.scrub(secret));
    }
}

impl Scrub for OrderBook {
    fn scrub(&mut self, secret: &str) {
        self.orders.iter_mut().for_each(|r| r.scrub(secret));
    }
}

impl Scrub for TradeBook {
    fn scrub(&mut self, secret: &str) {
        self.trades.iter_mut().for_each(|r| r.scrub(secret));
    }
}

impl Scrub for Holdings {
    fn scrub(&mut self, secret: &str) {
        self.rows.iter_mut().for_each(|r| r.scrub(secret));
    }
}

/// The shortest line of a multiline credential field scrubbed on its own.
const MIN_PIECE_CHARS: usize = 16;

/// What to scrub for one credential field: the field whole and, for a multiline one (a PEM
/// private key), each of its lines of [`MIN_PIECE_CHARS`] or more on its own, since an upstream
/// echoing it may re-wrap or re-escape the line breaks (and messages are flattened to one line).
fn pieces(secret: &str) -> impl Iterator<Item = &str> {
    let split = secret.contains(char::is_whitespace);
    std::iter::once(secret).chain(
        secret
            .split_whitespace()
            .filter(move |p| split && p.len() >= MIN_PIECE_CHARS),
    )
}

/// The error's message scrubbed of every field of `credential` whole, then cut to its display
/// length.
pub fn scrub_error_of(e: UpstreamError, credential: &Credential) -> UpstreamError {
    scrub_error_of_all(e, credential.secrets().flat_map(|s| pieces(s.expose())))
}

fn scrub_error_of_all<'a>(
    mut e: UpstreamError,
    secrets: impl IntoIterator<Item = &'a str>,
) -> UpstreamError {
    for secret in secrets {
        scrub_str(&mut e.message, secret);
    }
    e.message = short_detail(&e.message);
    e
}

/// Every field of `credential` scrubbed out of `value`.
pub fn scrub_credential<T: Scrub>(value: &mut T, credential: &Credential) {
    for secret in credential.secrets().flat_map(|s| pieces(s.expose())) {
        value.scrub(secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::FailureReason;
    use crate::connector::decode::raw_detail;

    #[test]
    fn each_line_of_a_multiline_field_is_scrubbed_however_it_is_rewrapped() {
        let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIeceoHpqUJw3Fx/Q+OGSaBR\nAwEHoUQDQgAEx5+gHL4n1tW+RNhf\n-----END EC PRIVATE KEY-----\n";
        let echoed = "key -----BEGIN EC PRIVATE KEY----- MHcCAQEEIIeceoHpqUJw3Fx/Q+OGSaBR\\nAwEHoUQDQgAEx5+gHL4n1tW+RNhf";
        let e = UpstreamError::new(FailureReason::Http5xx, echoed, Some(500));
        let e = scrub_error_of_all(e, pieces(pem));
        assert!(!e.message.contains("MHcCAQ"), "{}", e.message);
        assert!(!e.message.contains("AwEHoU"), "{}", e.message);
        // A one-line field is scrubbed whole only (its parts may be common words).
        assert_eq!(pieces("one-token-secret-value").count(), 1);
    }

    #[test]
    fn a_key_across_the_display_cut_is_scrubbed_whole() {
        let key = "k".repeat(64);
        // The key starts 10 characters before the 200-character cut.
        let text = format!("{}{key} and more", "x".repeat(190));
        let e = UpstreamError::new(FailureReason::Http5xx, raw_detail(&text), Some(500));
        let e = scrub_error_of_all(e, [key.as_str()]);
        assert!(!e.message.contains(&key[..16]), "{}", e.message);
        assert!(e.message.contains("[red"), "{}", e.message);
        assert!(e.message.chars().count() <= 201);
        // A 256-character key (the longest accepted) overlapping the cut is still whole in the
        // raw detail.
        let key = "q".repeat(256);
        let text = format!("{}{key}", "x".repeat(199));
        let e = scrub_error_of_all(
            UpstreamError::new(FailureReason::Http5xx, raw_detail(&text), None),
            [key.as_str()],
        );
        assert!(!e.message.contains("qqqqqqqqqqqqqqqq"), "{}", e.message);
    }
}
