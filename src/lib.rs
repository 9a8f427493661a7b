//! nosh: a debug shell for containers that have no shell.
//!
//! The same static binary is both halves:
//! - [`host`]: the CLI on the engine's side (clap, tokio, bollard): finds the
//!   target, imports the toolbox image made of this binary, runs the sidecar
//!   and attaches the terminal to it.
//! - [`toolbox`]: runs inside the sidecar, single-threaded: joins the target's
//!   namespaces, drops to the app's identity and runs the [`shell`], whose
//!   [`builtins`] do the inspecting.
//!
//! Shared, runtime-free rooms: [`target`] (everything read from the
//! target, the hostile input), [`diagnosis`] (doctor's checks and the fix
//! engine), [`trace`], [`report`], [`tools`] (what a responder brings in
//! and takes out), [`term`] (what reaches a terminal), [`cli`], and
//! [`sys`] (every privileged syscall).

pub mod builtins;
pub mod cli;
pub mod diagnosis;
pub mod host;
pub mod report;
pub mod shell;
pub mod sys;
pub mod target;
pub mod term;
pub mod toolbox;
pub mod tools;
pub mod trace;

/// Exit status for nosh's own failures, as `docker run` uses it.
pub const EXIT_NOSH_FAILED: u8 = 125;
