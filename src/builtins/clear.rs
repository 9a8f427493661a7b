//! `clear`.

use std::io::{self, Write};

use clap::Parser;

use super::Builtin;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Clear the terminal screen and its scrollback.
///
/// Writes the ANSI sequences every terminal nosh attaches to understands
/// (cursor home, erase display, erase scrollback), as `clear` does for
/// xterm; the toolbox has no terminfo database to look them up in.
#[derive(Parser)]
#[command(name = "clear", disable_version_flag = true)]
pub struct Clear {
    /// Keep the scrollback (erase only the visible screen).
    #[arg(short = 'x')]
    keep_scrollback: bool,
}

/// Cursor home, erase the screen.
const CLEAR_SCREEN: &[u8] = b"\x1b[H\x1b[2J";
/// Erase the scrollback (xterm's E3).
const CLEAR_SCROLLBACK: &[u8] = b"\x1b[3J";

impl Builtin for Clear {
    const NAME: &'static str = "clear";
    fn run(self, io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        io.out.write_all(CLEAR_SCREEN)?;
        if !self.keep_scrollback {
            io.out.write_all(CLEAR_SCROLLBACK)?;
        }
        io.out.flush()?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_writes_home_erase_and_scrollback_erase() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = Ctx::for_root(dir.path().to_path_buf());
        let mut io = Io::buffers(b"");
        let st = (super::super::find("clear").unwrap().run)(&["clear".into()], &mut io, &mut ctx);
        assert_eq!((io.out_text().as_str(), st), ("\x1b[H\x1b[2J\x1b[3J", 0));
        let mut io = Io::buffers(b"");
        (super::super::find("clear").unwrap().run)(
            &["clear".into(), "-x".into()],
            &mut io,
            &mut ctx,
        );
        assert_eq!(io.out_text(), "\x1b[H\x1b[2J");
    }
}
