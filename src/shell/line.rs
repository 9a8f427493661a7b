//! Reading command lines: rustyline with completion when stdin and stdout are
//! terminals, plain lines otherwise (no prompt, so piped output stays clean).
//! History is kept in memory only: the shell writes nothing to the target.

use std::io::BufRead;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Editor, Helper};

use super::Ctx;
use crate::builtins;

pub enum Input {
    Line(String),
    Interrupted,
    Eof,
    Error(String),
}

pub enum Reader {
    Editor(Box<Editor<Completion, DefaultHistory>>),
    Plain,
}

impl Reader {
    pub fn new(interactive: bool, ctx: &Ctx) -> Reader {
        if interactive {
            let config = Config::builder().auto_add_history(true).build();
            if let Ok(mut ed) = Editor::with_config(config) {
                ed.set_helper(Some(Completion::from(ctx)));
                return Reader::Editor(Box::new(ed));
            }
        }
        Reader::Plain
    }

    pub fn read_line(&mut self, prompt: &str, ctx: &Ctx) -> Input {
        match self {
            Reader::Editor(ed) => {
                ed.set_helper(Some(Completion::from(ctx)));
                match ed.readline(prompt) {
                    Ok(l) => Input::Line(l),
                    Err(ReadlineError::Interrupted) => Input::Interrupted,
                    Err(ReadlineError::Eof) => Input::Eof,
                    Err(e) => Input::Error(e.to_string()),
                }
            }
            Reader::Plain => {
                let mut line = String::new();
                match std::io::stdin().lock().read_line(&mut line) {
                    Ok(0) => Input::Eof,
                    Ok(_) => Input::Line(line.trim_end_matches(['\n', '\r']).to_string()),
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        Input::Line(String::new())
                    }
                    Err(e) => Input::Error(e.to_string()),
                }
            }
        }
    }
}

/// Completes builtin names in command position and target paths elsewhere.
pub struct Completion {
    ctx: Ctx,
}

impl From<&Ctx> for Completion {
    fn from(ctx: &Ctx) -> Self {
        Completion { ctx: ctx.clone() }
    }
}

/// Start of the word under the cursor and whether it is the command word.
fn word_at(line: &str, pos: usize) -> (usize, bool) {
    let before = &line[..pos];
    let start = before
        .rfind(|c: char| c.is_whitespace() || matches!(c, ';' | '|' | '&' | '<' | '>'))
        .map_or(0, |i| i + 1);
    let prefix = before[..start].trim_end();
    let command = prefix.is_empty() || prefix.ends_with([';', '|', '&']);
    (start, command)
}

impl Completion {
    fn paths(&self, word: &str) -> Vec<Pair> {
        let (dir, partial) = match word.rfind('/') {
            Some(i) => (&word[..=i], &word[i + 1..]),
            None => ("", word),
        };
        let real = self.ctx.resolve(if dir.is_empty() { "." } else { dir });
        let Ok(entries) = std::fs::read_dir(real) else {
            return Vec::new();
        };
        let mut out: Vec<Pair> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().into_string().ok()?;
                if !name.starts_with(partial)
                    || (name.starts_with('.') && !partial.starts_with('.'))
                {
                    return None;
                }
                // Names with control characters or bidi overrides are not
                // offered: completing them would put them raw on the line.
                if !crate::term::escape::is_plain(&name) {
                    return None;
                }
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                let replacement = format!("{dir}{name}{}", if is_dir { "/" } else { "" });
                Some(Pair {
                    display: format!("{name}{}", if is_dir { "/" } else { "" }),
                    replacement,
                })
            })
            .collect();
        out.sort_by(|a, b| a.display.cmp(&b.display));
        out
    }
}

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, command) = word_at(line, pos);
        let word = &line[start..pos];
        if command && !word.contains('/') {
            let brought = self.ctx.tools.iter().flat_map(|b| b.manifest.tools.iter());
            let mut names: Vec<&str> = builtins::table()
                .iter()
                .map(|b| b.name)
                .chain(brought.map(|t| t.name.as_str()))
                .filter(|n| n.starts_with(word))
                .collect();
            names.sort_unstable();
            names.dedup();
            let names = names
                .into_iter()
                .map(|n| Pair {
                    display: n.to_string(),
                    replacement: format!("{n} "),
                })
                .collect();
            return Ok((start, names));
        }
        Ok((start, self.paths(word)))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_position_is_detected() {
        assert_eq!(word_at("l", 1), (0, true));
        assert_eq!(word_at("ls /et", 6), (3, false));
        assert_eq!(word_at("ls | gr", 7), (5, true));
        assert_eq!(word_at("true && wh", 10), (8, true));
    }

    #[test]
    fn names_that_would_put_controls_or_bidi_overrides_on_the_line_are_not_offered() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["plain.txt", "pl\u{202e}txt.exe", "pl\x1b[2J"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let ctx = Ctx::for_root(dir.path().to_path_buf());
        let offered: Vec<String> = Completion::from(&ctx)
            .paths("/pl")
            .into_iter()
            .map(|p| p.replacement)
            .collect();
        assert_eq!(offered, ["/plain.txt"]);
    }
}
