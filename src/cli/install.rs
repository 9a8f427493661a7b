//! What `make install` lays out besides the binary, generated from the clap
//! definitions in [`crate::cli`] so that they never disagree with `--help`:
//! shell completions (`nosh completions bash|zsh|fish`) and the man page
//! (`nosh man`, roff on stdout).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::EXIT_NOSH_FAILED;
use crate::cli::Cli;

/// Writes the completion script for `shell`.
pub fn completions(shell: Shell, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "nosh", out);
    Ok(())
}

/// Writes nosh(1) as roff.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd)
        .title("NOSH")
        .section("1")
        .manual("nosh manual")
        .render(out)
}

/// Runs a writer on stdout; a closed pipe (`nosh man | head`) is not a
/// failure.
pub fn to_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> ExitCode {
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    match write(&mut lock).and_then(|()| lock.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nosh: cannot write to stdout: {e}");
            ExitCode::from(EXIT_NOSH_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(shell: Shell) -> String {
        let mut out = Vec::new();
        completions(shell, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn completions_know_the_subcommands_and_flags() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = completion(shell);
            for word in ["doctor", "context", "toolbox-image"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }

    #[test]
    fn the_man_page_is_roff_naming_the_command() {
        let mut out = Vec::new();
        man_page(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH NOSH 1"),
            "{page}"
        );
        assert!(page.contains(".SH NAME"));
        assert!(page.contains("debug shell for containers"));
    }
}
