//! `echo [-n] [-e] WORDS`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

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

impl Builtin for Echo {
    const NAME: &'static str = "echo";
    fn run(self, io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        let mut text = self.words.join(" ");
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
