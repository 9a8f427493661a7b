//! `nosh doctor --all`: every running container of the engine, in
//! parallel, one table. Other test runs share the engine, so each test
//! gives its containers a label of their own and looks at those rows
//! (`--filter label=...`, which users of a shared host want too).

mod common;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Container, Nosh, docker_ok, static_app_image};
use serde_json::Value;

fn label() -> String {
    format!("gate-all={}", common::unique_suffix())
}

/// `nosh doctor --all` over the containers wearing `label`.
fn doctor_all(label: &str, extra: &[&str]) -> common::RunOutput {
    Nosh::new()
        .args(["doctor", "--all", "--filter", &format!("label={label}")])
        .args(extra)
        .timeout(Duration::from_secs(180))
        .run()
}

/// `count` healthy containers and one that logs to a root-owned directory,
/// all wearing `label`.
fn fleet(label: &str, healthy: usize) -> (Vec<Container>, Container) {
    let ok: Vec<Container> = (0..healthy)
        .map(|_| {
            Container::run_cmd(
                &static_app_image(),
                &["--label", label],
                &["--port", "8443", "--log", "-"],
            )
        })
        .collect();
    let broken = Container::run(&static_app_image(), &["--label", label]);
    for c in ok.iter().chain([&broken]) {
        c.wait_port(8443);
    }
    (ok, broken)
}

#[test]
fn all_over_five_containers_one_broken_prints_five_rows_and_exits_1() {
    let label = label();
    let (ok, broken) = fleet(&label, 4);
    let out = doctor_all(&label, &[]);
    out.code_is(1);
    let lines: Vec<&str> = out.stdout().lines().collect();
    assert!(
        lines[0].starts_with("CONTAINER") && lines[0].contains("FIRST ERROR"),
        "{}",
        out.stdout()
    );
    let row = |c: &Container| -> &str {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(c.name()))
            .unwrap_or_else(|| panic!("no row for {}:\n{}", c.name(), out.stdout()))
    };
    for c in &ok {
        let cells: Vec<&str> = row(c).split_whitespace().collect();
        assert_eq!(cells[2], "0", "{}", out.stdout());
        assert_eq!(cells.last(), Some(&"-"));
    }
    let cells: Vec<&str> = row(&broken).split_whitespace().collect();
    assert_ne!(cells[2], "0", "{}", out.stdout());
    assert_eq!(cells.last(), Some(&"unwritable-path"), "{}", out.stdout());
    // Five rows, the header, the totals: nothing else was looked at.
    assert_eq!(lines.len(), 7, "{}", out.stdout());
    assert!(
        lines[6].starts_with("5 container(s): 1 with errors"),
        "{}",
        out.stdout()
    );
    for c in ok.iter().chain([&broken]) {
        c.assert_nothing_left();
    }
}

#[test]
fn all_json_is_one_document_with_every_containers_findings() {
    let label = label();
    let (ok, broken) = fleet(&label, 1);
    let out = doctor_all(&label, &["--json", "--jobs", "1"]);
    out.code_is(1);
    let v = out.json();
    let containers = v["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 2, "{v:#}");
    let of = |c: &Container| {
        containers
            .iter()
            .find(|x| x["id"] == c.id())
            .unwrap_or_else(|| panic!("{} missing: {v:#}", c.name()))
    };
    assert_eq!(of(&ok[0])["errors"], 0);
    let b = of(&broken);
    assert_eq!(b["first_error"], "unwritable-path");
    assert_eq!(b["target"], broken.name());
    assert!(
        b["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "unwritable-path" && f["evidence"]["directory"] == "/var/log/demo"),
        "{v:#}"
    );
    assert_eq!(v["errors"], b["errors"]);
}

#[test]
fn a_container_that_vanishes_mid_run_is_reported_not_fatal() {
    let label = label();
    // Created first, so the engine lists it last: with one job at a time,
    // it is checked after the others.
    let victim = Container::run_cmd(
        &static_app_image(),
        &["--label", &label],
        &["--port", "8443", "--log", "-"],
    );
    victim.wait_port(8443);
    let (ok, broken) = fleet(&label, 2);
    let others: Vec<&str> = ok.iter().chain([&broken]).map(Container::id).collect();
    let mut child = Command::new(common::nosh_bin())
        .args(["doctor", "--all", "--json", "--jobs", "1"])
        .args(["--filter", &format!("label={label}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once a sidecar of the run exists, the list was taken: remove the victim.
    let deadline = Instant::now() + Duration::from_secs(60);
    let sidecar_of_another = || {
        others.iter().any(|id| {
            !docker_ok(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=io.nosh.target={id}"),
            ])
            .is_empty()
        })
    };
    while !sidecar_of_another() {
        assert!(Instant::now() < deadline, "no sidecar appeared");
        thread::sleep(Duration::from_millis(20));
    }
    docker_ok(&["rm", "-f", victim.id()]);
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    // The broken one sets the status; the vanished one does not make it 125.
    assert_eq!(status.code(), Some(1), "{stdout}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let gone = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == victim.id())
        .unwrap_or_else(|| panic!("the vanished container has no row: {v:#}"));
    assert_eq!(gone["status"], "vanished", "{v:#}");
    assert_eq!(v["vanished"], 1);
    assert_eq!(v["containers"].as_array().unwrap().len(), 4);
    for c in &ok {
        c.assert_nothing_left();
    }
}

#[test]
fn several_engines_get_a_host_column_and_an_unreachable_one_is_a_row_not_the_end() {
    let label = label();
    let (_ok, _broken) = fleet(&label, 1);
    let out = doctor_all(
        &label,
        &[
            "-H",
            "unix:///var/run/docker.sock",
            "-H",
            "unix:///nonexistent/docker.sock",
        ],
    );
    // An engine that could not be checked makes it nosh's failure, after
    // every other container was.
    out.code_is(125);
    let lines: Vec<&str> = out.stdout().lines().collect();
    assert!(lines[0].starts_with("HOST"), "{}", out.stdout());
    let local: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("unix:///var/run/docker.sock "))
        .collect();
    assert_eq!(local.len(), 2, "{}", out.stdout());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("unix:///nonexistent/docker.sock") && l.contains("not checked")),
        "{}",
        out.stdout()
    );
}
