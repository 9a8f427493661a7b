//! Which identity the shell runs as.

use nix::unistd::{Gid, Uid};

use crate::procinfo::Status;

/// The uid, gid and supplementary groups the toolbox drops to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "--user takes a numeric UID[:GID] (names would need the target's passwd before the drop), not {0:?}"
    )]
    BadUser(String),
}

/// How the identity was chosen, for the banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The target process's real ids.
    Target,
    /// `--user`.
    User,
    /// `--root`.
    Root,
}

/// The target's real uid, gid and groups unless `--user` or `--root` says
/// otherwise. `--user UID` without a group uses the uid as gid, as the
/// distroless `nonroot` user does (65532:65532).
pub fn choose(
    target: &Status,
    user: Option<&str>,
    root: bool,
) -> Result<(Identity, Source), IdentityError> {
    if root {
        let zero = Identity {
            uid: Uid::from_raw(0),
            gid: Gid::from_raw(0),
            groups: vec![Gid::from_raw(0)],
        };
        return Ok((zero, Source::Root));
    }
    if let Some(spec) = user {
        let bad = || IdentityError::BadUser(spec.to_string());
        let (u, g) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        let uid: u32 = u.parse().map_err(|_| bad())?;
        let gid: u32 = match g {
            Some(g) => g.parse().map_err(|_| bad())?,
            None => uid,
        };
        let id = Identity {
            uid: Uid::from_raw(uid),
            gid: Gid::from_raw(gid),
            groups: vec![Gid::from_raw(gid)],
        };
        return Ok((id, Source::User));
    }
    let id = Identity {
        uid: Uid::from_raw(target.uid[0]),
        gid: Gid::from_raw(target.gid[0]),
        groups: target.groups.iter().copied().map(Gid::from_raw).collect(),
    };
    Ok((id, Source::Target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Status {
        Status {
            uid: [65532, 65532, 65532, 65532],
            gid: [65532, 65532, 65532, 65532],
            groups: vec![65532, 4],
            ..Status::default()
        }
    }

    #[test]
    fn defaults_to_the_target_real_ids_and_groups() {
        let (id, src) = choose(&target(), None, false).unwrap();
        assert_eq!(id.uid.as_raw(), 65532);
        assert_eq!(id.groups, [Gid::from_raw(65532), Gid::from_raw(4)]);
        assert_eq!(src, Source::Target);
    }

    #[test]
    fn user_flag_overrides() {
        let (id, _) = choose(&target(), Some("1000:50"), false).unwrap();
        assert_eq!((id.uid.as_raw(), id.gid.as_raw()), (1000, 50));
        let (id, _) = choose(&target(), Some("1000"), false).unwrap();
        assert_eq!(id.gid.as_raw(), 1000);
        assert!(choose(&target(), Some("nonroot"), false).is_err());
        assert!(choose(&target(), Some("1:x"), false).is_err());
    }

    #[test]
    fn root_flag_gives_uid_zero() {
        let (id, src) = choose(&target(), None, true).unwrap();
        assert_eq!(id.uid.as_raw(), 0);
        assert_eq!(src, Source::Root);
    }
}
