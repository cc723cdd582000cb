//! Results tables: printed to stdout, and optionally written into BENCHMARKS.md as a section
//! between markers, so a re-run replaces its own section and leaves the prose around it alone.

use std::fmt::Write as _;
use std::path::Path;

/// One results section.
#[derive(Debug, Default)]
pub struct Report {
    /// Stable section key, e.g. `sweep-5000`: the markers are derived from it.
    pub key: String,
    pub title: String,
    rows: Vec<[String; 3]>,
    notes: Vec<String>,
    /// Markdown blocks (more tables) printed after the main table.
    blocks: Vec<String>,
    load_before: String,
}

impl Report {
    pub fn new(key: impl Into<String>, title: impl Into<String>) -> Self {
        Report {
            key: key.into(),
            title: title.into(),
            load_before: super::measure::loadavg(),
            ..Report::default()
        }
    }

    /// A measured value and the target it is held against ("" when there is none).
    pub fn row(&mut self, metric: impl Into<String>, value: impl Into<String>, target: &str) {
        self.rows
            .push([metric.into(), value.into(), target.to_string()]);
    }

    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    pub fn block(&mut self, markdown: impl Into<String>) {
        self.blocks.push(markdown.into());
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.title);
        // The command as run, minus `--md FILE` (where the section was written).
        let mut cmd: Vec<String> = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            if a == "--md" {
                args.next();
            } else if !a.starts_with("--md=") {
                cmd.push(a);
            }
        }
        let _ = writeln!(
            s,
            "Command: `ulimit -n 20000; cargo run --release -p roster-tests --bin roster-bench -- {}`  ",
            cmd.join(" ")
        );
        let _ = writeln!(
            s,
            "Run at {} (UTC), load average (1 min) {} before, {} after.\n",
            utc_now(),
            self.load_before,
            super::measure::loadavg()
        );
        let _ = writeln!(s, "| metric | value | target |\n|---|---|---|");
        for [m, v, t] in &self.rows {
            let _ = writeln!(s, "| {m} | {v} | {t} |");
        }
        for b in &self.blocks {
            let _ = writeln!(s, "\n{}", b.trim_end());
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }

    /// Replaces this report's section in `path` (or appends it), creating the file if needed.
    pub fn write_into(&self, path: &Path) -> anyhow::Result<()> {
        let begin = format!("<!-- roster-bench:{} -->", self.key);
        let end = format!("<!-- /roster-bench:{} -->", self.key);
        let body = format!("{begin}\n{}{end}\n", self.markdown());
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let new = match (old.find(&begin), old.find(&end)) {
            (Some(b), Some(e)) if e > b => {
                let after = &old[e + end.len()..];
                let after = after.strip_prefix('\n').unwrap_or(after);
                format!("{}{body}{after}", &old[..b])
            }
            _ => {
                let sep = if old.is_empty() || old.ends_with("\n\n") {
                    ""
                } else if old.ends_with('\n') {
                    "\n"
                } else {
                    "\n\n"
                };
                format!("{old}{sep}{body}")
            }
        };
        std::fs::write(path, new)?;
        Ok(())
    }
}

/// `date -u` without a date crate in this package.
fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
