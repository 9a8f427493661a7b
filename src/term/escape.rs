//! Untrusted bytes made safe for a terminal.
//!
//! Everything read from the target (file names, command lines, environment,
//! file contents) may hold escape sequences that would move the cursor, set a
//! window title or worse. Control characters are shown as C-style escapes
//! (`\e`, `\n`, `\x07`) and invalid UTF-8 as `\xNN`; nothing is interpreted.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the host half, in a session without a TTY, when its own stdout
/// (or stderr) is a terminal: the sidecar writes into a pipe, but the bytes
/// end up on the user's terminal all the same, so they are escaped.
pub const STDOUT_TERMINAL_ENV: &str = "NOSH_STDOUT_TERMINAL";
pub const STDERR_TERMINAL_ENV: &str = "NOSH_STDERR_TERMINAL";

static STDOUT_REACHES_TERMINAL: AtomicBool = AtomicBool::new(false);
static STDERR_REACHES_TERMINAL: AtomicBool = AtomicBool::new(false);

/// Takes the host's word on where the output ends up (and removes it from
/// the environment, so programs started later do not inherit it).
///
/// # Safety
/// Changes the environment: call it while the process has one thread.
pub unsafe fn take_host_terminal_env() {
    for (var, flag) in [
        (STDOUT_TERMINAL_ENV, &STDOUT_REACHES_TERMINAL),
        (STDERR_TERMINAL_ENV, &STDERR_REACHES_TERMINAL),
    ] {
        if std::env::var_os(var).is_some_and(|v| v == "1") {
            flag.store(true, Ordering::Relaxed);
        }
        // SAFETY: the caller guarantees a single thread.
        unsafe { std::env::remove_var(var) };
    }
}

/// Direct attach without a TTY: the host half, in-process, knows that
/// what this process writes to a pipe it relays ends up on a terminal.
pub fn assume_terminal(stdout: bool, stderr: bool) {
    STDOUT_REACHES_TERMINAL.store(stdout, Ordering::Relaxed);
    STDERR_REACHES_TERMINAL.store(stderr, Ordering::Relaxed);
}

/// Whether this process's stdout reaches a terminal: its own, or the
/// client's (see [`STDOUT_TERMINAL_ENV`]).
pub fn stdout_reaches_terminal() -> bool {
    use std::io::IsTerminal;
    STDOUT_REACHES_TERMINAL.load(Ordering::Relaxed) || std::io::stdout().is_terminal()
}

/// The same for stderr.
pub fn stderr_reaches_terminal() -> bool {
    use std::io::IsTerminal;
    STDERR_REACHES_TERMINAL.load(Ordering::Relaxed) || std::io::stderr().is_terminal()
}

/// Escape every control character, including newline and tab: for names and
/// fields shown on one line.
pub fn field(bytes: &[u8]) -> Cow<'_, str> {
    escape(bytes, false)
}

/// Escape a name given as an `OsStr` (file names, arguments).
pub fn os(s: &OsStr) -> Cow<'_, str> {
    field(s.as_bytes())
}

/// Escape control characters but keep newlines and tabs: for text shown as
/// text (`cat` to a terminal).
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    escape(bytes, true)
}

/// Whether `s` shows on a terminal as it is: no control character, no bidi
/// override.
pub fn is_plain(s: &str) -> bool {
    !s.chars().any(|c| needs_escape(c, false))
}

fn escape(bytes: &[u8], keep_layout: bool) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes)
        && !s.chars().any(|c| needs_escape(c, keep_layout))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if needs_escape(c, keep_layout) {
                push_escaped(&mut out, c);
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char, keep_layout: bool) -> bool {
    if keep_layout && (c == '\n' || c == '\t') {
        return false;
    }
    // C0, DEL, C1 (0x80-0x9f: CSI is 0x9b), and the bidi overrides that can
    // make a name read differently from what it is.
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\x1b' => out.push_str("\\e"),
        c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            field(b"hello world"),
            Cow::Borrowed("hello world")
        ));
    }

    #[test]
    fn escape_sequences_are_shown_not_interpreted() {
        assert_eq!(field(b"evil\x1b[31mname"), "evil\\e[31mname");
        assert_eq!(field(b"a\nb\tc\rd\x07"), "a\\nb\\tc\\rd\\x07");
        assert_eq!(field("x\u{9b}2J".as_bytes()), "x\\x9b2J");
    }

    #[test]
    fn invalid_utf8_becomes_hex() {
        assert_eq!(field(b"caf\xe9"), "caf\\xe9");
    }

    #[test]
    fn text_keeps_newlines_and_tabs() {
        assert_eq!(text(b"a\tb\nc\x1b]0;pwned\x07"), "a\tb\nc\\e]0;pwned\\x07");
    }

    #[test]
    fn bidi_override_is_escaped() {
        assert_eq!(field("a\u{202e}b".as_bytes()), "a\\u{202e}b");
    }
}
