//! SARIF 2.1.0 (OASIS), the format code-scanning views read: one run per
//! target, a rule per check, a result per finding (error, warning, note),
//! located at its Dockerfile line when the image history names the
//! instruction it comes from and that line is found in the Dockerfile.
//! Texts from the target are escaped as on a terminal: a viewer that
//! renders them shows no control character raw.

use serde_json::{Value, json};

use super::{Document, Finding, Location, Status, check_ids, check_title};
use crate::report::evidence_lines;
use crate::term::escape;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

pub fn render(docs: &[Document]) -> String {
    let runs: Vec<Value> = docs.iter().map(run).collect();
    let log = json!({"$schema": SCHEMA, "version": "2.1.0", "runs": runs});
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

fn safe(s: &str) -> String {
    escape::text(s.as_bytes()).into_owned()
}

/// `v` with every string in it escaped as [`safe`] does.
fn safe_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(safe(s)),
        Value::Array(a) => Value::Array(a.iter().map(safe_value).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (safe(k), safe_value(v))).collect())
        }
        other => other.clone(),
    }
}

fn level(severity: &str) -> &'static str {
    match severity {
        "error" => "error",
        "warn" => "warning",
        _ => "note",
    }
}

/// A relative path as a URI reference: unreserved characters and `/`
/// as they are, the rest percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn location(at: &Location) -> Value {
    let mut physical = json!({"artifactLocation": {"uri": uri(&at.file)}});
    if let Some(line) = at.line {
        physical["region"] = json!({"startLine": line, "snippet": {"text": safe(&at.instruction)}});
    }
    json!({"physicalLocation": physical})
}

fn result(d: &Document, index: usize, f: &Finding, rules: &[String]) -> Value {
    let mut text = safe(&f.message);
    for line in evidence_lines(&f.evidence) {
        text.push_str(&format!(" Evidence: {}.", safe(&line)));
    }
    if !f.fix.is_empty() {
        text.push_str(&format!(" Fix: {}", safe(&f.fix)));
    }
    let mut r = json!({
        "ruleId": safe(&f.id),
        "level": level(&f.severity),
        "message": {"text": text},
        "properties": {"severity": safe(&f.severity), "evidence": safe_value(&f.evidence), "fix": safe(&f.fix)},
    });
    if let Some(i) = rules.iter().position(|id| *id == f.id) {
        r["ruleIndex"] = json!(i);
    }
    if let Some(at) = d.location(index) {
        r["locations"] = json!([location(at)]);
        r["properties"]["dockerfile_instruction"] = json!(safe(&at.instruction));
    }
    r
}

fn run(d: &Document) -> Value {
    let ids = check_ids(d);
    let rules: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "id": safe(id),
                "shortDescription": {"text": safe(check_title(id))},
                "defaultConfiguration": {"level": "error"},
            })
        })
        .collect();
    let results: Vec<Value> = d
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| result(d, i, f, &ids))
        .collect();
    let mut invocation = json!({"executionSuccessful": d.status == Status::Checked});
    if let Some(e) = &d.error {
        invocation["toolExecutionNotifications"] =
            json!([{"level": "error", "message": {"text": safe(e)}}]);
    }
    let mut props =
        json!({"target": safe(&d.target), "image": safe(&d.image), "prod_like": d.prod_like});
    if let Some(h) = &d.host {
        props["host"] = json!(safe(h));
    }
    if !d.id.is_empty() {
        props["container_id"] = json!(safe(&d.id));
    }
    json!({
        "tool": {"driver": {
            "name": "nosh",
            "version": env!("CARGO_PKG_VERSION"),
            "semanticVersion": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        }},
        "invocations": [invocation],
        "results": results,
        "properties": props,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::CHECKS;

    #[test]
    fn findings_become_results_of_their_rule_at_their_dockerfile_line() {
        let d = Document {
            target: "api:1".into(),
            findings: vec![
                Finding {
                    id: "privileged-port".into(),
                    severity: "error".into(),
                    message: "port 80\u{1b}[2J".into(),
                    evidence: json!({"port": 80, "log": "a\u{9b}b"}),
                    fix: "listen on 8080".into(),
                    subject: String::new(),
                },
                Finding {
                    id: "image-tag".into(),
                    severity: "warn".into(),
                    ..Default::default()
                },
            ],
            locations: vec![
                Some(Location {
                    file: "build dir/Dockerfile".into(),
                    line: Some(7),
                    instruction: "EXPOSE 80".into(),
                }),
                None,
            ],
            ..Default::default()
        };
        let v: Value = serde_json::from_str(&render(&[d])).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), CHECKS.len());
        let r = &run["results"][0];
        assert_eq!(r["level"], "error");
        assert_eq!(
            rules[r["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "privileged-port"
        );
        assert_eq!(
            r["message"]["text"],
            "port 80\\e[2J Evidence: log: a\\x9bb. Fix: listen on 8080"
        );
        assert_eq!(r["properties"]["evidence"]["log"], "a\\x9bb");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "build%20dir/Dockerfile");
        assert_eq!(loc["region"]["startLine"], 7);
        assert_eq!(run["results"][1]["level"], "warning");
        assert!(run["results"][1].get("locations").is_none());
    }
}
