//! The local terminal: raw mode restored on every exit path (panics too),
//! its size, and stdin read on a thread of its own.

use std::io::Read;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use crate::host::error::HostError;

/// Whether raw mode is on, for the panic hook.
static RAW: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Raw mode while alive. Dropping it (or a panic) restores the terminal.
pub struct RawMode(());

impl RawMode {
    pub fn enable() -> Result<RawMode, HostError> {
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                previous(info);
            }));
        });
        crossterm::terminal::enable_raw_mode().map_err(HostError::Terminal)?;
        RAW.store(true, Ordering::SeqCst);
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode if it is on. Safe to call more than once.
pub fn restore() {
    if RAW.swap(false, Ordering::SeqCst) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The terminal's (columns, rows), from the first of stdin, stdout and
/// stderr that is a terminal. (crossterm's `size` would run `tput` when none is.)
pub fn size() -> Option<(u16, u16)> {
    [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO]
        .into_iter()
        .find_map(|fd| {
            let mut ws = libc::winsize {
                ws_row: 0,
                ws_col: 0,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCGWINSZ writes one winsize into the valid `ws`; a
            // descriptor that is not a terminal makes it fail with ENOTTY.
            let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
            (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
        })
}

/// The size given to a TTY forced with `-t` when no local terminal has one:
/// a 0x0 terminal confuses line editors.
pub const DEFAULT_SIZE: (u16, u16) = (80, 24);

/// Reads stdin on a dedicated thread: `tokio::io::stdin` would block the
/// runtime's shutdown while a read is pending. The channel closes at EOF.
pub fn stdin_reader() -> Result<mpsc::Receiver<Vec<u8>>, HostError> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        })
        .map_err(HostError::Terminal)?;
    Ok(rx)
}
