//! The table engine: aligned columns, and `key: value` lines for a single object.

use std::fmt::Write as _;

/// A text table: headers, rows, and which columns are numbers (right-aligned).
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns whose header starts with `>` are right-aligned (the `>` is not printed).
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers
                .iter()
                .map(|h| h.trim_start_matches('>').to_owned())
                .collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Two spaces between columns; no trailing spaces; cells sanitized to one line.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                (0..n)
                    .map(|i| clean(r.get(i).map_or("", String::as_str)))
                    .collect()
            })
            .collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for line in std::iter::once(&self.headers).chain(rows.iter()) {
            let mut s = String::new();
            for (i, cell) in line.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                let pad = w.saturating_sub(cell.chars().count());
                let last = i + 1 == n;
                if i > 0 {
                    s.push_str("  ");
                }
                if self.right.get(i).copied().unwrap_or(false) {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                } else {
                    s.push_str(cell);
                    if !last {
                        s.push_str(&" ".repeat(pad));
                    }
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the keys padded to one width.
pub fn kv(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(
            out,
            "{:<w$}  {}",
            format!("{k}:"),
            v.replace(['\n', '\r'], " "),
            w = w + 1
        );
    }
    out
}

/// The table, or `empty` on a line of its own when it has no rows.
pub fn with_table(t: &Table, empty: &str) -> String {
    if t.is_empty() {
        format!("{empty}\n")
    } else {
        t.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["NAME", ">N", "X"]);
        t.row(vec!["a".into(), "1".into(), "x".into()]);
        t.row(vec!["longer".into(), "100".into(), String::new()]);
        assert_eq!(t.render(), "NAME      N  X\na         1  x\nlonger  100\n");
    }

    #[test]
    fn tables_tolerate_short_rows_control_chars_and_unicode() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["ab12…9f3c".into()]);
        t.row(vec!["x\ny".into(), "z".into()]);
        assert_eq!(t.render(), "A          B\nab12…9f3c\nx y        z\n");
    }
}
