//! `resolve NAME [--dns] [--json]`.

use std::io::{self, Write};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::dns::{Resolver, Source};
use crate::term::escape;

/// Resolve a name as the target's programs would
///
/// The target's /etc/hosts first, then the nameservers of its /etc/resolv.conf (UDP, A and AAAA,
/// with its `search` domains and `ndots`), asked from the target's network
/// namespace. Each address is printed with where it came from.
///
/// JSON (--json): {name (the name answered, after search domains),
/// addresses (array of strings), source ("hosts", "literal" or the
/// nameserver's address), truncated (bool: the answer did not fit in UDP)}.
#[derive(Parser)]
#[command(name = "resolve", disable_version_flag = true)]
pub struct Resolve {
    /// Skip /etc/hosts and ask the nameservers.
    #[arg(long)]
    dns: bool,
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// The host name to look up.
    name: String,
}

#[derive(Serialize)]
struct Out {
    name: String,
    addresses: Vec<String>,
    source: String,
    truncated: bool,
}

/// The target's resolver configuration, read through the target's root.
pub fn resolver(ctx: &Ctx) -> Resolver {
    Resolver::load(|p| {
        let instead = "resolving without it";
        Ok(crate::target::file::read_or_note(
            p,
            &ctx.resolve(p),
            crate::target::file::CONFIG_CAP,
            instead,
        ))
    })
}

impl Builtin for Resolve {
    const NAME: &'static str = "resolve";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let r = resolver(ctx);
        let found = if self.dns {
            r.lookup_dns(&self.name)
        } else {
            r.lookup(&self.name)
        };
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                writeln!(
                    io.err,
                    "resolve: {}",
                    escape::field(e.to_string().as_bytes())
                )?;
                return Ok(1);
            }
        };
        let source = match found.source {
            Source::Hosts => "hosts".to_string(),
            ref s => s.to_string(),
        };
        if self.json {
            util::write_json(
                &mut io.out,
                &Out {
                    name: found.name,
                    addresses: found.addrs.iter().map(|a| a.to_string()).collect(),
                    source,
                    truncated: found.truncated,
                },
            )?;
            return Ok(0);
        }
        let from = match found.source {
            Source::Hosts => "/etc/hosts".to_string(),
            Source::Literal => "an address already".to_string(),
            Source::Nameserver(ip) => format!("nameserver {ip}"),
        };
        let name = escape::field(found.name.as_bytes()).into_owned();
        let rows: Vec<Vec<String>> = found
            .addrs
            .iter()
            .map(|a| vec![name.clone(), a.to_string(), from.clone()])
            .collect();
        util::write_table(&mut io.out, None, &rows, &[])?;
        if found.truncated {
            writeln!(
                io.out,
                "(the answer was truncated; more addresses may exist)"
            )?;
        }
        Ok(0)
    }
}
