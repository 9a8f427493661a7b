//! `echo [-n] [-e] WORDS`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Print the arguments, separated by spaces.
#[derive(Parser)]
#[command(name = "echo", disable_version_flag = true, allow_hyphen_values = true)]
pub struct Echo {
    /// Do not print the trailing newline.
    #[arg(short = 'n')]
    no_newline: bool,
    /// Interpret backslash escapes (\n, \t, \\, \e).
    #[arg(short = 'e')]
    escapes: bool,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    words: Vec<String>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('e') => out.push('\x1b'),
            Some('\\') => out.push('\\'),
            Some('0') => out.push('\0'),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// A word as a terminal may show it: its control characters (a glob
/// brings the target's file names, `$VAR` its environment) escaped, in a
/// form `-e` leaves alone (`\x1b`, never `\e`), so only the escapes the user
/// typed are interpreted.
fn shown(word: &str) -> String {
    if escape::is_plain(word) {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 8);
    for c in word.chars() {
        match c {
            '\x1b' => out.push_str("\\x1b"),
            '\n' | '\t' => out.push(c),
            c => out.push_str(&escape::field(c.encode_utf8(&mut [0; 4]).as_bytes())),
        }
    }
    out
}

impl Builtin for Echo {
    const NAME: &'static str = "echo";
    fn run(self, io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        let words: Vec<String> = if io.out.is_terminal() {
            self.words.iter().map(|w| shown(w)).collect()
        } else {
            self.words
        };
        let mut text = words.join(" ");
        if self.escapes {
            text = unescape(&text);
        }
        if !self.no_newline {
            text.push('\n');
        }
        io.out.write_all(text.as_bytes())?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_from_the_target_are_escaped_in_a_form_e_keeps() {
        assert_eq!(shown("plain é"), "plain é");
        assert_eq!(shown("a\x1b]0;t\x07\u{202e}"), "a\\x1b]0;t\\x07\\u{202e}");
        // -e interprets what the user typed, not what the word held.
        assert_eq!(unescape(&shown("\x1b[2J")), "\\x1b[2J");
        assert_eq!(unescape("\\e[1m"), "\x1b[1m");
    }
}
