//! The local terminal: raw mode restored on every exit path (panics too),
//! its size, and stdin read on a thread of its own.

use std::io::Read;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::error::HostError;

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

/// The terminal's (columns, rows), if stdout or stdin is a terminal.
pub fn size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .filter(|&(c, r)| c > 0 && r > 0)
}

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
