//! A program on a pseudo-terminal, as a person at a terminal runs it: keys
//! go in through the master side, the screen is everything read from it.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pty {
    pub master: std::fs::File,
    /// Kept open so the terminal outlives a quick child.
    slave: OwnedFd,
    pub child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
}

#[allow(
    dead_code,
    reason = "each test file that includes this uses only some methods"
)]
impl Pty {
    /// Start `cmd` with the pty as its stdin, stdout, stderr and controlling
    /// terminal, `cols` x `rows`.
    pub fn spawn(mut cmd: Command, cols: u16, rows: u16) -> Pty {
        let pty = nix::pty::openpty(None, None).unwrap();
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .unwrap();
        }
        let master = std::fs::File::from(pty.master);
        set_size(&master, cols, rows);
        let slave = pty.slave;
        // NOSH_TEST_PTY_LOG=FILE sends stderr there, out of the screen, to
        // read a failing session's log.
        cmd.env("TERM", "xterm")
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(match std::env::var_os("NOSH_TEST_PTY_LOG") {
                Some(log) => Stdio::from(std::fs::File::create(log).unwrap()),
                None => Stdio::from(slave.try_clone().unwrap()),
            });
        // SAFETY: only async-signal-safe calls (setsid, ioctl) run between
        // fork and exec; they make the pty the controlling terminal, so
        // that resizes send the child SIGWINCH.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            master,
            slave,
            child,
            screen,
        }
    }

    /// Type `text` in one write, as a paste or typed-ahead keys arrive.
    pub fn send(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Everything shown so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Wait until the screen, from `from` on, contains `what`; returns the
    /// offset after it.
    pub fn expect(&self, what: &str, from: usize) -> usize {
        let start = Instant::now();
        loop {
            {
                let screen = self.screen.lock().unwrap();
                let text = String::from_utf8_lossy(&screen[from.min(screen.len())..]).into_owned();
                if let Some(at) = text.find(what) {
                    return from + at + what.len();
                }
                assert!(
                    start.elapsed() < Duration::from_secs(15),
                    "never saw {what:?}; screen:\n{text}"
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The terminal's settings, as the child left them.
    pub fn termios(&self) -> nix::sys::termios::Termios {
        nix::sys::termios::tcgetattr(&self.slave).unwrap()
    }

    /// The child's exit status, or a failure (the child killed) after `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("still running after {limit:?}; screen:\n{}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn set_size(master: &std::fs::File, cols: u16, rows: u16) {
    nosh::sys::set_window_size(master.as_fd(), cols, rows).expect("TIOCSWINSZ");
}
