//! Diagnosis shared by `doctor`, `why`, `entrypoint` and `trace`: findings,
//! one per subject; the one fix engine ([`fix`]); what the app's last words
//! say ([`logs`]); what a privileged call needs ([`caps`]); a traced start
//! of the entrypoint ([`start`]); and a failed access turned into a finding
//! ([`access`]).

pub mod access;
pub mod caps;
pub mod cause;
pub mod checks;
pub mod facts;
pub mod fix;
pub mod logs;
pub mod privileged;
pub mod readonly;
pub mod start;
pub mod watched;

use serde::Serialize;
use serde_json::Value;

use crate::shell::Ctx;
use crate::target::perm::{self, Access, Verdict, Who};

/// The walk of `perm::check` with the fixes of the one engine: what `why`
/// and `entrypoint` show.
pub fn check(ctx: &Ctx, path: &str, access: Option<Access>, who: &Who) -> Verdict {
    // A missing path under /etc or /usr is a file to read that the image
    // lacks (a CA bundle, a zone), not one to create.
    let abs = ctx.abs(path);
    let missing = std::fs::symlink_metadata(ctx.resolve(&abs)).is_err();
    let access = access.or((missing && access::read_only_tree(&abs)).then_some(Access::Read));
    let mut v = perm::check(ctx, path, access, who);
    if !v.allowed {
        let workdir = Some(ctx.info.working_dir.as_str())
            .filter(|w| !w.is_empty())
            .unwrap_or("/");
        let cx = fix::Context {
            workdir,
            kind: fix::Kind::guess(&v.path),
        };
        v.fixes = fix::for_verdict(&v, &cx).steps;
    }
    v
}

/// One finding: what is wrong, the evidence, the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    /// error, warn or info.
    pub severity: &'static str,
    /// What it is about: a path, a port, a library, a capability. One
    /// finding per id and subject; empty for a finding about the whole
    /// container.
    pub subject: String,
    pub message: String,
    pub evidence: Value,
    pub fix: String,
    /// The lines of the log (its index in the tail) that showed it.
    #[serde(skip)]
    pub lines: Vec<usize>,
}

impl Finding {
    pub fn new(
        id: &'static str,
        severity: &'static str,
        subject: impl Into<String>,
        message: String,
        evidence: Value,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            id,
            severity,
            subject: subject.into(),
            message,
            evidence,
            fix: fix.into(),
            lines: Vec::new(),
        }
    }

    /// The same finding, shown by these log lines.
    pub fn from_lines(mut self, lines: impl IntoIterator<Item = usize>) -> Finding {
        self.lines.extend(lines);
        self
    }
}

/// error > warn > info.
pub fn rank(severity: &str) -> u8 {
    match severity {
        "error" => 2,
        "warn" => 1,
        _ => 0,
    }
}

/// The findings of one run, one per id and subject.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds `f`, or folds it into the finding with its id and subject: the
    /// graver one's words stay, the log lines of both are kept.
    pub fn push(&mut self, f: Finding) {
        let same = self
            .findings
            .iter_mut()
            .find(|g| g.id == f.id && g.subject == f.subject && !f.subject.is_empty());
        match same {
            Some(g) => {
                let lines = std::mem::take(&mut g.lines);
                if rank(f.severity) > rank(g.severity) {
                    *g = f;
                } else {
                    g.lines.extend(f.lines);
                }
                g.lines.extend(lines);
                g.lines.sort_unstable();
                g.lines.dedup();
            }
            None => self.findings.push(f),
        }
    }

    /// `push` of a finding made of its parts.
    pub fn add(
        &mut self,
        id: &'static str,
        severity: &'static str,
        subject: impl Into<String>,
        message: String,
        evidence: Value,
        fix: impl Into<String>,
    ) {
        self.push(Finding::new(id, severity, subject, message, evidence, fix));
    }

    pub fn get(&self, id: &str, subject: &str) -> Option<&Finding> {
        self.findings
            .iter()
            .find(|f| f.id == id && f.subject == subject)
    }

    pub fn get_mut(&mut self, id: &str, subject: &str) -> Option<&mut Finding> {
        self.findings
            .iter_mut()
            .find(|f| f.id == id && f.subject == subject)
    }

    /// The finding a log line showed, the gravest first.
    pub fn shown_by(&self, line: usize) -> Option<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.lines.contains(&line))
            .max_by_key(|f| rank(f.severity))
    }

    pub fn count(&self, severity: &str) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_finding_per_subject_the_graver_words_kept() {
        let mut r = Report::default();
        r.push(
            Finding::new(
                "unwritable-path",
                "warn",
                "/var/lib/x",
                "a".into(),
                json!({}),
                "f1",
            )
            .from_lines([3]),
        );
        r.push(
            Finding::new(
                "unwritable-path",
                "error",
                "/var/lib/x",
                "b".into(),
                json!({}),
                "f2",
            )
            .from_lines([5]),
        );
        r.push(Finding::new(
            "unwritable-path",
            "warn",
            "/var/lib/x",
            "c".into(),
            json!({}),
            "f3",
        ));
        r.push(Finding::new(
            "unwritable-path",
            "warn",
            "/var/lib/y",
            "d".into(),
            json!({}),
            "f4",
        ));
        assert_eq!(r.findings.len(), 2);
        assert_eq!(r.findings[0].severity, "error");
        assert_eq!(r.findings[0].message, "b");
        assert_eq!(r.findings[0].lines, [3, 5]);
        assert_eq!(r.shown_by(3).unwrap().subject, "/var/lib/x");
        // Findings about the whole container are never folded.
        r.push(Finding::new(
            "image-tag",
            "warn",
            "",
            "e".into(),
            json!({}),
            "",
        ));
        r.push(Finding::new(
            "image-tag",
            "warn",
            "",
            "e".into(),
            json!({}),
            "",
        ));
        assert_eq!(r.count("warn"), 3);
    }
}
