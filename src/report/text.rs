//! The report as a person reads it on a terminal: one target's findings
//! (the in-shell `doctor` prints the same), or the `doctor --all` table.
//! Everything the target controls is escaped ([`crate::term::escape`]).

use std::io::{self, Write};

use super::{Document, Status};
use crate::report::evidence_lines;
use crate::term::escape;

/// Lines of the app's output shown when its start went wrong.
const LOG_LINES_SHOWN: usize = 5;

/// One target: a header, the findings by severity with their evidence and
/// fix, the Dockerfile line when known, and the counts.
pub fn write(out: &mut dyn Write, d: &Document) -> io::Result<()> {
    writeln!(
        out,
        "doctor: {}{}{}",
        escape::field(d.target.as_bytes()),
        if d.image.is_empty() || d.image == d.target {
            String::new()
        } else {
            format!(" (image {})", escape::field(d.image.as_bytes()))
        },
        if d.prod_like {
            ", judged as Kubernetes would run it"
        } else {
            ""
        }
    )?;
    if let Some(error) = &d.error {
        writeln!(out, "not checked: {}", escape::field(error.as_bytes()))?;
    }
    if let Some(run) = &d.run {
        let code = run
            .exit_code
            .map(|c| format!(" with code {c}"))
            .unwrap_or_default();
        writeln!(
            out,
            "run: {}{code} after {:.1} s; listening: {}",
            run.ending.describe(),
            run.seconds,
            if run.listening.is_empty() {
                "nothing".to_string()
            } else {
                escape::field(run.listening.join(", ").as_bytes()).into_owned()
            }
        )?;
        if let Some(why) = &run.trace_missing {
            writeln!(out, "run: not traced: {}", escape::field(why.as_bytes()))?;
        }
        if run.ending != crate::diagnosis::watched::Ending::Ready {
            let skip = run.log_tail.len().saturating_sub(LOG_LINES_SHOWN);
            for line in &run.log_tail[skip..] {
                writeln!(out, "  app: {}", escape::field(line.as_bytes()))?;
            }
        }
    }
    for sev in ["error", "warn", "info"] {
        for (i, f) in d
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity == sev)
        {
            writeln!(
                out,
                "{:<5} {:<22} {}",
                sev.to_uppercase(),
                escape::field(f.id.as_bytes()),
                escape::field(f.message.as_bytes())
            )?;
            for line in evidence_lines(&f.evidence) {
                writeln!(out, "      evidence: {}", escape::field(line.as_bytes()))?;
            }
            if let Some(at) = d.location(i) {
                let place = match at.line {
                    Some(n) => format!("{}:{n}", at.file),
                    None => at.file.clone(),
                };
                writeln!(
                    out,
                    "      at: {}: {}",
                    escape::field(place.as_bytes()),
                    escape::field(at.instruction.as_bytes())
                )?;
            }
            if !f.fix.is_empty() {
                writeln!(out, "      fix: {}", escape::field(f.fix.as_bytes()))?;
            }
        }
    }
    writeln!(out, "{} error(s), {} warning(s)", d.errors(), d.warnings())
}

/// `doctor --all`: one row per container (a HOST column when several
/// engines were checked), then the totals.
pub fn table(docs: &[Document]) -> String {
    let hosts = docs.iter().any(|d| d.host.is_some());
    let mut header = Vec::new();
    if hosts {
        header.push("HOST");
    }
    header.extend(["CONTAINER", "IMAGE", "ERRORS", "WARNINGS", "FIRST ERROR"]);
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for d in docs {
        let mut row = Vec::new();
        if hosts {
            row.push(escape::field(d.host.as_deref().unwrap_or("").as_bytes()).into_owned());
        }
        row.push(escape::field(d.target.as_bytes()).into_owned());
        row.push(escape::field(d.image.as_bytes()).into_owned());
        match d.status {
            Status::Checked => {
                row.push(d.errors().to_string());
                row.push(d.warnings().to_string());
                row.push(d.first_error().unwrap_or("-").to_string());
            }
            Status::Vanished | Status::Failed => {
                row.push("-".into());
                row.push("-".into());
                let what = if d.status == Status::Vanished {
                    "vanished"
                } else {
                    "not checked"
                };
                row.push(match &d.error {
                    Some(e) => format!("({what}: {})", escape::field(e.as_bytes())),
                    None => format!("({what})"),
                });
            }
        }
        rows.push(row);
    }
    let mut widths = vec![0usize; rows[0].len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    let errors: usize = docs.iter().map(Document::errors).sum();
    let warnings: usize = docs.iter().map(Document::warnings).sum();
    let failing = docs.iter().filter(|d| d.errors() > 0).count();
    let skipped = docs.iter().filter(|d| d.status != Status::Checked).count();
    out.push_str(&format!(
        "{} container(s): {failing} with errors; {errors} error(s), {warnings} warning(s){}\n",
        docs.len(),
        if skipped > 0 {
            format!("; {skipped} not checked")
        } else {
            String::new()
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;

    fn finding(id: &str, sev: &str) -> Finding {
        Finding {
            id: id.into(),
            severity: sev.into(),
            message: format!("{id} \u{1b}[31mhappened"),
            evidence: serde_json::json!({"port": 80}),
            fix: "do this".into(),
            subject: String::new(),
        }
    }

    #[test]
    fn one_target_reads_as_the_in_shell_doctor_and_escapes_what_it_shows() {
        let d = Document {
            target: "api\u{1b}]0;x".into(),
            image: "api:1".into(),
            findings: vec![
                finding("image-tag", "warn"),
                finding("runs-as-root", "error"),
            ],
            ..Default::default()
        };
        let mut out = Vec::new();
        write(&mut out, &d).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains('\u{1b}'), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "doctor: api\\e]0;x (image api:1)");
        assert!(lines[1].starts_with("ERROR runs-as-root "), "{out}");
        assert_eq!(lines[2], "      evidence: port 80");
        assert_eq!(lines[3], "      fix: do this");
        assert!(lines[4].starts_with("WARN  image-tag "), "{out}");
        assert_eq!(lines.last().unwrap(), &"1 error(s), 1 warning(s)");
    }

    #[test]
    fn the_all_table_has_a_row_per_container_and_a_host_column_for_several_engines() {
        let a = Document {
            target: "web".into(),
            image: "web:1".into(),
            findings: vec![finding("runs-as-root", "error")],
            ..Default::default()
        };
        let b = Document {
            target: "gone".into(),
            status: Status::Vanished,
            error: Some("removed during the run".into()),
            ..Default::default()
        };
        let t = table(&[a.clone(), b.clone()]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("CONTAINER  IMAGE  ERRORS"), "{t}");
        assert!(
            lines[1].starts_with("web") && lines[1].ends_with("runs-as-root"),
            "{t}"
        );
        assert!(
            lines[2].contains("(vanished: removed during the run)"),
            "{t}"
        );
        assert!(lines[3].starts_with("2 container(s): 1 with errors"), "{t}");
        let with_host = table(&[
            Document {
                host: Some("ssh://a".into()),
                ..a
            },
            b,
        ]);
        assert!(with_host.starts_with("HOST"), "{with_host}");
    }
}
