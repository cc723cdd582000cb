//! Colour for a person at a terminal: health states and section markers stand out (UP green,
//! DEGRADED and stale yellow, DOWN and FAILED red). Only when stdout is a terminal, never when
//! `NO_COLOR` is set to anything (<https://no-color.org>) or `TERM` is `dumb`; scripts and pipes
//! get the plain text. Painted after the table is laid out, so the escape codes (which take no
//! columns on screen) do not disturb the alignment.

use std::io::IsTerminal as _;

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// Whether to paint, from the environment as it is.
pub fn wanted() -> bool {
    wanted_with(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("TERM").as_deref(),
    )
}

fn wanted_with(
    terminal: bool,
    no_color: Option<&std::ffi::OsStr>,
    term: Option<&std::ffi::OsStr>,
) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// `text` with each whole word that names a state in its colour.
pub fn paint(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let colour = match word.as_str() {
            "UP" => Some(GREEN),
            "DEGRADED" | "stale" => Some(YELLOW),
            "DOWN" | "FAILED:" | "FAILED" => Some(RED),
            _ => None,
        };
        match colour {
            Some(c) => {
                out.push_str(c);
                out.push_str(word);
                out.push_str(RESET);
            }
            None => out.push_str(word),
        }
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(ch);
        } else {
            word.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn only_a_terminal_gets_colour_and_no_color_or_a_dumb_terminal_turn_it_off() {
        let s = |v: &'static str| Some(OsStr::new(v));
        assert!(wanted_with(true, None, s("xterm-256color")));
        assert!(!wanted_with(false, None, s("xterm")));
        assert!(!wanted_with(true, s("1"), s("xterm")));
        // NO_COLOR set but empty does not count (no-color.org).
        assert!(wanted_with(true, s(""), None));
        assert!(!wanted_with(true, None, s("dumb")));
    }

    #[test]
    fn states_are_painted_as_whole_words_and_the_text_is_otherwise_unchanged() {
        let table = "NAME     STATE\nup-desk  UP\nd2       DOWN\nd3       DEGRADED\n";
        let painted = paint(table);
        assert!(painted.contains("\x1b[32mUP\x1b[0m"), "{painted:?}");
        assert!(painted.contains("\x1b[31mDOWN\x1b[0m"));
        assert!(painted.contains("\x1b[33mDEGRADED\x1b[0m"));
        // A name that merely contains a state is left alone, and stripping the codes gives
        // back the very same text.
        assert!(painted.contains("up-desk"));
        let plain = painted
            .replace(GREEN, "")
            .replace(YELLOW, "")
            .replace(RED, "")
            .replace(RESET, "");
        assert_eq!(plain, table);
    }
}
