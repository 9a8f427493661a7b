//! A container the engine keeps restarting, pinned down before nosh picks a
//! sidecar or a replica, so that the answer does not depend on the moment
//! nosh looked.
//!
//! The engine's restart manager counts a run shorter than 10 s as a failed
//! start (its backoff keeps doubling; a longer run resets it), and resets
//! `State.ExitCode` to 0 at every start. So a container the engine restarts
//! (it did, or its restart policy says it will) is looked at in one of
//! three phases:
//! 1. restarting (between two runs): `State.ExitCode` is the last run's;
//!    there is nothing to join, a replica is used;
//! 2. running for less than [`STABLE_AFTER`]: the run may die any moment,
//!    and a sidecar with it. nosh waits for the run's end, at most until it
//!    has lasted [`STABLE_AFTER`]: an end gives the exit code and a replica;
//!    otherwise the run counts as a start, as the engine counts it;
//! 3. running for longer: a sidecar; the previous run's exit code comes
//!    from the engine's `die` event, while the engine still remembers it.
//!
//! A sidecar session can still lose its run (the target dies between the
//! inspect and the sidecar's start, or during the session): [`run_changed`]
//! tells the caller, which settles again and retries.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::host::engine::Engine;
use crate::host::engine::wire::{self, Until};
use crate::host::error::{HostError, from_engine, status_of};
use crate::host::target::{Target, from_inspect};

/// How long a run must last for the engine to count it a successful start
/// (moby's restart manager resets its backoff after 10 s).
pub const STABLE_AFTER: Duration = Duration::from_secs(10);

/// The longest nosh waits for the engine's events of a past exit.
const EVENTS_TIMEOUT: Duration = Duration::from_secs(2);

/// `target` in a phase that lasts: see the module's steps. With `wait`
/// false (a replica was asked for, whatever the phase), nosh does not wait
/// for a young run's end and only looks the last exit code up.
pub async fn settle(engine: &Engine, target: Target, wait: bool) -> Result<Target, HostError> {
    if target.is_image || !restarts(&target) || target.info.state != "running" {
        // 1., or a container the engine does not restart.
        return Ok(target);
    }
    let up = uptime(&target.started_at, SystemTime::now()).unwrap_or(STABLE_AFTER);
    if !wait || up >= STABLE_AFTER {
        // 3.
        return Ok(with_event_exit(engine, target).await);
    }
    // 2.
    let left = STABLE_AFTER - up;
    let note = format!(
        "{} (restart policy {}, restarted {} time{}) has been up {:.1} s: waiting up to {:.1} s for this run to end or to last",
        target.info.display_name(),
        if target.info.restart_policy.is_empty() {
            "none"
        } else {
            &target.info.restart_policy
        },
        target.info.restart_count,
        if target.info.restart_count == 1 {
            ""
        } else {
            "s"
        },
        up.as_secs_f64(),
        left.as_secs_f64()
    );
    engine.log.say(|| note.clone());
    if std::io::stderr().is_terminal() && !engine.log.verbose {
        eprintln!("nosh: {}", crate::term::escape::field(note.as_bytes()));
    }
    let id = target.info.id.clone();
    let waiter = match wire::wait(engine, &id, Until::Exited).await {
        Ok(waiter) => waiter,
        Err(e) => {
            // Less certainty, not a failure: the run is taken as it is.
            engine
                .log
                .say(|| format!("cannot wait for the run's end: {e}"));
            return Ok(with_event_exit(engine, target).await);
        }
    };
    // The run may have ended before the wait was registered.
    let again = inspect(engine, &id).await?;
    if same_run(&target, &again).is_none_or(|same| !same) {
        return Ok(ended(engine, again, None).await);
    }
    match tokio::time::timeout(left, waiter.status()).await {
        Ok(Ok(code)) => {
            engine
                .log
                .say(|| format!("the run ended with exit code {code}"));
            let again = inspect(engine, &id).await?;
            Ok(ended(engine, again, Some(code)).await)
        }
        Ok(Err(e)) => {
            engine
                .log
                .say(|| format!("waiting for the run's end failed: {e}"));
            Ok(with_event_exit(engine, target).await)
        }
        Err(_) => {
            engine
                .log
                .say(|| "the run lasted: a sidecar joins it".into());
            Ok(with_event_exit(engine, target).await)
        }
    }
}

/// Whether the engine restarts `target` when its run ends: it did already,
/// or its restart policy says it will (`on-failure:N` only N times).
pub fn restarts(target: &Target) -> bool {
    let info = &target.info;
    if info.restart_count > 0 {
        return true;
    }
    match info.restart_policy.split_once(':') {
        Some(("on-failure", max)) => max.parse::<i64>().is_ok_and(|max| info.restart_count < max),
        _ => matches!(
            info.restart_policy.as_str(),
            "always" | "unless-stopped" | "on-failure"
        ),
    }
}

/// Whether the run a sidecar of `target` joined has ended or was replaced
/// since `target` was inspected (a removed container counts as ended).
pub async fn run_changed(engine: &Engine, target: &Target) -> bool {
    match inspect(engine, &target.info.id).await {
        Ok(now) => same_run(target, &now) != Some(true),
        Err(e) => {
            engine.log.say(|| format!("inspect after the session: {e}"));
            true
        }
    }
}

/// True when `now` is still the run `before` found running; `None` when
/// `now` is not running at all.
fn same_run(before: &Target, now: &Target) -> Option<bool> {
    (now.info.state == "running").then(|| now.started_at == before.started_at)
}

/// The container after the run found running has ended: its last exit
/// code is the one nosh saw end (`seen`), else the engine's record, else
/// the `die` event; a sidecar has no run to join.
async fn ended(engine: &Engine, mut target: Target, seen: Option<i64>) -> Target {
    target.run_ended = true;
    if target.info.state != "running" {
        return target;
    }
    // Restarted again already (the first restarts come after 100 ms).
    match seen {
        Some(code) => {
            target.info.exit_code = code;
            target.info.exit_code_source = "wait".into();
            target
        }
        None => with_event_exit(engine, target).await,
    }
}

/// `target` with the exit code of the run before this one, from the
/// engine's `die` event at `State.FinishedAt`, when the engine restarted it
/// and still has the event (it keeps its last few hundred in memory).
async fn with_event_exit(engine: &Engine, mut target: Target) -> Target {
    if target.info.restart_count == 0 {
        // Nothing ended by itself: a FinishedAt here is a stop someone asked for.
        return target;
    }
    if let Some(code) = die_event_exit(engine, &target.info.id, &target.finished_at).await {
        target.info.exit_code = code;
        target.info.exit_code_source = "event".into();
    }
    target
}

/// How far before a `die` a `kill` (docker stop, kill, restart) makes the
/// end one that was asked for: the default stop timeout, and a second.
const ASKED_WINDOW: u64 = 11;

async fn die_event_exit(engine: &Engine, id: &str, finished_at: &str) -> Option<i64> {
    let finished = unix_secs(finished_at)?.as_secs();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    // An `until` in the future would hold the answer back until then.
    let until = (finished + 2).min(now);
    let options = bollard::query_parameters::EventsOptions {
        since: Some(finished.saturating_sub(ASKED_WINDOW).to_string()),
        until: Some(until.to_string()),
        filters: Some(HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("container".to_string(), vec![id.to_string()]),
            (
                "event".to_string(),
                vec!["die".to_string(), "kill".to_string()],
            ),
        ])),
    };
    let events: Vec<_> = tokio::time::timeout(
        EVENTS_TIMEOUT,
        engine.docker.events(Some(options)).collect::<Vec<_>>(),
    )
    .await
    .ok()?;
    let events = events.into_iter().filter_map(Result::ok).map(|e| {
        let code = e
            .actor
            .and_then(|a| a.attributes?.get("exitCode")?.parse::<i64>().ok());
        (e.action.unwrap_or_default(), code)
    });
    let code = last_unasked_exit(events);
    engine
        .log
        .say(|| format!("die event of the last run: exit code {code:?}"));
    code
}

/// The exit code of the last `die` in `events` (in the engine's order),
/// unless a `kill` came first: that end was asked for, it is no crash.
fn last_unasked_exit(events: impl Iterator<Item = (String, Option<i64>)>) -> Option<i64> {
    let mut asked = false;
    let mut last = None;
    for (action, code) in events {
        match action.as_str() {
            "kill" => asked = true,
            "die" => {
                last = if asked { None } else { code };
                asked = false;
            }
            _ => {}
        }
    }
    last
}

/// The container `id` as the engine sees it now.
async fn inspect(engine: &Engine, id: &str) -> Result<Target, HostError> {
    match engine.docker.inspect_container(id, None).await {
        Ok(found) => Ok(from_inspect(&found)),
        Err(e) if status_of(&e) == Some(404) => Err(HostError::NoSuchContainer(id.into())),
        Err(e) => Err(from_engine(&engine.endpoint, "inspect", &e)),
    }
}

/// How long the run that started at `started_at` (RFC 3339) has lasted.
fn uptime(started_at: &str, now: SystemTime) -> Option<Duration> {
    let started = UNIX_EPOCH + unix_secs(started_at)?;
    Some(now.duration_since(started).unwrap_or_default())
}

/// An RFC 3339 time as the engine writes it (`2024-05-01T12:00:03.5Z`,
/// or with a `+HH:MM` offset) as time since the Unix epoch; `None` for
/// anything else, and for the zero time the engine writes for "never".
fn unix_secs(text: &str) -> Option<Duration> {
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.splitn(3, '-');
    let (y, m, d) = (num(ymd.next()?)?, num(ymd.next()?)?, num(ymd.next()?)?);
    let (clock, offset) = match time.strip_suffix('Z') {
        Some(clock) => (clock, 0),
        None => {
            let at = time.rfind(['+', '-'])?;
            let (hh, mm) = time[at + 1..].split_once(':')?;
            let sign = if time.as_bytes()[at] == b'-' { -1 } else { 1 };
            (&time[..at], sign * (num(hh)? * 3600 + num(mm)? * 60))
        }
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.splitn(3, ':');
    let (h, mi, s) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(9).collect();
        num(&digits)? * 10i64.pow(9 - digits.len() as u32)
    };
    let secs = days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    (secs > 0).then(|| Duration::new(secs as u64, nanos as u32))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::info::TargetInfo;

    #[test]
    fn engine_times_are_read_to_the_nanosecond() {
        assert_eq!(
            unix_secs("1970-01-02T00:00:00Z"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            unix_secs("2026-12-02T16:07:23.530231713Z"),
            Some(Duration::new(1_796_227_643, 530_231_713))
        );
        assert_eq!(
            unix_secs("2026-12-02T17:07:23.5+01:00"),
            Some(Duration::new(1_796_227_643, 500_000_000))
        );
        assert_eq!(
            unix_secs("2000-02-29T00:00:00Z"),
            Some(Duration::from_secs(951_782_400))
        );
        for bad in [
            "0001-01-01T00:00:00Z",
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-12-02T16:07:23",
            "2026-12-02T16:07:2x.5Z",
        ] {
            assert_eq!(unix_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn uptime_counts_from_the_runs_start() {
        let now = UNIX_EPOCH + Duration::from_secs(86_400 + 12);
        assert_eq!(
            uptime("1970-01-02T00:00:02Z", now),
            Some(Duration::from_secs(10))
        );
        // A start in the future (another clock) is a run just begun.
        assert_eq!(uptime("1970-01-03T00:00:00Z", now), Some(Duration::ZERO));
        assert_eq!(uptime("never", now), None);
    }

    fn at(state: &str, started: &str) -> Target {
        Target {
            info: TargetInfo {
                state: state.into(),
                ..Default::default()
            },
            started_at: started.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_die_after_a_kill_was_asked_for_and_names_no_exit_code() {
        let events = |list: &[(&str, Option<i64>)]| {
            list.iter()
                .map(|(a, c)| (a.to_string(), *c))
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(last_unasked_exit(events(&[("die", Some(2))])), Some(2));
        assert_eq!(
            last_unasked_exit(events(&[("kill", None), ("die", Some(143))])),
            None
        );
        assert_eq!(
            last_unasked_exit(events(&[
                ("kill", None),
                ("die", Some(143)),
                ("die", Some(1))
            ])),
            Some(1)
        );
        assert_eq!(last_unasked_exit(events(&[])), None);
    }

    #[test]
    fn a_container_restarts_if_it_did_or_its_policy_says_it_will() {
        let with = |policy: &str, count: i64| Target {
            info: TargetInfo {
                restart_policy: policy.into(),
                restart_count: count,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!restarts(&with("", 0)));
        assert!(restarts(&with("", 3)));
        for policy in ["always", "unless-stopped", "on-failure", "on-failure:2"] {
            assert!(restarts(&with(policy, 0)), "{policy}");
        }
        assert!(!restarts(&with("on-failure:0x", 0)));
    }

    #[test]
    fn a_run_is_the_same_only_while_running_from_the_same_start() {
        let before = at("running", "2026-01-01T00:00:00Z");
        assert_eq!(same_run(&before, &before), Some(true));
        assert_eq!(
            same_run(&before, &at("running", "2026-01-01T00:00:05Z")),
            Some(false)
        );
        assert_eq!(
            same_run(&before, &at("restarting", "2026-01-01T00:00:00Z")),
            None
        );
    }
}
