//! The counts at the end of a trace: failed calls per call, path or
//! address, and errno. Bounded: the target chooses its paths, and an app
//! that opens a new one every time (a cache key, a temp name, an attacker)
//! must not grow the shell without end. The first [`MAX_ENTRIES`] distinct
//! entries are counted one by one, every later one in a single count.

use std::collections::HashMap;

use serde::Serialize;

use super::decode::Event;
use super::ldso::LibrarySearch;
use super::ldso::Report;

/// Distinct (call, target, errno) entries kept.
pub const MAX_ENTRIES: usize = 256;

/// One line of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub syscall: String,
    /// The path or address, the library for a loader's search.
    pub target: String,
    pub errno: String,
    pub count: u64,
}

#[derive(Debug, Default)]
pub struct Summary {
    /// `call NUL errno NUL target`: a C string never holds a NUL, so the
    /// parts split back unambiguously.
    counts: HashMap<String, u64>,
    total: u64,
    folded: u64,
}

impl Summary {
    /// Count one failure.
    pub fn add(&mut self, syscall: &str, target: &str, errno: &str) {
        self.total += 1;
        let key = format!("{syscall}\0{errno}\0{target}");
        if let Some(n) = self.counts.get_mut(&key) {
            *n += 1;
        } else if self.counts.len() < MAX_ENTRIES {
            self.counts.insert(key, 1);
        } else {
            self.folded += 1;
        }
    }

    /// Count a failed call.
    pub fn add_call(&mut self, e: &Event) {
        if let Some(errno) = &e.errno {
            self.add(&e.syscall, &e.target(), errno);
        }
    }

    /// Count a library the loader did not find (one per search).
    pub fn add_library(&mut self, l: &LibrarySearch) {
        if l.found.is_none() {
            self.add("ld.so", &l.library, l.errno.as_deref().unwrap_or("ENOENT"));
        }
    }

    pub fn add_report(&mut self, r: &Report) {
        match r {
            Report::Call(e) => self.add_call(e),
            Report::Library(l) => self.add_library(l),
        }
    }

    /// Every failure counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The failures counted past the first [`MAX_ENTRIES`] distinct
    /// entries, which have no row.
    pub fn folded(&self) -> u64 {
        self.folded
    }

    /// The rows, most frequent first; ties by call, target and errno.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .counts
            .iter()
            .map(|(key, count)| {
                let mut parts = key.splitn(3, '\0');
                let mut part = || parts.next().unwrap_or_default().to_string();
                Row {
                    syscall: part(),
                    errno: part(),
                    target: part(),
                    count: *count,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (&a.syscall, &a.target, &a.errno).cmp(&(&b.syscall, &b.target, &b.errno))
            })
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_counted_and_the_most_frequent_comes_first() {
        let mut s = Summary::default();
        s.add("openat", "/a", "ENOENT");
        s.add("connect", "10.0.0.1:5432", "ECONNREFUSED");
        s.add("connect", "10.0.0.1:5432", "ECONNREFUSED");
        s.add("openat", "/a", "EACCES");
        let rows = s.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].syscall.as_str(), rows[0].count), ("connect", 2));
        assert_eq!(rows[1].errno, "EACCES");
        assert_eq!((s.total(), s.folded()), (4, 0));
    }

    #[test]
    fn distinct_entries_past_the_cap_are_counted_in_one_number() {
        let mut s = Summary::default();
        for i in 0..MAX_ENTRIES + 1000 {
            s.add("openat", &format!("/tmp/{i}"), "ENOENT");
        }
        // A kept entry still counts up after the cap is reached.
        s.add("openat", "/tmp/0", "ENOENT");
        assert_eq!(s.rows().len(), MAX_ENTRIES);
        assert_eq!(s.folded(), 1000);
        assert_eq!(s.total(), MAX_ENTRIES as u64 + 1001);
        assert_eq!(s.rows()[0].count, 2);
    }
}
