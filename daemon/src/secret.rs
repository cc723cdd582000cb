//! Credentials in memory: a secret can be used where it must be (an upstream request, the
//! sealing call) but never formatted into a log line, an error or a response.

use std::collections::BTreeMap;
use std::fmt;

/// One credential field in plain text (an API key, a secret key, a passphrase). `Debug` and
/// `Display` print `[redacted]`; the only way to read it is [`Secret::expose`], which makes every
/// use greppable.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
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

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An account's credential: the named secret fields its venue declares (OpenAlgo `api_key`;
/// Alpaca `key_id` and `secret_key`; ...). Sealed as one value; shown as one hint per field.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credential {
    fields: BTreeMap<String, Secret>,
}

impl Credential {
    pub fn new(fields: impl IntoIterator<Item = (String, Secret)>) -> Self {
        Self {
            fields: fields.into_iter().collect(),
        }
    }

    /// OpenAlgo's credential: its one API key.
    pub fn api_key(key: Secret) -> Self {
        Self::new([("api_key".to_string(), key)])
    }

    pub fn get(&self, field: &str) -> Option<&Secret> {
        self.fields.get(field)
    }

    /// The field values, for scrubbing them out of whatever an upstream sends back.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.fields.values()
    }

    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// One hint per field, by field name.
    pub fn hints(&self) -> BTreeMap<String, String> {
        self.fields
            .iter()
            .map(|(name, v)| (name.clone(), v.hint()))
            .collect()
    }

    /// The sealed plaintext: a JSON object of the fields.
    pub fn to_plaintext(&self) -> Vec<u8> {
        let map: BTreeMap<&str, &str> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        serde_json::to_vec(&map).unwrap_or_default()
    }

    /// The inverse of [`Credential::to_plaintext`]; `None` when `bytes` is not a JSON object of
    /// strings.
    pub fn from_plaintext(bytes: &[u8]) -> Option<Self> {
        let map: BTreeMap<String, String> = serde_json::from_slice(bytes).ok()?;
        Some(Self::new(map.into_iter().map(|(k, v)| (k, Secret::new(v)))))
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.fields.keys()).finish()?;
        f.write_str("=[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_round_trips_and_never_formats_a_value() {
        let c = Credential::new([
            ("key_id".to_string(), Secret::new("PKTESTKEYID0001")),
            ("secret_key".to_string(), Secret::new("s3cr3t-\"-value")),
        ]);
        let back = Credential::from_plaintext(&c.to_plaintext()).unwrap();
        assert_eq!(back, c);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("PKTEST") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert!(shown.contains("key_id"), "{shown}");
        assert_eq!(c.hints()["key_id"], "PKTE…0001");
        assert!(Credential::from_plaintext(b"plain-key").is_none());
    }

    #[test]
    fn formatting_never_shows_the_key() {
        let k = Secret::new("supersecretkey123456");
        assert_eq!(format!("{k}"), "[redacted]");
        assert!(!format!("{k:?}").contains("supersecret"));
        assert!(!format!("{:?}", Some(&k)).contains("supersecret"));
    }

    #[test]
    fn hint_shows_at_most_eight_characters_and_less_for_short_keys() {
        assert_eq!(Secret::new("ab12cdefgh9f3c").hint(), "ab12…9f3c");
        assert_eq!(Secret::new("abcdefghij").hint(), "ab…ij");
        assert_eq!(Secret::new("abcdefgh").hint(), "ab…");
        assert_eq!(Secret::new("abc").hint(), "…");
        assert_eq!(Secret::new("").hint(), "…");
    }
}
