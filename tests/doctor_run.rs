//! `nosh doctor IMAGE --run`: images started for real, as production starts
//! them, judged from what their start did; and the reports CI systems read.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    Nosh, RunOutput, docker, docker_ok, findings, static_app_image, static_app_image_with,
};
use serde_json::Value;

const APP: &str = r#"ENTRYPOINT ["/app/demo-app"]"#;

/// The demo service as an image that listens on `port`, logs to stdout
/// and EXPOSEs `expose`.
fn app_image(name: &str, port: u16, expose: u16) -> String {
    let expose = format!("EXPOSE {expose}/tcp");
    let cmd = format!(r#"CMD ["--port", "{port}", "--log", "-"]"#);
    static_app_image_with(
        name,
        &["USER 65532:65532", "WORKDIR /app", &expose, APP, &cmd],
    )
}

/// Binds port 80, and says so in its EXPOSE.
fn port_80_image() -> String {
    app_image("gate-port80", 80, 80)
}

/// Listens on 8443, logs to stdout: nothing to find.
fn healthy_image() -> String {
    app_image("gate-healthy", 8443, 8443)
}

/// Waits for a port it never listens on: the watch lasts its whole duration.
fn never_ready_image() -> String {
    app_image("gate-never-ready", 8443, 9999)
}

/// A label of this test's own, and the one `make clean` knows.
struct Label(String);

impl Label {
    fn new() -> Label {
        Label(format!("gate-test={}", common::unique_suffix()))
    }

    fn args(&self) -> [&str; 4] {
        ["-l", &self.0, "-l", common::TEST_LABEL]
    }

    /// Containers of any state that wear it (the run's and its helper).
    fn containers(&self) -> Vec<String> {
        docker_ok(&["ps", "-aq", "--filter", &format!("label={}", self.0)])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits for the run's container to run; returns the helper's volumes.
    fn wait_running(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let running = docker_ok(&[
                "ps",
                "-q",
                "--filter",
                &format!("label={}", self.0),
                "--filter",
                "label=io.nosh.session=doctor-run",
            ]);
            let helper = docker_ok(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label={}", self.0),
                "--filter",
                "label=io.nosh.session=helper",
            ]);
            if !running.is_empty() && !helper.is_empty() {
                let volumes = docker_ok(&[
                    "inspect",
                    "--format",
                    "{{range .Mounts}}{{.Name}} {{end}}",
                    helper.lines().next().unwrap(),
                ]);
                return volumes.split_whitespace().map(str::to_string).collect();
            }
            assert!(Instant::now() < deadline, "the watched container never ran");
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls until nothing of the run is left: no container, no volume.
    fn assert_nothing_left(&self, volumes: &[String], within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let containers = self.containers();
            let vols: Vec<&String> = volumes
                .iter()
                .filter(|v| docker(&["volume", "inspect", v]).status.success())
                .collect();
            if containers.is_empty() && vols.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "left behind: containers {containers:?}, volumes {vols:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

fn doctor(image: &str, label: &Label, extra: &[&str]) -> RunOutput {
    Nosh::new()
        .args(["doctor", image])
        .args(label.args())
        .args(extra)
        .timeout(Duration::from_secs(120))
        .run()
}

/// `--format json` of a run, and its exit status.
fn doctor_json(image: &str, label: &Label, extra: &[&str]) -> (i32, Value) {
    let out = doctor(image, label, &[&["--format", "json"], extra].concat());
    (out.code(), out.json())
}

#[test]
fn an_image_binding_port_80_passes_run_and_fails_run_prod_like_with_the_bind_error_named() {
    let image = port_80_image();
    let label = Label::new();
    // As Docker runs it (ip_unprivileged_port_start=0): it starts, listens,
    // and the port is a warning for Kubernetes.
    let (code, v) = doctor_json(&image, &label, &["--run"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["run"]["ending"], "ready", "{v:#}");
    assert!(
        v["run"]["listening"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().ends_with(":80")),
        "{v:#}"
    );
    let p = findings(&v, "privileged-port");
    assert_eq!(p.len(), 1, "{v:#}");
    assert_eq!(p[0]["severity"], "warn");
    // The gate can be stricter.
    doctor(&image, &label, &["--run", "--fail-on", "warning"]).code_is(1);

    // As hardened production runs it: the bind fails, and the finding names
    // the port, the errno and the fix.
    let out = doctor(&image, &label, &["--run", "--prod-like"]);
    out.code_is(1)
        .stdout_has("ERROR privileged-port")
        .stdout_has("could not bind port 80 (0.0.0.0:80): EACCES (Permission denied)")
        .stdout_has("ip_unprivileged_port_start=1024")
        .stdout_has("fix: listen on a port >= 1024");
    let (code, v) = doctor_json(&image, &label, &["--run", "--prod-like"]);
    assert_eq!(code, 1);
    assert_eq!(v["run"]["ending"], "exited");
    assert_eq!(v["run"]["exit_code"], 1);
    let p = findings(&v, "privileged-port");
    assert_eq!(p[0]["severity"], "error", "{v:#}");
    assert_eq!(p[0]["evidence"]["port"], 80);
    assert_eq!(p[0]["evidence"]["errno"], "EACCES");
    assert!(
        p[0]["evidence"]["call"]
            .as_str()
            .unwrap()
            .starts_with("bind("),
        "{v:#}"
    );
    assert!(label.containers().is_empty());
}

#[test]
fn an_image_writing_to_a_root_owned_dir_fails_with_the_path_and_the_fix() {
    // Its CMD logs to /var/log/demo/app.log; /var/log/demo is root's, 0755.
    let label = Label::new();
    let (code, v) = doctor_json(&static_app_image(), &label, &["--run"]);
    assert_eq!(code, 1, "{v:#}");
    let hit = findings(&v, "unwritable-path")
        .into_iter()
        .find(|f| f["severity"] == "error")
        .unwrap_or_else(|| panic!("no unwritable-path error: {v:#}"));
    assert_eq!(hit["evidence"]["path"], "/var/log/demo/app.log");
    assert_eq!(hit["evidence"]["deciding"]["path"], "/var/log/demo");
    let fix = hit["fix"].as_str().unwrap();
    assert!(fix.contains("chown 65532:65532 /var/log/demo"), "{fix}");
    // The trace saw the refused open too, whatever the app said about it.
    let calls = v["run"]["failed_calls"].as_array().unwrap();
    assert!(
        calls.iter().any(|c| c["path"] == "/var/log/demo/app.log"
            && c["errno"] == "EACCES"
            && c["syscall"].as_str().unwrap().starts_with("open")),
        "{calls:#?}"
    );
}

#[test]
fn a_healthy_image_passes_run_prod_like_with_exit_0() {
    let label = Label::new();
    let out = doctor(&healthy_image(), &label, &["--run", "--prod-like"]);
    out.success()
        .stdout_has("run: ready: every exposed port listens")
        .stdout_has("0 error(s)");
    assert!(label.containers().is_empty());
}

#[test]
fn a_command_the_image_lacks_fails_as_docker_would_with_127_explained() {
    let image = static_app_image_with(
        "gate-shell-form",
        &[
            "USER 65532:65532",
            "WORKDIR /app",
            "CMD python3 /app/app.py",
        ],
    );
    let label = Label::new();
    let (code, v) = doctor_json(&image, &label, &["--run"]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["run"]["ending"], "not-started");
    assert_eq!(v["run"]["exit_code"], 127);
    let shell = findings(&v, "shell-form-entrypoint");
    assert_eq!(shell[0]["severity"], "error", "{v:#}");
}

/// Validates with xmllint against the JUnit schema Jenkins' xUnit plugin
/// uses; the error output when it does not.
fn junit_errors(file: &Path) -> Option<String> {
    let schema = common::repo_dir().join("tests/schemas/junit-10.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .expect("xmllint (libxml2-utils; scripts/test-deps.sh installs it)");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Validates with python3-jsonschema against the SARIF 2.1.0 schema.
fn sarif_errors(file: &Path) -> Option<String> {
    let schema = common::repo_dir().join("tests/schemas/sarif-2.1.0.json");
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  doc = json.load(open(sys.argv[2]))\n\
                  jsonschema.validators.validator_for(schema)(schema).validate(doc)\n";
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(&schema)
        .arg(file)
        .output()
        .expect("python3 with jsonschema (python3-jsonschema; scripts/test-deps.sh installs it)");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn junit_and_sarif_reports_validate_even_with_hostile_text_in_them() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    let sarif = dir.path().join("report.sarif");
    let label = Label::new();
    // The app names a log path full of markup and control characters, and
    // says it cannot open it: the report carries the app's own words.
    let hostile = "/var/log/demo/x<&>\"'\u{1b}[31m\u{1}\u{7f}\u{9b}2J.log";
    let out = doctor(
        &port_80_image(),
        &label,
        &[
            "--run",
            "--prod-like",
            "--format",
            "junit",
            "--output",
            junit.to_str().unwrap(),
            "--format",
            "sarif",
            "--output",
            sarif.to_str().unwrap(),
            "--",
            "--port",
            "80",
            "--log",
            hostile,
        ],
    );
    // Text on the terminal, the other reports in their files.
    out.code_is(1).stdout_has("ERROR privileged-port");
    assert_eq!(junit_errors(&junit), None);
    assert_eq!(sarif_errors(&sarif), None);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let json = std::fs::read_to_string(&sarif).unwrap();
    for (what, text) in [("junit", &xml), ("sarif", &json)] {
        assert!(
            !text.chars().any(|c| c.is_control() && !"\n\t".contains(c)),
            "{what} holds a raw control character"
        );
    }
    assert!(xml.contains("x&lt;&amp;&gt;"), "{xml}");
    assert!(xml.contains("\\e[31m\\x01\\x7f\\x9b2J"), "{xml}");
    // One test case per check; the bind failure is a failure with its evidence.
    assert!(xml.matches("<testcase ").count() > 15, "{xml}");
    let failure = xml
        .split("<testcase name=\"privileged-port\"")
        .nth(1)
        .and_then(|rest| rest.split("</testcase>").next())
        .unwrap();
    assert!(
        failure
            .contains("<failure type=\"privileged-port\" message=\"the app could not bind port 80"),
        "{failure}"
    );
    assert!(
        failure.contains("evidence: ") && failure.contains("fix: listen on a port"),
        "{failure}"
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "privileged-port" && r["level"] == "error")
    );

    // The validators do catch a broken report.
    let broken = dir.path().join("broken.xml");
    std::fs::write(
        &broken,
        xml.replacen("<testcase name=", "<testcase nom=", 1),
    )
    .unwrap();
    assert!(junit_errors(&broken).is_some());
    let broken = dir.path().join("broken.sarif");
    std::fs::write(
        &broken,
        json.replacen("\"level\": \"error\"", "\"level\": \"fatal\"", 1),
    )
    .unwrap();
    assert!(sarif_errors(&broken).is_some());
    assert!(label.containers().is_empty());
}

#[test]
fn a_running_container_gets_the_same_reports_and_the_same_gate() {
    let t = common::Container::run(&static_app_image(), &[]);
    t.wait_port(8443);
    let dir = tempfile::tempdir().unwrap();
    let (junit, sarif) = (dir.path().join("r.xml"), dir.path().join("r.sarif"));
    Nosh::new()
        .args(["doctor", t.name(), "-o"])
        .arg(junit.to_str().unwrap())
        .arg("-o")
        .arg(sarif.to_str().unwrap())
        .run()
        .code_is(1)
        .stdout_has("ERROR unwritable-path");
    assert_eq!(junit_errors(&junit), None);
    assert_eq!(sarif_errors(&sarif), None);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure type=\"unwritable-path\""), "{xml}");
    assert!(
        xml.contains(&format!("<testsuite name=\"{}\"", t.name())),
        "{xml}"
    );
    t.assert_nothing_left();
}

#[test]
fn sarif_results_point_at_the_dockerfile_line_the_image_history_names() {
    let base = static_app_image_with("gate-base", &["WORKDIR /app"]);
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM {base}\n# the app's user\nUSER 65532:65532\nEXPOSE 80\n{APP}\nCMD [\"--port\", \"80\", \"--log\", \"-\"]\n"
        ),
    )
    .unwrap();
    let tag = format!("nosh-fixture-gate-built:{}", common::unique_suffix());
    let built = Command::new("docker")
        .args(["build", "-q", "--label", common::TEST_LABEL, "-t", &tag])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let sarif = dir.path().join("r.sarif");
    let label = Label::new();
    let out = doctor(
        &tag,
        &label,
        &[
            "--run",
            "--prod-like",
            "--dockerfile",
            dockerfile.to_str().unwrap(),
            "-o",
            sarif.to_str().unwrap(),
        ],
    );
    let _ = docker(&["rmi", &tag]);
    out.code_is(1)
        .stdout_has("at: ")
        .stdout_has(":4: EXPOSE 80");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    let port = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "privileged-port")
        .unwrap();
    let region = &port["locations"][0]["physicalLocation"]["region"];
    assert_eq!(region["startLine"], 4, "{port:#}");
    assert_eq!(region["snippet"]["text"], "EXPOSE 80");
    assert_eq!(sarif_errors(&sarif), None);
}

#[test]
fn nothing_is_left_in_the_engine_after_a_normal_end() {
    let label = Label::new();
    let child = start_run(&label, "3s");
    let volumes = label.wait_running();
    assert!(!volumes.is_empty(), "the helper holds the binary's volume");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("still starting when the time was up"),
        "{stdout}"
    );
    // Removed before nosh returned: nothing to wait for.
    label.assert_nothing_left(&volumes, Duration::ZERO);
}

/// A run of the image that never gets ready, in the background.
fn start_run(label: &Label, duration: &str) -> std::process::Child {
    Command::new(common::nosh_bin())
        .args(["doctor", &never_ready_image(), &format!("--run={duration}")])
        .args(label.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn interrupted_run_leaves_nothing(signal: nix::sys::signal::Signal) {
    let label = Label::new();
    let child = start_run(&label, "60s");
    let volumes = label.wait_running();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
    let out = child.wait_with_output().unwrap();
    if signal == nix::sys::signal::Signal::SIGINT {
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        label.assert_nothing_left(&volumes, Duration::ZERO);
    } else {
        // The watchdog removes what a killed client made.
        label.assert_nothing_left(&volumes, Duration::from_secs(30));
    }
}

#[test]
fn ctrl_c_of_the_client_removes_the_container_and_the_helper() {
    interrupted_run_leaves_nothing(nix::sys::signal::Signal::SIGINT);
}

#[test]
fn a_killed_client_leaves_nothing_in_the_engine() {
    interrupted_run_leaves_nothing(nix::sys::signal::Signal::SIGKILL);
}

#[test]
fn a_seccomp_profile_that_refuses_ptrace_gets_an_untraced_start_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("no-ptrace.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let label = Label::new();
    let opt = format!("seccomp={}", profile.display());
    let (code, v) = doctor_json(
        &static_app_image(),
        &label,
        &["--run", "--security-opt", &opt],
    );
    // The start is judged all the same, from the app's own words.
    assert_eq!(code, 1, "{v:#}");
    assert!(
        v["run"]["trace_missing"]
            .as_str()
            .is_some_and(|t| t.contains("refused to trace")),
        "{v:#}"
    );
    assert_eq!(v["run"]["ending"], "ready", "{v:#}");
    assert!(!findings(&v, "unwritable-path").is_empty(), "{v:#}");
    assert!(label.containers().is_empty());
}

#[test]
fn bad_options_and_missing_images_get_one_sentence_and_125() {
    let label = Label::new();
    doctor(&healthy_image(), &label, &["--run", "-p", "8000-8010:80"])
        .code_is(125)
        .stderr_has("nosh: -p 8000-8010:80: give [IP:][HOST:]CONTAINER[/PROTO]");
    doctor("nosh-fixture-gate-no-such:1", &label, &["--run"])
        .code_is(125)
        .stderr_has("nosh: no such image: nosh-fixture-gate-no-such:1");
    Nosh::new()
        .args(["doctor", "x", "--format", "junit", "--format", "sarif"])
        .run()
        .code_is(125)
        .stderr_has("more --format than --output");
    Nosh::new()
        .args(["doctor", "x", "-e", "A=1"])
        .run()
        .code_is(125)
        .stderr_has("--run");
    assert!(label.containers().is_empty());
}
