//! What a program file is: an ELF binary (static, static-pie or dynamic,
//! and its interpreter) or a script (its shebang). Shared by `file`,
//! `entrypoint` and `doctor`. Parsed by hand from the headers (elf(5)): no
//! dependency, every table bounded, and a truncated or hostile file is an
//! error, never a panic.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::Serialize;

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

pub fn text_kind(head: &[u8]) -> &'static str {
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

/// What a program file is, as `entrypoint` and `doctor` need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    Elf(Elf),
    Script(Shebang),
    Empty,
    /// Anything else: "ASCII text", "UTF-8 text" or "data".
    Other(&'static str),
}

/// Read what the file at `path` is.
pub fn inspect(path: &Path) -> io::Result<Program> {
    // A FIFO or a device named as the program must not hang the caller.
    let f = crate::targetfile::open(path)?;
    let mut head = [0u8; 512];
    let n = f.read_at(&mut head, 0)?;
    let head = &head[..n];
    if head.is_empty() {
        return Ok(Program::Empty);
    }
    if head.starts_with(b"\x7fELF") {
        return parse_elf(&f).map(Program::Elf);
    }
    if let Some(s) = parse_shebang(head) {
        return Ok(Program::Script(s));
    }
    Ok(Program::Other(text_kind(head)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
    fn inspect_tells_elf_scripts_and_text_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        fs::write(&p, b"#!/usr/bin/env python3\nprint(1)\n").unwrap();
        match inspect(&p).unwrap() {
            Program::Script(s) => assert_eq!(s.interpreter, "/usr/bin/env"),
            other => panic!("{other:?}"),
        }
        fs::write(&p, b"").unwrap();
        assert_eq!(inspect(&p).unwrap(), Program::Empty);
        fs::write(&p, b"plain\n").unwrap();
        assert_eq!(inspect(&p).unwrap(), Program::Other("ASCII text"));
        assert!(matches!(
            inspect(Path::new("/bin/ls")).unwrap(),
            Program::Elf(_)
        ));
    }

    #[test]
    fn hostile_program_headers_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 2;
        hdr[5] = 1;
        hdr[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        hdr[54] = 56;
        hdr[56] = 3;
        fs::write(&p, &hdr).unwrap();
        assert!(inspect(&p).is_err());
    }
}
