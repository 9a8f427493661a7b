//! `limits [PID] [--json]`.

use std::io::{self, Write};

use clap::Parser;
use serde::Serialize;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;
use crate::term::escape;

/// Resource limits (ulimits) of a process.
///
/// For PID (default: the target), from /proc/PID/limits: soft and hard values, unlimited spelled out.
///
/// JSON (--json): an array of {limit, key, soft, hard, units}; key is the
/// snake_case name (max_open_files), soft and hard are numbers or null
/// for unlimited.
#[derive(Parser)]
#[command(name = "limits", disable_version_flag = true)]
pub struct Limits {
    /// One JSON document.
    #[arg(long)]
    json: bool,
    /// A process id in the target's PID namespace.
    pid: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub limit: String,
    pub key: String,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
    pub units: String,
}

fn value(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// Parse `/proc/PID/limits`. Columns are fixed-width, at the offsets of the
/// header's "Soft Limit", "Hard Limit" and "Units".
pub fn parse(text: &str) -> Option<Vec<Row>> {
    let mut lines = text.lines();
    let header = lines.next()?;
    let soft_at = header.find("Soft Limit")?;
    let hard_at = header.find("Hard Limit")?;
    let units_at = header.find("Units")?;
    let cut = |l: &str, a: usize, b: usize| -> String {
        l.get(a.min(l.len())..b.min(l.len()))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut rows = Vec::new();
    for l in lines.filter(|l| !l.trim().is_empty()) {
        let limit = cut(l, 0, soft_at);
        let soft = cut(l, soft_at, hard_at);
        let hard = cut(l, hard_at, units_at);
        let units = cut(l, units_at, l.len());
        rows.push(Row {
            key: limit.to_ascii_lowercase().replace(' ', "_"),
            soft: value(&soft),
            hard: value(&hard),
            limit,
            units,
        });
    }
    Some(rows)
}

impl Builtin for Limits {
    const NAME: &'static str = "limits";
    fn run(self, io: &mut Io, ctx: &mut Ctx) -> io::Result<i32> {
        let pid = self.pid.unwrap_or(ctx.target_pid);
        let text = match std::fs::read_to_string(ctx.proc.path(pid, "limits")) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                writeln!(io.err, "limits: no process {pid}")?;
                return Ok(1);
            }
            Err(e) => {
                writeln!(io.err, "limits: pid {pid}: {}", util::io_error(&e))?;
                return Ok(1);
            }
        };
        let Some(rows) = parse(&text) else {
            writeln!(
                io.err,
                "limits: pid {pid}: unexpected /proc/{pid}/limits format"
            )?;
            return Ok(1);
        };
        if self.json {
            util::write_json(&mut io.out, &rows)?;
            return Ok(0);
        }
        let show = |v: Option<u64>| v.map_or("unlimited".to_string(), |n| n.to_string());
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    escape::field(r.limit.as_bytes()).into_owned(),
                    show(r.soft),
                    show(r.hard),
                    escape::field(r.units.as_bytes()).into_owned(),
                ]
            })
            .collect();
        util::write_table(
            &mut io.out,
            Some(&["LIMIT", "SOFT", "HARD", "UNITS"]),
            &table,
            &[1, 2],
        )?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max file size             unlimited            unlimited            bytes     
Max stack size            8388608              unlimited            bytes     
Max processes             63457                63457                processes 
Max open files            1024                 1048576              files     
Max locked memory         8388608              8388608              bytes     
Max realtime timeout      unlimited            unlimited            us        
";

    #[test]
    fn proc_limits_sample_parses() {
        let rows = parse(SAMPLE).unwrap();
        assert_eq!(rows.len(), 7);
        assert_eq!(
            rows[4],
            Row {
                limit: "Max open files".into(),
                key: "max_open_files".into(),
                soft: Some(1024),
                hard: Some(1_048_576),
                units: "files".into(),
            }
        );
        assert_eq!(rows[0].soft, None);
        assert_eq!(rows[2].soft, Some(8_388_608));
        assert_eq!(rows[2].hard, None);
        assert_eq!(rows[6].units, "us");
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn own_limits_parse() {
        let text = std::fs::read_to_string("/proc/self/limits").unwrap();
        let rows = parse(&text).unwrap();
        assert!(
            rows.iter()
                .any(|r| r.key == "max_open_files" && r.soft.is_some())
        );
    }
}
