//! `help`.

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, table, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// List the builtins. Every builtin answers --help.
#[derive(Parser)]
#[command(name = "help", disable_version_flag = true)]
pub struct Help {
    /// Show the --help of this builtin.
    builtin: Option<String>,
}

impl Builtin for Help {
    const NAME: &'static str = "help";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        if let Some(name) = self.builtin {
            return match super::find(&name) {
                Some(e) => Ok((e.run)(&[name, "--help".into()], io, ctx)),
                None => {
                    writeln!(
                        io.err,
                        "help: no builtin named {}",
                        crate::escape::field(name.as_bytes())
                    )?;
                    Ok(1)
                }
            };
        }
        writeln!(
            io.out,
            "nosh builtins (run as the target's identity; `NAME --help` for details):"
        )?;
        let rows: Vec<Vec<String>> = table()
            .iter()
            .map(|e| vec![format!("  {}", e.name), (e.about)()])
            .collect();
        util::write_table(&mut io.out, None, &rows, &[])?;
        writeln!(
            io.out,
            "Grammar: 'quotes' \"quotes\" \\escapes $VAR globs ; && || | > >> < 2> 2>&1"
        )?;
        Ok(0)
    }
}
