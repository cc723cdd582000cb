//! The order rows are shown in: account names in natural order (`demo-2` before `demo-10`), and
//! `--sort KEY [--desc]` for the keys each listing takes. Only the table's rows move; TOTAL and
//! summary lines stay last, and `-o json` is the daemon's answer in the daemon's order.

use std::cmp::Ordering;
use std::str::FromStr as _;

use rust_decimal::Decimal;

/// Natural order of names, the one the daemon and every rosterctl listing use.
pub use roster_proto::names::natural_order as natural_cmp;

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
