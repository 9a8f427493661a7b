//! `--color auto|always|never`, and `NO_COLOR` (<https://no-color.org>):
//! `auto` colours only a terminal and not when `NO_COLOR` is set to
//! anything non-empty; `always` and `never` win over both.
//!
//! The choice is needed before clap parses (clap's own help and errors are
//! coloured), so [`take`] finds the flag in the raw arguments and removes it:
//! `nosh --color never doctor T` would otherwise be a top-level option in
//! front of a subcommand, which the CLI's grammar refuses. clap still
//! declares it, for `--help`, completions and `nosh gc --color never`.

use std::ffi::OsString;
use std::sync::OnceLock;

use clap::ValueEnum;

/// When to colour output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum When {
    /// On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    Always,
    Never,
}

static CHOSEN: OnceLock<When> = OnceLock::new();

/// Takes every `--color WHEN` and `--color=WHEN` before `--` out of `args`
/// and returns the last value. A value clap would refuse is left in place
/// for clap to report.
pub fn take(args: &mut Vec<OsString>) -> Option<When> {
    let mut found = None;
    let mut i = 1;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        if arg == "--" {
            break;
        }
        let (value, width) = match arg.strip_prefix("--color") {
            Some("") => (args.get(i + 1).and_then(|v| v.to_str()), 2),
            Some(v) => (v.strip_prefix('='), 1),
            None => (None, 1),
        };
        match value.and_then(|v| When::from_str(v, true).ok()) {
            Some(when) => {
                found = Some(when);
                args.drain(i..i + width);
            }
            None => i += 1,
        }
    }
    found
}

/// `auto` with `NO_COLOR` set becomes `never`.
pub fn resolve(flag: Option<When>, no_color: Option<&str>) -> When {
    match flag.unwrap_or_default() {
        When::Auto if no_color.is_some_and(|v| !v.is_empty()) => When::Never,
        when => when,
    }
}

/// Takes `--color` out of `args` ([`take`]) and records the choice for the
/// rest of the process; returns it.
pub fn init(args: &mut Vec<OsString>) -> When {
    let no_color = std::env::var("NO_COLOR").ok();
    let when = resolve(take(args), no_color.as_deref());
    *CHOSEN.get_or_init(|| when)
}

/// The same choice for clap.
pub fn clap_choice(when: When) -> clap::ColorChoice {
    match when {
        When::Auto => clap::ColorChoice::Auto,
        When::Always => clap::ColorChoice::Always,
        When::Never => clap::ColorChoice::Never,
    }
}

/// Whether to colour what goes to stderr.
pub fn stderr() -> bool {
    use std::io::IsTerminal;
    match CHOSEN.get().copied().unwrap_or_default() {
        When::Always => true,
        When::Never => false,
        When::Auto => std::io::stderr().is_terminal(),
    }
}

/// `text` in bold red when `on`.
pub fn error(text: &str, on: bool) -> String {
    if on {
        format!("\x1b[1;31m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn taken(args: &[&str]) -> (Option<When>, Vec<OsString>) {
        let mut args = os(args);
        (take(&mut args), args)
    }

    #[test]
    fn the_flag_is_taken_out_in_both_spellings_and_the_last_one_wins() {
        assert_eq!(
            taken(&["nosh", "--color", "never", "doctor", "app"]),
            (Some(When::Never), os(&["nosh", "doctor", "app"]))
        );
        assert_eq!(
            taken(&["nosh", "--color=always", "app"]),
            (Some(When::Always), os(&["nosh", "app"]))
        );
        assert_eq!(
            taken(&["nosh", "--color=always", "gc", "--color", "never"]).0,
            Some(When::Never)
        );
    }

    #[test]
    fn words_after_double_dash_and_bad_values_are_left_alone() {
        let args = ["nosh", "app", "--", "--color=never"];
        assert_eq!(taken(&args), (None, os(&args)));
        let args = ["nosh", "--color=purple", "app"];
        assert_eq!(taken(&args), (None, os(&args)));
    }

    #[test]
    fn no_color_turns_auto_off_but_not_always() {
        assert_eq!(resolve(None, Some("1")), When::Never);
        assert_eq!(resolve(None, Some("")), When::Auto);
        assert_eq!(resolve(Some(When::Always), Some("1")), When::Always);
        assert_eq!(resolve(None, None), When::Auto);
    }
}
