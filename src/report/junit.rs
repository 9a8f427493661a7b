//! JUnit XML, as Jenkins, GitLab, GitHub test reporters and most CI
//! systems read it (valid against the `junit-10.xsd` schema Jenkins' xUnit
//! plugin checks reports with): one `<testsuite>` per target, one
//! `<testcase>` per check. A check with errors fails (`<failure>`, the
//! first message as its `message`, every finding's message, evidence and
//! fix as its text); warnings and notes of a passing check are its
//! `<system-out>`. The run of `--run` (how it ended, what listens, the
//! app's last lines) is the suite's `<system-out>`.

use std::fmt::Write as _;

use super::xml::{attr, text};
use super::{Document, Finding, Status, check_ids};
use crate::report::evidence_lines;

pub fn render(docs: &[Document]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    let mut time = 0.0;
    for d in docs {
        let suite = suite(d);
        tests += suite.tests;
        failures += suite.failures;
        errors += suite.errors;
        time += suite.time;
        suites.push_str(&suite.xml);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nosh doctor\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">\n{suites}</testsuites>\n"
    )
}

struct Suite {
    xml: String,
    tests: usize,
    failures: usize,
    errors: usize,
    time: f64,
}

fn describe(f: &Finding) -> String {
    let mut s = format!("{}: {}\n", f.severity.to_uppercase(), f.message);
    for line in evidence_lines(&f.evidence) {
        let _ = writeln!(s, "evidence: {line}");
    }
    if !f.fix.is_empty() {
        let _ = writeln!(s, "fix: {}", f.fix);
    }
    s
}

fn suite(d: &Document) -> Suite {
    let class = format!("nosh.doctor.{}", d.target);
    let time = d.run.as_ref().map_or(0.0, |r| r.seconds);
    let mut cases = String::new();
    let (mut tests, mut failures, mut errors) = (0, 0, 0);
    if d.status != Status::Checked {
        // Not checked: one test case in error says why.
        tests = 1;
        errors = 1;
        let why = d.error.clone().unwrap_or_else(|| "not checked".into());
        let _ = write!(
            cases,
            "    <testcase name=\"doctor\" classname=\"{}\" time=\"0\">\n      <error type=\"{}\" message=\"{}\"/>\n    </testcase>\n",
            attr(&class),
            if d.status == Status::Vanished {
                "vanished"
            } else {
                "not-checked"
            },
            attr(&why)
        );
    } else {
        for id in check_ids(d) {
            tests += 1;
            let found: Vec<&Finding> = d.findings.iter().filter(|f| f.id == id).collect();
            let failing: Vec<&&Finding> = found.iter().filter(|f| f.severity == "error").collect();
            let _ = writeln!(
                cases,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"0\">",
                attr(&id),
                attr(&class)
            );
            if let Some(first) = failing.first() {
                failures += 1;
                let message = if failing.len() > 1 {
                    format!("{} ({} findings)", first.message, failing.len())
                } else {
                    first.message.clone()
                };
                let body: String = failing.iter().map(|f| describe(f)).collect();
                let _ = writeln!(
                    cases,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    attr(&id),
                    attr(&message),
                    text(&body)
                );
            }
            let notes: String = found
                .iter()
                .filter(|f| f.severity != "error")
                .map(|f| describe(f))
                .collect();
            if !notes.is_empty() {
                let _ = writeln!(cases, "      <system-out>{}</system-out>", text(&notes));
            }
            cases.push_str("    </testcase>\n");
        }
    }
    let mut props = String::new();
    for (name, value) in [
        ("target", d.target.clone()),
        ("image", d.image.clone()),
        ("prod_like", d.prod_like.to_string()),
        ("host", d.host.clone().unwrap_or_default()),
        ("container_id", d.id.clone()),
    ] {
        if !value.is_empty() {
            let _ = writeln!(
                props,
                "      <property name=\"{name}\" value=\"{}\"/>",
                attr(&value)
            );
        }
    }
    let mut out = String::new();
    if let Some(run) = &d.run {
        let _ = writeln!(
            out,
            "run: {}{} after {:.1} s",
            run.ending.describe(),
            run.exit_code
                .map(|c| format!(" with code {c}"))
                .unwrap_or_default(),
            run.seconds
        );
        let _ = writeln!(out, "listening: {}", run.listening.join(", "));
        for line in &run.log_tail {
            let _ = writeln!(out, "app: {line}");
        }
    }
    let system_out = if out.is_empty() {
        String::new()
    } else {
        format!("    <system-out>{}</system-out>\n", text(&out))
    };
    let name = match &d.host {
        Some(h) => format!("{h} {}", d.target),
        None => d.target.clone(),
    };
    let xml = format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{time:.3}\">\n    <properties>\n{props}    </properties>\n{cases}{system_out}  </testsuite>\n",
        attr(&name)
    );
    Suite {
        xml,
        tests,
        failures,
        errors,
        time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CHECKS, Finding};

    #[test]
    fn one_case_per_check_and_errors_fail_with_their_evidence() {
        let d = Document {
            target: "api:1".into(),
            image: "api:1".into(),
            findings: vec![
                Finding {
                    id: "privileged-port".into(),
                    severity: "error".into(),
                    message: "could not bind port 80 <&>".into(),
                    evidence: serde_json::json!({"port": 80, "errno": "EACCES"}),
                    fix: "listen on 8080".into(),
                    subject: String::new(),
                },
                Finding {
                    id: "image-tag".into(),
                    severity: "warn".into(),
                    message: "latest\u{1b}".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let x = render(&[d]);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
        assert_eq!(x.matches("<testcase ").count(), CHECKS.len());
        assert_eq!(x.matches("<failure ").count(), 1);
        assert!(x.contains(&format!("tests=\"{}\" failures=\"1\"", CHECKS.len())));
        assert!(
            x.contains("message=\"could not bind port 80 &lt;&amp;&gt;\""),
            "{x}"
        );
        assert!(
            x.contains("evidence: errno EACCES, port 80\nfix: listen on 8080"),
            "{x}"
        );
        assert!(x.contains("WARN: latest\\e"), "{x}");
        assert!(!x.contains('\u{1b}'));
    }
}
