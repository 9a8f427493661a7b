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
    let (is64, e, h) = header(f)?;
    let e_type = e.u16(&h, 16);
    let machine = machine_name(e.u16(&h, 18));
    let (shoff, shentsize, shnum) = if is64 {
        (e.u64(&h, 40), e.u16(&h, 58), e.u16(&h, 60))
    } else {
        (e.u32(&h, 32) as u64, e.u16(&h, 46), e.u16(&h, 48))
    };
    let mut interpreter = None;
    let mut has_dynamic = false;
    let mut pie_flag = false;
    for (p_type, off, _, filesz) in program_headers(f, is64, &e, &h)? {
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

/// The dynamic section of an ELF object: what the loader reads to find
/// and check its libraries (ld.so(8), elf(5)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dynamic {
    /// 32 or 64: a library of another class is skipped by the loader.
    pub class: u8,
    pub machine: String,
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    pub soname: Option<String>,
    /// `DT_RPATH`, searched before `LD_LIBRARY_PATH` (ignored when there is a `DT_RUNPATH`).
    pub rpath: Option<String>,
    /// `DT_RUNPATH`, searched after `LD_LIBRARY_PATH`.
    pub runpath: Option<String>,
    /// `DF_1_NODEFLIB`: the cache and the default directories are not searched.
    pub nodeflib: bool,
    /// `DT_VERNEED`: for each library file, the version names it must define.
    pub verneed: Vec<VersionNeed>,
    /// `DT_VERDEF`: the version names this object defines (e.g. `GLIBC_2.34`).
    pub verdef: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionNeed {
    pub file: String,
    /// Non-weak versions only: a weak one missing is not fatal.
    pub versions: Vec<String>,
}

const PT_LOAD: u32 = 1;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;
const DT_VERDEF: u64 = 0x6fff_fffc;
const DT_VERDEFNUM: u64 = 0x6fff_fffd;
const DT_VERNEED: u64 = 0x6fff_fffe;
const DT_VERNEEDNUM: u64 = 0x6fff_ffff;
const DF_1_NODEFLIB: u64 = 0x800;
const VER_FLG_BASE: u16 = 1;
const VER_FLG_WEAK: u16 = 2;
/// Bounds on what one object may declare: far above real ones (libc has
/// ~40 version definitions, big programs ~100 DT_NEEDED).
const MAX_ENTRIES: usize = 4096;
const MAX_NAME: usize = 4096;

/// One program header: (type, file offset, virtual address, size in the file).
type Segment = (u32, u64, u64, u64);

/// The parts of the ELF header the dynamic section needs.
fn segments(f: &File) -> io::Result<(bool, Endian, u16, Vec<Segment>)> {
    let (is64, e, h) = header(f)?;
    let machine = e.u16(&h, 18);
    let segments = program_headers(f, is64, &e, &h)?;
    Ok((is64, e, machine, segments))
}

/// The ELF header of `f` (64 bytes, the first 52 for a 32-bit object),
/// checked, with its class (`true` for 64-bit) and byte order.
fn header(f: &File) -> io::Result<(bool, Endian, [u8; 64])> {
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
    Ok((is64, e, h))
}

/// The program headers the ELF header `h` points at; none when their
/// entries are too small for the class.
fn program_headers(f: &File, is64: bool, e: &Endian, h: &[u8; 64]) -> io::Result<Vec<Segment>> {
    let (phoff, phentsize, phnum) = if is64 {
        (e.u64(h, 32), e.u16(h, 54), e.u16(h, 56))
    } else {
        (e.u32(h, 28) as u64, e.u16(h, 42), e.u16(h, 44))
    };
    let min_ph = if is64 { 56 } else { 32 };
    let mut out = Vec::new();
    if phnum > 0 && phentsize as usize >= min_ph {
        let table = read_table(f, phoff, phentsize as u64 * phnum as u64)?;
        for ph in table.chunks_exact(phentsize as usize) {
            out.push(if is64 {
                (e.u32(ph, 0), e.u64(ph, 8), e.u64(ph, 16), e.u64(ph, 32))
            } else {
                (
                    e.u32(ph, 0),
                    e.u32(ph, 4) as u64,
                    e.u32(ph, 8) as u64,
                    e.u32(ph, 16) as u64,
                )
            });
        }
    }
    Ok(out)
}

/// The file offset of a virtual address, through the PT_LOAD segments.
fn file_offset(segs: &[Segment], addr: u64) -> Option<u64> {
    segs.iter()
        .filter(|s| s.0 == PT_LOAD)
        .find(|s| addr >= s.2 && addr - s.2 < s.3)
        .and_then(|s| (addr - s.2).checked_add(s.1))
}

/// The NUL-terminated string at `at` in a string table, bounded.
fn str_at(table: &[u8], at: u64) -> Option<String> {
    let rest = table.get(usize::try_from(at).ok()?..)?;
    let end = rest.iter().take(MAX_NAME).position(|b| *b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Parse the dynamic section of `f`: DT_NEEDED, DT_SONAME, DT_RPATH,
/// DT_RUNPATH, DT_FLAGS_1 and the symbol version tables, with addresses
/// mapped to file offsets through the PT_LOAD segments as the loader maps
/// them. `None` for an object without PT_DYNAMIC (static). Every count and
/// offset comes from a hostile file: all are bounded, a bad one is an error.
pub fn parse_dynamic(f: &File) -> io::Result<Option<Dynamic>> {
    let (is64, e, machine, segs) = segments(f)?;
    let Some(dynseg) = segs.iter().find(|s| s.0 == PT_DYNAMIC) else {
        return Ok(None);
    };
    let raw = read_table(f, dynseg.1, dynseg.3.min(MAX_TABLE))?;
    let size = if is64 { 16 } else { 8 };
    let mut entries = Vec::new();
    for d in raw.chunks_exact(size).take(MAX_ENTRIES) {
        let tag = e.word(d, 0, is64);
        if tag == 0 {
            break;
        }
        entries.push((tag, e.word(d, size / 2, is64)));
    }
    let get = |tag: u64| entries.iter().find(|(t, _)| *t == tag).map(|(_, v)| *v);
    let strtab = match (get(DT_STRTAB), get(DT_STRSZ)) {
        (Some(addr), Some(len)) => {
            let off =
                file_offset(&segs, addr).ok_or_else(|| bad("string table outside the file"))?;
            read_table(f, off, len.min(MAX_TABLE))?
        }
        _ => Vec::new(),
    };
    let string =
        |v: u64| str_at(&strtab, v).ok_or_else(|| bad("string offset outside the string table"));
    let mut out = Dynamic {
        class: if is64 { 64 } else { 32 },
        machine: machine_name(machine),
        ..Default::default()
    };
    for (tag, val) in &entries {
        match *tag {
            DT_NEEDED => out.needed.push(string(*val)?),
            DT_SONAME => out.soname = Some(string(*val)?),
            DT_RPATH => out.rpath = Some(string(*val)?),
            DT_RUNPATH => out.runpath = Some(string(*val)?),
            DT_FLAGS_1 => out.nodeflib = val & DF_1_NODEFLIB != 0,
            _ => {}
        }
    }
    if let (Some(addr), Some(num)) = (get(DT_VERNEED), get(DT_VERNEEDNUM)) {
        let off = file_offset(&segs, addr).ok_or_else(|| bad("version needs outside the file"))?;
        out.verneed = parse_verneed(f, &e, off, num, &strtab)?;
    }
    if let (Some(addr), Some(num)) = (get(DT_VERDEF), get(DT_VERDEFNUM)) {
        let off =
            file_offset(&segs, addr).ok_or_else(|| bad("version definitions outside the file"))?;
        out.verdef = parse_verdef(f, &e, off, num, &strtab)?;
    }
    Ok(Some(out))
}

/// `Elf_Verneed` (16 bytes) chained by `vn_next`, each with `vn_cnt`
/// `Elf_Vernaux` (16 bytes) chained by `vna_next`; the same in ELF32 and ELF64.
fn parse_verneed(
    f: &File,
    e: &Endian,
    start: u64,
    num: u64,
    strtab: &[u8],
) -> io::Result<Vec<VersionNeed>> {
    let mut out = Vec::new();
    let mut at = start;
    let mut budget = MAX_ENTRIES;
    for _ in 0..num.min(MAX_ENTRIES as u64) {
        let vn = read_table(f, at, 16)?;
        let (cnt, file, aux, next) = (e.u16(&vn, 2), e.u32(&vn, 4), e.u32(&vn, 8), e.u32(&vn, 12));
        let file = str_at(strtab, file.into()).ok_or_else(|| bad("bad version need file name"))?;
        let mut versions = Vec::new();
        let mut a = at
            .checked_add(aux.into())
            .ok_or_else(|| bad("bad version need"))?;
        for _ in 0..cnt {
            budget = budget
                .checked_sub(1)
                .ok_or_else(|| bad("too many version needs"))?;
            let vna = read_table(f, a, 16)?;
            let (flags, name, anext) = (e.u16(&vna, 4), e.u32(&vna, 8), e.u32(&vna, 12));
            let name = str_at(strtab, name.into()).ok_or_else(|| bad("bad version name"))?;
            if flags & VER_FLG_WEAK == 0 {
                versions.push(name);
            }
            if anext == 0 {
                break;
            }
            a = a
                .checked_add(anext.into())
                .ok_or_else(|| bad("bad version need"))?;
        }
        out.push(VersionNeed { file, versions });
        if next == 0 {
            break;
        }
        at = at
            .checked_add(next.into())
            .ok_or_else(|| bad("bad version need"))?;
    }
    Ok(out)
}

/// `Elf_Verdef` (20 bytes) chained by `vd_next`; its first `Elf_Verdaux`
/// names the version. The base definition (the file's own name) is skipped.
fn parse_verdef(
    f: &File,
    e: &Endian,
    start: u64,
    num: u64,
    strtab: &[u8],
) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut at = start;
    for _ in 0..num.min(MAX_ENTRIES as u64) {
        let vd = read_table(f, at, 20)?;
        let (flags, cnt, aux, next) =
            (e.u16(&vd, 2), e.u16(&vd, 6), e.u32(&vd, 12), e.u32(&vd, 16));
        if cnt > 0 && flags & VER_FLG_BASE == 0 {
            let a = at
                .checked_add(aux.into())
                .ok_or_else(|| bad("bad version definition"))?;
            let vda = read_table(f, a, 8)?;
            out.push(str_at(strtab, e.u32(&vda, 0).into()).ok_or_else(|| bad("bad version name"))?);
        }
        if next == 0 {
            break;
        }
        at = at
            .checked_add(next.into())
            .ok_or_else(|| bad("bad version definition"))?;
    }
    Ok(out)
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
    let f = crate::target::file::open(path)?;
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
    fn bin_ls_needs_libc_with_glibc_versions_that_libc_defines() {
        let ls = parse_dynamic(&File::open("/bin/ls").unwrap())
            .unwrap()
            .unwrap();
        assert!(ls.needed.iter().any(|n| n == "libc.so.6"), "{ls:?}");
        let need = ls.verneed.iter().find(|v| v.file == "libc.so.6").unwrap();
        assert!(
            need.versions.iter().all(|v| v.starts_with("GLIBC_")),
            "{need:?}"
        );
        #[cfg(target_arch = "x86_64")]
        {
            let libc = File::open("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
            let libc = parse_dynamic(&libc).unwrap().unwrap();
            assert_eq!(libc.soname.as_deref(), Some("libc.so.6"));
            assert!(libc.verdef.iter().any(|v| v == "GLIBC_2.2.5"), "{libc:?}");
            assert!(need.versions.iter().all(|v| libc.verdef.contains(v)));
        }
        // A static binary has no dynamic section.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        fs::write(&p, b"#!/bin/sh\n").unwrap();
        assert!(parse_dynamic(&File::open(&p).unwrap()).is_err());
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
