//! Account names as people read them: the daemon sorts books and listings by this order, and
//! rosterctl sorts the accounts it names (a bulk action's plan) the same way.

use std::cmp::Ordering;

/// Natural order of names: runs of digits compare by their value (`2` < `10`, `007` = `7`), the
/// text between them case-insensitively; names equal that way fall back to plain byte order
/// (case-sensitive), so the order is total and the same on every run.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        let (Some(c), Some(d)) = (x.chars().next(), y.chars().next()) else {
            return x.len().cmp(&y.len()).then_with(|| a.cmp(b));
        };
        if c.is_ascii_digit() && d.is_ascii_digit() {
            let (nx, rx) = digit_run(x);
            let (ny, ry) = digit_run(y);
            let by_value = nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny));
            if by_value != Ordering::Equal {
                return by_value;
            }
            (x, y) = (rx, ry);
        } else {
            let by_text = c.to_lowercase().cmp(d.to_lowercase());
            if by_text != Ordering::Equal {
                return by_text;
            }
            (x, y) = (rest(x), rest(y));
        }
    }
}

/// `s` after its first character.
fn rest(s: &str) -> &str {
    let mut chars = s.chars();
    chars.next();
    chars.as_str()
}

/// The leading digits of `s` without their leading zeros, and what follows them.
fn digit_run(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (run, rest) = s.split_at(end);
    (run.trim_start_matches('0'), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| natural_order(a, b));
        v
    }

    #[test]
    fn digit_runs_compare_by_value_and_case_breaks_ties() {
        assert_eq!(
            sorted(&[
                "demo-10", "demo-2", "demo-1", "Demo-3", "demo", "demo-02", "a"
            ]),
            [
                "a", "demo", "demo-1", "demo-02", "demo-2", "Demo-3", "demo-10"
            ]
        );
        assert_eq!(sorted(&["b", "B", "a"]), ["a", "B", "b"]);
        assert_eq!(
            sorted(&["x9", "x10", "x9a", "x"]),
            ["x", "x9", "x9a", "x10"]
        );
        // Digit runs longer than any integer type still compare by value.
        assert_eq!(
            sorted(&[
                "n100000000000000000000000000000",
                "n99999999999999999999999999999"
            ]),
            [
                "n99999999999999999999999999999",
                "n100000000000000000000000000000"
            ]
        );
        assert_eq!(natural_order("acc", "acc"), Ordering::Equal);
        assert_eq!(sorted(&["é2", "é10", ""]), ["", "é2", "é10"]);
    }
}
