//! Reading an account's credential: OpenAlgo's bare API key, or a venue's credential fields as
//! one JSON object of strings. Secrets come from stdin, a file or a no-echo prompt, never argv,
//! and no error message ever repeats a value (only field names and JSON types).

use std::collections::HashMap;
use std::io::Read;

use anyhow::{Context, Result, bail};

use super::UsageError;
use crate::cli::{CredentialSource, KeySource};

/// More than any venue's credential (an Ed25519 or RSA private key in PEM is a few KiB): a
/// mistaken `--credentials-file /dev/zero` is refused instead of filling memory.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// A credential as the request carries it. Its `Debug` names the fields and never shows a value.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// OpenAlgo's `api_key` request field.
    ApiKey(String),
    /// The `credentials` map, passed through as given: the daemon knows each venue's fields and
    /// refuses a missing or unknown one, naming the expected fields.
    Fields(HashMap<String, String>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::ApiKey(_) => f.write_str("ApiKey(..)"),
            Credential::Fields(m) => {
                let mut names: Vec<&String> = m.keys().collect();
                names.sort();
                write!(f, "Fields({names:?})")
            }
        }
    }
}

/// The bytes of a secret from stdin or a file, at most [`MAX_SECRET_BYTES`].
fn read_raw(src: &KeySource, stdin: &mut dyn Read, what: &str) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    match src {
        KeySource::Stdin => {
            stdin
                .take(MAX_SECRET_BYTES + 1)
                .read_to_end(&mut raw)
                .with_context(|| format!("cannot read the {what} from stdin"))?;
        }
        KeySource::File(p) => {
            std::fs::File::open(p)
                .and_then(|f| f.take(MAX_SECRET_BYTES + 1).read_to_end(&mut raw))
                .with_context(|| format!("cannot read the {what} file {}", p.display()))?;
        }
    }
    if raw.len() as u64 > MAX_SECRET_BYTES {
        return Err(UsageError(format!(
            "the {what} is longer than {MAX_SECRET_BYTES} bytes: is it the right file?"
        ))
        .into());
    }
    Ok(raw)
}

/// Reads an API key from stdin or a file, removing exactly one trailing newline (what `echo`
/// and editors add) and nothing else, so a key is never silently altered.
pub fn read_key(src: &KeySource, stdin: &mut dyn Read) -> Result<String> {
    let raw = read_raw(src, stdin, "API key")?;
    let mut key = String::from_utf8(raw).context("the API key is not UTF-8 text")?;
    if key.ends_with("\r\n") {
        key.truncate(key.len() - 2);
    } else if key.ends_with('\n') {
        key.truncate(key.len() - 1);
    }
    if key.is_empty() {
        match src {
            KeySource::Stdin => bail!("the API key read from stdin is empty"),
            KeySource::File(p) => bail!("the API key file {} is empty", p.display()),
        }
    }
    Ok(key)
}

/// Reads the credential fields from stdin or a file: one JSON object of strings.
pub fn read_fields(src: &KeySource, stdin: &mut dyn Read) -> Result<HashMap<String, String>> {
    let raw = read_raw(src, stdin, "credentials")?;
    let origin = match src {
        KeySource::Stdin => "stdin".to_owned(),
        KeySource::File(p) => p.display().to_string(),
    };
    parse_fields(&raw).map_err(|e| UsageError(format!("the credentials in {origin}: {e}")).into())
}

/// One JSON object whose values are all strings. The errors name the problem, the field and
/// the JSON type, never a value (serde_json's own messages can quote one).
pub fn parse_fields(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let doc: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Eof => "it ends early (an unclosed object or string?)",
            Category::Syntax => "a syntax error",
            Category::Data => "not JSON",
            Category::Io => "unreadable",
        };
        format!(
            "not valid JSON: {what} at line {} column {}; expected one object of strings \
             such as {{\"key_id\": \"...\", \"secret_key\": \"...\"}}",
            e.line(),
            e.column()
        )
    })?;
    let serde_json::Value::Object(map) = doc else {
        return Err(format!(
            "expected one JSON object of strings, got {}",
            json_type(&doc)
        ));
    };
    let mut fields = HashMap::with_capacity(map.len());
    for (name, value) in map {
        match value {
            serde_json::Value::String(s) => {
                fields.insert(name, s);
            }
            other => {
                return Err(format!(
                    "field {name:?} is {}, not a string (quote it)",
                    json_type(&other)
                ));
            }
        }
    }
    if fields.is_empty() {
        return Err("the object has no fields".into());
    }
    Ok(fields)
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Reads the credential a flag names from stdin or a file (not from a terminal: the caller
/// prompts for that, as it knows the venue's fields).
pub fn read(src: &CredentialSource, stdin: &mut dyn Read) -> Result<Credential> {
    Ok(match src {
        CredentialSource::ApiKey(k) => Credential::ApiKey(read_key(k, stdin)?),
        CredentialSource::Fields(k) => Credential::Fields(read_fields(k, stdin)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(s: &str) -> Result<HashMap<String, String>, String> {
        parse_fields(s.as_bytes())
    }

    #[test]
    fn an_object_of_strings_is_read_whole() {
        let f = parse("{\"key_id\": \"PKTEST0001\", \"secret_key\": \"s3cr3t\"}\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f["key_id"], "PKTEST0001");
        assert_eq!(f["secret_key"], "s3cr3t");
        // A PEM private key keeps its newlines (JSON escapes them).
        let f = parse(r#"{"key_name":"k","private_key":"-----BEGIN-----\nAAA\n-----END-----\n"}"#)
            .unwrap();
        assert!(f["private_key"].contains("\nAAA\n"));
    }

    #[test]
    fn unknown_fields_are_passed_through_for_the_daemon_to_judge() {
        let f = parse(r#"{"api_key":"a","secret_key":"b","surprise":"c"}"#).unwrap();
        assert_eq!(f.get("surprise").map(String::as_str), Some("c"));
    }

    #[test]
    fn not_an_object_is_refused_by_its_type() {
        for (doc, said) in [
            (r#"["PKTE-secret"]"#, "an array"),
            (r#""PKTE-secret""#, "a string"),
            ("42", "a number"),
            ("null", "null"),
        ] {
            let e = parse(doc).unwrap_err();
            assert!(
                e.contains("expected one JSON object") && e.contains(said),
                "{e}"
            );
            assert!(!e.contains("PKTE") && !e.contains("42"), "{e}");
        }
        assert!(parse("{}").unwrap_err().contains("no fields"));
    }

    #[test]
    fn a_value_that_is_not_a_string_is_named_by_field_never_shown() {
        let e = parse(r#"{"key_id":"PKTE0001","secret_key":987654321}"#).unwrap_err();
        assert!(
            e.contains("\"secret_key\"") && e.contains("a number") && e.contains("not a string"),
            "{e}"
        );
        assert!(!e.contains("987654321") && !e.contains("PKTE0001"), "{e}");
        let e = parse(r#"{"key_id":{"nested":"hidden-secret"}}"#).unwrap_err();
        assert!(
            e.contains("an object") && !e.contains("hidden-secret"),
            "{e}"
        );
    }

    #[test]
    fn bad_json_is_located_never_quoted() {
        for doc in [
            r#"{"key_id": "PKTE0001", "secret_key": hunter2}"#,
            r#"{"key_id": "PKTE0001" "secret_key": "hunter2"}"#,
            r#"{"key_id": "PKTE0001", "secret_key": "hunter2"#,
            "key_id=PKTE0001",
            "",
        ] {
            let e = parse(doc).unwrap_err();
            assert!(
                e.starts_with("not valid JSON") && e.contains("line 1"),
                "{e}"
            );
            assert!(!e.contains("hunter2") && !e.contains("PKTE0001"), "{e}");
        }
    }

    #[test]
    fn reading_fields_makes_a_usage_error_naming_the_source() {
        let e = read_fields(&KeySource::Stdin, &mut Cursor::new(b"[1]".to_vec())).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        assert!(e.to_string().contains("credentials in stdin"), "{e}");

        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("alpaca.json");
        std::fs::write(&p, r#"{"key_id":"a","secret_key":"b"}"#).unwrap();
        let mut none = Cursor::new(Vec::new());
        let got = read(&CredentialSource::Fields(KeySource::File(p)), &mut none).unwrap();
        let Credential::Fields(f) = got else {
            panic!("{got:?}")
        };
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn an_oversized_secret_is_refused_before_it_fills_memory() {
        let big = vec![b' '; usize::try_from(MAX_SECRET_BYTES).unwrap() + 10];
        let e = read_fields(&KeySource::Stdin, &mut Cursor::new(big.clone())).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        assert!(e.to_string().contains("longer than"), "{e}");
        let e = read_key(&KeySource::Stdin, &mut Cursor::new(big)).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
    }

    #[test]
    fn debug_output_names_fields_and_hides_values() {
        let f = parse(r#"{"secret_key":"hunter2","key_id":"PKTE0001"}"#).unwrap();
        let shown = format!(
            "{:?} {:?}",
            Credential::Fields(f),
            Credential::ApiKey("hunter2".into())
        );
        assert_eq!(shown, r#"Fields(["key_id", "secret_key"]) ApiKey(..)"#);
    }

    #[test]
    fn the_api_key_flags_still_read_a_bare_key() {
        let got = read(
            &CredentialSource::ApiKey(KeySource::Stdin),
            &mut Cursor::new(b"abc\n".to_vec()),
        )
        .unwrap();
        assert_eq!(got, Credential::ApiKey("abc".into()));
    }

    #[test]
    fn key_from_stdin_loses_one_newline_only() {
        let k = |s: &str| read_key(&KeySource::Stdin, &mut Cursor::new(s.as_bytes().to_vec()));
        assert_eq!(k("abc\n").unwrap(), "abc");
        assert_eq!(k("abc\r\n").unwrap(), "abc");
        assert_eq!(k("abc\n\n").unwrap(), "abc\n");
        assert_eq!(k(" abc ").unwrap(), " abc ");
        assert!(k("\n").unwrap_err().to_string().contains("empty"));
        assert!(k("").is_err());
    }

    #[test]
    fn key_from_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("k");
        std::fs::write(&p, "secret-key\n").unwrap();
        let mut none = Cursor::new(Vec::new());
        assert_eq!(
            read_key(&KeySource::File(p.clone()), &mut none).unwrap(),
            "secret-key"
        );
        let e = read_key(&KeySource::File(tmp.path().join("missing")), &mut none).unwrap_err();
        assert!(format!("{e:#}").contains("missing"));
    }
}
