//! What a program file is: an ELF binary (static or dynamic, and its
//! interpreter) or a script (its shebang). Shared by `file`, `entrypoint`
//! and `doctor`. Parsed by hand from the first bytes: no dependency, and a
//! truncated or hostile file is an error, never a panic.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    Elf(Elf),
    /// `#!interp [arg]`
    Script {
        interpreter: String,
        arg: Option<String>,
    },
    Empty,
    /// Anything else (text, data); the string says which.
    Other(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elf {
    pub bits: u8,
    pub machine: &'static str,
    /// ET_EXEC, ET_DYN...
    pub kind: &'static str,
    /// PT_INTERP: the dynamic loader it needs.
    pub interpreter: Option<String>,
    /// Has PT_DYNAMIC (static-pie binaries have it without an interpreter).
    pub dynamic_section: bool,
}

impl Elf {
    /// "statically linked", "static-pie linked" or "dynamically linked".
    pub fn linkage(&self) -> &'static str {
        match (&self.interpreter, self.dynamic_section) {
            (Some(_), _) => "dynamically linked",
            (None, true) if self.kind == "shared object" => "static-pie linked",
            (None, _) => "statically linked",
        }
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Read what a program file is.
pub fn inspect(path: &Path) -> io::Result<Program> {
    let mut f = File::open(path)?;
    let mut head = [0u8; 256];
    let n = read_up_to(&mut f, &mut head)?;
    let head = &head[..n];
    if head.is_empty() {
        return Ok(Program::Empty);
    }
    if head.starts_with(b"\x7fELF") {
        return parse_elf(&mut f, head).map(Program::Elf);
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next().unwrap_or(rest);
        let line = String::from_utf8_lossy(line);
        let mut words = line.trim().splitn(2, [' ', '\t']);
        let interpreter = words.next().unwrap_or_default().to_string();
        let arg = words
            .next()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        return Ok(Program::Script { interpreter, arg });
    }
    if head.contains(&0) {
        return Ok(Program::Other("data"));
    }
    if std::str::from_utf8(head).is_ok() || head.is_ascii() {
        return Ok(Program::Other("text"));
    }
    Ok(Program::Other("data"))
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn parse_elf(f: &mut File, head: &[u8]) -> io::Result<Elf> {
    if head.len() < 52 {
        return Err(bad("truncated ELF header"));
    }
    let bits = match head[4] {
        1 => 32,
        2 => 64,
        _ => return Err(bad("unknown ELF class")),
    };
    let le = match head[5] {
        1 => true,
        2 => false,
        _ => return Err(bad("unknown ELF byte order")),
    };
    let u16_at = |b: &[u8], o: usize| -> io::Result<u16> {
        let s: [u8; 2] = b
            .get(o..o + 2)
            .ok_or_else(|| bad("truncated"))?
            .try_into()
            .map_err(|_| bad("truncated"))?;
        Ok(if le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    };
    let u32_at = |b: &[u8], o: usize| -> io::Result<u32> {
        let s: [u8; 4] = b
            .get(o..o + 4)
            .ok_or_else(|| bad("truncated"))?
            .try_into()
            .map_err(|_| bad("truncated"))?;
        Ok(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    };
    let u64_at = |b: &[u8], o: usize| -> io::Result<u64> {
        let s: [u8; 8] = b
            .get(o..o + 8)
            .ok_or_else(|| bad("truncated"))?
            .try_into()
            .map_err(|_| bad("truncated"))?;
        Ok(if le {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    };
    let kind = match u16_at(head, 16)? {
        1 => "relocatable",
        2 => "executable",
        3 => "shared object",
        4 => "core file",
        _ => "unknown type",
    };
    let machine = match u16_at(head, 18)? {
        3 => "Intel 80386",
        0x28 => "ARM",
        0x3e => "x86-64",
        0xb7 => "ARM aarch64",
        0xf3 => "RISC-V",
        0x08 => "MIPS",
        0x15 => "PowerPC64",
        0x16 => "IBM S/390",
        _ => "unknown machine",
    };
    let (phoff, phentsize, phnum) = if bits == 64 {
        (
            u64_at(head, 0x20)?,
            u16_at(head, 0x36)?,
            u16_at(head, 0x38)?,
        )
    } else {
        (
            u64::from(u32_at(head, 0x1c)?),
            u16_at(head, 0x2a)?,
            u16_at(head, 0x2c)?,
        )
    };
    let min_entry = if bits == 64 { 56 } else { 32 };
    if phnum > 512 || (phnum > 0 && usize::from(phentsize) < min_entry) {
        return Err(bad("implausible program header table"));
    }
    let mut table = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut table)
        .map_err(|_| bad("truncated program headers"))?;
    let mut interp_at = None;
    let mut dynamic_section = false;
    for ph in table.chunks_exact(usize::from(phentsize.max(1))) {
        let p_type = u32_at(ph, 0)?;
        let (offset, size) = if bits == 64 {
            (u64_at(ph, 8)?, u64_at(ph, 32)?)
        } else {
            (u64::from(u32_at(ph, 4)?), u64::from(u32_at(ph, 16)?))
        };
        match p_type {
            2 => dynamic_section = true,
            3 => interp_at = Some((offset, size.min(4096))),
            _ => {}
        }
    }
    let interpreter = match interp_at {
        Some((offset, size)) => {
            let mut buf = vec![0u8; size as usize];
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(&mut buf)
                .map_err(|_| bad("truncated interpreter path"))?;
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            Some(String::from_utf8_lossy(&buf[..end]).into_owned())
        }
        None => None,
    };
    Ok(Elf {
        bits,
        machine,
        kind,
        interpreter,
        dynamic_section,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_dynamic_system_binary_names_its_loader() {
        let Program::Elf(elf) = inspect(Path::new("/bin/ls")).unwrap() else {
            panic!("/bin/ls is not ELF?")
        };
        assert_eq!(elf.bits, 64);
        assert_eq!(elf.linkage(), "dynamically linked");
        assert!(elf.interpreter.unwrap().starts_with("/lib"));
    }

    #[test]
    fn scripts_report_their_shebang() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"#!/usr/bin/env python3\nprint(1)\n").unwrap();
        assert_eq!(
            inspect(f.path()).unwrap(),
            Program::Script {
                interpreter: "/usr/bin/env".into(),
                arg: Some("python3".into())
            }
        );
    }

    #[test]
    fn truncated_or_odd_files_do_not_panic() {
        for data in [
            &b"\x7fELF"[..],
            b"\x7fELF\x02\x01\x01",
            b"",
            b"plain text\n",
            b"\x00\x01binary",
        ] {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(data).unwrap();
            let _ = inspect(f.path());
        }
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut hdr = vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 2;
        hdr[5] = 1;
        hdr[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        hdr[0x36] = 56;
        hdr[0x38] = 3;
        f.write_all(&hdr).unwrap();
        assert!(inspect(f.path()).is_err());
    }
}
