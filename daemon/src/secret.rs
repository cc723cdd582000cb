//! A wrapper for credentials in memory: an API key can be used where it must be (the upstream
//! request body, the sealing call) but never formatted into a log line, an error or a response.

use std::fmt;

/// An upstream API key in plain text. `Debug` and `Display` print `[redacted]`; the only way to
/// read it is [`ApiKey::expose`], which makes every use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself. Call only to put it in an upstream request body or to seal it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What responses show instead of the key: the first and last four characters, or less for
    /// short keys (a key of 8 or fewer characters shows at most its first two).
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let n = chars.len();
        if n > 12 {
            let head: String = chars.iter().take(4).collect();
            let tail: String = chars.iter().skip(n - 4).collect();
            format!("{head}…{tail}")
        } else if n > 8 {
            let head: String = chars.iter().take(2).collect();
            let tail: String = chars.iter().skip(n - 2).collect();
            format!("{head}…{tail}")
        } else {
            let head: String = chars.iter().take(n.min(8) / 4).collect();
            format!("{head}…")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_key() {
        let k = ApiKey::new("supersecretkey123456");
        assert_eq!(format!("{k}"), "[redacted]");
        assert!(!format!("{k:?}").contains("supersecret"));
        assert!(!format!("{:?}", Some(&k)).contains("supersecret"));
    }

    #[test]
    fn hint_shows_at_most_eight_characters_and_less_for_short_keys() {
        assert_eq!(ApiKey::new("ab12cdefgh9f3c").hint(), "ab12…9f3c");
        assert_eq!(ApiKey::new("abcdefghij").hint(), "ab…ij");
        assert_eq!(ApiKey::new("abcdefgh").hint(), "ab…");
        assert_eq!(ApiKey::new("abc").hint(), "…");
        assert_eq!(ApiKey::new("").hint(), "…");
    }
}
