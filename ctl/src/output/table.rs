//! The table engine: aligned columns, and `key: value` lines for a single object.

use std::fmt::Write as _;

/// A text table: headers, rows, and which columns are numbers (right-aligned) or money (aligned
/// on the decimal point).
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    point: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns whose header starts with `>` are right-aligned; with `.` (money), right-aligned
    /// with their decimal points in one line, so 0.50000000 BTC and 1000.00 INR in one column
    /// still read by place value. Neither prefix is printed.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers
                .iter()
                .map(|h| h.trim_start_matches(['>', '.']).to_owned())
                .collect(),
            right: headers.iter().map(|h| h.starts_with(['>', '.'])).collect(),
            point: headers.iter().map(|h| h.starts_with('.')).collect(),
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
        let mut rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                (0..n)
                    .map(|i| clean(r.get(i).map_or("", String::as_str)))
                    .collect()
            })
            .collect();
        for (i, _) in self.point.iter().enumerate().filter(|(_, p)| **p) {
            align_points(&mut rows, i);
        }
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

/// Pads column `i` on the right so every cell's decimal point (or its end, without one) falls
/// in the same place once the column is right-aligned.
fn align_points(rows: &mut [Vec<String>], i: usize) {
    let frac = |c: &str| {
        c.find('.')
            .map_or(0, |p| c.get(p..).map_or(0, |f| f.chars().count()))
    };
    let widest = rows
        .iter()
        .filter_map(|r| r.get(i))
        .map(|c| frac(c))
        .max()
        .unwrap_or(0);
    for cell in rows.iter_mut().filter_map(|r| r.get_mut(i)) {
        let pad = widest.saturating_sub(frac(cell));
        cell.push_str(&" ".repeat(pad));
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
    fn money_columns_line_up_their_points() {
        let mut t = Table::new(&["ASSET", ".TOTAL", "DATA"]);
        t.row(vec!["INR".into(), "1000.00".into(), "x".into()]);
        t.row(vec!["BTC".into(), "0.50000000".into(), "x".into()]);
        t.row(vec!["JPY".into(), "1500".into(), "x".into()]);
        t.row(vec!["down".into(), "-".into(), "x".into()]);
        let out = t.render();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1].find('.'), lines[2].find('.'), "{out}");
        assert_eq!(
            lines[3].find("1500").map(|p| p + 4),
            lines[1].find('.'),
            "{out}"
        );
        assert_eq!(
            lines[4].find('-').map(|p| p + 1),
            lines[1].find('.'),
            "{out}"
        );
        assert!(lines[0].contains("TOTAL") && !lines[0].contains(".TOTAL"));
    }

    #[test]
    fn tables_tolerate_short_rows_control_chars_and_unicode() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["ab12…9f3c".into()]);
        t.row(vec!["x\ny".into(), "z".into()]);
        assert_eq!(t.render(), "A          B\nab12…9f3c\nx y        z\n");
    }
}
