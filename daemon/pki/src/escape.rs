//! Making client-supplied text safe to log and to store: one function, used wherever such a
//! string (a certificate's CN, a refusal message quoting one) reaches a log line or an audit
//! record.
//!
//! A newline or carriage return in a principal would start a forged log line; ESC would drive the
//! operator's terminal; bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE, the U+2066-2069 isolates)
//! make `rosterctl audit` show a different text than the one stored. Each such character is
//! written as a visible escape instead (`\n`, `\r`, `\t`, `\u{202e}`), so what is shown is what
//! was sent, and nothing else. Backslashes are left alone, so escaping twice changes nothing.

use std::borrow::Cow;

/// Whether `c` must not reach a log line or an audit record as itself: C0 and C1 controls and
/// DEL, the bidi embeddings, overrides, isolates and marks, the line and paragraph separators,
/// zero-width characters that hide text, and the byte-order mark.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// `text` with every control and bidi character written as a visible escape. Borrows when there
/// is nothing to escape, which is every well-formed principal.
pub fn escape_untrusted(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hazard) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hazard(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(escape_untrusted("alice@ops-1"), Cow::Borrowed(_)));
        assert_eq!(
            escape_untrusted("eve\nFORGED line\r\x1b[31m"),
            "eve\\nFORGED line\\r\\u{1b}[31m"
        );
        assert_eq!(
            escape_untrusted("admin\u{202e}txt.exe\u{2066}x\u{2069}"),
            "admin\\u{202e}txt.exe\\u{2066}x\\u{2069}"
        );
        assert_eq!(
            escape_untrusted("a\u{85}b\u{2028}c\u{200b}d\u{feff}"),
            "a\\u{85}b\\u{2028}c\\u{200b}d\\u{feff}"
        );
        // Non-ASCII letters are text, not hazards.
        assert_eq!(escape_untrusted("José Ñ 山田"), "José Ñ 山田");
    }

    #[test]
    fn escaping_twice_changes_nothing() {
        for s in ["eve\nx", "a\u{202e}b", "back\\slash", "\u{7f}"] {
            let once = escape_untrusted(s).into_owned();
            assert_eq!(escape_untrusted(&once), once);
            assert!(!once.chars().any(is_hazard), "{once:?}");
        }
    }
}
