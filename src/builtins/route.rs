//! `route [-4] [-6] [--json]` (also `ip route`).

use std::io::{self, Write};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::target::procnet::{self, Route as Row};
use crate::term::escape;

/// Show the target's routing table
///
/// Routes of the target's network namespace (IPv4 from
/// /proc/net/route, IPv6 from /proc/net/ipv6_route): destination, gateway,
/// interface, metric and flags (U up, G via a gateway, H host, ! reject).
///
/// JSON (--json): an array of {destination ("default" or ADDR/LEN),
/// gateway (null when on-link), iface, metric, flags}.
#[derive(Parser)]
#[command(name = "route", disable_version_flag = true)]
pub struct Route {
    /// IPv4 routes only.
    #[arg(short = '4', conflicts_with = "v6")]
    v4: bool,
    /// IPv6 routes only.
    #[arg(short = '6')]
    v6: bool,
    /// One JSON document.
    #[arg(long)]
    json: bool,
}

/// The routes of this network namespace.
pub fn read(ctx: &Ctx, v4: bool, v6: bool) -> Vec<Row> {
    let net = ctx.proc.root.join("net");
    let mut rows = Vec::new();
    if v4 && let Ok(text) = procnet::read_file(&net.join("route")) {
        rows.extend(procnet::parse_route(&text));
    }
    if v6 && let Ok(text) = procnet::read_file(&net.join("ipv6_route")) {
        rows.extend(procnet::parse_ipv6_route(&text));
    }
    rows
}

/// Print routes as a table or JSON.
pub fn show(io: &mut Io, rows: &[Row], json: bool) -> io::Result<i32> {
    if json {
        util::write_json(&mut io.out, &rows)?;
        return Ok(0);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.destination.clone(),
                r.gateway.clone().unwrap_or_else(|| "-".into()),
                escape::field(r.iface.as_bytes()).into_owned(),
                r.metric.to_string(),
                r.flags.clone(),
            ]
        })
        .collect();
    util::write_table(
        &mut io.out,
        Some(&["DESTINATION", "GATEWAY", "IFACE", "METRIC", "FLAGS"]),
        &table,
        &[3],
    )?;
    if rows.is_empty() {
        writeln!(io.out, "(no routes: only loopback, or no network)")?;
    }
    Ok(0)
}

impl Builtin for Route {
    const NAME: &'static str = "route";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let both = !self.v4 && !self.v6;
        let rows = read(ctx, self.v4 || both, self.v6 || both);
        show(io, &rows, self.json)
    }
}
