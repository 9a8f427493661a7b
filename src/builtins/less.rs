//! `less [FILE]` (also `more`): a forward pager.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::os::fd::BorrowedFd;

use clap::Parser;

use super::{Builtin, cat, util};
use crate::shell::Ctx;
use crate::shell::io::{Io, Source};
use crate::term::escape;

/// Show a file or piped output one screenful at a time (`ps | less`).
///
/// Keys: space or f shows the next page, Enter or j the next line, q
/// leaves (so does Ctrl-C). The pager goes forward only and quits at the
/// end of the input, holding one line at a time. Whenever the output
/// reaches a terminal, control characters are shown escaped, paging or not
/// (without a keyboard to read keys from, the input is shown whole). When
/// the output is not a terminal, the input is copied through unchanged.
#[derive(Parser)]
#[command(name = "less", disable_version_flag = true)]
pub struct Less {
    /// File to show (default: what is piped in).
    file: Option<String>,
}

/// A key, as the pager understands it.
#[derive(Debug, PartialEq, Eq)]
pub enum Key {
    Page,
    Line,
    Quit,
    Other,
}

/// The first key in the bytes one read of the terminal returned.
pub fn key(bytes: &[u8]) -> Key {
    match bytes {
        [b'q' | b'Q', ..] | [3, ..] => Key::Quit,
        [b' ' | b'f', ..] | [b'\x1b', b'[', b'6', b'~', ..] | [6, ..] => Key::Page,
        [b'\r' | b'\n' | b'j', ..] | [b'\x1b', b'[', b'B', ..] | [b'\x1b', b'O', b'B', ..] => {
            Key::Line
        }
        _ => Key::Other,
    }
}

/// The terminal in non-canonical mode without echo, restored on drop.
/// Signals stay on: Ctrl-C still interrupts.
pub struct RawKeys {
    saved: nix::sys::termios::Termios,
}

impl RawKeys {
    pub fn new() -> io::Result<RawKeys> {
        use nix::sys::termios::{
            LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr,
        };
        let fd = stdin_fd();
        let saved = tcgetattr(fd).map_err(io::Error::from)?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
        Ok(RawKeys { saved })
    }

    /// Wait up to `ms` for a key; None on timeout or Ctrl-C.
    pub fn read(&self, ms: u16) -> io::Result<Option<Vec<u8>>> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(stdin_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let mut buf = [0u8; 16];
        match nix::unistd::read(stdin_fd(), &mut buf) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => Ok(Some(buf[..n].to_vec())),
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for RawKeys {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        let _ = tcsetattr(stdin_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// The shell's own terminal: keys come from fd 0 even when the pager's
/// input is a pipe (builtins are threads of the shell).
fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) }
}

/// Whether the shell has a keyboard to read keys from.
pub fn have_keyboard() -> bool {
    io::stdin().is_terminal()
}

/// (rows, columns) of the terminal on stdout, else $LINES/$COLUMNS, else 24x80.
pub fn screen_size(ctx: &Ctx) -> (usize, usize) {
    if let Some((rows, cols)) = crate::sys::window_size().filter(|&(r, c)| r > 0 && c > 0) {
        return (rows.into(), cols.into());
    }
    let var = |n: &str, d: usize| ctx.var(n).parse().ok().filter(|v| *v > 0).unwrap_or(d);
    (var("LINES", 24), var("COLUMNS", 80))
}

const PROMPT: &str = "\x1b[7m--More-- (space: page, Enter: line, q: quit)\x1b[27m";

fn page(input: &mut dyn BufRead, io: &mut Io, ctx: &Ctx) -> io::Result<()> {
    let keys = RawKeys::new()?;
    let mut line = Vec::new();
    // Rows the next step may fill: a screenful less the prompt line.
    let mut budget = screen_size(ctx).0.saturating_sub(1).max(1);
    loop {
        let (_, cols) = screen_size(ctx);
        let mut used = 0;
        while used < budget {
            if crate::shell::interrupted() || !util::read_line_capped(input, &mut line)? {
                return Ok(());
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let shown = escape::text(text);
            used += shown.chars().count().div_ceil(cols).max(1);
            io.out.write_all(shown.as_bytes())?;
            io.out.write_all(b"\n")?;
        }
        // Nothing more to show: leave without a prompt.
        if input.fill_buf()?.is_empty() {
            return Ok(());
        }
        io.out.write_all(PROMPT.as_bytes())?;
        io.out.flush()?;
        let next = loop {
            if crate::shell::interrupted() {
                break Key::Quit;
            }
            if let Some(k) = keys.read(100)?
                && key(&k) != Key::Other
            {
                break key(&k);
            }
        };
        io.out.write_all(b"\r\x1b[K")?;
        budget = match next {
            Key::Quit => {
                io.out.flush()?;
                return Ok(());
            }
            Key::Line => 1,
            _ => screen_size(ctx).0.saturating_sub(1).max(1),
        };
    }
}

/// No paging: the whole input, escaped when the output reaches a terminal
/// (stdout a terminal while stdin is not, or the client's terminal behind
/// a session without a TTY), unchanged into a pipe or a file.
fn show_whole(input: &mut dyn BufRead, io: &mut Io) -> io::Result<()> {
    let tty = io.out.is_terminal();
    cat::copy(input, &mut io.out, tty, true).map(|_| ())
}

impl Builtin for Less {
    const NAME: &'static str = "less";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let mut file_input;
        let input: &mut dyn BufRead = match self.file.as_deref() {
            Some(f) if f != "-" => match File::open(ctx.resolve(f)) {
                Ok(file) => {
                    file_input = BufReader::with_capacity(64 * 1024, file);
                    &mut file_input
                }
                Err(e) => {
                    writeln!(
                        io.err,
                        "less: {}: {}",
                        escape::field(f.as_bytes()),
                        util::io_error(&e)
                    )?;
                    return Ok(1);
                }
            },
            _ => {
                if matches!(io.stdin, Source::Stdin(_)) && have_keyboard() {
                    writeln!(io.err, "less: name a file, or pipe into it: ps | less")?;
                    return Ok(2);
                }
                // Moved out while `page` writes to `io`, then put back.
                let mut stdin = std::mem::replace(&mut io.stdin, Source::bytes(Vec::new()));
                let r = if io.out.is_terminal() && have_keyboard() {
                    page(&mut stdin, io, ctx)
                } else {
                    show_whole(&mut stdin, io)
                };
                io.stdin = stdin;
                r?;
                return Ok(0);
            }
        };
        if io.out.is_terminal() && have_keyboard() {
            page(input, io, ctx)?;
        } else {
            show_whole(input, io)?;
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_like_more() {
        assert_eq!(key(b"q"), Key::Quit);
        assert_eq!(key(b"\x03"), Key::Quit);
        assert_eq!(key(b" "), Key::Page);
        assert_eq!(key(b"\x1b[6~"), Key::Page);
        assert_eq!(key(b"\r"), Key::Line);
        assert_eq!(key(b"\x1b[B"), Key::Line);
        assert_eq!(key(b"x"), Key::Other);
        assert_eq!(key(b""), Key::Other);
    }

    #[test]
    fn without_a_terminal_less_copies_its_input() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"a\x1bb\n").unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut io = Io::buffers(b"piped\n");
        let st = (super::super::find("less").unwrap().run)(&["less".into()], &mut io, &mut ctx);
        assert_eq!((io.out_text().as_str(), st), ("piped\n", 0));
        let mut io = Io::buffers(b"");
        let st = (super::super::find("more").unwrap().run)(
            &["more".into(), "/f".into()],
            &mut io,
            &mut ctx,
        );
        assert_eq!((io.out_text().as_str(), st), ("a\x1bb\n", 0));
        let mut io = Io::buffers(b"");
        let st = (super::super::find("less").unwrap().run)(
            &["less".into(), "/none".into()],
            &mut io,
            &mut ctx,
        );
        assert_eq!(st, 1);
        assert_eq!(io.err_text(), "less: /none: No such file or directory\n");
    }
}
