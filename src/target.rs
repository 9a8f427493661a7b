//! What the host half knows about the target and hands to the toolbox.
//!
//! The host inspects the container through the engine; the toolbox cannot (it
//! has no engine access), so the configured entrypoint, user and restart facts
//! travel as one JSON document in `--target-info`.

use serde::{Deserialize, Serialize};

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
