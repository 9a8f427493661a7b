//! Where a builtin reads and writes: the terminal, a file (redirect), a pipe
//! to the next builtin, or a buffer (tests).

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;

/// A builtin's input.
pub enum Source {
    Stdin(io::StdinLock<'static>),
    File(BufReader<File>),
    Bytes(io::Cursor<Vec<u8>>),
}

impl Source {
    pub fn stdin() -> Source {
        Source::Stdin(io::stdin().lock())
    }

    pub fn bytes(b: impl Into<Vec<u8>>) -> Source {
        Source::Bytes(io::Cursor::new(b.into()))
    }

    /// The same input for a child process.
    pub fn stdio(&self) -> io::Result<Stdio> {
        Ok(match self {
            Source::Stdin(_) => Stdio::inherit(),
            Source::File(f) => Stdio::from(f.get_ref().try_clone()?),
            Source::Bytes(_) => Stdio::null(),
        })
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Stdin(s) => s.read(buf),
            Source::File(f) => f.read(buf),
            Source::Bytes(c) => c.read(buf),
        }
    }
}

impl BufRead for Source {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Source::Stdin(s) => s.fill_buf(),
            Source::File(f) => f.fill_buf(),
            Source::Bytes(c) => c.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            Source::Stdin(s) => s.consume(amt),
            Source::File(f) => f.consume(amt),
            Source::Bytes(c) => c.consume(amt),
        }
    }
}

/// A builtin's output.
pub enum Sink {
    Stdout,
    Stderr,
    File(File),
    Buffer(Vec<u8>),
}

impl Sink {
    /// Whether this output reaches a terminal (escaping, colours, binary
    /// refusal depend on it).
    pub fn is_terminal(&self) -> bool {
        match self {
            Sink::Stdout => crate::term::escape::stdout_reaches_terminal(),
            Sink::Stderr => crate::term::escape::stderr_reaches_terminal(),
            Sink::File(f) => f.is_terminal(),
            Sink::Buffer(_) => false,
        }
    }

    /// The same output for a child process.
    pub fn stdio(&mut self) -> io::Result<Stdio> {
        self.flush()?;
        Ok(match self {
            Sink::Stdout => Stdio::inherit(),
            Sink::Stderr => Stdio::from(io::stderr().as_fd().try_clone_to_owned()?),
            Sink::File(f) => Stdio::from(f.try_clone()?),
            Sink::Buffer(_) => Stdio::piped(),
        })
    }

    pub fn try_clone(&self) -> io::Result<Sink> {
        Ok(match self {
            Sink::Stdout => Sink::Stdout,
            Sink::Stderr => Sink::Stderr,
            Sink::File(f) => Sink::File(f.try_clone()?),
            Sink::Buffer(_) => Sink::Buffer(Vec::new()),
        })
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout => io::stdout().write(buf),
            Sink::Stderr => io::stderr().write(buf),
            Sink::File(f) => f.write(buf),
            Sink::Buffer(v) => v.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout => io::stdout().write_all(buf),
            Sink::Stderr => io::stderr().write_all(buf),
            Sink::File(f) => f.write_all(buf),
            Sink::Buffer(v) => v.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout => io::stdout().flush(),
            Sink::Stderr => io::stderr().flush(),
            Sink::File(f) => f.flush(),
            Sink::Buffer(_) => Ok(()),
        }
    }
}

/// The three streams of one builtin invocation.
pub struct Io {
    pub stdin: Source,
    pub out: Sink,
    pub err: Sink,
}

impl Io {
    pub fn terminal() -> Io {
        Io {
            stdin: Source::stdin(),
            out: Sink::Stdout,
            err: Sink::Stderr,
        }
    }

    /// Buffers only: for tests.
    pub fn buffers(stdin: &[u8]) -> Io {
        Io {
            stdin: Source::bytes(stdin),
            out: Sink::Buffer(Vec::new()),
            err: Sink::Buffer(Vec::new()),
        }
    }

    pub fn out_text(&self) -> String {
        match &self.out {
            Sink::Buffer(v) => String::from_utf8_lossy(v).into_owned(),
            _ => String::new(),
        }
    }

    pub fn err_text(&self) -> String {
        match &self.err {
            Sink::Buffer(v) => String::from_utf8_lossy(v).into_owned(),
            _ => String::new(),
        }
    }
}
