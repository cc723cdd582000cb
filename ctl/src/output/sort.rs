//! The order rows are shown in: account names in natural order (`demo-2` before `demo-10`), and
//! `--sort KEY [--desc]` for the keys each listing takes. Only the table's rows move; TOTAL and
//! summary lines stay last, and `-o json` is the daemon's answer in the daemon's order.

use std::cmp::Ordering;
use std::str::FromStr as _;

use rust_decimal::Decimal;

/// Natural order of names: runs of digits compare by their value (`2` < `10`, `007` = `7`), the
/// text between them case-insensitively; names equal that way fall back to plain byte order
/// (case-sensitive), so the order is total and the same on every run.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
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

/// A decimal string as a number to sort by; `None` for `-`, empty or anything unparsable.
pub fn amount(s: &str) -> Option<Decimal> {
    Decimal::from_str(s.trim()).ok()
}

/// `a` against `b` ascending, or descending under `--desc`; a row without the key (no amount,
/// never checked) goes last either way, since it is what a sort by that key has least to say about.
pub fn by_key<K: Ord>(a: Option<K>, b: Option<K>, desc: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) if desc => b.cmp(&a),
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Names in natural order, reversed under `--desc`.
pub fn by_name(a: &str, b: &str, desc: bool) -> Ordering {
    let o = natural_cmp(a, b);
    if desc { o.reverse() } else { o }
}

/// How a book's rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BookOrder {
    /// By the book's main money column (else by account name).
    pub by_money: bool,
    pub desc: bool,
}

/// The `--sort` keys of each book: `name`, and its main money column.
pub const BOOK_KEYS: [(&str, &str); 6] = [
    ("funds", "cash"),
    ("balances", "total"),
    ("positions", "pnl"),
    ("orders", "price"),
    ("trades", "value"),
    ("holdings", "pnl"),
];

/// The order `--sort key` asks of `book`; the error names the keys the book takes.
pub fn book_order(book: &str, key: &str, desc: bool) -> Result<BookOrder, String> {
    let money = BOOK_KEYS
        .iter()
        .find(|(b, _)| *b == book)
        .map_or("", |(_, k)| *k);
    match key {
        "name" => Ok(BookOrder {
            by_money: false,
            desc,
        }),
        k if k == money => Ok(BookOrder {
            by_money: true,
            desc,
        }),
        _ => Err(format!(
            "unknown --sort key {key:?} for {book}: valid keys are name, {money}"
        )),
    }
}

/// One table row of a book with what it sorts by.
#[derive(Debug)]
pub struct BookRow {
    pub name: String,
    pub money: Option<Decimal>,
    pub cells: Vec<String>,
}

/// Orders a book's rows; rows of one account keep the daemon's order among themselves when
/// sorted by name (a stable sort).
pub fn sort_book(rows: &mut [BookRow], order: BookOrder) {
    rows.sort_by(|a, b| {
        if order.by_money {
            by_key(a.money, b.money, order.desc).then_with(|| natural_cmp(&a.name, &b.name))
        } else {
            by_name(&a.name, &b.name, order.desc)
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| natural_cmp(a, b));
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
        assert_eq!(natural_cmp("acc", "acc"), Ordering::Equal);
        assert_eq!(sorted(&["é2", "é10", ""]), ["", "é2", "é10"]);
    }

    #[test]
    fn book_keys_are_name_and_the_main_money_column() {
        assert_eq!(book_order("funds", "name", false), Ok(BookOrder::default()));
        assert_eq!(
            book_order("positions", "pnl", true),
            Ok(BookOrder {
                by_money: true,
                desc: true
            })
        );
        let e = book_order("funds", "pnl", false).unwrap_err();
        assert!(e.contains("valid keys are name, cash"), "{e}");
        assert!(book_order("orders", "price", false).is_ok());
        assert!(book_order("trades", "value", false).is_ok());
        assert!(book_order("balances", "total", false).is_ok());
        assert!(book_order("holdings", "cash", false).is_err());
    }

    #[test]
    fn money_sorts_by_value_with_missing_amounts_last_both_ways() {
        let row = |name: &str, m: &str| BookRow {
            name: name.into(),
            money: amount(m),
            cells: vec![],
        };
        let mut rows = vec![
            row("demo-10", "2.5"),
            row("down", "-"),
            row("demo-2", "-100"),
            row("demo-1", "1000000000000000"),
            row("demo-3", "2.50"),
        ];
        let names = |rows: &[BookRow]| rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let by_money = |desc| BookOrder {
            by_money: true,
            desc,
        };
        sort_book(&mut rows, by_money(false));
        assert_eq!(
            names(&rows),
            ["demo-2", "demo-3", "demo-10", "demo-1", "down"]
        );
        sort_book(&mut rows, by_money(true));
        assert_eq!(
            names(&rows),
            ["demo-1", "demo-3", "demo-10", "demo-2", "down"]
        );
        sort_book(&mut rows, BookOrder::default());
        assert_eq!(
            names(&rows),
            ["demo-1", "demo-2", "demo-3", "demo-10", "down"]
        );
        sort_book(
            &mut rows,
            BookOrder {
                by_money: false,
                desc: true,
            },
        );
        assert_eq!(
            names(&rows),
            ["down", "demo-10", "demo-3", "demo-2", "demo-1"]
        );
    }
}
