//! `help`.

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, table};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// List the builtins. Every builtin answers --help.
///
/// Each builtin is listed with the first sentence of its description,
/// wrapped to the terminal's width ($COLUMNS, else 80).
#[derive(Parser)]
#[command(name = "help", disable_version_flag = true)]
pub struct Help {
    /// Show the --help of this builtin.
    builtin: Option<String>,
}

/// The first sentence of a description: up to the first `. `, or the first
/// `: ` or `; ` outside parentheses (what follows them is a list of
/// details), without the final period.
pub fn first_sentence(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    for (i, &b) in bytes.iter().enumerate() {
        let next_is_space = bytes.get(i + 1).is_none_or(|c| c.is_ascii_whitespace());
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'.' if next_is_space && bytes.get(i + 1).is_some() => return &text[..i],
            b':' | b';' if depth <= 0 && next_is_space => return &text[..i],
            _ => {}
        }
    }
    text.trim_end_matches('.')
}

/// Words of `text` in lines of at most `width` columns (a word longer than
/// that stands alone on its line).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The listing for a terminal `width` columns wide.
fn listing(width: usize) -> String {
    let name_width = table().iter().map(|e| e.name.len()).max().unwrap_or(0);
    let indent = 2 + name_width + 2;
    // A very narrow terminal still gets readable lines: let them wrap.
    let text_width = width.saturating_sub(indent).max(24);
    let mut out = String::new();
    for e in table() {
        let about = (e.about)();
        for (i, line) in wrap(first_sentence(&about), text_width).iter().enumerate() {
            let name = if i == 0 { e.name } else { "" };
            out.push_str(&format!("  {name:name_width$}  {line}\n"));
        }
    }
    out
}

impl Builtin for Help {
    const NAME: &'static str = "help";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        if let Some(name) = self.builtin {
            return match super::find(&name) {
                Some(e) => Ok((e.run)(&[name, "--help".into()], io, ctx)),
                None => {
                    writeln!(
                        io.err,
                        "help: no builtin named {}",
                        crate::term::escape::field(name.as_bytes())
                    )?;
                    Ok(1)
                }
            };
        }
        let width = ctx
            .var("COLUMNS")
            .parse()
            .ok()
            .filter(|w| *w > 0)
            .unwrap_or(80);
        writeln!(
            io.out,
            "nosh builtins (run as the target's identity; `NAME --help` for details):"
        )?;
        io.out.write_all(listing(width).as_bytes())?;
        writeln!(
            io.out,
            "Grammar: 'quotes' \"quotes\" \\escapes $VAR globs ; && || | > >> < 2> 2>&1"
        )?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentence_stops_at_the_period_or_the_list() {
        assert_eq!(first_sentence("List things. Then more."), "List things");
        assert_eq!(first_sentence("Do it."), "Do it");
        assert_eq!(first_sentence("Version 1.2 is here"), "Version 1.2 is here");
        assert_eq!(
            first_sentence("Decode sets (default: self; or pid): a, b, c"),
            "Decode sets (default: self; or pid)"
        );
        assert_eq!(first_sentence("Check x: a, b"), "Check x");
    }

    #[test]
    fn wrap_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn help_lines_fit_80_and_120_columns_with_one_sentence_each() {
        for width in [80, 120] {
            let text = listing(width);
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
            }
            for e in table() {
                assert!(
                    text.lines()
                        .any(|l| l.split_whitespace().next() == Some(e.name)),
                    "{} is missing",
                    e.name
                );
            }
            // caps' description goes on to list every set; only its first
            // sentence is shown.
            assert!(!text.contains("bounding"), "{text}");
            assert!(text.contains("Decode the capability sets of a process"));
        }
    }
}
