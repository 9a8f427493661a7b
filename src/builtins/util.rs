//! Formatting shared by the builtins: errors, modes, sizes, times, tables.

use std::io::{self, Write};

use serde::Serialize;

pub use crate::term::text::{io_error, mode_string};

/// 1.5K, 12M, 3.1G as `ls -h` prints them.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    value /= 1024.0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{:.1}{}", (value * 10.0).ceil() / 10.0, UNITS[unit])
    } else {
        format!("{}{}", value.ceil() as u64, UNITS[unit])
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds since the epoch as `2026-11-27 02:41:14` (UTC: the toolbox has
/// no time zone database, and containers mostly run in UTC).
pub fn datetime(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// ISO 8601 for JSON: `2026-11-27T02:41:14Z`.
pub fn iso8601(secs: i64) -> String {
    datetime(secs).replace(' ', "T") + "Z"
}

/// Write one JSON document and a newline. An I/O error keeps its kind, so
/// a closed pipe (`ports --json | head`) stays a quiet broken pipe.
pub fn write_json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    })?;
    writeln!(out)
}

/// The shell's variables as `NAME=value` lines, escaped (`env`, `export`).
pub fn write_vars(
    out: &mut impl Write,
    vars: &std::collections::BTreeMap<String, String>,
) -> io::Result<()> {
    for (k, v) in vars {
        writeln!(
            out,
            "{}={}",
            crate::term::escape::field(k.as_bytes()),
            crate::term::escape::field(v.as_bytes())
        )?;
    }
    Ok(())
}

/// The files a filter builtin reads: stdin (`-`) when none is named.
pub fn files_or_stdin(files: &[String]) -> Vec<String> {
    if files.is_empty() {
        vec!["-".to_string()]
    } else {
        files.to_vec()
    }
}

/// `-N` as `-n N`: the count shorthand head and tail have kept from
/// before POSIX (`head -2 file`), which clap cannot express. Arguments
/// after `--` are file names and stay as they are.
pub fn count_shorthand(argv: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len() + 1);
    let mut options = true;
    for (i, a) in argv.iter().enumerate() {
        if a == "--" {
            options = false;
        }
        // The value of `-n`/`-c` is left for clap to judge (`head -n -2`).
        let is_value = i > 1 && matches!(argv[i - 1].as_str(), "-n" | "-c" | "--lines" | "--bytes");
        match a.strip_prefix('-') {
            Some(n)
                if options
                    && i > 0
                    && !is_value
                    && !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                out.push("-n".to_string());
                out.push(n.to_string());
            }
            _ => out.push(a.clone()),
        }
    }
    out
}

/// Longest piece of a line the text filters (sort, uniq, cut, tr) take at
/// once: a file without newlines is read in pieces, never whole.
pub const LINE_CAP: u64 = 1 << 20;

/// Read the next line (with its newline, if any) into `buf`, at most
/// [`LINE_CAP`] bytes; false at the end of input.
pub fn read_line_capped(input: &mut dyn io::BufRead, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    use io::BufRead as _;
    Ok(io::Read::take(&mut *input, LINE_CAP).read_until(b'\n', buf)? > 0)
}

/// Untrusted bytes to `out`: escaped on a terminal, unchanged otherwise.
pub fn write_text(out: &mut dyn Write, tty: bool, bytes: &[u8]) -> io::Result<()> {
    if tty {
        out.write_all(crate::term::escape::text(bytes).as_bytes())
    } else {
        out.write_all(bytes)
    }
}

/// Call `each` with every named file (stdin for `-` or none), reporting a
/// file that cannot be opened as `NAME: FILE: reason` and going on.
/// Returns the status: 1 if a file could not be opened.
pub fn each_input(
    name: &str,
    files: &[String],
    io: &mut crate::shell::io::Io,
    ctx: &crate::shell::Ctx,
    mut each: impl FnMut(&mut dyn io::BufRead, &mut crate::shell::io::Sink) -> io::Result<()>,
) -> io::Result<i32> {
    let mut status = 0;
    for f in files_or_stdin(files) {
        if crate::shell::interrupted() {
            break;
        }
        if f == "-" {
            each(&mut io.stdin, &mut io.out)?;
            continue;
        }
        match std::fs::File::open(ctx.resolve(&f)) {
            Ok(file) => each(
                &mut io::BufReader::with_capacity(64 * 1024, file),
                &mut io.out,
            )?,
            Err(e) => {
                io.out.flush()?;
                writeln!(
                    io.err,
                    "{name}: {}: {}",
                    crate::term::escape::field(f.as_bytes()),
                    io_error(&e)
                )?;
                status = 1;
            }
        }
    }
    Ok(status)
}

/// `==> name <==` before each file when several are shown, as head and
/// tail print it.
pub fn write_file_header(out: &mut impl Write, index: usize, name: &str) -> io::Result<()> {
    writeln!(
        out,
        "{}==> {} <==",
        if index > 0 { "\n" } else { "" },
        crate::term::escape::field(name.as_bytes())
    )
}

/// Render rows as left-aligned columns (the last column unpadded).
/// Right-align columns listed in `right`. The rows are read in place and
/// each line is built in one buffer: a table of 10,000 sockets is not
/// copied.
pub fn write_table<R, S>(
    out: &mut impl Write,
    header: Option<&[&str]>,
    rows: &[R],
    right: &[usize],
) -> io::Result<()>
where
    R: AsRef<[S]>,
    S: AsRef<str>,
{
    let ncols = header
        .map(|h| h.len())
        .or_else(|| rows.first().map(|r| r.as_ref().len()))
        .unwrap_or(0);
    let mut widths = vec![0usize; ncols];
    let mut widen = |cells: &mut dyn Iterator<Item = &str>| {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    };
    if let Some(h) = header {
        widen(&mut h.iter().copied());
    }
    for row in rows {
        widen(&mut row.as_ref().iter().map(AsRef::as_ref));
    }
    let mut line = String::new();
    let mut write_row = |cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        line.clear();
        for (i, cell) in cells.take(ncols).enumerate() {
            let last = i + 1 == ncols;
            let pad = widths[i].saturating_sub(cell.chars().count());
            if right.contains(&i) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                line.push(' ');
            }
        }
        out.write_all(line.trim_end().as_bytes())?;
        out.write_all(b"\n")
    };
    if let Some(h) = header {
        write_row(&mut h.iter().copied())?;
    }
    for row in rows {
        write_row(&mut row.as_ref().iter().map(AsRef::as_ref))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_shorthand_becomes_dash_n() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            count_shorthand(&v(&["head", "-2", "f"])),
            v(&["head", "-n", "2", "f"])
        );
        assert_eq!(
            count_shorthand(&v(&["tail", "-c", "5", "--", "-3"])),
            v(&["tail", "-c", "5", "--", "-3"])
        );
        assert_eq!(
            count_shorthand(&v(&["head", "-", "-x"])),
            v(&["head", "-", "-x"])
        );
        assert_eq!(
            count_shorthand(&v(&["head", "-n", "-2"])),
            v(&["head", "-n", "-2"])
        );
    }

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o600), "-rw-------");
        assert_eq!(mode_string(libc::S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(libc::S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o2644), "-rw-r-Sr--");
        assert_eq!(mode_string(libc::S_IFLNK | 0o777), "lrwxrwxrwx");
    }

    #[test]
    fn sizes_render_like_ls_h() {
        assert_eq!(human(0), "0");
        assert_eq!(human(1023), "1023");
        assert_eq!(human(1024), "1.0K");
        assert_eq!(human(1536), "1.5K");
        assert_eq!(human(10 * 1024 * 1024 * 1024), "10G");
    }

    #[test]
    fn dates_render_in_utc() {
        assert_eq!(datetime(0), "1970-01-01 00:00:00");
        assert_eq!(datetime(1_795_750_874), "2026-11-27 03:41:14");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn json_keeps_a_broken_pipe_a_broken_pipe() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = write_json(&mut Closed, &vec![1, 2, 3]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn tables_align() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            Some(&["PID", "CMD"]),
            &[["1", "app"], ["120", "x"]],
            &[0],
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "PID CMD\n  1 app\n120 x\n");
    }
}
