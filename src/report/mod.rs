//! doctor's findings as people and CI systems read them: text on a
//! terminal ([`text`]), one JSON document, JUnit XML ([`junit`]) for test
//! report views, SARIF 2.1.0 ([`sarif`]) for code-scanning views, with the
//! Dockerfile line a finding comes from when the image history names it
//! ([`dockerfile`]).
//!
//! One target makes one [`Document`] (the `doctor --json` shape); `doctor
//! --all` makes one per container. Every renderer takes the same list, so
//! a fleet is a JUnit file with one suite per container, or a SARIF log
//! with one run per container.

pub mod dockerfile;
pub mod junit;
pub mod sarif;
pub mod text;
pub mod xml;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnosis::watched::Watched;

/// Every check doctor runs, with one line saying what it looks for: the
/// test cases of a JUnit report (a check that found nothing passes) and
/// the rules of a SARIF log. A finding whose id is not listed still gets
/// its own test case and rule.
pub const CHECKS: &[(&str, &str)] = &[
    ("runs-as-root", "the app runs as root"),
    (
        "privileged-port",
        "a port below 1024 without CAP_NET_BIND_SERVICE",
    ),
    ("bind-failed", "the app could not bind a port"),
    (
        "unwritable-path",
        "a path the app writes that its user cannot",
    ),
    (
        "workdir-not-writable",
        "the working directory is not writable by the app",
    ),
    ("uid-assumption", "files owned by another base image's user"),
    ("logs-to-file", "logs written to files instead of stdout"),
    ("no-passwd-entry", "the app's uid has no passwd entry"),
    ("unwritable-home", "HOME is not writable by the app"),
    (
        "missing-library",
        "a shared library or symbol version the image lacks",
    ),
    (
        "shell-form-entrypoint",
        "a shell-form command in an image without a shell",
    ),
    ("missing-interpreter", "a missing ELF or script interpreter"),
    (
        "script-needs-shell",
        "an entrypoint script without its shell",
    ),
    ("entrypoint", "the command cannot be started"),
    (
        "healthcheck-cannot-run",
        "a HEALTHCHECK whose program the image lacks",
    ),
    (
        "missing-tzdata",
        "TZ names a zone the image has no file for",
    ),
    ("missing-ca-bundle", "no CA certificates for TLS"),
    ("image-tag", "a latest or untagged image"),
    ("crash-loop", "the app exits or restarts"),
    (
        "readonly-rootfs",
        "paths written on a read-only root filesystem",
    ),
    ("capabilities", "capabilities that dropping ALL removes"),
    (
        "needs-capability",
        "a privileged call the app makes without its capability",
    ),
    ("missing-file", "a file the app reads that the image lacks"),
    (
        "unreadable-path",
        "a path the app reads that its user cannot",
    ),
    ("start-failed", "the engine could not start the container"),
];

/// The one-line description of a check.
pub fn check_title(id: &str) -> &str {
    CHECKS
        .iter()
        .find(|(c, _)| *c == id)
        .map_or("doctor check", |(_, t)| t)
}

/// The checks of a report: every catalogued one, then any other id its
/// findings have, in the order found.
pub fn check_ids(d: &Document) -> Vec<String> {
    let mut ids: Vec<String> = CHECKS.iter().map(|(id, _)| id.to_string()).collect();
    for f in &d.findings {
        if !ids.contains(&f.id) {
            ids.push(f.id.clone());
        }
    }
    ids
}

/// One finding, as the toolbox's `doctor --json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Finding {
    pub id: String,
    /// error, warn or info.
    pub severity: String,
    /// What it is about (a path, a port, a capability); empty for the
    /// whole container.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    pub message: String,
    pub evidence: Value,
    pub fix: String,
}

impl From<&crate::diagnosis::Finding> for Finding {
    fn from(f: &crate::diagnosis::Finding) -> Finding {
        Finding {
            id: f.id.to_string(),
            severity: f.severity.to_string(),
            subject: f.subject.clone(),
            message: f.message.clone(),
            evidence: f.evidence.clone(),
            fix: f.fix.clone(),
        }
    }
}

/// Where in the Dockerfile a finding comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The Dockerfile as given (a relative path stays relative).
    pub file: String,
    /// 1-based; absent when the instruction is not in that file.
    pub line: Option<usize>,
    /// The instruction as the image history names it (`EXPOSE 80/tcp`).
    pub instruction: String,
}

/// How a target's check went, for `doctor --all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    #[default]
    Checked,
    /// Stopped or removed while the run went on: reported, not fatal.
    Vanished,
    /// nosh could not check it (the reason is in `error`).
    Failed,
}

/// One target's report: the `doctor --json` document, and what the host
/// adds (engine, container id, Dockerfile lines, a failure).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Document {
    pub target: String,
    pub image: String,
    pub prod_like: bool,
    pub findings: Vec<Finding>,
    /// What a watched start saw (`--run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<Watched>,
    /// The engine, when several are checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The container's full id (`--all`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "is_checked")]
    pub status: Status,
    /// Why the target could not be checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The Dockerfile line of each finding, by index into `findings`.
    #[serde(skip)]
    pub locations: Vec<Option<Location>>,
}

fn is_checked(s: &Status) -> bool {
    *s == Status::Checked
}

impl Document {
    pub fn count(&self, severity: &str) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn errors(&self) -> usize {
        self.count("error")
    }

    pub fn warnings(&self) -> usize {
        self.count("warn")
    }

    /// The id of the first error (the toolbox lists causes first).
    pub fn first_error(&self) -> Option<&str> {
        self.findings
            .iter()
            .find(|f| f.severity == "error")
            .map(|f| f.id.as_str())
    }

    pub fn location(&self, finding: usize) -> Option<&Location> {
        self.locations.get(finding).and_then(Option::as_ref)
    }

    /// Whether this target fails the gate.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        self.errors() > 0 || (fail_on == FailOn::Warning && self.warnings() > 0)
    }
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
}

/// Which findings fail the gate (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Errors only.
    #[default]
    Error,
    /// Errors and warnings.
    Warning,
}

/// Where one rendering goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sink {
    pub format: Format,
    /// `None`: stdout.
    pub path: Option<PathBuf>,
}

/// The format a file's name suggests, for an `--output` no `--format`
/// was given for.
fn format_of(path: &str) -> Format {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".sarif") || lower.ends_with(".sarif.json") {
        Format::Sarif
    } else if lower.ends_with(".xml") {
        Format::Junit
    } else if lower.ends_with(".json") {
        Format::Json
    } else {
        Format::Text
    }
}

/// Pairs `--format`s with `--output`s, in order: the Nth format is the
/// Nth file's; files beyond the formats take theirs from their name
/// (`.xml` JUnit, `.sarif` SARIF, `.json` JSON, else text); a format left
/// over goes to stdout; when every format went to a file, stdout gets
/// text. `-` as a file is stdout. `--json` is `--format json`.
pub fn plan(json: bool, formats: &[Format], outputs: &[String]) -> Result<Vec<Sink>, String> {
    let mut formats = formats.to_vec();
    if json {
        formats.insert(0, Format::Json);
    }
    let mut sinks: Vec<Sink> = Vec::new();
    for (i, out) in outputs.iter().enumerate() {
        let format = formats.get(i).copied().unwrap_or_else(|| format_of(out));
        let path = (out != "-").then(|| PathBuf::from(out));
        if path.is_none() && sinks.iter().any(|s| s.path.is_none()) {
            return Err("--output - is given twice: stdout takes one report".into());
        }
        sinks.push(Sink { format, path });
    }
    let left: Vec<Format> = formats.iter().skip(outputs.len()).copied().collect();
    let stdout_taken = sinks.iter().any(|s| s.path.is_none());
    match (left.as_slice(), stdout_taken) {
        ([], false) => sinks.push(Sink {
            format: Format::Text,
            path: None,
        }),
        ([], true) => {}
        ([one], false) => sinks.push(Sink {
            format: *one,
            path: None,
        }),
        _ => {
            return Err(
                "more --format than --output: stdout takes one report; give the others an --output FILE"
                    .into(),
            );
        }
    }
    let mut files: Vec<&PathBuf> = sinks.iter().filter_map(|s| s.path.as_ref()).collect();
    files.sort();
    if files.windows(2).any(|w| w[0] == w[1]) {
        return Err("the same --output file is given twice".into());
    }
    Ok(sinks)
}

/// What a report is of: one target, or every container of a run of
/// `doctor --all` (a table, and the JSON document with a list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    One,
    All,
}

/// The report in `format`.
pub fn render(format: Format, shape: Shape, docs: &[Document]) -> String {
    match (format, shape) {
        (Format::Text, Shape::One) => {
            let mut out = Vec::new();
            for d in docs {
                let _ = text::write(&mut out, d);
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        (Format::Text, Shape::All) => text::table(docs),
        (Format::Json, Shape::One) => {
            let one = docs.first().cloned().unwrap_or_default();
            json_line(&serde_json::to_value(one).unwrap_or(Value::Null))
        }
        (Format::Json, Shape::All) => json_line(&all_json(docs)),
        (Format::Junit, _) => junit::render(docs),
        (Format::Sarif, _) => sarif::render(docs),
    }
}

fn json_line(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// `doctor --all --json`: every container's findings, and the totals.
fn all_json(docs: &[Document]) -> Value {
    let containers: Vec<Value> = docs
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
            if let Some(map) = v.as_object_mut() {
                map.insert(
                    "status".into(),
                    serde_json::to_value(d.status).unwrap_or_default(),
                );
                map.insert("errors".into(), d.errors().into());
                map.insert("warnings".into(), d.warnings().into());
                map.insert("first_error".into(), d.first_error().into());
            }
            v
        })
        .collect();
    serde_json::json!({
        "containers": containers,
        "errors": docs.iter().map(Document::errors).sum::<usize>(),
        "warnings": docs.iter().map(Document::warnings).sum::<usize>(),
        "failed": docs.iter().filter(|d| d.status == Status::Failed).count(),
        "vanished": docs.iter().filter(|d| d.status == Status::Vanished).count(),
    })
}

/// The gate's exit status: 125 when a target could not be checked (not
/// one that vanished), else 1 when one fails, else 0.
pub fn exit_code(docs: &[Document], fail_on: FailOn) -> u8 {
    if docs.iter().any(|d| d.status == Status::Failed) {
        crate::EXIT_NOSH_FAILED
    } else if docs.iter().any(|d| d.fails(fail_on)) {
        1
    } else {
        0
    }
}

/// The evidence of a finding as a person reads it: the deciding path with
/// its owner and mode, and the log line that showed the failure; else the
/// plain facts as `key value` pairs. One or two lines; `--json` has it all.
pub fn evidence_lines(e: &Value) -> Vec<String> {
    const MAX: usize = 200;
    let cut = |s: String| -> String {
        if s.chars().count() > MAX {
            format!("{}...", s.chars().take(MAX).collect::<String>())
        } else {
            s
        }
    };
    let mut lines = Vec::new();
    if let Some(d) = e.get("deciding").filter(|d| d.is_object()) {
        let path = d["path"].as_str().unwrap_or_default();
        let owner = d["owner"].as_str().unwrap_or_default();
        if owner.is_empty() {
            lines.push(d["reason"].as_str().unwrap_or(path).to_string());
        } else {
            lines.push(format!(
                "{path} is {owner}:{} {}",
                d["group"].as_str().unwrap_or_default(),
                d["mode"].as_str().unwrap_or_default()
            ));
        }
    }
    let from_source = e
        .get("source")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("log: "));
    // What the app was seen writing (readonly-rootfs).
    for w in e
        .get("writes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|d| d["writes"].as_array().cloned().unwrap_or_default())
        .take(3)
    {
        lines.push(format!(
            "{}: {}",
            w["path"].as_str().unwrap_or_default(),
            w["seen"].as_str().unwrap_or_default()
        ));
    }
    let log = ["log", "last_log_line"]
        .iter()
        .find_map(|k| e.get(*k).and_then(Value::as_str))
        .or(from_source);
    if let Some(l) = log {
        lines.push(format!("log: {}", l.trim()));
    }
    if let Some(c) = e.get("call").and_then(Value::as_str) {
        lines.push(format!("trace: {c}"));
    }
    if lines.is_empty() {
        let scalar = |v: &Value| -> Option<String> {
            match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Array(a) if !a.is_empty() && a.len() <= 8 => Some(
                    a.iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            }
        };
        if let Some(map) = e.as_object() {
            let facts: Vec<String> = map
                .iter()
                .filter_map(|(k, v)| scalar(v).map(|v| format!("{k} {v}")))
                .collect();
            if !facts.is_empty() {
                lines.push(facts.join(", "));
            }
        }
    }
    lines.into_iter().map(cut).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(format: Format, path: Option<&str>) -> Sink {
        Sink {
            format,
            path: path.map(PathBuf::from),
        }
    }

    #[test]
    fn formats_pair_with_outputs_and_text_goes_to_the_terminal() {
        let out = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            plan(false, &[Format::Junit], &out(&["report.xml"])).unwrap(),
            [
                sink(Format::Junit, Some("report.xml")),
                sink(Format::Text, None)
            ]
        );
        assert_eq!(plan(false, &[], &[]).unwrap(), [sink(Format::Text, None)]);
        assert_eq!(plan(true, &[], &[]).unwrap(), [sink(Format::Json, None)]);
        assert_eq!(
            plan(false, &[Format::Sarif], &[]).unwrap(),
            [sink(Format::Sarif, None)]
        );
        assert_eq!(
            plan(false, &[], &out(&["a.sarif", "b.xml", "c.json", "d.txt"])).unwrap(),
            [
                sink(Format::Sarif, Some("a.sarif")),
                sink(Format::Junit, Some("b.xml")),
                sink(Format::Json, Some("c.json")),
                sink(Format::Text, Some("d.txt")),
                sink(Format::Text, None),
            ]
        );
        assert_eq!(
            plan(false, &[Format::Json], &out(&["-"])).unwrap(),
            [sink(Format::Json, None)]
        );
        assert!(plan(false, &[Format::Json, Format::Sarif], &[]).is_err());
        assert!(plan(false, &[], &out(&["a.xml", "a.xml"])).is_err());
        assert!(plan(false, &[], &out(&["-", "-"])).is_err());
    }

    fn doc(findings: &[(&str, &str)]) -> Document {
        Document {
            target: "t".into(),
            findings: findings
                .iter()
                .map(|(id, sev)| Finding {
                    id: id.to_string(),
                    severity: sev.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_exit_code_is_the_gate_and_the_worst_of_all_targets() {
        let clean = doc(&[("image-tag", "warn")]);
        let broken = doc(&[("image-tag", "warn"), ("runs-as-root", "error")]);
        assert_eq!(exit_code(std::slice::from_ref(&clean), FailOn::Error), 0);
        assert_eq!(exit_code(std::slice::from_ref(&clean), FailOn::Warning), 1);
        assert_eq!(
            exit_code(&[clean.clone(), broken.clone()], FailOn::Error),
            1
        );
        assert_eq!(broken.first_error(), Some("runs-as-root"));
        let vanished = Document {
            status: Status::Vanished,
            ..doc(&[])
        };
        assert_eq!(exit_code(&[clean.clone(), vanished], FailOn::Error), 0);
        let failed = Document {
            status: Status::Failed,
            ..doc(&[])
        };
        assert_eq!(exit_code(&[broken, failed], FailOn::Error), 125);
    }

    #[test]
    fn the_doctor_json_shape_reads_back() {
        let v = serde_json::json!({"target": "api", "image": "api:1", "prod_like": true,
            "findings": [{"id": "runs-as-root", "severity": "error", "message": "m",
                          "evidence": {"uid": 0}, "fix": "f"}]});
        let d: Document = serde_json::from_value(v).unwrap();
        assert_eq!(d.errors(), 1);
        assert_eq!(d.findings[0].evidence["uid"], 0);
        let back = serde_json::to_value(&d).unwrap();
        assert!(
            back.get("status").is_none() && back.get("run").is_none(),
            "{back}"
        );
    }

    /// Every id the doctor checks can report is in the catalogue, so a
    /// clean run lists it as a passing test case and a SARIF rule.
    #[test]
    fn every_check_doctor_reports_is_catalogued() {
        let sources = [
            include_str!("../diagnosis/checks.rs"),
            include_str!("../diagnosis/mod.rs"),
            include_str!("../diagnosis/access.rs"),
            include_str!("../diagnosis/caps.rs"),
            include_str!("../diagnosis/cause.rs"),
            include_str!("../diagnosis/readonly.rs"),
        ];
        let add = regex::Regex::new(r#"(?:r\.add|Finding::new)\(\s*"([a-z-]+)""#).unwrap();
        let mapped = regex::Regex::new(r#"=> "([a-z-]+)","#).unwrap();
        let ids: Vec<&str> = sources
            .iter()
            .flat_map(|source| {
                add.captures_iter(source)
                    .chain(mapped.captures_iter(source))
            })
            .map(|c| c.get(1).unwrap().as_str())
            .collect();
        assert!(ids.len() > 15, "{ids:?}");
        for id in ids {
            assert!(
                CHECKS.iter().any(|(c, _)| *c == id),
                "{id} is reported by doctor but missing from report::CHECKS"
            );
        }
    }

    #[test]
    fn human_evidence_is_the_deciding_path_and_the_log_line() {
        use serde_json::json;
        let e = json!({"path": "/var/log/x/app.log", "deciding": {"path": "/var/log/x", "owner": "root", "group": "root", "mode": "0755", "reason": "..."}, "log": "PermissionError: [Errno 13] Permission denied: '/var/log/x/app.log'", "uid": 65532});
        assert_eq!(
            evidence_lines(&e),
            [
                "/var/log/x is root:root 0755",
                "log: PermissionError: [Errno 13] Permission denied: '/var/log/x/app.log'"
            ]
        );
        let e = json!({"port": 80, "source": "exposed (80/tcp)", "detail": {"a": 1}});
        assert_eq!(evidence_lines(&e), ["port 80, source exposed (80/tcp)"]);
    }
}
