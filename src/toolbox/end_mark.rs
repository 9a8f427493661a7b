//! How a one-shot sidecar session ends without waiting on the engine.
//!
//! Docker answers a wait for the sidecar's exit only after it has torn the
//! container down (the runtime's task deleted, the streams closed, the
//! rootfs unmounted): 40 to 100 ms after the shell's last output, most of a
//! `nosh T -c CMD`. So without a TTY the host half hands the toolbox a
//! random value (`--end-mark`, in the environment that carries the
//! toolbox's arguments), and the toolbox's last act is one line on stdout
//! and one on stderr:
//!
//! ```text
//! \0nosh:end:<32 hex digits>:<status>\n
//! ```
//!
//! The host half strips the lines from what it shows ([`Watch`]) and, once
//! both streams carried one (each stream keeps its own order, not their
//! order to each other), takes the status from them and ends the session.
//!
//! Nothing of the target can end a session or choose its status: the value
//! lives only in the host half and in the toolbox, which is not dumpable
//! and takes its arguments out of its environment before anything starts,
//! so neither the target's processes nor the programs the shell runs can
//! read it. A line with another value is output like any other. A
//! session whose toolbox wrote no mark (killed, or a toolbox image of
//! another version) ends as before, by the engine's wait.

/// The hex digits of a mark's value.
pub const VALUE_LEN: usize = 32;

const LEAD: &[u8] = b"\0nosh:end:";

/// The most digits after the value before a line stops being a mark.
const MAX_STATUS_DIGITS: usize = 3;

/// A fresh value for one session: 128 random bits from the kernel, as hex.
pub fn new_value() -> std::io::Result<String> {
    let mut bytes = [0u8; VALUE_LEN / 2];
    crate::sys::random_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `value` is one [`new_value`] could have made.
pub fn is_value(value: &str) -> bool {
    value.len() == VALUE_LEN && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The line that ends a session with `status`.
pub fn line(value: &str, status: u8) -> Vec<u8> {
    let mut line = head(value);
    line.extend_from_slice(format!("{status}\n").as_bytes());
    line
}

fn head(value: &str) -> Vec<u8> {
    let mut head = LEAD.to_vec();
    head.extend_from_slice(value.as_bytes());
    head.push(b':');
    head
}

/// The toolbox's last act: the mark on stdout, after everything the shell
/// wrote there, then on stderr. A stream that is gone is not an error.
pub fn write(value: &str, status: u8) {
    use std::io::Write;
    let line = line(value, status);
    let mut out = std::io::stdout().lock();
    let _ = out.flush();
    let _ = out.write_all(&line);
    let _ = out.flush();
    let _ = std::io::stderr().lock().write_all(&line);
}

/// The host half's side: watches the two output streams for the mark,
/// holding back only what may be the start of one.
#[derive(Debug)]
pub struct Watch {
    head: Vec<u8>,
    /// Per stream (0 stdout, 1 stderr): bytes not shown yet, and the
    /// status once the stream carried the mark.
    pending: [Vec<u8>; 2],
    ended: [Option<u8>; 2],
}

impl Watch {
    pub fn new(value: &str) -> Watch {
        Watch {
            head: head(value),
            pending: [Vec::new(), Vec::new()],
            ended: [None, None],
        }
    }

    /// Takes `bytes` of stream `stderr` (else stdout); returns what of
    /// them, and of what was held back before, is output to show.
    pub fn filter(&mut self, stderr: bool, bytes: &[u8]) -> Vec<u8> {
        let i = usize::from(stderr);
        if self.ended[i].is_some() {
            return bytes.to_vec();
        }
        let pending = &mut self.pending[i];
        pending.extend_from_slice(bytes);
        if let Some(at) = find(pending, &self.head) {
            let after = &pending[at + self.head.len()..];
            let digits = after
                .iter()
                .take(MAX_STATUS_DIGITS + 1)
                .take_while(|b| b.is_ascii_digit())
                .count();
            match after.get(digits) {
                // Not all of it yet.
                None if digits <= MAX_STATUS_DIGITS => {
                    return pending.drain(..at).collect();
                }
                Some(b'\n') if digits > 0 => {
                    let status = std::str::from_utf8(&after[..digits])
                        .ok()
                        .and_then(|d| d.parse::<u8>().ok());
                    if let Some(status) = status {
                        self.ended[i] = Some(status);
                        let end = at + self.head.len() + digits + 1;
                        let mut shown = std::mem::take(pending);
                        shown.drain(at..end);
                        return shown;
                    }
                }
                _ => {}
            }
            // Our value with no status after it: the toolbox never writes
            // that; show it as it is.
            return std::mem::take(pending);
        }
        let keep = held_back(pending, &self.head);
        let show = pending.len() - keep;
        pending.drain(..show).collect()
    }

    /// The status, once both streams carried the mark (the toolbox writes
    /// one status to both).
    pub fn status(&self) -> Option<u8> {
        match self.ended {
            [Some(out), Some(_)] => Some(out),
            _ => None,
        }
    }

    /// At the end of the output: what is still held back, per stream.
    pub fn rest(&mut self) -> [Vec<u8>; 2] {
        [
            std::mem::take(&mut self.pending[0]),
            std::mem::take(&mut self.pending[1]),
        ]
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How many bytes at the end of `bytes` may begin `head`.
fn held_back(bytes: &[u8], head: &[u8]) -> usize {
    (1..head.len().min(bytes.len() + 1))
        .rev()
        .find(|&n| bytes.ends_with(&head[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "0123456789abcdef0123456789abcdef";

    fn feed(w: &mut Watch, chunks: &[(bool, &[u8])]) -> [Vec<u8>; 2] {
        let mut shown = [Vec::new(), Vec::new()];
        for (stderr, bytes) in chunks {
            let out = w.filter(*stderr, bytes);
            shown[usize::from(*stderr)].extend(out);
        }
        shown
    }

    #[test]
    fn a_value_is_128_random_bits_in_hex() {
        let a = new_value().unwrap();
        let b = new_value().unwrap();
        assert!(is_value(&a) && is_value(&b), "{a} {b}");
        assert_ne!(a, b);
        assert!(!is_value("xyz"));
        assert!(!is_value(&"g".repeat(VALUE_LEN)));
    }

    #[test]
    fn the_mark_on_both_streams_ends_with_its_status_and_is_not_shown() {
        let mut w = Watch::new(V);
        let mark = line(V, 3);
        let out = [b"hello\n".as_slice(), &mark].concat();
        let shown = feed(&mut w, &[(false, &out)]);
        assert_eq!(shown[0], b"hello\n");
        // stdout alone does not end it: stderr may still be on its way.
        assert_eq!(w.status(), None);
        let err = [b"oops\n".as_slice(), &mark].concat();
        let shown = feed(&mut w, &[(true, &err)]);
        assert_eq!(shown[1], b"oops\n");
        assert_eq!(w.status(), Some(3));
    }

    #[test]
    fn a_mark_split_anywhere_is_still_found_and_nothing_else_waits() {
        let mark = line(V, 125);
        let all = [b"data".as_slice(), &mark].concat();
        for cut in 0..=all.len() {
            let mut w = Watch::new(V);
            let (a, b) = all.split_at(cut);
            let shown = feed(&mut w, &[(false, a), (false, b), (true, &mark)]);
            assert_eq!(shown[0], b"data", "cut at {cut}");
            assert_eq!(w.status(), Some(125), "cut at {cut}");
        }
        // Plain output is shown at once, but for a possible start of a mark.
        let mut w = Watch::new(V);
        assert_eq!(w.filter(false, b"abc\0nosh"), b"abc");
        assert_eq!(w.filter(false, b" more"), b"\0nosh more");
    }

    #[test]
    fn a_mark_with_another_value_is_output_and_ends_nothing() {
        let forged = line("ffffffffffffffffffffffffffffffff", 0);
        let mut w = Watch::new(V);
        let shown = feed(&mut w, &[(false, &forged), (true, &forged)]);
        assert_eq!(shown[0], forged);
        assert_eq!(shown[1], forged);
        assert_eq!(w.status(), None);
        // Our value without a status is not a mark either.
        let mut bad = head(V);
        bad.extend_from_slice(b"12345\n");
        assert_eq!(w.filter(false, &bad), bad);
        assert_eq!(w.status(), None);
    }

    #[test]
    fn what_is_held_back_comes_out_at_the_end() {
        let mut w = Watch::new(V);
        assert_eq!(w.filter(true, b"x\0nosh:e"), b"x");
        let [out, err] = w.rest();
        assert!(out.is_empty());
        assert_eq!(err, b"\0nosh:e");
    }

    #[test]
    fn output_after_the_mark_is_shown() {
        let mut w = Watch::new(V);
        let mark = line(V, 0);
        let out = [mark.as_slice(), b"late"].concat();
        assert_eq!(w.filter(false, &out), b"late");
        assert_eq!(w.filter(false, b"later"), b"later");
    }
}
