//! The results a guest wrote: `results.tsv`, one `PASS|FAIL|FACT <tab> check <tab> seconds <tab>
//! detail` line per check (seconds since the checks started), then `END` when the script got to
//! its end.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

/// One guest's checks.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub facts: Vec<(String, String)>,
    pub checks: Vec<Check>,
    /// Whether the script got to its end (a guest that crashed or hung did not).
    pub complete: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    pub passed: bool,
    pub name: String,
    /// When it ended, seconds since the checks started.
    pub at: String,
    pub detail: String,
}

impl Report {
    /// Every check passed, there was at least one, and the script finished.
    pub fn passed(&self) -> bool {
        self.complete && !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The facts and the checks, one line each, for a terminal.
    pub fn render(&self, guest: &str) -> String {
        let mut out = String::new();
        for (name, value) in &self.facts {
            let _ = writeln!(out, "vm: {guest}: {name}: {value}");
        }
        for check in &self.checks {
            let verdict = if check.passed { "ok  " } else { "FAIL" };
            let _ = writeln!(
                out,
                "vm: {verdict} {} (at {} s): {}",
                check.name, check.at, check.detail
            );
        }
        if !self.complete {
            let _ = writeln!(out, "vm: FAIL the checks did not finish");
        }
        out
    }
}

/// Reads `results.tsv` in `dir`.
pub fn read(dir: &Path) -> Result<Report> {
    let path = dir.join("results.tsv");
    let text = fs::read(&path).with_context(|| {
        format!(
            "the guest wrote no {} (see the console log beside it)",
            path.display()
        )
    })?;
    Ok(parse(&String::from_utf8_lossy(&text)))
}

/// Parses the lines of `results.tsv`; a line of another shape is a failed check of its own.
pub fn parse(text: &str) -> Report {
    let mut report = Report::default();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if line == "END" {
            report.complete = true;
            continue;
        }
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        match fields.as_slice() {
            ["FACT", name, _, value] => report.facts.push(((*name).into(), (*value).into())),
            [kind @ ("PASS" | "FAIL"), name, at, detail] => report.checks.push(Check {
                passed: *kind == "PASS",
                name: (*name).into(),
                at: (*at).into(),
                detail: (*detail).into(),
            }),
            _ => report.checks.push(Check {
                passed: false,
                name: "results".to_owned(),
                at: String::new(),
                detail: format!("a line of no known shape: {line}"),
            }),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_of_passes_passes() {
        let report = parse("FACT\tkernel\t0\t6.1.0-50-amd64\nPASS\tsetup\t1\tcgroup v2\nEND\n");
        assert_eq!(report.facts, [("kernel".into(), "6.1.0-50-amd64".into())]);
        assert!(report.passed());
    }

    #[test]
    fn a_failure_an_unfinished_run_or_no_check_fails() {
        assert!(!parse("PASS\ta\t1\tx\nFAIL\tb\t2\ty\nEND\n").passed());
        assert!(!parse("PASS\ta\t1\tx\n").passed());
        assert!(!parse("FACT\tkernel\t0\t6.1\nEND\n").passed());
        assert!(!parse("").passed());
    }

    #[test]
    fn a_line_of_another_shape_is_a_failure() {
        let report = parse("PASS\ta\t1\tx\nPASS\tb\tx\nEND\n");
        assert!(!report.passed());
        assert!(report.checks[1].detail.contains("PASS\tb\tx"));
    }
}
