//! Every parser of target-supplied data, fed hostile input.
//!
//! The target controls its `/etc/passwd`, its processes' names (and so
//! `/proc/PID/stat`), its mount points, its sockets, its DNS and HTTP
//! answers and the files `entrypoint` inspects. Each parser here gets:
//!
//! 1. every sample in `tests/corpus/<parser>/` as it is (hand-written
//!    hostile cases, and every input that once broke a parser);
//! 2. proptest-generated inputs: random bytes, sequences of the format's own
//!    tokens, and corpus samples mutated (bytes flipped, set, inserted,
//!    deleted, repeated into long lines, truncated).
//!
//! A case passes when the parser returns (anything) within a second. `cargo
//! test` runs proptest's default 256 cases per parser; `make fuzz` runs
//! `PROPTEST_CASES` of them (100,000 by default) and prints how many ran.

use std::io::{BufReader, Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Longer than this per case is a hang (or a quadratic walk) to fix.
const SLOW: Duration = Duration::from_secs(1);

fn corpus_dir(parser: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(parser)
}

/// The samples of one parser, sorted by file name.
fn corpus(parser: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(parser);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    paths.sort();
    let samples: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(!samples.is_empty(), "no samples in {}", dir.display());
    samples
}

/// One change to a sample.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Repeat `len` bytes at the position `times` times: long lines and
    /// many fields.
    Repeat(usize, usize, usize),
    Truncate(usize),
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let at = |i: usize| {
            if data.is_empty() {
                0
            } else {
                i % (data.len() + 1)
            }
        };
        match edit {
            Edit::Flip(i, bit) if !data.is_empty() => {
                let i = i % data.len();
                data[i] ^= 1 << (bit % 8);
            }
            Edit::Set(i, b) if !data.is_empty() => {
                let i = i % data.len();
                data[i] = *b;
            }
            Edit::Insert(i, bytes) => {
                let i = at(*i);
                data.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = at(*i);
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
            Edit::Repeat(i, len, times) => {
                let i = at(*i);
                let end = (i + len).min(data.len());
                let piece = data[i..end].to_vec();
                for _ in 0..*times {
                    data.splice(i..i, piece.iter().copied());
                }
            }
            Edit::Truncate(i) => {
                let i = at(*i);
                data.truncate(i);
            }
            Edit::Flip(..) | Edit::Set(..) => {}
        }
    }
    data
}

/// Bytes that mean something to most of the formats here, and numbers at
/// the edges of the integer types.
const COMMON_TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b":",
    b",",
    b";",
    b"(",
    b")",
    b"\\",
    b"\\0",
    b"\\777",
    b"-",
    b"0",
    b"1",
    b"-1",
    b"00000000",
    b"FFFFFFFF",
    b"4294967295",
    b"4294967296",
    b"18446744073709551616",
    b"99999999999999999999999999",
    b"\x00",
    b"\x1b]0;pwned\x07",
    b"\xff\xfe",
    b"\xc3",
    b"\xe2\x80\xae",
    "é".as_bytes(),
];

fn input(parser: &str, tokens: &'static [&'static [u8]]) -> BoxedStrategy<Vec<u8>> {
    let samples = Arc::new(corpus(parser));
    let all_tokens: Vec<&'static [u8]> = COMMON_TOKENS.iter().chain(tokens).copied().collect();
    let token = select(all_tokens);
    let bytes = prop_oneof![
        vec(any::<u8>(), 0..8),
        token.clone().prop_map(<[u8]>::to_vec),
    ];
    let edit = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), bytes).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 0usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1usize..64, 1usize..2000).prop_map(|(i, l, t)| Edit::Repeat(i, l, t)),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    let n = samples.len();
    prop_oneof![
        1 => vec(any::<u8>(), 0..512),
        2 => vec(token, 0..64).prop_map(|t| t.concat()),
        6 => (0..n, vec(edit, 0..8))
            .prop_map(move |(i, edits)| apply(samples[i].clone(), &edits)),
    ]
    .boxed()
}

/// Feed the corpus, then generated inputs, to `parse`. Returns how many
/// inputs ran.
fn fuzz(parser: &str, tokens: &'static [&'static [u8]], parse: impl Fn(&[u8])) -> u64 {
    for (i, sample) in corpus(parser).iter().enumerate() {
        let start = Instant::now();
        parse(sample);
        assert!(
            start.elapsed() < SLOW,
            "{parser} sample {i} took {:?}",
            start.elapsed()
        );
    }
    let runs = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        // Failures are added to the corpus by hand, with a regression test.
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&input(parser, tokens), |data| {
        runs.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        parse(&data);
        if start.elapsed() > SLOW {
            return Err(TestCaseError::fail(format!(
                "took {:?} on {} bytes",
                start.elapsed(),
                data.len()
            )));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{parser}: {e}");
    }
    let runs = runs.into_inner();
    eprintln!("fuzz {parser}: {runs} generated inputs, no panic, no hang");
    runs
}

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

#[test]
fn fuzz_shell_parser() {
    use crate::shell::parse::parse;
    fuzz(
        "shell",
        &[
            b"'", b"\"", b"$", b"${", b"}", b"$?", b"|", b"||", b"&&", b"&", b">", b">>", b"<",
            b"2>", b"2>&1", b"2>>", b"#", b"*", b"?", b"[", b"]", b"[!", b"~",
        ],
        |d| {
            let _ = parse(&text(d));
        },
    );
}

#[test]
fn fuzz_proc_status() {
    use crate::target::procinfo::parse_status;
    fuzz(
        "proc-status",
        &[
            b"Uid:", b"Gid:", b"Groups:", b"CapEff:", b"NSpid:", b"VmRSS:", b" kB",
        ],
        |d| {
            let _ = parse_status(&text(d));
        },
    );
}

#[test]
fn fuzz_proc_stat_and_cmdline() {
    use crate::target::procinfo::{parse_stat, split_nul};
    fuzz("proc-stat", &[b") ", b" (", b"S", b"Z"], |d| {
        let _ = parse_stat(&text(d));
        let _ = split_nul(d);
    });
}

#[test]
fn fuzz_passwd_and_group() {
    use crate::target::users::{parse_group, parse_passwd};
    fuzz("passwd", &[b"::", b"x", b"#", b"/sbin/nologin"], |d| {
        let _ = parse_passwd(&text(d));
        let _ = parse_group(&text(d));
    });
}

#[test]
fn fuzz_mountinfo() {
    use crate::target::mountinfo::{mount_of, parse};
    fuzz(
        "mountinfo",
        &[b" - ", b"\\040", b"\\134", b"ro", b"shared:1"],
        |d| {
            let mounts = parse(&text(d));
            let _ = mount_of(&mounts, "/app/x");
        },
    );
}

#[test]
fn fuzz_proc_net() {
    use crate::builtins::fds;
    use crate::target::procnet::{
        Proto, parse_if_inet6, parse_inet, parse_ipv6_route, parse_route, parse_unix, socket_inode,
    };
    fuzz(
        "proc-net",
        &[
            b"0100007F:1F90",
            b"00000000000000000000000001000000",
            b"socket:[",
            b"]",
            b"@",
        ],
        |d| {
            for proto in Proto::ALL {
                let _ = parse_inet(d, proto);
            }
            let _ = parse_unix(d);
            let _ = parse_route(d);
            let _ = parse_ipv6_route(d);
            let _ = parse_if_inet6(d);
            let _ = socket_inode(d);
            let mut socks = std::collections::HashMap::new();
            fds::parse_inet(&text(d), "tcp", &mut socks);
            fds::parse_unix(&text(d), &mut socks);
            for word in text(d).split_whitespace().take(64) {
                let _ = fds::parse_addr(word);
            }
        },
    );
}

#[test]
fn fuzz_dns_response() {
    use crate::target::dns::parse_response;
    fuzz(
        "dns",
        &[b"\xc0\x0c", b"\x00\x01\x00\x01", b"\x81\x80"],
        |d| {
            let _ = parse_response(d);
        },
    );
}

#[test]
fn fuzz_resolv_conf_and_hosts() {
    use crate::target::dns::{candidates, hosts_lookup, parse_resolv_conf};
    fuzz(
        "resolv",
        &[
            b"nameserver ",
            b"search ",
            b"options ndots:",
            b"localhost",
            b"::1",
        ],
        |d| {
            let conf = parse_resolv_conf(&text(d));
            let _ = candidates("a.b", &conf);
            let _ = hosts_lookup(&text(d), "localhost");
        },
    );
}

#[test]
fn fuzz_http_response_and_url() {
    use crate::builtins::http::{Url, read_response};
    fuzz(
        "http",
        &[
            b"HTTP/1.1 ",
            b"200 OK",
            b"100 Continue\r\n\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Content-Length: ",
            b"\r\n\r\n",
            b"ffffffffffffffff",
        ],
        |d| {
            let _ = read_response(&mut Cursor::new(d), 4096);
            // A reader that returns a few bytes at a time, as a socket does.
            let _ = read_response(&mut BufReader::with_capacity(3, d), 64);
            let _ = Url::parse(&text(d));
        },
    );
}

#[test]
fn fuzz_program_inspection() {
    use crate::target::program::{inspect, parse_dynamic, parse_shebang, text_kind};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("program");
    fuzz(
        "program",
        &[
            b"#!",
            b"\x7fELF",
            b"\x02\x01\x01",
            b"/lib64/ld-linux-x86-64.so.2",
        ],
        |d| {
            let _ = parse_shebang(d);
            let _ = text_kind(d);
            let mut f = std::fs::File::create(&path).expect("create sample");
            f.write_all(d).expect("write sample");
            drop(f);
            let _ = inspect(&path);
            let f = std::fs::File::open(&path).expect("open sample");
            let _ = parse_dynamic(&f);
        },
    );
}

#[test]
fn fuzz_ld_so_cache() {
    use crate::target::libs::parse_cache;
    fuzz(
        "ldcache",
        &[
            b"glibc-ld.so.cache1.1",
            b"ld.so-1.7.0\0",
            b"\x03\x03\0\0",
            b"\xff\xff\xff\xff",
            b"libc.so.6\0",
        ],
        |d| {
            let _ = parse_cache(d);
        },
    );
}

#[test]
fn fuzz_cgroup_and_limits() {
    use crate::builtins::{cgroup, limits};
    fuzz(
        "cgroup",
        &[
            b"0::/",
            b"max",
            b"Soft Limit",
            b"Hard Limit",
            b"Units",
            b"unlimited",
        ],
        |d| {
            let t = text(d);
            let _ = cgroup::parse_proc_cgroup(&t);
            let _ = cgroup::parse_limit(&t);
            let _ = cgroup::parse_v1_bytes_limit(&t);
            let _ = cgroup::parse_cpu_max(&t);
            let _ = cgroup::keyed(&t, "oom_kill");
            let _ = limits::parse(&t);
        },
    );
}

#[test]
fn fuzz_find_patterns_and_arguments() {
    use crate::builtins::{find, kill};
    fuzz(
        "patterns",
        &[
            b"*",
            b"?",
            b"[",
            b"]",
            b"[!",
            b"[:alpha:]",
            b"\\",
            b"+",
            b"u=rwx",
            b"k",
            b"M",
        ],
        |d| {
            // Pattern, then a NUL, then the name it is matched against. The
            // pattern is the user's, typed on one line; the name is the
            // target's, at most NAME_MAX bytes.
            let (pat, name) = match d.iter().position(|b| *b == 0) {
                Some(i) => (&d[..i], &d[i + 1..]),
                None => (d, &b"some-file.txt"[..]),
            };
            let pat = &pat[..pat.len().min(4096)];
            let name = &name[..name.len().min(255)];
            let _ = find::glob_match(pat, name);
            let t = text(pat);
            let _ = find::parse_mode(&t);
            let _ = find::parse_size(&t);
            let _ = kill::parse_signal(&t);
        },
    );
}
