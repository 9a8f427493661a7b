//! Which Dockerfile instruction a finding comes from.
//!
//! The image history names the instructions the image was built with
//! (the legacy builder as `/bin/sh -c #(nop)  EXPOSE 80/tcp` or
//! `/bin/sh -c mkdir -p /data`, BuildKit as `EXPOSE map[80/tcp:{}]` or
//! `RUN /bin/sh -c mkdir -p /data # buildkit`), but not their lines. So:
//! 1. each finding picks the newest history instruction that caused it:
//!    an EXPOSE of its port, the USER, the ENTRYPOINT or CMD, the
//!    HEALTHCHECK, the WORKDIR, the ENV of TZ, or the instruction that
//!    names its directory;
//! 2. that instruction is looked up in the Dockerfile (given, or
//!    `./Dockerfile`): the same instruction once both are normalized
//!    (shell and exec forms, `K V` and `K=V`, port sets), searched from
//!    the end, so the final stage of a multi-stage build wins; else the
//!    last instruction of that kind in the final stage that names the
//!    same port, path or variable.
//!
//! The history is the image author's text: entries are bounded here and
//! escaped wherever they are shown.

use std::path::Path;

use serde_json::Value;

use super::{Document, Location};

/// Most history entries read, and the longest one kept.
const MAX_HISTORY: usize = 1000;
const MAX_ENTRY: usize = 4096;
/// The largest Dockerfile read.
const MAX_DOCKERFILE: u64 = 1 << 20;

/// One Dockerfile instruction: its keyword (upper case) and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub keyword: String,
    pub args: String,
}

impl Instruction {
    fn shown(&self) -> String {
        format!("{} {}", self.keyword, self.args)
    }
}

/// A history entry's `CreatedBy` as the instruction it ran, if it names
/// one (an imported image's entries name none).
pub fn from_history(created_by: &str) -> Option<Instruction> {
    let mut s = crate::target::info::truncate(created_by.trim(), MAX_ENTRY);
    if let Some(rest) = s.strip_suffix("# buildkit") {
        s = rest.trim_end().to_string();
    }
    // Build arguments come first: `|2 A=1 B=2 /bin/sh -c ...`.
    if let Some(rest) = s.strip_prefix('|') {
        let mut words = rest.splitn(2, ' ');
        let n: usize = words.next()?.parse().ok()?;
        let tail = words.next().unwrap_or("");
        s = tail.splitn(n + 1, ' ').last().unwrap_or("").to_string();
    }
    let (keyword, args) = if let Some(rest) = s.strip_prefix("/bin/sh -c ") {
        match rest.trim_start().strip_prefix("#(nop)") {
            Some(nop) => split_instruction(nop.trim())?,
            None => ("RUN".to_string(), rest.trim().to_string()),
        }
    } else {
        split_instruction(&s)?
    };
    let args = match keyword.as_str() {
        "RUN" => strip_shell(&args),
        _ => args,
    };
    Some(Instruction { keyword, args })
}

fn split_instruction(s: &str) -> Option<(String, String)> {
    let (kw, args) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    let keyword = kw.to_ascii_uppercase();
    const KEYWORDS: [&str; 17] = [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ];
    KEYWORDS
        .contains(&keyword.as_str())
        .then(|| (keyword, args.trim().to_string()))
}

fn strip_shell(args: &str) -> String {
    args.trim()
        .strip_prefix("/bin/sh -c ")
        .unwrap_or(args.trim())
        .to_string()
}

/// The instructions of a Dockerfile with their first line (1-based), line
/// continuations joined, comments and parser directives skipped.
pub fn parse(text: &str) -> Vec<(usize, Instruction)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_none() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if pending.is_some() && line.starts_with('#') {
            continue;
        }
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(part) => {
                acc.push_str(part);
                acc.push(' ');
                pending = Some((start, acc));
            }
            None => {
                acc.push_str(line);
                if let Some((keyword, args)) = split_instruction(acc.trim()) {
                    out.push((start, Instruction { keyword, args }));
                } else if let Some((kw, args)) = acc.trim().split_once(char::is_whitespace)
                    && kw.eq_ignore_ascii_case("FROM")
                {
                    out.push((
                        start,
                        Instruction {
                            keyword: "FROM".into(),
                            args: args.trim().into(),
                        },
                    ));
                }
            }
        }
    }
    out
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The strings of an exec-form list, JSON (`["a", "b"]`) or Go's
/// (`[a b]`, `["a" "b"]`) as the legacy builder prints it.
fn exec_list(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('[')?.strip_suffix(']')?;
    if let Ok(v) = serde_json::from_str::<Vec<String>>(s.trim()) {
        return Some(v);
    }
    if inner.contains('"') {
        return Some(
            inner
                .split('"')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect(),
        );
    }
    Some(inner.split_whitespace().map(str::to_string).collect())
}

/// Port numbers with their protocol (`80/tcp`), sorted.
fn ports(s: &str) -> Vec<String> {
    let mut out: Vec<String> = s
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '/'))
        .filter_map(|w| {
            let (num, proto) = w.split_once('/').unwrap_or((w, "tcp"));
            num.parse::<u16>()
                .ok()
                .map(|n| format!("{n}/{}", proto.to_ascii_lowercase()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// An instruction's arguments in a form both the history and the
/// Dockerfile reduce to.
fn normal(i: &Instruction) -> String {
    match i.keyword.as_str() {
        "RUN" => match exec_list(&i.args) {
            Some(list) => words(&list.join(" ")),
            None => words(&strip_shell(&i.args)),
        },
        "CMD" | "ENTRYPOINT" => match exec_list(&i.args) {
            Some(list) => list.join("\u{0}"),
            None => ["/bin/sh", "-c", i.args.trim()].join("\u{0}"),
        },
        "EXPOSE" => ports(&i.args).join(" "),
        "ENV" | "LABEL" | "ARG" => {
            let a = words(&i.args);
            match a.split_once(' ') {
                Some((k, v)) if !k.contains('=') => format!("{k}={}", v.trim_matches('"')),
                _ => a.replace('"', ""),
            }
        }
        _ => words(&i.args),
    }
}

/// Whether `word` appears in `text` as a whole token: not inside a longer
/// path or number.
fn names(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let part = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(|c| part(c) && c != '.')
    })
}

/// What a finding points at in the build: the keywords of the instructions
/// that may cause it, and the word they name (a port, a path, a variable).
fn subject(id: &str, evidence: &Value) -> Option<(&'static [&'static str], Vec<String>)> {
    let s = |k: &str| evidence.get(k).and_then(Value::as_str).map(str::to_string);
    let port = evidence
        .get("port")
        .and_then(Value::as_u64)
        .map(|p| p.to_string());
    Some(match id {
        "privileged-port" | "bind-failed" => (
            &["EXPOSE", "CMD", "ENTRYPOINT", "ENV"][..],
            port.into_iter().collect(),
        ),
        "runs-as-root" => (&["USER"][..], vec![]),
        "shell-form-entrypoint"
        | "script-needs-shell"
        | "missing-interpreter"
        | "entrypoint"
        | "crash-loop" => (&["ENTRYPOINT", "CMD"][..], vec![]),
        "healthcheck-cannot-run" => (&["HEALTHCHECK"][..], vec![]),
        "workdir-not-writable" => (&["WORKDIR"][..], s("workdir").into_iter().collect()),
        "missing-tzdata" => (&["ENV"][..], vec!["TZ".to_string()]),
        "unwritable-path" | "logs-to-file" | "uid-assumption" | "unwritable-home"
        | "readonly-rootfs" => (
            &[
                "RUN",
                "COPY",
                "ADD",
                "WORKDIR",
                "VOLUME",
                "ENV",
                "CMD",
                "ENTRYPOINT",
            ][..],
            ["directory", "path", "home"]
                .iter()
                .filter_map(|k| s(k))
                .collect(),
        ),
        _ => return None,
    })
}

/// Step 1: the newest history instruction behind a finding.
fn cause<'a>(id: &str, evidence: &Value, history: &'a [Instruction]) -> Option<&'a Instruction> {
    let (keywords, words) = subject(id, evidence)?;
    // Instructions whose kind alone says it (there is one USER in effect).
    let by_kind = matches!(
        id,
        "runs-as-root"
            | "shell-form-entrypoint"
            | "script-needs-shell"
            | "missing-interpreter"
            | "entrypoint"
            | "crash-loop"
            | "healthcheck-cannot-run"
    );
    if words.is_empty() {
        return by_kind
            .then(|| {
                history
                    .iter()
                    .find(|h| keywords.contains(&h.keyword.as_str()))
            })
            .flatten();
    }
    // Per kind in the order given (an EXPOSE of the port before a CMD
    // naming it), per word in the order given (the directory before the
    // file in it), newest first.
    for kw in keywords {
        for w in &words {
            let hit = history.iter().find(|h| {
                h.keyword == *kw
                    && if h.keyword == "EXPOSE" {
                        ports(&h.args)
                            .iter()
                            .any(|p| p.split('/').next() == Some(w))
                    } else {
                        names(&h.args, w)
                    }
            });
            if hit.is_some() {
                return hit;
            }
        }
    }
    None
}

/// Step 2: the Dockerfile line of `want`, and the instruction there.
fn line_of<'a>(
    want: &Instruction,
    dockerfile: &'a [(usize, Instruction)],
    id: &str,
    evidence: &Value,
) -> Option<&'a (usize, Instruction)> {
    let norm = normal(want);
    if let Some(exact) = dockerfile
        .iter()
        .rev()
        .find(|(_, d)| d.keyword == want.keyword && normal(d) == norm)
    {
        return Some(exact);
    }
    let final_stage = dockerfile
        .iter()
        .rposition(|(_, d)| d.keyword == "FROM")
        .map_or(dockerfile, |at| &dockerfile[at..]);
    let words = subject(id, evidence).map(|(_, w)| w).unwrap_or_default();
    final_stage.iter().rev().find(|(_, d)| {
        d.keyword == want.keyword && (words.is_empty() || words.iter().any(|w| names(&d.args, w)))
    })
}

/// The Dockerfile to look lines up in: the one given, else `./Dockerfile`
/// if there is one. Unreadable or too large: none (the report still
/// names the instruction).
pub fn read(given: Option<&Path>) -> Option<(String, Vec<(usize, Instruction)>)> {
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => Path::new("Dockerfile").to_path_buf(),
    };
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_DOCKERFILE {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    Some((path.display().to_string(), parse(&text)))
}

/// Fills `doc.locations` from the image history (`CreatedBy` of each
/// layer, newest first, as the engine lists it) and the Dockerfile.
pub fn locate(
    doc: &mut Document,
    history: &[String],
    dockerfile: Option<&(String, Vec<(usize, Instruction)>)>,
) {
    let history: Vec<Instruction> = history
        .iter()
        .take(MAX_HISTORY)
        .filter_map(|h| from_history(h))
        .collect();
    doc.locations = doc
        .findings
        .iter()
        .map(|f| {
            let want = cause(&f.id, &f.evidence, &history)?;
            // The Dockerfile's own words when the line is found there.
            let found = dockerfile.and_then(|(file, parsed)| {
                line_of(want, parsed, &f.id, &f.evidence).map(|(n, i)| (file, *n, i))
            });
            Some(match found {
                Some((file, line, at)) => Location {
                    file: file.clone(),
                    line: Some(line),
                    instruction: at.shown(),
                },
                None => Location {
                    file: dockerfile.map_or_else(|| "Dockerfile".to_string(), |(f, _)| f.clone()),
                    line: None,
                    instruction: want.shown(),
                },
            })
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;
    use serde_json::json;

    fn i(keyword: &str, args: &str) -> Instruction {
        Instruction {
            keyword: keyword.into(),
            args: args.into(),
        }
    }

    #[test]
    fn history_entries_of_both_builders_name_their_instruction() {
        assert_eq!(
            from_history("/bin/sh -c #(nop)  EXPOSE 80/tcp"),
            Some(i("EXPOSE", "80/tcp"))
        );
        assert_eq!(
            from_history("/bin/sh -c mkdir -p /var/log/app"),
            Some(i("RUN", "mkdir -p /var/log/app"))
        );
        assert_eq!(
            from_history("|1 V=2 /bin/sh -c mkdir /x"),
            Some(i("RUN", "mkdir /x"))
        );
        assert_eq!(
            from_history("EXPOSE map[80/tcp:{}]"),
            Some(i("EXPOSE", "map[80/tcp:{}]"))
        );
        assert_eq!(
            from_history("RUN /bin/sh -c mkdir -p /data # buildkit"),
            Some(i("RUN", "mkdir -p /data"))
        );
        assert_eq!(
            from_history("USER 65532:65532"),
            Some(i("USER", "65532:65532"))
        );
        assert_eq!(from_history(""), None);
        assert_eq!(from_history("Imported from -"), None);
    }

    #[test]
    fn dockerfile_instructions_keep_their_first_line() {
        let text = "# syntax=docker/dockerfile:1\nFROM base AS build\n\nRUN mkdir -p /a \\\n    /b\n# note\nFROM scratch\nexpose 80\nCMD [\"/app\", \"--port\", \"80\"]\n";
        let p = parse(text);
        assert_eq!(p[0], (2, i("FROM", "base AS build")));
        assert_eq!(p[1], (4, i("RUN", "mkdir -p /a  /b")));
        assert_eq!(p[2].0, 7);
        assert_eq!(p[3], (8, i("EXPOSE", "80")));
        assert_eq!(p[4].0, 9);
    }

    #[test]
    fn findings_land_on_the_line_of_the_instruction_behind_them() {
        let dockerfile = "FROM base\nRUN mkdir -p /var/log/app\nUSER 65532\nEXPOSE 80\nCMD [\"/app/server\", \"--log\", \"/var/log/app/x.log\"]\n";
        let parsed = ("Dockerfile".to_string(), parse(dockerfile));
        // Newest first, as the engine lists the history.
        let history = [
            "/bin/sh -c #(nop)  CMD [\"/app/server\" \"--log\" \"/var/log/app/x.log\"]",
            "/bin/sh -c #(nop)  EXPOSE 80/tcp",
            "/bin/sh -c #(nop)  USER 65532",
            "/bin/sh -c mkdir -p /var/log/app",
        ]
        .map(String::from);
        let f = |id: &str, evidence: Value| Finding {
            id: id.into(),
            severity: "error".into(),
            evidence,
            ..Default::default()
        };
        let mut doc = Document {
            findings: vec![
                f("privileged-port", json!({"port": 80})),
                f(
                    "unwritable-path",
                    json!({"path": "/var/log/app/x.log", "directory": "/var/log/app"}),
                ),
                f("shell-form-entrypoint", json!({})),
                f("missing-ca-bundle", json!({})),
                f("privileged-port", json!({"port": 8080})),
            ],
            ..Default::default()
        };
        locate(&mut doc, &history, Some(&parsed));
        let lines: Vec<Option<usize>> = doc
            .locations
            .iter()
            .map(|l| l.as_ref().and_then(|l| l.line))
            .collect();
        assert_eq!(lines, [Some(4), Some(2), Some(5), None, None]);
        assert_eq!(doc.locations[0].as_ref().unwrap().instruction, "EXPOSE 80");
        // Without a Dockerfile the instruction is still named.
        locate(&mut doc, &history, None);
        let at = doc.locations[1].as_ref().unwrap();
        assert_eq!((at.file.as_str(), at.line), ("Dockerfile", None));
        assert_eq!(at.instruction, "RUN mkdir -p /var/log/app");
    }

    #[test]
    fn exec_and_shell_forms_compare_equal_across_builders() {
        assert_eq!(
            normal(&i("CMD", "[\"a\" \"b c\"]")),
            normal(&i("CMD", "[\"a\", \"b c\"]"))
        );
        assert_eq!(
            normal(&i("CMD", "[\"/bin/sh\" \"-c\" \"python app.py\"]")),
            normal(&i("CMD", "python app.py"))
        );
        assert_eq!(
            normal(&i("EXPOSE", "map[80/tcp:{} 443/tcp:{}]")),
            normal(&i("EXPOSE", "443 80"))
        );
        assert_eq!(
            normal(&i("ENV", "TZ Europe/Paris")),
            normal(&i("ENV", "TZ=Europe/Paris"))
        );
        assert!(names("mkdir /var/log/app", "/var/log/app"));
        assert!(!names("--log /var/log/app/x.log", "/var/log/app"));
        assert!(!names("--port 8080", "80"));
    }
}
