//! docs/ci.md, tried for real: the commands of its GitHub Actions and
//! GitLab CI examples, exactly as written there, run in a checkout holding
//! a Dockerfile (FROM a base image built here: nothing is pulled), with
//! the nosh under test on PATH. A healthy image passes the gate and leaves
//! reports that validate; one that binds port 80 fails it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::static_app_image_with;

/// The steps that only bring the binary to the runner: the test puts the
/// binary under test on PATH instead.
const INSTALL_STEPS: [&str; 1] = ["Install nosh"];

/// The YAML blocks of docs/ci.md, in order.
fn yaml_blocks() -> Vec<String> {
    let doc = std::fs::read_to_string(common::repo_dir().join("docs/ci.md")).unwrap();
    doc.split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_string())
        .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The `run:` commands of a GitHub Actions job, step by step.
fn github_commands(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    let mut step = String::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if let Some(name) = t.strip_prefix("- name: ") {
            step = name.to_string();
        } else if t.starts_with("- ") {
            step.clear();
        }
        if let Some(run) = t.strip_prefix("run: ") {
            let skip = INSTALL_STEPS.contains(&step.as_str());
            if run == "|" {
                let base = indent(lines[i]);
                let mut body = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || indent(lines[i + 1]) > base)
                {
                    i += 1;
                    body.push(lines[i].trim());
                }
                if !skip {
                    out.push(body.join("\n"));
                }
            } else if !skip {
                out.push(run.to_string());
            }
        }
        i += 1;
    }
    out
}

/// The `script:` lines of a GitLab CI job.
fn gitlab_commands(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "script:")
        .expect("a script: in the GitLab example");
    let base = indent(lines[at]);
    lines[at + 1..]
        .iter()
        .take_while(|l| indent(l) > base)
        .filter_map(|l| l.trim().strip_prefix("- "))
        .map(str::to_string)
        .collect()
}

/// Runs the commands one after another as a CI runner would (each in its
/// own shell, stopping at the first failure); the status of the last one
/// run.
fn run_job(commands: &[String], dir: &Path, image: &str) -> i32 {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let _ = std::os::unix::fs::symlink(common::nosh_bin(), bin.join("nosh"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for command in commands {
        let status = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", command])
            .current_dir(dir)
            .env("IMAGE", image)
            .env("PATH", &path)
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null())
            .status()
            .unwrap();
        let code = status.code().unwrap_or(-1);
        if code != 0 {
            return code;
        }
    }
    0
}

fn dockerfile(base: &str, port: u16) -> String {
    format!(
        "FROM {base}\nUSER 65532:65532\nEXPOSE {port}\nENTRYPOINT [\"/app/demo-app\"]\nCMD [\"--port\", \"{port}\", \"--log\", \"-\"]\n"
    )
}

fn valid_junit(file: &Path) -> bool {
    Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(common::repo_dir().join("tests/schemas/junit-10.xsd"))
        .arg(file)
        .status()
        .expect("xmllint")
        .success()
}

#[test]
fn the_ci_examples_in_docs_ci_md_build_and_gate_an_image_for_real() {
    let blocks = yaml_blocks();
    assert_eq!(blocks.len(), 2, "a GitHub Actions and a GitLab CI example");
    let github = github_commands(&blocks[0]);
    let gitlab = gitlab_commands(&blocks[1]);
    let gate = "nosh doctor \"$IMAGE\" --run --prod-like --format junit --output report.xml";
    for (ci, commands) in [("GitHub", &github), ("GitLab", &gitlab)] {
        assert!(
            commands.iter().any(|c| c.starts_with("docker build ")),
            "{ci}: {commands:?}"
        );
        assert!(
            commands.iter().any(|c| c.starts_with(gate)),
            "{ci}: {commands:?}"
        );
    }
    let base = static_app_image_with("gate-ci-base", &["WORKDIR /app"]);
    for (ci, commands) in [("GitHub", &github), ("GitLab", &gitlab)] {
        for (port, wanted) in [(8443, 0), (80, 1)] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("Dockerfile"), dockerfile(&base, port)).unwrap();
            let image = format!("nosh-fixture-gate-ci:{}", common::unique_suffix());
            let code = run_job(commands, dir.path(), &image);
            let _ = common::docker(&["rmi", &image]);
            assert_eq!(code, wanted, "{ci} job, app on port {port}");
            let report = dir.path().join("report.xml");
            assert!(valid_junit(&report), "{ci}: report.xml does not validate");
            let xml = std::fs::read_to_string(&report).unwrap();
            assert_eq!(
                xml.contains("<failure type=\"privileged-port\""),
                port == 80,
                "{ci}, port {port}:\n{xml}"
            );
        }
    }
}
