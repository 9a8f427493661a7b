//! `doctor [--json] [--prod-like] [--no-start]`: the hardened-image
//! migration checklist. The checks themselves, the fix engine and the
//! exit's cause live in [`crate::diagnosis`] ([`crate::diagnosis::checks`]).

use std::io;

use clap::Parser;
use serde_json::json;

use super::Builtin;
use crate::diagnosis::checks::Options;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Check the target against what hardened, nonroot images require: root
/// user, privileged ports, unwritable paths (fixes derived from the
/// failure: the app's own directory given to it, a missing directory
/// created, a WORKDIR the app owns, never a chown of a system directory),
/// a working directory the app cannot write (workdir-not-writable), files
/// owned by another base image's uid (uid-assumption), files it reads that
/// are missing or unreadable (missing-file, unreadable-path), logs written
/// to files, shell-form entrypoints and scripts that need a shell
/// (script-needs-shell), missing interpreters, missing shared libraries and
/// too-new glibc symbol versions (missing-library), a HEALTHCHECK whose
/// program the image lacks (healthcheck-cannot-run), time zones without
/// tzdata (missing-tzdata), the CA bundle, privileged calls and the
/// configuration lines that ask for them (needs-capability), passwd entry
/// and HOME, image tag, crash loops, read-only root filesystem.
///
/// When the app exited or restarts, the finding that explains the exit
/// (its last log lines, its exit code, the calls that failed) is the
/// error, and crash-loop names it (evidence.cause). In a replica, the
/// entrypoint is started once under trace to see those calls (at most 5
/// s, in the replica, never in the target; --no-start skips it): the app
/// does run, so what it does at start, a network call, it does again.
///
/// One finding per id and subject (a path, a port, a library, a
/// capability).
///
/// Not checked: FIPS-only algorithms (fips-algorithm): no reliable signal
/// from outside the app tells which algorithms it will ask for.
///
/// Exit status: 1 when any error is found, else 0 (for CI gates).
///
/// JSON (--json): {target, prod_like, findings: [{id, severity (error, warn,
/// info), subject, message, evidence (object), fix}]}.
#[derive(Parser)]
#[command(name = "doctor", disable_version_flag = true)]
pub struct Doctor {
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// Judge as Kubernetes runs hardened workloads: unprivileged ports start
    /// at 1024, a read-only root filesystem (flagged for the paths the app
    /// is seen writing), all capabilities dropped.
    #[arg(long)]
    prod_like: bool,
    /// In a replica of a container that exited, do not start the entrypoint
    /// under trace.
    #[arg(long)]
    no_start: bool,
}

impl Builtin for Doctor {
    const NAME: &'static str = "doctor";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let report = Options {
            prod_like: self.prod_like,
            no_start: self.no_start,
        }
        .examine(ctx, None);
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == "error")
            .count();
        let status = i32::from(errors > 0);
        if self.json {
            super::util::write_json(
                &mut io.out,
                &json!({"target": ctx.info.display_name(), "image": ctx.info.image, "prod_like": self.prod_like, "findings": report.findings}),
            )?;
            return Ok(status);
        }
        let doc = crate::report::Document {
            target: ctx.info.display_name().to_string(),
            image: ctx.info.image.clone(),
            prod_like: self.prod_like,
            findings: report.findings.iter().map(Into::into).collect(),
            ..Default::default()
        };
        crate::report::text::write(&mut io.out, &doc)?;
        Ok(status)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_the_checks_and_says_fips_is_not_checked() {
        use clap::CommandFactory;
        let help = Doctor::command().render_long_help().to_string();
        for id in [
            "missing-library",
            "uid-assumption",
            "healthcheck-cannot-run",
            "missing-tzdata",
            "workdir-not-writable",
            "script-needs-shell",
            "needs-capability",
            "missing-file",
            "unreadable-path",
            "--no-start",
            "fips-algorithm",
        ] {
            assert!(help.contains(id), "{id} not in:\n{help}");
        }
    }
}
