//! Files of the target that the toolbox reads on its own (passwd, group,
//! hosts, resolv.conf, CA bundles, the programs `entrypoint` and `doctor`
//! look at): regular files only, of a bounded size.
//!
//! The target may have made any of them a FIFO (an open would wait for a
//! writer forever), a device (`/dev/zero` reads without end) or a 4 GiB
//! sparse file. So: open with `O_NONBLOCK` (a FIFO opens at once), `fstat`
//! the open file (no swap between the check and the read), refuse anything
//! but a regular file, and read at most `cap` bytes. A `cat FILE` the user
//! types is different: it streams, in bounded chunks, whatever FILE is.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// `/etc/passwd`, `/etc/group`, a CA bundle: big ones are a few hundred KiB.
pub const DATABASE_CAP: u64 = 4 << 20;
/// `/etc/hosts`, `/etc/resolv.conf`.
pub const CONFIG_CAP: u64 = 1 << 20;

/// Opens `path` for reading if it is a regular file; a FIFO, socket or
/// device is refused without waiting on it.
pub fn open(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let kind = f.metadata()?.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}, not a regular file"),
        ));
    }
    Ok(f)
}

/// The bytes of the regular file `path`, if it holds at most `cap`.
pub fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = open(path)?;
    let size = f.metadata()?.len();
    if size > cap {
        return Err(too_big(size, cap));
    }
    let mut data = Vec::with_capacity(size as usize);
    // The file may grow between the fstat and the read: one byte more than
    // the cap tells.
    f.take(cap + 1).read_to_end(&mut data)?;
    if data.len() as u64 > cap {
        return Err(too_big(data.len() as u64, cap));
    }
    Ok(data)
}

fn too_big(size: u64, cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("{size} bytes, over the {cap} this reads"),
    )
}

/// [`read`] for a file the toolbox reads on its own: absent is empty; any
/// other failure is empty too, with one line on stderr saying what is done
/// instead (`instead`: "users are shown as numbers").
pub fn read_or_note(shown: &str, real: &Path, cap: u64, instead: &str) -> Vec<u8> {
    match read(real, cap) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            eprintln!(
                "nosh: {}: {}: not read; {instead}",
                crate::term::escape::field(shown.as_bytes()),
                crate::term::text::io_error(&e)
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("passwd");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let start = Instant::now();
        let err = read(&fifo, DATABASE_CAP).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(err.to_string().contains("a FIFO"), "{err}");
    }

    #[test]
    fn a_device_and_a_directory_are_refused() {
        assert!(
            read(Path::new("/dev/zero"), 10)
                .unwrap_err()
                .to_string()
                .contains("a device")
        );
        assert!(read(Path::new("/"), 10).is_err());
    }

    #[test]
    fn a_huge_sparse_file_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("group");
        File::create(&path).unwrap().set_len(4 << 30).unwrap();
        let start = Instant::now();
        let err = read(&path, DATABASE_CAP).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(start.elapsed() < Duration::from_secs(1));
        std::fs::write(&path, b"root:x:0:\n").unwrap();
        assert_eq!(read(&path, DATABASE_CAP).unwrap(), b"root:x:0:\n");
    }
}
