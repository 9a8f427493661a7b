//! `kill [-SIGNAL | -s SIGNAL] PID...`, `kill -l [NUMBER]`.

use std::io::{self, Write};
use std::str::FromStr;

use clap::{ArgAction, Parser};
use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Send a signal to processes (as this shell's identity).
///
/// The signal (default TERM) goes to processes of the target's PID
/// namespace; the kernel allows it only for processes of the same uid.
/// SIGNAL is a name with or without SIG (TERM, SIGKILL) or a
/// number; 0 only checks that the process exists and may be signalled.
/// `kill -l` lists the signals. Process groups (negative pids) are refused.
#[derive(Parser)]
#[command(
    name = "kill",
    disable_version_flag = true,
    disable_help_flag = true,
    override_usage = "kill [-SIGNAL | -s SIGNAL] PID...\n       kill -l [NUMBER]"
)]
pub struct Kill {
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    /// Options and pids.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

/// A signal name (`TERM`, `SIGTERM`, `term`) or number; `Ok(None)` is 0.
pub fn parse_signal(s: &str) -> Result<Option<Signal>, String> {
    if let Ok(n) = s.parse::<i32>() {
        if n == 0 {
            return Ok(None);
        }
        return Signal::try_from(n)
            .map(Some)
            .map_err(|_| format!("{n}: invalid signal number"));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    let name = match name.as_str() {
        "SIGPOLL" => "SIGIO",
        "SIGCLD" => "SIGCHLD",
        "SIGIOT" => "SIGABRT",
        n => n,
    };
    Signal::from_str(name)
        .map(Some)
        .map_err(|_| format!("{s}: invalid signal name (`kill -l` lists them)"))
}

fn short(sig: Signal) -> &'static str {
    sig.as_str().trim_start_matches("SIG")
}

/// Why the kernel refused: the target's uid against ours.
fn eperm_reason(ctx: &Ctx, pid: i32) -> String {
    let me = nix::unistd::geteuid();
    match ctx.proc.status(pid) {
        Ok(st) => format!(
            "pid {pid} runs as uid {} ({}); this shell is uid {me} with no capabilities",
            st.uid[0],
            crate::term::escape::field(ctx.user_name(st.uid[0]).as_bytes())
        ),
        Err(_) => format!("this shell is uid {me} with no capabilities"),
    }
}

impl Builtin for Kill {
    const NAME: &'static str = "kill";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut args = self.args.iter().peekable();
        let mut signal = Some(Signal::SIGTERM);
        match args.peek().map(|s| s.as_str()) {
            Some("-l" | "-L" | "--list") => {
                args.next();
                if let Some(n) = args.next() {
                    return match parse_signal(n) {
                        Ok(Some(s)) => {
                            writeln!(io.out, "{}", short(s))?;
                            Ok(0)
                        }
                        _ => {
                            writeln!(io.err, "kill: {n}: invalid signal")?;
                            Ok(1)
                        }
                    };
                }
                for s in Signal::iterator() {
                    writeln!(io.out, "{:>2} {}", s as i32, short(s))?;
                }
                return Ok(0);
            }
            Some("-s") => {
                args.next();
                let Some(name) = args.next() else {
                    writeln!(io.err, "kill: -s needs a signal name")?;
                    return Ok(2);
                };
                match parse_signal(name) {
                    Ok(s) => signal = s,
                    Err(e) => {
                        writeln!(io.err, "kill: {e}")?;
                        return Ok(2);
                    }
                }
            }
            Some("--") => {
                args.next();
            }
            Some(a) if a.starts_with('-') && a.len() > 1 => {
                args.next();
                match parse_signal(&a[1..]) {
                    Ok(s) => signal = s,
                    Err(e) => {
                        writeln!(io.err, "kill: {e}")?;
                        return Ok(2);
                    }
                }
            }
            _ => {}
        }
        if args.peek().is_some_and(|a| *a == "--") {
            args.next();
        }
        let pids: Vec<&String> = args.collect();
        if pids.is_empty() {
            writeln!(io.err, "kill: usage: kill [-SIGNAL | -s SIGNAL] PID...")?;
            return Ok(2);
        }
        let mut status = 0;
        for p in pids {
            let pid: i32 = match p.parse() {
                Ok(n) if n > 0 => n,
                _ => {
                    writeln!(
                        io.err,
                        "kill: {}: not a process id (process groups are not supported)",
                        crate::term::escape::field(p.as_bytes())
                    )?;
                    status = 1;
                    continue;
                }
            };
            match nix::sys::signal::kill(Pid::from_raw(pid), signal) {
                Ok(()) => {}
                Err(Errno::EPERM) => {
                    writeln!(
                        io.err,
                        "kill: ({pid}) - Operation not permitted: {}",
                        eperm_reason(ctx, pid)
                    )?;
                    status = 1;
                }
                Err(Errno::ESRCH) => {
                    writeln!(io.err, "kill: ({pid}) - No such process")?;
                    status = 1;
                }
                Err(e) => {
                    writeln!(io.err, "kill: ({pid}) - {}", e.desc())?;
                    status = 1;
                }
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_parse_with_or_without_sig_and_as_numbers() {
        assert_eq!(parse_signal("TERM"), Ok(Some(Signal::SIGTERM)));
        assert_eq!(parse_signal("SIGKILL"), Ok(Some(Signal::SIGKILL)));
        assert_eq!(parse_signal("hup"), Ok(Some(Signal::SIGHUP)));
        assert_eq!(parse_signal("9"), Ok(Some(Signal::SIGKILL)));
        assert_eq!(parse_signal("0"), Ok(None));
        assert_eq!(parse_signal("POLL"), Ok(Some(Signal::SIGIO)));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("99").is_err());
    }

    fn kill(args: &[&str]) -> (String, String, i32) {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut argv = vec!["kill".to_string()];
        argv.extend(args.iter().map(|s| s.to_string()));
        let mut io = Io::buffers(b"");
        let st = (super::super::find("kill").unwrap().run)(&argv, &mut io, &mut ctx);
        (io.out_text(), io.err_text(), st)
    }

    #[test]
    fn kill_zero_checks_a_process_and_lists_signals() {
        let me = std::process::id().to_string();
        assert_eq!(kill(&["-0", &me]).2, 0);
        assert_eq!(kill(&["-s", "0", &me]).2, 0);
        let (_, err, st) = kill(&["-0", "999999999"]);
        assert_eq!(
            (err.as_str(), st),
            ("kill: (999999999) - No such process\n", 1)
        );
        let (out, _, _) = kill(&["-l"]);
        assert!(
            out.contains(" 9 KILL\n") && out.contains("15 TERM\n"),
            "{out}"
        );
        assert_eq!(kill(&["-l", "15"]).0, "TERM\n");
        assert_eq!(kill(&["-BOGUS", "1"]).2, 2);
        let (_, err, st) = kill(&["-9", "-1"]);
        assert_eq!(st, 1);
        assert!(err.contains("process groups are not supported"), "{err}");
    }
}
