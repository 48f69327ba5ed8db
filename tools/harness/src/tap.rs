//! KTAP-like reporter.
//!
//! Output shape:
//!
//! ```text
//! KTAP version 1
//! 1..N                  (up front when the plan is known, else after the last test)
//! ok 1 name
//! not ok 2 name # reason
//! ok 3 name # SKIP reason
//! # diagnostic
//! N passed, N failed[, N skipped]
//! ```
//!
//! The final count line is the one the CI log scanner reads, so it is always
//! printed by [`Tap::finish`], including on harness setup errors.

use std::io::Write;

/// Exit status when every test passed or was skipped.
pub const EXIT_OK: u8 = 0;
/// Exit status when at least one test failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status for harness setup errors (plan mismatch, setup step failed).
pub const EXIT_SETUP: u8 = 2;

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

impl Outcome {
    /// `Pass` if `failures` is empty, else `Fail` with the failures joined.
    pub fn from_failures(failures: &[String]) -> Self {
        if failures.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(failures.join("; "))
        }
    }

    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// Counts and prints test results.
pub struct Tap<W: Write> {
    out: W,
    plan: Option<usize>,
    next: usize,
    passed: usize,
    failed: usize,
    skipped: usize,
    setup_error: bool,
}

impl<W: Write> Tap<W> {
    /// Start a report; prints the version line and, if `plan` is given, the
    /// plan line.
    pub fn new(out: W, plan: Option<usize>) -> Self {
        let mut tap = Tap {
            out,
            plan,
            next: 1,
            passed: 0,
            failed: 0,
            skipped: 0,
            setup_error: false,
        };
        tap.line("KTAP version 1");
        if let Some(n) = plan {
            tap.line(&format!("1..{n}"));
        }
        tap
    }

    fn line(&mut self, s: &str) {
        // A broken stdout cannot be reported anywhere; ignore it rather than
        // panic in the middle of a run that must still tear down.
        let _ = writeln!(self.out, "{s}");
        let _ = self.out.flush();
    }

    /// Print diagnostic lines (`# ...`), one per line of `msg`.
    pub fn diag(&mut self, msg: &str) {
        for l in msg.lines() {
            if l.is_empty() {
                self.line("#");
            } else {
                self.line(&format!("# {l}"));
            }
        }
        if msg.is_empty() {
            self.line("#");
        }
    }

    /// Report one test.
    pub fn report(&mut self, name: &str, outcome: &Outcome) {
        let n = self.next;
        self.next += 1;
        let name = sanitize_name(name);
        let l = match outcome {
            Outcome::Pass => {
                self.passed += 1;
                format!("ok {n} {name}")
            }
            Outcome::Fail(reason) => {
                self.failed += 1;
                format!("not ok {n} {name} # {}", sanitize_reason(reason))
            }
            Outcome::Skip(reason) => {
                self.skipped += 1;
                format!("ok {n} {name} # SKIP {}", one_line(reason))
            }
        };
        self.line(&l);
    }

    pub fn pass(&mut self, name: &str) {
        self.report(name, &Outcome::Pass);
    }

    pub fn fail(&mut self, name: &str, reason: impl Into<String>) {
        self.report(name, &Outcome::Fail(reason.into()));
    }

    pub fn skip(&mut self, name: &str, reason: impl Into<String>) {
        self.report(name, &Outcome::Skip(reason.into()));
    }

    /// Mark the run as having a harness setup error (exit status 2).
    pub fn setup_error(&mut self, msg: &str) {
        self.setup_error = true;
        self.diag(&format!("harness setup error: {msg}"));
    }

    pub fn passed(&self) -> usize {
        self.passed
    }

    pub fn failed(&self) -> usize {
        self.failed
    }

    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Number of tests reported so far.
    pub fn count(&self) -> usize {
        self.next - 1
    }

    /// Print the trailing plan (if none was given up front) and the count
    /// line; return the process exit status.
    pub fn finish(mut self) -> u8 {
        let count = self.count();
        match self.plan {
            None => self.line(&format!("1..{count}")),
            Some(p) if p != count => {
                self.setup_error(&format!("planned {p} tests but reported {count}"));
            }
            Some(_) => {}
        }
        let summary = summary_line(self.passed, self.failed, self.skipped);
        self.line(&summary);
        if self.setup_error {
            EXIT_SETUP
        } else if self.failed > 0 {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// `N passed, N failed` plus `, N skipped` when any were skipped.
pub fn summary_line(passed: usize, failed: usize, skipped: usize) -> String {
    if skipped > 0 {
        format!("{passed} passed, {failed} failed, {skipped} skipped")
    } else {
        format!("{passed} passed, {failed} failed")
    }
}

fn one_line(s: &str) -> String {
    let joined: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    joined.join(" / ")
}

/// Test names: no whitespace, no `#`.
fn sanitize_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '#' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() {
        "unnamed".to_string()
    } else {
        s
    }
}

/// A failure reason must not read as a directive (`# SKIP`, `# TODO`).
fn sanitize_reason(reason: &str) -> String {
    let r = one_line(reason);
    let first = r
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if r.is_empty() {
        "failed".to_string()
    } else if first.starts_with("SKIP") || first.starts_with("TODO") {
        format!("reason: {r}")
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(plan: Option<usize>, f: impl FnOnce(&mut Tap<&mut Vec<u8>>)) -> (String, u8) {
        let mut buf = Vec::new();
        let mut tap = Tap::new(&mut buf, plan);
        f(&mut tap);
        let code = tap.finish();
        (String::from_utf8(buf).unwrap(), code)
    }

    #[test]
    fn summary_without_skips() {
        assert_eq!(summary_line(7, 0, 0), "7 passed, 0 failed");
        assert_eq!(summary_line(0, 3, 0), "0 passed, 3 failed");
    }

    #[test]
    fn summary_with_skips() {
        assert_eq!(summary_line(7, 0, 1), "7 passed, 0 failed, 1 skipped");
    }

    #[test]
    fn all_pass_with_plan() {
        let (out, code) = run(Some(2), |t| {
            t.pass("a");
            t.diag("hello\nworld");
            t.pass("b");
        });
        assert_eq!(
            out,
            "KTAP version 1\n1..2\nok 1 a\n# hello\n# world\nok 2 b\n2 passed, 0 failed\n"
        );
        assert_eq!(code, EXIT_OK);
    }

    #[test]
    fn failure_and_skip_counting_trailing_plan() {
        let (out, code) = run(None, |t| {
            t.pass("a");
            t.fail("b", "expected 1, got 2");
            t.skip("c", "no bridge");
        });
        assert_eq!(
            out,
            "KTAP version 1\nok 1 a\nnot ok 2 b # expected 1, got 2\n\
             ok 3 c # SKIP no bridge\n1..3\n1 passed, 1 failed, 1 skipped\n"
        );
        assert_eq!(code, EXIT_FAILED);
    }

    #[test]
    fn skip_only_is_success() {
        let (out, code) = run(Some(1), |t| t.skip("x", "why"));
        assert!(out.ends_with("0 passed, 0 failed, 1 skipped\n"));
        assert_eq!(code, EXIT_OK);
    }

    #[test]
    fn setup_error_wins() {
        let (out, code) = run(Some(2), |t| {
            t.fail("setup", "no netns");
            t.setup_error("no netns");
            t.skip("x", "setup failed");
        });
        assert!(out.contains("# harness setup error: no netns\n"));
        assert!(out.ends_with("0 passed, 1 failed, 1 skipped\n"));
        assert_eq!(code, EXIT_SETUP);
    }

    #[test]
    fn plan_mismatch_is_setup_error() {
        let (out, code) = run(Some(3), |t| t.pass("only"));
        assert!(out.contains("planned 3 tests but reported 1"));
        assert!(out.ends_with("1 passed, 0 failed\n"));
        assert_eq!(code, EXIT_SETUP);
    }

    #[test]
    fn reasons_and_names_are_sanitized() {
        let (out, _) = run(None, |t| {
            t.fail("bad name#1", "SKIP this\nsecond line");
            t.fail("n", "");
        });
        assert!(out.contains("not ok 1 bad_name_1 # reason: SKIP this / second line\n"));
        assert!(out.contains("not ok 2 n # failed\n"));
    }

    #[test]
    fn outcome_from_failures() {
        assert_eq!(Outcome::from_failures(&[]), Outcome::Pass);
        assert_eq!(
            Outcome::from_failures(&["a".into(), "b".into()]),
            Outcome::Fail("a; b".into())
        );
    }
}
