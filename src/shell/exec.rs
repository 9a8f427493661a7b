//! Running a parsed line: and-or lists, pipelines, redirects, builtins.
//!
//! A single command runs on the shell's own thread with the shell's state. A
//! pipeline runs each stage on its own thread with a copy of the state,
//! connected by kernel pipes: output streams (`cat big | head` stops early
//! and holds a pipe's worth of memory, not the file), and a closed pipe ends
//! the writer quietly. Threads are safe here: they start only after the
//! privilege drop and namespace changes, and inherit the dropped credentials.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};

use super::io::{Io, Sink, Source};
use super::parse::{self, AndOr, Command, Connector, Pipeline, RedirectKind};
use super::{Ctx, clear_interrupt, expand};
use crate::builtins;

/// Parse and run one line; returns and records its status.
pub fn run_line(line: &str, ctx: &mut Ctx) -> i32 {
    clear_interrupt();
    let status = match parse::parse(line) {
        Ok(script) => {
            let mut status = ctx.last_status;
            for and_or in &script {
                status = run_and_or(and_or, ctx);
                ctx.last_status = status;
                if ctx.exit_requested.is_some() {
                    break;
                }
            }
            status
        }
        Err(e) => {
            eprintln!("nosh: {e}");
            2
        }
    };
    ctx.last_status = status;
    status
}

fn run_and_or(list: &AndOr, ctx: &mut Ctx) -> i32 {
    let mut status = run_pipeline(&list.first, ctx);
    for (conn, pipeline) in &list.rest {
        if ctx.exit_requested.is_some() {
            break;
        }
        let run = match conn {
            Connector::And => status == 0,
            Connector::Or => status != 0,
        };
        if run {
            ctx.last_status = status;
            status = run_pipeline(pipeline, ctx);
        }
    }
    status
}

fn run_pipeline(pipeline: &Pipeline, ctx: &mut Ctx) -> i32 {
    let stages = &pipeline.0;
    if stages.len() == 1 {
        let io = Io::terminal();
        return run_command(&stages[0], io, ctx);
    }
    // Pipes between stages: stage i writes to pipes[i], stage i+1 reads it.
    let mut pipes = Vec::new();
    for _ in 1..stages.len() {
        match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok((r, w)) => pipes.push((Some(File::from(r)), Some(File::from(w)))),
            Err(e) => {
                eprintln!("nosh: cannot create a pipe: {e}");
                return 1;
            }
        }
    }
    let mut ends = Vec::new();
    for i in 0..stages.len() {
        let input = if i == 0 { None } else { pipes[i - 1].0.take() };
        let output = pipes.get_mut(i).and_then(|p| p.1.take());
        ends.push((input, output));
    }
    let statuses: Vec<i32> = std::thread::scope(|scope| {
        let handles: Vec<_> = stages
            .iter()
            .zip(ends)
            .map(|(cmd, (input, output))| {
                let mut stage_ctx = ctx.clone();
                scope.spawn(move || {
                    let io = Io {
                        stdin: input
                            .map_or_else(Source::stdin, |f| Source::File(BufReader::new(f))),
                        out: output.map_or(Sink::Stdout, Sink::File),
                        err: Sink::Stderr,
                    };
                    run_command(cmd, io, &mut stage_ctx)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(1)).collect()
    });
    statuses.last().copied().unwrap_or(0)
}

/// Open a redirect's file as the shell's identity. Writing happens only
/// because the user typed `>` or `>>`.
fn open_redirect(kind: RedirectKind, path: &str, ctx: &Ctx) -> std::io::Result<File> {
    let real = ctx.resolve(path);
    match kind {
        RedirectKind::Input => File::open(real),
        RedirectKind::Output => OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(real),
        RedirectKind::Append => OpenOptions::new().append(true).create(true).open(real),
        RedirectKind::ErrToOut => unreachable!("2>&1 has no file"),
    }
}

/// Whether a word is a `NAME=value` assignment.
fn assignment(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some((name, value))
}

fn run_command(cmd: &Command, mut io: Io, ctx: &mut Ctx) -> i32 {
    for r in &cmd.redirects {
        if r.kind == RedirectKind::ErrToOut {
            match io.out.try_clone() {
                Ok(out) => io.err = out,
                Err(e) => {
                    eprintln!("nosh: 2>&1: {e}");
                    return 1;
                }
            }
            continue;
        }
        let path = match expand::expand_single(&r.target, ctx) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("nosh: {e}");
                return 1;
            }
        };
        match open_redirect(r.kind, &path, ctx) {
            Ok(f) => match (r.fd, r.kind) {
                (0, _) => io.stdin = Source::File(BufReader::new(f)),
                (2, _) => io.err = Sink::File(f),
                _ => io.out = Sink::File(f),
            },
            Err(e) => {
                eprintln!(
                    "nosh: {}: {} (try `why {} write`)",
                    crate::term::escape::field(path.as_bytes()),
                    crate::builtins::util::io_error(&e),
                    crate::cli::shell_join(std::slice::from_ref(&path))
                );
                return 1;
            }
        }
    }
    let argv = expand::expand_words(&cmd.words, ctx);
    if argv.is_empty() {
        return 0;
    }
    if argv.len() == 1
        && let Some((name, value)) = assignment(&argv[0])
    {
        ctx.vars.insert(name.to_string(), value.to_string());
        return 0;
    }
    // A brought tool takes a builtin's place, but not the shell's own.
    let brought = ctx
        .tools
        .clone()
        .filter(|_| !builtins::SHELL_OWN.contains(&argv[0].as_str()))
        .and_then(|b| Some((b.manifest.find(&argv[0])?.clone(), b)));
    let status = match (brought, builtins::find(&argv[0])) {
        (Some((tool, b)), _) => crate::builtins::tools::run(&b, &tool, &argv, &mut io, ctx),
        (None, Some(entry)) => (entry.run)(&argv, &mut io, ctx),
        (None, None) => {
            let _ = writeln!(
                io.err,
                "nosh: {}: not a builtin{} (nosh runs no program by itself: `run {}` executes one from the target, `nosh TARGET --with {}` brings this host's; `help` lists builtins)",
                crate::term::escape::field(argv[0].as_bytes()),
                builtins::suggest(&argv[0])
                    .map(|b| format!("; did you mean `{b}`?"))
                    .unwrap_or_default(),
                crate::term::escape::field(crate::cli::shell_join(&argv[..1]).as_bytes()),
                crate::term::escape::field(crate::cli::shell_join(&argv[..1]).as_bytes()),
            );
            127
        }
    };
    let _ = io.out.flush();
    let _ = io.err.flush();
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_are_recognised() {
        assert_eq!(assignment("A=1"), Some(("A", "1")));
        assert_eq!(assignment("_x=a=b"), Some(("_x", "a=b")));
        assert_eq!(assignment("1A=1"), None);
        assert_eq!(assignment("--opt=1"), None);
    }
}
