//! The network builtins in a real Docker sidecar of a shell-less,
//! FROM-scratch target (the static demo-app as 65532, TCP and UDP 8443),
//! driven with plain `docker run` as the host half drives it.

mod common;

use common::{Container, Nosh, static_app_image};
use serde_json::Value;

fn target(args: &[&str]) -> Container {
    let mut all = vec!["-e", "DEMO_UDP=1"];
    all.extend_from_slice(args);
    let c = Container::run(&static_app_image(), &all);
    c.wait_running();
    c.wait_port(8443);
    c
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

#[test]
fn sidecar_ports_shows_the_apps_listener_with_pid_1() {
    let t = target(&[]);
    let out = Nosh::sidecar(&t).c("ports --json").run();
    out.success();
    let rows = json(out.stdout());
    let rows = rows.as_array().unwrap();
    let tcp = rows
        .iter()
        .find(|r| r["local_port"] == 8443 && r["proto"].as_str().unwrap().starts_with("tcp"))
        .unwrap_or_else(|| panic!("no TCP 8443 in {rows:#?}"));
    assert_eq!(tcp["state"], "LISTEN");
    assert_eq!(tcp["pid"], 1);
    assert_eq!(tcp["process"], "demo-app");
    assert_eq!(tcp["uid"], 65532);
    assert!(
        rows.iter().any(|r| r["local_port"] == 8443
            && r["proto"].as_str().unwrap().starts_with("udp")
            && r["pid"] == 1),
        "no UDP 8443 in {rows:#?}"
    );
    Nosh::sidecar(&t)
        .c("ss -t")
        .run()
        .success()
        .stdout_has(":8443")
        .stdout_has("demo-app")
        .stdout_lacks("owner not visible");
}

#[test]
fn sidecar_bind_check_80_works_under_dockers_sysctl_with_a_kubernetes_warning() {
    let t = target(&[]);
    let out = Nosh::sidecar(&t).c("bind-check 80").run();
    out.success()
        .stdout_has("tcp 0.0.0.0:80 is bindable by uid 65532")
        .stdout_has("ip_unprivileged_port_start is 0 in this network namespace")
        .stdout_has("warning: Kubernetes and host networking keep the kernel default of 1024");
    let out = Nosh::sidecar(&t).c("bind-check 80 --json").run();
    let v = json(out.stdout());
    assert_eq!(v["bindable"], true);
    assert_eq!(v["unprivileged_port_start"], 0);
    // And the app's own port is taken, by pid 1.
    let out = Nosh::sidecar(&t).c("bind-check 8443 --json").run();
    out.code_is(1);
    let v = json(out.stdout());
    assert_eq!(v["holder_pid"], 1);
    assert_eq!(v["holder_process"], "demo-app");
}

#[test]
fn sidecar_bind_check_80_fails_and_explains_when_the_sysctl_is_1024() {
    let t = target(&["--sysctl", "net.ipv4.ip_unprivileged_port_start=1024"]);
    let out = Nosh::sidecar(&t).c("bind-check 80 --json").run();
    out.code_is(1);
    let v = json(out.stdout());
    assert_eq!(v["bindable"], false);
    assert_eq!(v["unprivileged_port_start"], 1024);
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("lacks CAP_NET_BIND_SERVICE"), "{reason}");
    assert!(
        v["fixes"]
            .to_string()
            .contains("--sysctl net.ipv4.ip_unprivileged_port_start=0"),
        "{v:#}"
    );
}

#[test]
fn sidecar_reaches_the_app_over_http_and_resolves_its_own_hostname() {
    let t = target(&["--hostname", "demo-host"]);
    Nosh::sidecar(&t)
        .c("http http://127.0.0.1:8443/")
        .run()
        .success()
        .stdout_has("HTTP/1.1 200 OK\nok\n");
    let ip = t.ip();
    Nosh::sidecar(&t)
        .c("resolve demo-host; connect demo-host:8443; connect 127.0.0.1:1")
        .run()
        .code_is(1)
        .stdout_has(&format!("demo-host {ip} /etc/hosts"))
        .stdout_has(&format!("connected to demo-host ({ip}:8443) in "))
        .stdout_has("127.0.0.1:1: refused");
    Nosh::sidecar(&t)
        .c("ip; route")
        .run()
        .success()
        .stdout_has("eth0")
        .stdout_has(&format!("inet {ip}/"))
        .stdout_has("default");
}
