//! `sleep NUMBER[SUFFIX]...`.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Pause for the sum of the given times, as GNU sleep does.
///
/// NUMBER may be fractional (0.5); SUFFIX is s (seconds, the default), m
/// (minutes), h (hours) or d (days). Ctrl-C ends the pause (status 130).
#[derive(Parser)]
#[command(name = "sleep", disable_version_flag = true)]
pub struct Sleep {
    /// Times to pause, added up.
    #[arg(required = true, value_name = "NUMBER[SUFFIX]")]
    times: Vec<String>,
}

/// Seconds in `1.5m`, `2`, `0.25s`.
pub fn parse_duration(s: &str) -> Option<f64> {
    let (num, mult) = match s.as_bytes().last()? {
        b's' => (&s[..s.len() - 1], 1.0),
        b'm' => (&s[..s.len() - 1], 60.0),
        b'h' => (&s[..s.len() - 1], 3600.0),
        b'd' => (&s[..s.len() - 1], 86_400.0),
        _ => (s, 1.0),
    };
    // Digits and one point only: no "inf", "nan" or exponents.
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    Some(v * mult)
}

impl Builtin for Sleep {
    const NAME: &'static str = "sleep";
    fn run(self, io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        let mut total = 0.0;
        for t in &self.times {
            match parse_duration(t) {
                Some(s) => total += s,
                None => {
                    writeln!(
                        io.err,
                        "sleep: invalid time interval `{}' (a number, then s, m, h or d)",
                        crate::term::escape::field(t.as_bytes())
                    )?;
                    return Ok(2);
                }
            }
        }
        let end = Instant::now() + Duration::try_from_secs_f64(total).unwrap_or(Duration::MAX);
        // Short naps, so Ctrl-C (which only sets a flag) ends it at once.
        loop {
            if crate::shell::interrupted() {
                return Ok(130);
            }
            let now = Instant::now();
            if now >= end {
                return Ok(0);
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_parsed_like_gnu_sleep() {
        assert_eq!(parse_duration("2"), Some(2.0));
        assert_eq!(parse_duration("0.5"), Some(0.5));
        assert_eq!(parse_duration("1.5m"), Some(90.0));
        assert_eq!(parse_duration("1h"), Some(3600.0));
        assert_eq!(parse_duration("1d"), Some(86_400.0));
        assert_eq!(parse_duration("inf"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("1e3"), None);
    }

    #[test]
    fn sleep_waits_the_sum_and_rejects_nonsense() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let run = |ctx: &mut Ctx, args: &[&str]| {
            let mut argv = vec!["sleep".to_string()];
            argv.extend(args.iter().map(|s| s.to_string()));
            let mut io = Io::buffers(b"");
            let st = (super::super::find("sleep").unwrap().run)(&argv, &mut io, ctx);
            (st, io.err_text())
        };
        let started = Instant::now();
        assert_eq!(run(&mut ctx, &["0.1", "0.1s"]).0, 0);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
        let (st, err) = run(&mut ctx, &["x"]);
        assert_eq!(st, 2);
        assert!(err.starts_with("sleep: invalid time interval `x'"), "{err}");
    }
}
