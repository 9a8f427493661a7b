//! `file [--json] PATH...`: what a file is, and whether it can run here.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, FileTypeExt};

use clap::Parser;
use nix::unistd::AccessFlags;
use serde::Serialize;

use super::{Builtin, readlink, util};
use crate::escape;
use crate::shell::Ctx;
use crate::shell::io::Io;

/// What a file is: ELF static/dynamic and its interpreter, script and its #!.
///
/// Describes ELF executables (32/64-bit, architecture, statically or
/// dynamically linked, the interpreter and whether it exists in the target,
/// stripped or not), scripts (the #! line, and whether its interpreter
/// exists and is executable for this identity), directories, symbolic
/// links, empty files, text and data.
///
/// JSON (--json): an array of {path, kind, description, elf (null or
/// {class, endian, elf_type, machine, linking, interpreter,
/// interpreter_present, stripped}), shebang (null or {line, interpreter,
/// argument, interpreter_present, interpreter_executable})}; kind is one
/// of elf, script, directory, symlink, empty, text, data, fifo, socket,
/// char_device, block_device, error.
#[derive(Parser)]
#[command(name = "file", disable_version_flag = true)]
pub struct FileCmd {
    /// One JSON document.
    #[arg(long)]
    json: bool,
    #[arg(required = true)]
    paths: Vec<String>,
}

/// What the ELF headers say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Elf {
    /// 32 or 64.
    pub class: u8,
    /// "LSB" or "MSB".
    pub endian: &'static str,
    /// executable, pie executable, shared object, relocatable, core, ...
    pub elf_type: &'static str,
    pub machine: String,
    /// "static", "static-pie" or "dynamic".
    pub linking: &'static str,
    pub interpreter: Option<String>,
    pub interpreter_present: Option<bool>,
    pub stripped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shebang {
    pub line: String,
    pub interpreter: String,
    pub argument: Option<String>,
    pub interpreter_present: Option<bool>,
    pub interpreter_executable: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub path: String,
    pub kind: &'static str,
    pub description: String,
    pub elf: Option<Elf>,
    pub shebang: Option<Shebang>,
}

const PT_INTERP: u32 = 3;
const PT_DYNAMIC: u32 = 2;
const SHT_SYMTAB: u32 = 2;
const DT_FLAGS_1: u64 = 0x6fff_fffb;
const DF_1_PIE: u64 = 0x0800_0000;
/// Bounds on header tables read from an untrusted file.
const MAX_TABLE: u64 = 1 << 20;

fn machine_name(m: u16) -> String {
    match m {
        3 => "Intel 80386".into(),
        8 => "MIPS".into(),
        20 => "PowerPC".into(),
        21 => "64-bit PowerPC".into(),
        22 => "IBM S/390".into(),
        40 => "ARM".into(),
        62 => "x86-64".into(),
        183 => "ARM aarch64".into(),
        243 => "RISC-V".into(),
        258 => "LoongArch".into(),
        other => format!("machine {other}"),
    }
}

/// Read little- or big-endian integers from header bytes.
struct Endian(bool);

impl Endian {
    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.0 {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        }
    }
    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let v: [u8; 4] = b[at..at + 4].try_into().unwrap_or_default();
        if self.0 {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        }
    }
    fn u64(&self, b: &[u8], at: usize) -> u64 {
        let v: [u8; 8] = b[at..at + 8].try_into().unwrap_or_default();
        if self.0 {
            u64::from_le_bytes(v)
        } else {
            u64::from_be_bytes(v)
        }
    }
    /// A word: 4 bytes in ELF32, 8 in ELF64.
    fn word(&self, b: &[u8], at: usize, is64: bool) -> u64 {
        if is64 {
            self.u64(b, at)
        } else {
            self.u32(b, at) as u64
        }
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn read_table(f: &File, off: u64, len: u64) -> io::Result<Vec<u8>> {
    if len > MAX_TABLE {
        return Err(bad("header table too large"));
    }
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, off)?;
    Ok(buf)
}

/// Parse the ELF header, program headers (interpreter, dynamic flags) and
/// section headers (a symbol table means not stripped) of `f` by hand: the
/// 64-byte header says where the rest is. See elf(5).
pub fn parse_elf(f: &File) -> io::Result<Elf> {
    let mut h = [0u8; 64];
    let n = f.read_at(&mut h, 0)?;
    if n < 52 || &h[..4] != b"\x7fELF" {
        return Err(bad("not an ELF file"));
    }
    let is64 = match h[4] {
        1 => false,
        2 => true,
        _ => return Err(bad("bad ELF class")),
    };
    if is64 && n < 64 {
        return Err(bad("truncated ELF header"));
    }
    let e = Endian(h[5] != 2);
    let e_type = e.u16(&h, 16);
    let machine = machine_name(e.u16(&h, 18));
    let (phoff, shoff, phentsize, phnum, shentsize, shnum) = if is64 {
        (
            e.u64(&h, 32),
            e.u64(&h, 40),
            e.u16(&h, 54),
            e.u16(&h, 56),
            e.u16(&h, 58),
            e.u16(&h, 60),
        )
    } else {
        (
            e.u32(&h, 28) as u64,
            e.u32(&h, 32) as u64,
            e.u16(&h, 42),
            e.u16(&h, 44),
            e.u16(&h, 46),
            e.u16(&h, 48),
        )
    };
    let mut interpreter = None;
    let mut has_dynamic = false;
    let mut pie_flag = false;
    let min_ph = if is64 { 56 } else { 32 };
    if phnum > 0 && phentsize as usize >= min_ph {
        let table = read_table(f, phoff, phentsize as u64 * phnum as u64)?;
        for ph in table.chunks_exact(phentsize as usize) {
            let p_type = e.u32(ph, 0);
            let (off, filesz) = if is64 {
                (e.u64(ph, 8), e.u64(ph, 32))
            } else {
                (e.u32(ph, 4) as u64, e.u32(ph, 16) as u64)
            };
            if p_type == PT_INTERP {
                let raw = read_table(f, off, filesz.min(4096))?;
                let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
                interpreter = Some(String::from_utf8_lossy(&raw[..end]).into_owned());
            } else if p_type == PT_DYNAMIC {
                has_dynamic = true;
                let dynamic = read_table(f, off, filesz.min(MAX_TABLE))?;
                let size = if is64 { 16 } else { 8 };
                for d in dynamic.chunks_exact(size) {
                    let tag = e.word(d, 0, is64);
                    let val = e.word(d, size / 2, is64);
                    if tag == 0 {
                        break;
                    }
                    if tag == DT_FLAGS_1 && val & DF_1_PIE != 0 {
                        pie_flag = true;
                    }
                }
            }
        }
    }
    let mut stripped = true;
    let min_sh = if is64 { 64 } else { 40 };
    if shnum > 0 && shentsize as usize >= min_sh {
        let table = read_table(f, shoff, shentsize as u64 * shnum as u64)?;
        stripped = !table
            .chunks_exact(shentsize as usize)
            .any(|sh| e.u32(sh, 4) == SHT_SYMTAB);
    }
    let (elf_type, linking) = match (e_type, interpreter.is_some()) {
        (2, true) => ("executable", "dynamic"),
        (2, false) if has_dynamic => ("executable", "dynamic"),
        (2, false) => ("executable", "static"),
        (3, true) => ("pie executable", "dynamic"),
        (3, false) if pie_flag => ("pie executable", "static-pie"),
        (3, false) => ("shared object", "dynamic"),
        (1, _) => ("relocatable", "static"),
        (4, _) => ("core file", "static"),
        _ => ("unknown type", "static"),
    };
    Ok(Elf {
        class: if is64 { 64 } else { 32 },
        endian: if e.0 { "LSB" } else { "MSB" },
        elf_type,
        machine,
        linking,
        interpreter,
        interpreter_present: None,
        stripped,
    })
}

/// Split a `#!` line as Linux does (binfmt_script): the interpreter is the
/// first word, the rest (trimmed) is one argument.
pub fn parse_shebang(head: &[u8]) -> Option<Shebang> {
    let rest = head.strip_prefix(b"#!")?;
    let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let line = String::from_utf8_lossy(&rest[..end]).trim().to_string();
    let (interp, arg) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (
            i.to_string(),
            Some(a.trim().to_string()).filter(|a| !a.is_empty()),
        ),
        None => (line.clone(), None),
    };
    Some(Shebang {
        line: format!("#!{line}"),
        interpreter: interp,
        argument: arg,
        interpreter_present: None,
        interpreter_executable: None,
    })
}

/// Whether `path` exists in the target, following its symlinks there.
fn present(ctx: &Ctx, path: &str) -> Option<(bool, std::path::PathBuf)> {
    let canon = readlink::canonicalize(ctx, path).ok()?;
    let real = ctx.resolve(&canon);
    Some((fs::metadata(&real).is_ok(), real))
}

fn text_kind(head: &[u8]) -> &'static str {
    if head.contains(&0) {
        "data"
    } else if head.is_ascii() {
        "ASCII text"
    } else {
        // A multibyte character may be cut at the end of the sample.
        match std::str::from_utf8(head) {
            Ok(_) => "UTF-8 text",
            Err(e) if e.error_len().is_none() => "UTF-8 text",
            Err(_) => "data",
        }
    }
}

fn describe(ctx: &Ctx, path: &str) -> Row {
    let real = ctx.resolve(path);
    let mut row = Row {
        path: path.to_string(),
        kind: "error",
        description: String::new(),
        elf: None,
        shebang: None,
    };
    let meta = match fs::symlink_metadata(&real) {
        Ok(m) => m,
        Err(e) => {
            row.description = format!("cannot open: {}", util::io_error(&e));
            return row;
        }
    };
    let ft = meta.file_type();
    let simple = |kind, d: &str| (kind, d.to_string());
    let (kind, description) = if ft.is_dir() {
        simple("directory", "directory")
    } else if ft.is_symlink() {
        let t = fs::read_link(&real)
            .map(|t| escape::os(t.as_os_str()).into_owned())
            .unwrap_or_default();
        let dangling = match present(ctx, path) {
            Some((true, _)) => "",
            _ => " (broken: missing in the target)",
        };
        ("symlink", format!("symbolic link to {t}{dangling}"))
    } else if ft.is_fifo() {
        simple("fifo", "fifo (named pipe)")
    } else if ft.is_socket() {
        simple("socket", "socket")
    } else if ft.is_char_device() {
        simple("char_device", "character special")
    } else if ft.is_block_device() {
        simple("block_device", "block special")
    } else if meta.len() == 0 {
        simple("empty", "empty")
    } else {
        let file = match File::open(&real) {
            Ok(f) => f,
            Err(e) => {
                row.description = format!(
                    "cannot open: {} (`why {} read` explains)",
                    util::io_error(&e),
                    escape::field(path.as_bytes())
                );
                return row;
            }
        };
        let mut head = Vec::with_capacity(8192);
        if let Err(e) = (&file).take(8192).read_to_end(&mut head) {
            row.description = format!("cannot read: {}", util::io_error(&e));
            return row;
        }
        if head.starts_with(b"\x7fELF") {
            match parse_elf(&file) {
                Ok(mut elf) => {
                    let mut d = format!(
                        "ELF {}-bit {} {}, {}",
                        elf.class, elf.endian, elf.elf_type, elf.machine
                    );
                    d.push_str(match elf.linking {
                        "static" => ", statically linked",
                        "static-pie" => ", static-pie linked",
                        _ => ", dynamically linked",
                    });
                    if let Some(i) = &elf.interpreter {
                        let ok = present(ctx, i).is_some_and(|(p, _)| p);
                        elf.interpreter_present = Some(ok);
                        d.push_str(&format!(
                            ", interpreter {}{}",
                            escape::field(i.as_bytes()),
                            if ok {
                                ""
                            } else {
                                " (MISSING in the target: exec fails with ENOENT)"
                            }
                        ));
                    }
                    d.push_str(if elf.stripped {
                        ", stripped"
                    } else {
                        ", not stripped"
                    });
                    row.elf = Some(elf);
                    ("elf", d)
                }
                Err(e) => ("data", format!("ELF, damaged: {}", util::io_error(&e))),
            }
        } else if let Some(mut sb) = parse_shebang(&head) {
            let mut d = format!("script, {}", escape::field(sb.line.as_bytes()));
            match present(ctx, &sb.interpreter) {
                Some((true, real_interp)) => {
                    let x = nix::unistd::access(&real_interp, AccessFlags::X_OK).is_ok();
                    sb.interpreter_present = Some(true);
                    sb.interpreter_executable = Some(x);
                    if !x {
                        d.push_str(&format!(
                            "; interpreter {} is not executable for uid {}",
                            escape::field(sb.interpreter.as_bytes()),
                            nix::unistd::geteuid()
                        ));
                    }
                }
                _ => {
                    sb.interpreter_present = Some(false);
                    d.push_str(&format!(
                        "; interpreter {} is MISSING in the target (exec fails with ENOENT)",
                        escape::field(sb.interpreter.as_bytes())
                    ));
                }
            }
            row.shebang = Some(sb);
            ("script", d)
        } else {
            let k = text_kind(&head);
            (if k == "data" { "data" } else { "text" }, k.to_string())
        }
    };
    row.kind = kind;
    row.description = description;
    row
}

impl Builtin for FileCmd {
    const NAME: &'static str = "file";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let rows: Vec<Row> = self.paths.iter().map(|p| describe(ctx, p)).collect();
        let status = i32::from(rows.iter().any(|r| r.kind == "error"));
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            return Ok(status);
        }
        for r in &rows {
            writeln!(
                io.out,
                "{}: {}",
                escape::field(r.path.as_bytes()),
                r.description
            )?;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn own_binary_is_a_64_bit_elf_for_this_machine() {
        let exe = std::env::current_exe().unwrap();
        let elf = parse_elf(&File::open(exe).unwrap()).unwrap();
        assert_eq!(elf.class, 64);
        assert_eq!(elf.endian, "LSB");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(elf.machine, "x86-64");
        // The test binary is not stripped (it has debug info and symbols).
        assert!(!elf.stripped);
    }

    #[test]
    fn bin_ls_is_dynamic_with_the_standard_interpreter() {
        let elf = parse_elf(&File::open("/bin/ls").unwrap()).unwrap();
        assert_eq!(elf.linking, "dynamic");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            elf.interpreter.as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        assert!(elf.elf_type.ends_with("executable"));
    }

    #[test]
    fn truncated_and_foreign_files_are_not_elf() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        fs::write(&p, b"\x7fELF\x02\x01").unwrap();
        assert!(parse_elf(&File::open(&p).unwrap()).is_err());
        fs::write(&p, b"#!/bin/sh\n").unwrap();
        assert!(parse_elf(&File::open(&p).unwrap()).is_err());
    }

    #[test]
    fn shebang_lines_split_like_the_kernel() {
        let s = parse_shebang(b"#!/usr/bin/env python3 -u\nprint()\n").unwrap();
        assert_eq!(s.interpreter, "/usr/bin/env");
        assert_eq!(s.argument.as_deref(), Some("python3 -u"));
        assert_eq!(s.line, "#!/usr/bin/env python3 -u");
        let s = parse_shebang(b"#! /bin/sh\n").unwrap();
        assert_eq!((s.interpreter.as_str(), s.argument), ("/bin/sh", None));
        assert!(parse_shebang(b"echo hi\n").is_none());
    }

    #[test]
    fn file_describes_scripts_links_and_text_in_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("app")).unwrap();
        fs::write(r.join("app/run.sh"), b"#!/bin/sh -e\necho hi\n").unwrap();
        fs::write(r.join("app/notes"), "caf\u{e9}\n").unwrap();
        fs::write(r.join("app/empty"), b"").unwrap();
        fs::write(r.join("app/blob"), b"\x00\x01\x02").unwrap();
        fs::create_dir_all(r.join("usr/bin")).unwrap();
        fs::write(r.join("usr/bin/python3"), b"").unwrap();
        fs::set_permissions(r.join("usr/bin/python3"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(r.join("app/py"), b"#!/usr/bin/python3\n").unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", r.join("app/link")).unwrap();
        let ctx = Ctx::for_root(r.to_path_buf());
        let d = describe(&ctx, "/app/run.sh");
        assert_eq!(d.kind, "script");
        assert!(
            d.description.contains("/bin/sh is MISSING"),
            "{}",
            d.description
        );
        assert_eq!(describe(&ctx, "/app/notes").description, "UTF-8 text");
        assert_eq!(describe(&ctx, "/app/empty").kind, "empty");
        assert_eq!(describe(&ctx, "/app/blob").kind, "data");
        assert_eq!(describe(&ctx, "/app").kind, "directory");
        assert_eq!(
            describe(&ctx, "/app/link").description,
            "symbolic link to /usr/bin/python3"
        );
        let py = describe(&ctx, "/app/py");
        let sb = py.shebang.unwrap();
        assert_eq!(sb.interpreter_present, Some(true));
        // No execute bit at all: not executable, even for root.
        assert_eq!(sb.interpreter_executable, Some(false));
        assert_eq!(describe(&ctx, "/nope").kind, "error");
    }
}
