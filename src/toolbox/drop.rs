//! The privilege drop: one audited function, a fixed order, then verified.
//!
//! Order (after youki's `drop_privileges`):
//! 1. clear the bounding and ambient sets while CAP_SETPCAP is still held;
//! 2. no_new_privs, so nothing executed later can regain privilege;
//! 3. setgroups, setresgid, setresuid (groups first: after setresuid the
//!    process may no longer change them);
//! 4. clear effective, permitted and inheritable capabilities (a uid change
//!    to non-zero clears them already; `--root` keeps uid 0 and needs it);
//! 5. verify from `/proc/self/status`, `getres[ug]id` and `PR_GET_DUMPABLE`
//!    (the toolbox made itself not dumpable first thing: see
//!    [`crate::sys::set_not_dumpable`]).
//!
//! Any failure aborts the toolbox: a shell must never start half-dropped.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

use nix::unistd::Gid;

use super::identity::Identity;
use crate::sys::{Credentials, SysError};
use crate::target::procinfo::{self, Status};

#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error("privilege drop failed")]
    Call(#[from] SysError),
    #[error("failed to read /proc/self/status to verify the privilege drop")]
    ReadStatus(#[source] std::io::Error),
    #[error("privilege drop not effective: {0}")]
    Verify(String),
}

/// Steps 1–4. Generic over [`Credentials`] so the order is unit-tested.
pub fn drop_privileges(creds: &mut impl Credentials, id: &Identity) -> Result<(), DropError> {
    // 1.
    creds.clear_bounding_set()?;
    creds.clear_ambient_set()?;
    // 2.
    creds.set_no_new_privs()?;
    // 3.
    creds.set_groups(&id.groups)?;
    creds.set_resgid(id.gid)?;
    creds.set_resuid(id.uid)?;
    // 4.
    creds.clear_capabilities()?;
    Ok(())
}

/// Step 5: read this process's status through `self_dir` (its `/proc/<pid>`
/// directory, opened before any namespace change so it names this process
/// whatever `/proc` is mounted now) and check every id and capability set.
pub fn verify(self_dir: &OwnedFd, id: &Identity) -> Result<Status, DropError> {
    let status_fd = nix::fcntl::openat(
        self_dir.as_fd(),
        "status",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| DropError::ReadStatus(e.into()))?;
    let mut text = String::new();
    File::from(status_fd)
        .read_to_string(&mut text)
        .map_err(DropError::ReadStatus)?;
    let status = procinfo::parse_status(&text)
        .map_err(|e| DropError::ReadStatus(std::io::Error::other(e)))?;
    let dumpable = crate::sys::is_dumpable()?;
    check(&status, dumpable, id)?;

    let res = nix::unistd::getresuid().map_err(|e| DropError::ReadStatus(e.into()))?;
    let resg = nix::unistd::getresgid().map_err(|e| DropError::ReadStatus(e.into()))?;
    if [res.real, res.effective, res.saved] != [id.uid; 3]
        || [resg.real, resg.effective, resg.saved] != [id.gid; 3]
    {
        return Err(DropError::Verify(format!(
            "getresuid/getresgid report {res:?} {resg:?}"
        )));
    }
    Ok(status)
}

/// Compare a parsed status against the wanted identity: all four uids and
/// gids, the group list, five empty capability sets, no_new_privs, and that
/// the process is not dumpable (so a process of the same uid in the target
/// cannot open its fds, memory or environment).
pub fn check(status: &Status, dumpable: bool, id: &Identity) -> Result<(), DropError> {
    let uid = id.uid.as_raw();
    let gid = id.gid.as_raw();
    if status.uid != [uid; 4] {
        return Err(DropError::Verify(format!(
            "uids are {:?}, expected {uid}",
            status.uid
        )));
    }
    if status.gid != [gid; 4] {
        return Err(DropError::Verify(format!(
            "gids are {:?}, expected {gid}",
            status.gid
        )));
    }
    let mut want: Vec<u32> = id.groups.iter().map(|g: &Gid| g.as_raw()).collect();
    let mut have = status.groups.clone();
    want.sort_unstable();
    want.dedup();
    have.sort_unstable();
    have.dedup();
    if want != have {
        return Err(DropError::Verify(format!(
            "groups are {have:?}, expected {want:?}"
        )));
    }
    for (name, set) in [
        ("effective", status.cap_eff),
        ("permitted", status.cap_prm),
        ("inheritable", status.cap_inh),
        ("bounding", status.cap_bnd),
        ("ambient", status.cap_amb),
    ] {
        if set != 0 {
            return Err(DropError::Verify(format!(
                "{name} capabilities remain: {}",
                procinfo::cap_names(set).join(",")
            )));
        }
    }
    if !status.no_new_privs {
        return Err(DropError::Verify("no_new_privs is not set".into()));
    }
    if dumpable {
        return Err(DropError::Verify(
            "the process is dumpable: the target could open its terminal and memory".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::RecordingCredentials;
    use nix::unistd::Uid;

    fn nonroot() -> Identity {
        Identity {
            uid: Uid::from_raw(65532),
            gid: Gid::from_raw(65532),
            groups: vec![Gid::from_raw(65532)],
        }
    }

    #[test]
    fn drop_runs_in_the_audited_order() {
        let mut fake = RecordingCredentials::default();
        drop_privileges(&mut fake, &nonroot()).unwrap();
        assert_eq!(
            fake.calls,
            [
                "clear_bounding_set",
                "clear_ambient_set",
                "set_no_new_privs",
                "set_groups([65532])",
                "set_resgid(65532)",
                "set_resuid(65532)",
                "clear_capabilities",
            ]
        );
    }

    #[test]
    fn a_failed_call_stops_the_drop() {
        let mut fake = RecordingCredentials {
            fail_on: Some("set_resgid"),
            ..Default::default()
        };
        assert!(drop_privileges(&mut fake, &nonroot()).is_err());
        assert_eq!(fake.calls.last().unwrap(), "set_resgid(65532)");
        assert!(!fake.calls.iter().any(|c| c.starts_with("set_resuid")));
    }

    fn dropped() -> Status {
        Status {
            uid: [65532; 4],
            gid: [65532; 4],
            groups: vec![65532],
            no_new_privs: true,
            ..Status::default()
        }
    }

    #[test]
    fn check_accepts_a_clean_drop() {
        check(&dropped(), false, &nonroot()).unwrap();
    }

    #[test]
    fn check_rejects_leftovers() {
        let cases: [fn(&mut Status); 9] = [
            |s| s.uid[2] = 0,
            |s| s.gid[0] = 0,
            |s| s.groups.push(0),
            |s| s.cap_bnd = 1 << 21,
            |s| s.cap_amb = 1,
            |s| s.cap_eff = 1,
            |s| s.cap_prm = 1,
            |s| s.cap_inh = 1,
            |s| s.no_new_privs = false,
        ];
        for (i, spoil) in cases.iter().enumerate() {
            let mut st = dropped();
            spoil(&mut st);
            assert!(check(&st, false, &nonroot()).is_err(), "case {i} accepted");
        }
        assert!(check(&dropped(), true, &nonroot()).is_err());
    }
}
