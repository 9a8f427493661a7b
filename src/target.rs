//! What the host half knows about the target and hands to the toolbox.
//!
//! The host inspects the container through the engine; the toolbox cannot (it
//! has no engine access), so the configured entrypoint, user and restart facts
//! travel as one JSON document in `--target-info` or `$NOSH_TARGET_INFO`.

use serde::{Deserialize, Serialize};

/// The environment variable that carries the [`TargetInfo`] JSON to the toolbox.
pub const TARGET_INFO_ENV: &str = "NOSH_TARGET_INFO";

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
    /// `State.ExitCode` of the last run.
    pub exit_code: i64,
    /// `State.Status`: running, exited, restarting...
    pub state: String,
    /// `State.Error`.
    pub error: String,
    /// True when the toolbox runs in a replica rather than beside the target.
    pub replica: bool,
    /// The last lines the container logged (stdout and stderr), for
    /// `doctor` to find the errors the app reported.
    pub log_tail: Vec<String>,
    /// `Config.Healthcheck.Test` of the container (or image), bounded:
    /// `["CMD-SHELL", "curl -f http://localhost/"]`, `["CMD", ...]`, `["NONE"]`.
    pub healthcheck: Option<Vec<String>>,
    /// `State.Health.Status`: starting, healthy, unhealthy (empty when none).
    pub health_status: String,
    /// The exit code and output of the last probe (`State.Health.Log`),
    /// the output truncated to [`MAX_HEALTH_OUTPUT`] bytes.
    pub health_exit_code: Option<i64>,
    pub health_output: String,
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

/// What an exit status usually means for a container's main process.
pub fn explain_exit(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => return None,
        1 => "the app reported an error (exit 1): its own output says why",
        2 => "usage error (exit 2): the command line or configuration was rejected",
        126 => {
            "126: the command was found but could not be executed (no exec permission, a noexec mount, or a wrong ELF architecture)"
        }
        127 => {
            "127: the command was not found (a missing binary, a missing shell for a shell-form CMD, or a missing ELF interpreter or shebang interpreter)"
        }
        128 => "128: invalid exit argument",
        130 => "130: interrupted (SIGINT)",
        134 => "134: aborted (SIGABRT), often an assertion or a runtime panic",
        137 => {
            "137: killed with SIGKILL: the OOM killer (check `cgroup` for oom_kill) or `docker kill`/a stop timeout"
        }
        139 => {
            "139: segmentation fault (SIGSEGV), often a binary built for another libc or a missing library"
        }
        143 => "143: terminated by SIGTERM (`docker stop`)",
        c if c > 128 && c < 160 => "killed by a signal (128 + signal number)",
        _ => "the app exited with an error status",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
