//! `caps [PID]`.

use std::io::{self, Write};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procinfo::cap_names;

/// Decode the capability sets of a process (default: the target's main
/// process; `self` for this shell): effective, permitted, inheritable,
/// bounding, ambient, plus no_new_privs and the seccomp mode.
///
/// JSON (--json): {pid, effective, permitted, inheritable, bounding, ambient
/// (arrays of names), no_new_privs, seccomp ("disabled", "strict", "filter")}.
#[derive(Parser)]
#[command(name = "caps", disable_version_flag = true)]
pub struct Caps {
    /// A pid, or `self`.
    pid: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    pid: i32,
    effective: Vec<String>,
    permitted: Vec<String>,
    inheritable: Vec<String>,
    bounding: Vec<String>,
    ambient: Vec<String>,
    no_new_privs: bool,
    seccomp: &'static str,
}

impl Builtin for Caps {
    const NAME: &'static str = "caps";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let pid = match self.pid.as_deref() {
            None => ctx.target_pid,
            Some("self") => std::process::id() as i32,
            Some(p) => match p.parse() {
                Ok(p) => p,
                Err(_) => {
                    writeln!(
                        io.err,
                        "caps: not a pid: {}",
                        crate::term::escape::field(p.as_bytes())
                    )?;
                    return Ok(2);
                }
            },
        };
        let st = match ctx.proc.status(pid) {
            Ok(st) => st,
            Err(e) => {
                writeln!(io.err, "caps: pid {pid}: {}", util::io_error(&e))?;
                return Ok(1);
            }
        };
        let row = Row {
            pid,
            effective: cap_names(st.cap_eff),
            permitted: cap_names(st.cap_prm),
            inheritable: cap_names(st.cap_inh),
            bounding: cap_names(st.cap_bnd),
            ambient: cap_names(st.cap_amb),
            no_new_privs: st.no_new_privs,
            seccomp: match st.seccomp {
                0 => "disabled",
                1 => "strict",
                _ => "filter",
            },
        };
        if self.json {
            util::write_json(&mut io.out, &row)?;
            return Ok(0);
        }
        let show = |v: &[String]| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join(" ").to_lowercase().replace("cap_", "")
            }
        };
        writeln!(
            io.out,
            "pid {pid} ({}) uid {}",
            crate::term::escape::field(st.name.as_bytes()),
            st.uid[1]
        )?;
        for (name, set) in [
            ("effective", &row.effective),
            ("permitted", &row.permitted),
            ("inheritable", &row.inheritable),
            ("bounding", &row.bounding),
            ("ambient", &row.ambient),
        ] {
            writeln!(io.out, "  {name:<12} {}", show(set))?;
        }
        writeln!(
            io.out,
            "  no_new_privs {}",
            if row.no_new_privs { "yes" } else { "no" }
        )?;
        writeln!(io.out, "  seccomp      {}", row.seccomp)?;
        Ok(0)
    }
}
