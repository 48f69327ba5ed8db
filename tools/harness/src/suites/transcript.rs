//! Per-check transcripts of a suite run, and their comparison between two
//! drivers (the differential of `tests/vm/upstream.sh`).
//!
//! A suite records, for each of its checks, the outcome and what it
//! observed, as key/value pairs. An observation is either compared (where
//! frames landed, counted by the receiving device, errnos, neighbour
//! entries, ping replies) or driver-specific, printed and never compared
//! (the ethtool driver name, `vrrp_adverts_to_lower`, which module is
//! loaded, failure texts, which name the driver).
//!
//! The file format is line based and stable:
//!
//! ```text
//! mvv-transcript 1
//! suite vrrp
//! driver macvlan_vrrp
//! boot 0d3c…
//! obs <check>\t=\t<key>\t<value>      compared
//! obs <check>\t~\t<key>\t<value>      driver-specific
//! ```
//!
//! Every check has an `outcome` observation: `pass`, `fail` or `skip`.

use std::collections::BTreeMap;
use std::path::Path;

const MAGIC: &str = "mvv-transcript 1";
/// The key of each check's outcome.
pub const OUTCOME: &str = "outcome";

/// One observation of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obs {
    pub check: String,
    /// Driver-specific: printed, not compared.
    pub specific: bool,
    pub key: String,
    pub value: String,
}

/// A suite run's observations, in the order they were made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    pub suite: String,
    /// The driver under test, as the suite names it.
    pub driver: String,
    /// `/proc/sys/kernel/random/boot_id` of the run.
    pub boot: String,
    pub obs: Vec<Obs>,
}

/// This boot's id (empty if unreadable).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Keys and values stay on one line and tab-free.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
        .collect()
}

impl Transcript {
    pub fn new(suite: &str, driver: &str) -> Self {
        Transcript {
            suite: suite.into(),
            driver: driver.into(),
            boot: boot_id(),
            obs: Vec::new(),
        }
    }

    fn push(&mut self, check: &str, specific: bool, key: &str, value: String) {
        self.obs.push(Obs {
            check: clean(check),
            specific,
            key: clean(key),
            value: clean(&value),
        });
    }

    /// A compared observation.
    pub fn obs(&mut self, check: &str, key: &str, value: impl ToString) {
        self.push(check, false, key, value.to_string());
    }

    /// A driver-specific observation: printed, not compared.
    pub fn specific(&mut self, check: &str, key: &str, value: impl ToString) {
        self.push(check, true, key, value.to_string());
    }

    /// The outcome of `check` (compared); a reason is driver-specific.
    pub fn outcome(&mut self, check: &str, o: &crate::tap::Outcome) {
        use crate::tap::Outcome;
        let (v, reason) = match o {
            Outcome::Pass => ("pass", None),
            Outcome::Fail(r) => ("fail", Some(r)),
            Outcome::Skip(r) => ("skip", Some(r)),
        };
        self.obs(check, OUTCOME, v);
        if let Some(r) = reason {
            self.specific(check, "reason", r);
        }
    }

    pub fn render(&self) -> String {
        let mut s = format!(
            "{MAGIC}\nsuite {}\ndriver {}\nboot {}\n",
            clean(&self.suite),
            clean(&self.driver),
            clean(&self.boot)
        );
        for o in &self.obs {
            s.push_str(&format!(
                "obs {}\t{}\t{}\t{}\n",
                o.check,
                if o.specific { '~' } else { '=' },
                o.key,
                o.value
            ));
        }
        s
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.render())
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!("not a transcript (no '{MAGIC}' line)"));
        }
        let mut t = Transcript::default();
        for (n, l) in lines.enumerate() {
            let bad = || format!("line {}: {l:?}", n + 2);
            if let Some(v) = l.strip_prefix("suite ") {
                t.suite = v.into();
            } else if let Some(v) = l.strip_prefix("driver ") {
                t.driver = v.into();
            } else if let Some(v) = l.strip_prefix("boot ") {
                t.boot = v.into();
            } else if let Some(rest) = l.strip_prefix("obs ") {
                let f: Vec<&str> = rest.splitn(4, '\t').collect();
                let [check, kind, key, value] = f[..] else {
                    return Err(bad());
                };
                let specific = match kind {
                    "=" => false,
                    "~" => true,
                    _ => return Err(bad()),
                };
                t.obs.push(Obs {
                    check: check.into(),
                    specific,
                    key: key.into(),
                    value: value.into(),
                });
            } else if l == "suite" || l == "driver" || l == "boot" {
                // An empty value.
            } else {
                return Err(bad());
            }
        }
        Ok(t)
    }

    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The observations of `check`, compared or driver-specific.
    pub fn of(&self, check: &str, specific: bool) -> Vec<(&str, &str)> {
        self.obs
            .iter()
            .filter(|o| o.check == check && o.specific == specific)
            .map(|o| (o.key.as_str(), o.value.as_str()))
            .collect()
    }
}

/// One check compared between two transcripts.
#[derive(Debug, PartialEq, Eq)]
pub struct CheckDiff {
    pub check: String,
    /// The first differences, as "key: A | B" lines; empty when identical.
    pub differences: Vec<String>,
}

/// Compares `a` and `b` check by check over `checks` (a suite's TESTS):
/// the compared observations, in order, must be equal, and each check must
/// have exactly one outcome in each. Observations of checks that are not
/// in `checks` are differences of the first check.
pub fn compare(a: &Transcript, b: &Transcript, checks: &[&str]) -> Vec<CheckDiff> {
    let mut out = Vec::new();
    for check in checks {
        let (oa, ob) = (a.of(check, false), b.of(check, false));
        let mut d = Vec::new();
        for (name, t) in [("first", &oa), ("second", &ob)] {
            let n = t.iter().filter(|(k, _)| *k == OUTCOME).count();
            if n != 1 {
                d.push(format!("{n} outcomes in the {name} transcript"));
            }
        }
        // Keyed comparison, keeping the order of first appearance; a key
        // that repeats is compared occurrence by occurrence.
        let mut keys: Vec<&str> = Vec::new();
        for (k, _) in oa.iter().chain(ob.iter()) {
            if !keys.contains(k) {
                keys.push(k);
            }
        }
        for k in keys {
            let va: Vec<&str> = oa
                .iter()
                .filter(|(x, _)| *x == k)
                .map(|(_, v)| *v)
                .collect();
            let vb: Vec<&str> = ob
                .iter()
                .filter(|(x, _)| *x == k)
                .map(|(_, v)| *v)
                .collect();
            if va != vb {
                d.push(format!(
                    "{k}: {} | {}",
                    if va.is_empty() {
                        "(none)".into()
                    } else {
                        va.join(" / ")
                    },
                    if vb.is_empty() {
                        "(none)".into()
                    } else {
                        vb.join(" / ")
                    }
                ));
            }
        }
        out.push(CheckDiff {
            check: check.to_string(),
            differences: d,
        });
    }
    let known: BTreeMap<&str, ()> = checks.iter().map(|c| (*c, ())).collect();
    let stray: Vec<String> = a
        .obs
        .iter()
        .chain(b.obs.iter())
        .filter(|o| !known.contains_key(o.check.as_str()))
        .map(|o| format!("observation of an unknown check {:?}: {}", o.check, o.key))
        .collect();
    if let (Some(first), false) = (out.first_mut(), stray.is_empty()) {
        first.differences.extend(stray);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::Outcome;

    fn t(driver: &str, lower: u32, counter: u32) -> Transcript {
        let mut t = Transcript::new("vrrp", driver);
        t.obs("a", "lower", lower);
        t.specific("a", "counter", counter);
        t.outcome("a", &Outcome::Pass);
        t.outcome("b", &Outcome::Fail("driver x\tsaid\nno".into()));
        t
    }

    #[test]
    fn round_trip() {
        let x = t("macvlan", 20, 0);
        let y = Transcript::parse(&x.render()).unwrap();
        assert_eq!(x, y);
        assert_eq!(y.of("b", true), vec![("reason", "driver x said no")]);
        assert!(Transcript::parse("nonsense").is_err());
        assert!(Transcript::parse(&format!("{MAGIC}\nobs a\t?\tk\tv\n")).is_err());
    }

    #[test]
    fn specific_observations_are_not_compared() {
        let d = compare(
            &t("macvlan", 20, 0),
            &t("macvlan_vrrp", 20, 20),
            &["a", "b"],
        );
        assert!(d.iter().all(|c| c.differences.is_empty()), "{d:?}");
    }

    #[test]
    fn a_difference_is_caught() {
        let d = compare(
            &t("macvlan", 20, 0),
            &t("macvlan_vrrp", 19, 20),
            &["a", "b"],
        );
        assert_eq!(d[0].differences, vec!["lower: 20 | 19".to_string()]);
        assert!(d[1].differences.is_empty());
        // A missing check, and a stray one.
        let mut c = Transcript::new("vrrp", "x");
        c.outcome("zz", &Outcome::Pass);
        let d = compare(&t("macvlan", 20, 0), &c, &["a", "b"]);
        assert!(d[0]
            .differences
            .iter()
            .any(|l| l.contains("0 outcomes in the second")));
        assert!(d[0]
            .differences
            .iter()
            .any(|l| l.contains("unknown check \"zz\"")));
        assert!(d[1]
            .differences
            .iter()
            .any(|l| l.contains("outcome: fail | (none)")));
    }
}
