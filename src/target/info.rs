//! What the host half knows about the target and hands to the toolbox.
//!
//! The host inspects the container through the engine; the toolbox cannot (it
//! has no engine access), so the configured entrypoint, user and restart facts
//! travel as one JSON document in `--target-info` or `$NOSH_TARGET_INFO`.

use serde::{Deserialize, Serialize};

/// The environment variable that carries the [`TargetInfo`] JSON to the toolbox.
pub const TARGET_INFO_ENV: &str = "NOSH_TARGET_INFO";

/// The environment variable that carries the toolbox's arguments, a JSON
/// list of strings. The host half never puts them on the toolbox's command
/// line: every process of the target can read `/proc/PID/cmdline`, and the
/// `-c` text may hold what the operator keeps from the app (a token in an
/// `http -H`). The environment of the toolbox is closed to the target
/// (not dumpable, and before that, capabilities the target lacks).
pub const TOOLBOX_ARGS_ENV: &str = "NOSH_TOOLBOX_ARGS";

/// Every variable the host half sets for the toolbox. None of them is the
/// app's: the toolbox takes them out of its own environment, the shell's
/// variables leave them out (in a replica, PID 1 is the toolbox and its
/// `/proc/1/environ` still holds them), and a replica never takes the
/// original's (a hostile image could set them).
pub const HOST_ENV: [&str; 4] = [
    TOOLBOX_ARGS_ENV,
    TARGET_INFO_ENV,
    crate::term::escape::STDOUT_TERMINAL_ENV,
    crate::term::escape::STDERR_TERMINAL_ENV,
];

/// Whether `entry` (`KEY=VALUE`) sets one of [`HOST_ENV`].
pub fn is_host_env(entry: &str) -> bool {
    let key = entry.split_once('=').map_or(entry, |(k, _)| k);
    HOST_ENV.contains(&key)
}

/// The target's configuration as the engine reports it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TargetInfo {
    /// Container name without the leading '/'.
    pub name: String,
    /// Full container id.
    pub id: String,
    /// The image reference the container was created from.
    pub image: String,
    /// `Config.Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `Config.Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Config.User` (may be empty: root).
    pub user: String,
    /// `Config.WorkingDir`.
    pub working_dir: String,
    /// `Config.Env`.
    pub env: Vec<String>,
    /// `Config.ExposedPorts` keys, e.g. `8443/tcp`.
    pub exposed_ports: Vec<String>,
    /// `RestartCount`.
    pub restart_count: i64,
    /// The exit code of the container's last finished run: `State.ExitCode`
    /// of a container that is not running; for a running one the engine
    /// reset it to 0 at the restart, so nosh learns it by waiting for the
    /// run's end or from the engine's `die` event ([`TargetInfo::exit_code_source`]).
    pub exit_code: i64,
    /// Where `exit_code` comes from: `state` (the engine's record of a
    /// container that is not running), `wait` (nosh saw the run end),
    /// `event` (the engine's `die` event of the last run), or empty when no
    /// run has finished or its code is no longer known.
    pub exit_code_source: String,
    /// `State.OOMKilled`: the kernel's OOM killer ended the last run (the
    /// engine keeps it across a restart until the next exit).
    pub oom_killed: bool,
    /// `HostConfig.RestartPolicy`: `always`, `unless-stopped`,
    /// `on-failure` or `on-failure:N`; empty for none.
    pub restart_policy: String,
    /// `Config.Hostname`: the engine gives the app `HOSTNAME` from it.
    pub hostname: String,
    /// `Config.Tty`: the engine gives the app `TERM=xterm` when set.
    pub tty: bool,
    /// `State.Status`: running, exited, restarting...
    pub state: String,
    /// `State.Error`.
    pub error: String,
    /// True when the toolbox runs in a replica rather than beside the target.
    pub replica: bool,
    /// The last lines the container logged (stdout and stderr), for
    /// `doctor` to find the errors the app reported.
    pub log_tail: Vec<String>,
    /// What [`TargetInfo::bounded`] left out, one line each, for the user.
    pub cut: Vec<String>,
    /// `Config.Healthcheck.Test` of the container (or image), bounded:
    /// `["CMD-SHELL", "curl -f http://localhost/"]`, `["CMD", ...]`, `["NONE"]`.
    pub healthcheck: Option<Vec<String>>,
    /// `State.Health.Status`: starting, healthy, unhealthy (empty when none).
    pub health_status: String,
    /// The exit code and output of the last probe (`State.Health.Log`),
    /// the output truncated to [`MAX_HEALTH_OUTPUT`] bytes.
    pub health_exit_code: Option<i64>,
    pub health_output: String,
    /// What changed in the container's own filesystem since it started,
    /// as `docker diff` lists it (`A /path`, `C /path`, `D /path`),
    /// bounded: for `doctor`, the paths the app writes.
    pub changes: Vec<String>,
}

/// The most JSON the toolbox is handed in [`TARGET_INFO_ENV`]: the kernel
/// refuses to start a program with any one environment string over 128 KiB
/// (`MAX_ARG_STRLEN`), and the engine then fails with "argument list too
/// long". The budgets below add up to less, whatever the target holds.
pub const MAX_INFO_JSON: usize = 112 * 1024;
/// Each plain string field (name, image, user, error...).
const FIELD_BUDGET: usize = 4 * 1024;
/// Fields the engine keeps short (a hostname is at most 64 bytes to the
/// kernel, a restart policy a word and a number).
const SHORT_FIELD_BUDGET: usize = 256;
/// Entrypoint and Cmd together, and each of their arguments.
const ARGV_BUDGET: usize = 24 * 1024;
/// The environment, and each of its entries.
const ENV_BUDGET: usize = 28 * 1024;
/// The changed paths (`docker diff`), all of them.
const CHANGES_BUDGET: usize = 4 * 1024;
/// One environment entry or argument.
const ITEM_BUDGET: usize = 8 * 1024;
/// The healthcheck's test command, all of it.
const HEALTHCHECK_BUDGET: usize = 2 * 1024;
/// Exposed ports, all of them.
const PORTS_BUDGET: usize = 2 * 1024;
/// The log lines, all of them (the newest are kept).
const LOG_BUDGET: usize = 16 * 1024;

/// The bytes `c` takes inside a JSON string (serde_json's escapes).
fn json_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\x08' | '\x0c' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

fn json_len(s: &str) -> usize {
    s.chars().map(json_char_len).sum::<usize>() + 3
}

/// `s` cut to at most `budget` JSON bytes, on a character boundary; true
/// when something was cut.
fn cut_to(s: &mut String, budget: usize) -> bool {
    let mut used = 3;
    for (i, c) in s.char_indices() {
        used += json_char_len(c);
        if used > budget {
            s.truncate(i);
            return true;
        }
    }
    false
}

/// Keeps the items of `list` (from the front, or the back with `newest`)
/// that fit `total`, each cut to `each`; says what it did under `what`.
fn bound_list(
    list: &mut Vec<String>,
    each: usize,
    total: usize,
    newest: bool,
    what: &str,
    cut: &mut Vec<String>,
) {
    let before = list.len();
    let mut shortened = 0;
    let mut used = 0;
    let mut kept = Vec::new();
    let items: Box<dyn Iterator<Item = String>> = if newest {
        Box::new(std::mem::take(list).into_iter().rev())
    } else {
        Box::new(std::mem::take(list).into_iter())
    };
    for mut item in items {
        if cut_to(&mut item, each) {
            shortened += 1;
        }
        used += json_len(&item);
        if used > total {
            break;
        }
        kept.push(item);
    }
    if newest {
        kept.reverse();
    }
    if kept.len() < before || shortened > 0 {
        cut.push(format!(
            "{what}: {} of {before} kept, {shortened} shortened",
            kept.len()
        ));
    }
    *list = kept;
}

/// Bounds on what the healthcheck fields carry to the toolbox.
pub const MAX_HEALTH_OUTPUT: usize = 400;
const MAX_HEALTH_ARGS: usize = 32;
const MAX_HEALTH_ARG: usize = 1024;

/// `s` cut to at most `max` bytes, on a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A healthcheck test command, bounded in count and length.
pub fn bounded_healthcheck(test: Option<Vec<String>>) -> Option<Vec<String>> {
    test.map(|t| {
        t.into_iter()
            .take(MAX_HEALTH_ARGS)
            .map(|a| truncate(&a, MAX_HEALTH_ARG))
            .collect()
    })
}

impl TargetInfo {
    /// This information cut to fit [`MAX_INFO_JSON`], with a line in `cut`
    /// for each field that lost something. A target's environment,
    /// command line and logs are its own to make huge; the session must
    /// start anyway.
    pub fn bounded(&self) -> TargetInfo {
        let mut b = self.clone();
        let mut cut = Vec::new();
        for (what, field) in [
            ("name", &mut b.name),
            ("id", &mut b.id),
            ("image", &mut b.image),
            ("user", &mut b.user),
            ("working directory", &mut b.working_dir),
            ("state", &mut b.state),
            ("error", &mut b.error),
            ("health status", &mut b.health_status),
            ("health output", &mut b.health_output),
        ] {
            if cut_to(field, FIELD_BUDGET) {
                cut.push(format!("{what}: shortened"));
            }
        }
        for (what, field) in [
            ("hostname", &mut b.hostname),
            ("restart policy", &mut b.restart_policy),
            ("exit code source", &mut b.exit_code_source),
        ] {
            if cut_to(field, SHORT_FIELD_BUDGET) {
                cut.push(format!("{what}: shortened"));
            }
        }
        let mut argv_left = ARGV_BUDGET;
        for (what, field) in [("Entrypoint", &mut b.entrypoint), ("Cmd", &mut b.cmd)] {
            if let Some(list) = field {
                bound_list(list, ITEM_BUDGET, argv_left, false, what, &mut cut);
                argv_left = argv_left.saturating_sub(list.iter().map(|a| json_len(a)).sum());
            }
        }
        bound_list(&mut b.env, ITEM_BUDGET, ENV_BUDGET, false, "Env", &mut cut);
        if let Some(list) = &mut b.healthcheck {
            bound_list(
                list,
                512,
                HEALTHCHECK_BUDGET,
                false,
                "Healthcheck",
                &mut cut,
            );
        }
        bound_list(
            &mut b.exposed_ports,
            64,
            PORTS_BUDGET,
            false,
            "ExposedPorts",
            &mut cut,
        );
        bound_list(
            &mut b.log_tail,
            1024,
            LOG_BUDGET,
            true,
            "log lines",
            &mut cut,
        );
        bound_list(
            &mut b.changes,
            512,
            CHANGES_BUDGET,
            false,
            "changed paths",
            &mut cut,
        );
        b.cut.extend(cut);
        b
    }

    /// The name shown in the prompt: the container name, else a short id, else "target".
    pub fn display_name(&self) -> &str {
        if !self.name.is_empty() {
            &self.name
        } else if !self.id.is_empty() {
            &self.id[..self.id.len().min(12)]
        } else {
            "target"
        }
    }
}

/// The PATH the engine gives a container whose image and configuration
/// set none (moby's `DefaultPathEnv`): the app always has one.
pub const ENGINE_DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a container's exit code means. Below 126 it is the app's own
/// status, whatever a shell would mean by it; 126 and 127 come from the
/// runtime's exec, 128 from the engine failing to start the process, and
/// 128 + n from the kernel's signal n.
pub fn explain_exit(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => return None,
        1 => "the app's own error status; its last log lines say why",
        2 => {
            "the app's own error status, whatever a shell means by 2: the app chose it (for a configuration or a data directory it refuses, an option it rejects); its last log lines say why"
        }
        126 => {
            "the command was found but could not be executed (no exec permission for the container's user, a noexec mount, or a binary for another architecture)"
        }
        127 => {
            "the command was not found (a missing binary, a missing shell for a shell-form CMD, or a missing ELF interpreter or shebang interpreter)"
        }
        128 => "the engine could not start the command (State.Error says why)",
        129 => "hung up (SIGHUP)",
        130 => "interrupted (SIGINT)",
        131 => "quit (SIGQUIT), a request for a core dump",
        132 => "illegal instruction (SIGILL), often a binary built for a newer CPU",
        134 => "aborted (SIGABRT), often an assertion or a runtime panic",
        135 => "bus error (SIGBUS), often a memory-mapped file cut short or a full /dev/shm",
        136 => "arithmetic exception (SIGFPE)",
        137 => {
            "killed with SIGKILL: the kernel's OOM killer (State.OOMKilled says so), `docker kill`, or a stop that outlasted its timeout"
        }
        139 => {
            "segmentation fault (SIGSEGV), often a binary built for another libc or a missing library"
        }
        141 => "wrote to a closed pipe or socket (SIGPIPE)",
        143 => "terminated by SIGTERM (`docker stop`, or an orchestrator stopping it)",
        c if c > 128 && c < 160 => "killed by a signal (128 + its number)",
        c if !(0..=255).contains(&c) => "not an exit status the engine records",
        _ => "the app's own error status; its last log lines say why",
    })
}

/// [`explain_exit`] for the container's last run, with what the engine
/// knows beyond the code: the OOM killer's part.
pub fn explain_last_exit(info: &TargetInfo) -> Option<String> {
    if info.oom_killed {
        let code = match info.exit_code {
            137 => String::new(),
            c => format!(" (exit code {c}: the app's answer to a killed process)"),
        };
        return Some(format!(
            "the kernel's OOM killer ended it (State.OOMKilled): the container reached its memory limit{code}"
        ));
    }
    if info.exit_code == 137 {
        return Some(
            "killed with SIGKILL, not by the OOM killer (State.OOMKilled is false): `docker kill`, a stop that outlasted its timeout, or the host killing it".into(),
        );
    }
    explain_exit(info.exit_code).map(str::to_string)
}

/// Whether the exit code of the container's last run is known.
pub fn last_exit_known(info: &TargetInfo) -> bool {
    !info.exit_code_source.is_empty()
}

/// How the container's last run ended, in words: "restarted 3 times; last
/// exit code 2", "exited (exit code 1)", "restarted 1 time; the exit code of
/// its last run is no longer known".
pub fn last_run(info: &TargetInfo) -> String {
    let restarted = match info.restart_count {
        0 => None,
        1 => Some("restarted 1 time".to_string()),
        n => Some(format!("restarted {n} times")),
    };
    match (restarted, last_exit_known(info)) {
        (Some(r), true) => format!("{r}; last exit code {}", info.exit_code),
        (Some(r), false) => {
            format!("{r}; the exit code of its last run is no longer known")
        }
        (None, true) => format!("exited (exit code {})", info.exit_code),
        (None, false) => "has not exited".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_target_information_is_bounded_and_says_what_was_cut() {
        let info = TargetInfo {
            name: "big".into(),
            env: (0..50)
                .map(|i| format!("V{i}={}", "x".repeat(4096)))
                .collect(),
            cmd: Some((0..100).map(|_| "\x1b".repeat(2000)).collect()),
            log_tail: (0..40)
                .map(|i| format!("{i}{}", "\x07".repeat(400)))
                .collect(),
            error: "e".repeat(100_000),
            healthcheck: Some((0..32).map(|_| "\x1b".repeat(1024)).collect()),
            health_output: "\x01".repeat(4000),
            changes: (0..1000)
                .map(|i| format!("A /var/lib/app/{i}{}", "\x1b".repeat(100)))
                .collect(),
            hostname: "h".repeat(100_000),
            ..Default::default()
        };
        let b = info.bounded();
        let json = serde_json::to_string(&b).unwrap();
        assert!(json.len() <= MAX_INFO_JSON, "{}", json.len());
        assert_eq!(b.name, "big");
        assert!(
            b.env.len() < 50 && b.env[0] == info.env[0],
            "{}",
            b.env.len()
        );
        assert!(b.cmd.as_ref().unwrap().len() < 100);
        // The newest log lines are the ones kept, each shortened.
        let last = b.log_tail.last().unwrap();
        assert!(last.starts_with("39\u{7}") && info.log_tail[39].starts_with(last.as_str()));
        assert!(b.cut.iter().any(|c| c.starts_with("Env: ")), "{:?}", b.cut);
        assert!(b.cut.iter().any(|c| c == "error: shortened"), "{:?}", b.cut);
        assert!(
            b.cut.iter().any(|c| c == "hostname: shortened"),
            "{:?}",
            b.cut
        );
    }

    #[test]
    fn small_target_information_passes_whole() {
        let info = TargetInfo {
            name: "app".into(),
            env: vec!["A=1".into()],
            cmd: Some(vec!["/app".into(), "é\u{1b}".into()]),
            log_tail: vec!["x".into()],
            ..Default::default()
        };
        assert_eq!(info.bounded(), info);
    }

    #[test]
    fn cutting_counts_json_escapes_and_respects_characters() {
        let mut s = "é\u{1}é".to_string();
        // 3 (quotes and the key's colon) + 2 + 6 = 11: the second é does not fit.
        assert!(cut_to(&mut s, 12));
        assert_eq!(s, "é\u{1}");
        assert_eq!(json_len("a\"\u{1}"), 3 + 1 + 2 + 6);
    }

    #[test]
    fn healthcheck_fields_are_bounded() {
        let long: Vec<String> = (0..100).map(|_| "é".repeat(1000)).collect();
        let b = bounded_healthcheck(Some(long)).unwrap();
        assert_eq!(b.len(), MAX_HEALTH_ARGS);
        assert!(b.iter().all(|a| a.len() <= MAX_HEALTH_ARG));
        assert_eq!(truncate("aé", 2), "a");
    }

    #[test]
    fn common_exit_codes_are_explained() {
        assert!(explain_exit(127).unwrap().contains("not found"));
        assert!(explain_exit(137).unwrap().contains("OOM"));
        assert!(explain_exit(0).is_none());
    }

    #[test]
    fn exit_codes_are_explained_as_a_containers_not_a_shells() {
        let two = explain_exit(2).unwrap();
        assert!(two.contains("the app's own error status"), "{two}");
        assert!(!two.contains("usage error"), "{two}");
        assert!(explain_exit(128).unwrap().contains("could not start"));
        assert!(explain_exit(139).unwrap().contains("SIGSEGV"));
        assert!(explain_exit(143).unwrap().contains("SIGTERM"));
        assert!(explain_exit(138).unwrap().contains("128 + its number"));
        assert!(explain_exit(-1).unwrap().contains("not an exit status"));
    }

    #[test]
    fn a_sigkill_is_blamed_on_the_oom_killer_only_when_the_engine_says_so() {
        let mut info = TargetInfo {
            exit_code: 137,
            exit_code_source: "state".into(),
            ..Default::default()
        };
        let plain = explain_last_exit(&info).unwrap();
        assert!(plain.contains("not by the OOM killer"), "{plain}");
        info.oom_killed = true;
        let oom = explain_last_exit(&info).unwrap();
        assert!(oom.contains("OOM killer ended it"), "{oom}");
        info.exit_code = 1;
        let child = explain_last_exit(&info).unwrap();
        assert!(
            child.contains("OOM killer") && child.contains("exit code 1"),
            "{child}"
        );
    }

    #[test]
    fn the_last_run_is_told_without_restarted_0_times() {
        let mut info = TargetInfo {
            exit_code: 2,
            exit_code_source: "state".into(),
            ..Default::default()
        };
        assert_eq!(last_run(&info), "exited (exit code 2)");
        info.restart_count = 1;
        assert_eq!(last_run(&info), "restarted 1 time; last exit code 2");
        info.restart_count = 4;
        assert_eq!(last_run(&info), "restarted 4 times; last exit code 2");
        info.exit_code_source.clear();
        assert_eq!(
            last_run(&info),
            "restarted 4 times; the exit code of its last run is no longer known"
        );
    }
}
