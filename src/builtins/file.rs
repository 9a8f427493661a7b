//! `file [--json] PATH...`: what a file is, and whether it can run here.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileTypeExt;

use clap::Parser;
use nix::unistd::AccessFlags;
use serde::Serialize;

use super::{Builtin, readlink, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::libs::{self, Resolution};
use crate::target::program::{Elf, Shebang, parse_elf, parse_shebang, text_kind};
use crate::term::escape;

/// What a file is: ELF static/dynamic and its interpreter, script and its #!.
///
/// Describes ELF executables (32/64-bit, architecture, statically or
/// dynamically linked, the interpreter and whether it exists in the target,
/// stripped or not), scripts (the #! line, and whether its interpreter
/// exists and is executable for this identity), directories, symbolic
/// links, empty files, text and data.
///
/// A dynamically linked ELF's libraries are resolved as the target's
/// loader would and listed one a line (`name => path`, or `=> MISSING
/// (needed by ...)`), with glibc symbol versions the image's libc lacks.
///
/// JSON (--json): an array of {path, kind, description, libraries (null or
/// {needed [{name, needed_by, path, via}], missing_versions, ...}), elf (null or
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

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub path: String,
    pub kind: &'static str,
    pub description: String,
    pub elf: Option<Elf>,
    pub shebang: Option<Shebang>,
    /// For a dynamically linked ELF: its libraries, found or missing.
    pub libraries: Option<Resolution>,
}

/// Whether `path` exists in the target, following its symlinks there.
fn present(ctx: &Ctx, path: &str) -> Option<(bool, std::path::PathBuf)> {
    let canon = readlink::canonicalize(ctx, path).ok()?;
    let real = ctx.resolve(&canon);
    Some((fs::metadata(&real).is_ok(), real))
}

fn describe(ctx: &Ctx, path: &str) -> Row {
    let real = ctx.resolve_link(path);
    let mut row = Row {
        path: path.to_string(),
        kind: "error",
        description: String::new(),
        elf: None,
        shebang: None,
        libraries: None,
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
                    if elf.linking == "dynamic" {
                        row.libraries = readlink::canonicalize(ctx, path)
                            .ok()
                            .and_then(|p| libs::resolve(ctx, &p, &ctx.info.env));
                    }
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

/// The libraries of a program, one a line as ldd prints them, the
/// missing ones and the missing symbol versions marked.
pub fn write_libraries(out: &mut dyn Write, res: &Resolution, indent: &str) -> io::Result<()> {
    for n in &res.needed {
        let name = escape::field(n.name.as_bytes());
        match &n.path {
            Some(p) => writeln!(out, "{indent}{name} => {}", escape::field(p.as_bytes()))?,
            None => writeln!(
                out,
                "{indent}{name} => MISSING (needed by {})",
                escape::field(n.needed_by.as_bytes())
            )?,
        }
    }
    for v in &res.missing_versions {
        writeln!(
            out,
            "{indent}{} => MISSING in {} (needed by {})",
            escape::field(v.version.as_bytes()),
            escape::field(v.library_path.as_bytes()),
            escape::field(v.needed_by.as_bytes())
        )?;
    }
    Ok(())
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
            if let Some(res) = &r.libraries {
                write_libraries(&mut io.out, res, "  ")?;
            }
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
