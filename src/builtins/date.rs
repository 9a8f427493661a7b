//! `date [-u] [-d @EPOCH|DATE] [+FORMAT]`.

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;

use super::{Builtin, util};
use crate::shell::Ctx;
use crate::shell::io::Io;

/// Print the date and time, in UTC, as GNU date does.
///
/// The toolbox has no time zone database, so times are UTC (-u is
/// accepted and changes nothing). FORMAT takes the common conversions:
/// %Y %C %y %m %d %e %j %H %I %M %S %N %p %s %a %A %b %h %B %u %w %z %Z
/// %F %T %D %R %c %n %t %%. Without FORMAT: `Tue Dec  1 22:38:13 UTC 2026`.
#[derive(Parser)]
#[command(name = "date", disable_version_flag = true)]
pub struct Date {
    /// Print in UTC (always the case).
    #[arg(short = 'u', long = "utc")]
    utc: bool,
    /// Show this time instead of now: @SECONDS since the epoch (fractions
    /// allowed), or YYYY-MM-DD[ HH:MM[:SS]].
    #[arg(short = 'd', long = "date", value_name = "STRING")]
    date: Option<String>,
    /// +FORMAT.
    format: Option<String>,
}

const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `@1700000000.5` or `2026-12-01 22:38[:13]` (`T` between is fine).
pub fn parse_date(s: &str) -> Option<(i64, u32)> {
    if let Some(epoch) = s.strip_prefix('@') {
        let (secs, frac) = epoch.split_once('.').unwrap_or((epoch, ""));
        let secs: i64 = secs.parse().ok()?;
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        let nanos: u32 = digits.parse().ok()?;
        return Some((secs, nanos));
    }
    let s = s.trim().trim_end_matches('Z');
    let (day, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00"),
    };
    let mut d = day.splitn(3, '-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: u32 = d.next()?.parse().ok()?;
    let dd: u32 = d.next()?.parse().ok()?;
    let mut t = time.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next().map_or(Some(0), |x| x.parse().ok())?;
    if t.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&dd)
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..=60).contains(&sec)
    {
        return None;
    }
    Some((
        days_from_civil(y, m, dd) * 86_400 + h * 3600 + mi * 60 + sec,
        0,
    ))
}

/// strftime(3) for UTC.
pub fn format(fmt: &str, secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let (y, m, d) = util::civil_from_days(days);
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    let wday = (days + 4).rem_euclid(7) as usize;
    let yday = days - days_from_civil(y, 1, 1) + 1;
    let month = MONTHS[(m - 1) as usize];
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let piece = match spec {
            'Y' => y.to_string(),
            'C' => format!("{:02}", y.div_euclid(100)),
            'y' => format!("{:02}", y.rem_euclid(100)),
            'm' => format!("{m:02}"),
            'd' => format!("{d:02}"),
            'e' => format!("{d:2}"),
            'j' => format!("{yday:03}"),
            'H' => format!("{h:02}"),
            'k' => format!("{h:2}"),
            'I' => format!("{h12:02}"),
            'l' => format!("{h12:2}"),
            'M' => format!("{mi:02}"),
            'S' => format!("{s:02}"),
            'N' => format!("{nanos:09}"),
            'p' => (if h < 12 { "AM" } else { "PM" }).to_string(),
            's' => secs.to_string(),
            'a' => DAYS[wday][..3].to_string(),
            'A' => DAYS[wday].to_string(),
            'b' | 'h' => month[..3].to_string(),
            'B' => month.to_string(),
            'u' => (if wday == 0 { 7 } else { wday }).to_string(),
            'w' => wday.to_string(),
            'z' => "+0000".to_string(),
            'Z' => "UTC".to_string(),
            'F' => format!("{y:04}-{m:02}-{d:02}"),
            'T' => format!("{h:02}:{mi:02}:{s:02}"),
            'D' => format!("{m:02}/{d:02}/{:02}", y.rem_euclid(100)),
            'R' => format!("{h:02}:{mi:02}"),
            'c' => format(DEFAULT_FORMAT_C, secs, nanos),
            'n' => "\n".to_string(),
            't' => "\t".to_string(),
            '%' => "%".to_string(),
            other => format!("%{other}"),
        };
        out.push_str(&piece);
    }
    out
}

/// GNU date's default in the C locale.
const DEFAULT_FORMAT: &str = "%a %b %e %H:%M:%S %Z %Y";
/// `%c` in the C locale.
const DEFAULT_FORMAT_C: &str = "%a %b %e %H:%M:%S %Y";

impl Builtin for Date {
    const NAME: &'static str = "date";
    fn run(self, io: &mut Io, _ctx: &mut Ctx) -> io::Result<i32> {
        let _ = self.utc;
        let fmt = match self.format.as_deref() {
            None => DEFAULT_FORMAT,
            Some(f) => match f.strip_prefix('+') {
                Some(f) => f,
                None => {
                    writeln!(
                        io.err,
                        "date: invalid argument `{}': a format starts with + (date +%F), and nosh does not set the clock",
                        crate::term::escape::field(f.as_bytes())
                    )?;
                    return Ok(2);
                }
            },
        };
        let (secs, nanos) = match self.date.as_deref() {
            Some(d) => match parse_date(d) {
                Some(t) => t,
                None => {
                    writeln!(
                        io.err,
                        "date: invalid date `{}' (try @SECONDS or YYYY-MM-DD HH:MM:SS)",
                        crate::term::escape::field(d.as_bytes())
                    )?;
                    return Ok(1);
                }
            },
            None => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                (now.as_secs() as i64, now.subsec_nanos())
            }
        };
        writeln!(io.out, "{}", format(fmt, secs, nanos))?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_gnu_date_in_utc() {
        // 2026-12-01 22:38:13 UTC, a Tuesday.
        let t = 1_796_164_693;
        assert_eq!(format(DEFAULT_FORMAT, t, 0), "Tue Dec  1 22:38:13 UTC 2026");
        assert_eq!(
            format("%F %T %j %u %w %I%p %s", t, 0),
            "2026-12-01 22:38:13 335 2 2 10PM 1796164693"
        );
        assert_eq!(format("%N %%x %q", t, 5), "000000005 %x %q");
        assert_eq!(
            format("%A %B %D %y %C", 0, 0),
            "Thursday January 01/01/70 70 19"
        );
        assert_eq!(format("%F", -1, 0), "1969-12-31");
    }

    #[test]
    fn dates_parse_as_epoch_or_iso() {
        assert_eq!(parse_date("@1796164693"), Some((1_796_164_693, 0)));
        assert_eq!(parse_date("@1.5"), Some((1, 500_000_000)));
        assert_eq!(parse_date("2026-12-01 22:38:13"), Some((1_796_164_693, 0)));
        assert_eq!(parse_date("2026-12-01T22:38:13Z"), Some((1_796_164_693, 0)));
        assert_eq!(parse_date("2000-03-01"), Some((951_868_800, 0)));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("tomorrow"), None);
    }
}
