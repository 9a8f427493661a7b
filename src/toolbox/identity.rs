//! Which identity the shell runs as.

use nix::unistd::{Gid, Uid};

use crate::target::procinfo::Status;

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
    #[error(
        "this container runs as {have} with no CAP_SETUID and cannot become the app's {want}: start it as {want} (Kubernetes: runAsUser and runAsGroup, see docs/kubernetes.md)"
    )]
    CannotBecome { have: String, want: String },
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

/// Restricted mode: a toolbox started with no CAP_SETUID/CAP_SETGID (a
/// Kubernetes `restricted` debug container) keeps the ids it was started
/// with. That is the app's identity when its uid and gid are the app's (the
/// kernel lets it reach `/proc/N/root` only then: ptrace access compares
/// both); the supplementary groups are the ones the pod gave it.
pub fn fit_unprivileged(
    wanted: Identity,
    own: Identity,
    can_change: bool,
) -> Result<Identity, IdentityError> {
    if can_change || wanted == own {
        return Ok(wanted);
    }
    if (wanted.uid, wanted.gid) != (own.uid, own.gid) {
        return Err(IdentityError::CannotBecome {
            have: format!("uid {} gid {}", own.uid, own.gid),
            want: format!("uid {} gid {}", wanted.uid, wanted.gid),
        });
    }
    Ok(own)
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
    fn without_setuid_the_toolbox_keeps_its_own_ids_when_the_uid_is_the_apps() {
        let (app, _) = choose(&target(), None, false).unwrap();
        let own = Identity {
            uid: Uid::from_raw(65532),
            gid: Gid::from_raw(65532),
            groups: vec![],
        };
        assert_eq!(
            fit_unprivileged(app.clone(), own.clone(), true).unwrap(),
            app
        );
        assert_eq!(
            fit_unprivileged(app.clone(), own.clone(), false).unwrap(),
            own
        );
        let other = Identity {
            uid: Uid::from_raw(1000),
            ..own.clone()
        };
        let e = fit_unprivileged(app.clone(), other, false).unwrap_err();
        assert!(
            e.to_string().contains(
                "runs as uid 1000 gid 65532 with no CAP_SETUID and cannot become the app's uid 65532 gid 65532"
            ),
            "{e}"
        );
        // The gid too: ptrace access (and so /proc/N/root) compares it.
        let gid_zero = Identity {
            gid: Gid::from_raw(0),
            ..own
        };
        assert!(fit_unprivileged(app, gid_zero, false).is_err());
    }

    #[test]
    fn root_flag_gives_uid_zero() {
        let (id, src) = choose(&target(), None, true).unwrap();
        assert_eq!(id.uid.as_raw(), 0);
        assert_eq!(src, Source::Root);
    }
}
