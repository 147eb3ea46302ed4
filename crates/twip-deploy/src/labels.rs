//! The labels (Docker) and tags (ECS) that mark what twip owns. Both
//! appliers write these keys ([`marks`]) and read them back ([`owner`],
//! [`shared_owner`]).
//!
//! **Ownership takes the full set**: an object is twip's only when it
//! carries [`ENV`], [`MANAGED`] and (for what runs a service) [`SERVICE`].
//! A stray `twip.env=ENV` on someone's container, service or network does
//! not make it twip's: such objects are never changed or removed.

/// The environment an object belongs to: `twip.env=ENV`. Everything twip
/// creates carries it.
pub const ENV: &str = "twip.env";
/// The scenario service an object runs: `twip.service=SERVICE`.
pub const SERVICE: &str = "twip.service";
/// The marker of an object twip created: `twip.managed=true`.
pub const MANAGED: &str = "twip.managed";
/// The value of [`MANAGED`].
pub const MANAGED_VALUE: &str = "true";
/// The replica index of a container: `twip.replica=N` (Docker only: an ECS
/// service holds all its replicas).
pub const REPLICA: &str = "twip.replica";
/// The plan's node a replica is placed on: `twip.node=NODE` (Docker only).
pub const NODE: &str = "twip.node";
/// What every twip key starts with.
pub const PREFIX: &str = "twip.";

/// The ownership labels of an object twip creates in `env`: for what runs
/// `service` (a container, an ECS service, a task definition), or for what
/// the environment shares (`None`: a network, a cluster).
pub fn marks(env: &str, service: Option<&str>) -> Vec<(String, String)> {
    let mut m = vec![
        (ENV.to_string(), env.to_string()),
        (MANAGED.to_string(), MANAGED_VALUE.to_string()),
    ];
    if let Some(s) = service {
        m.push((SERVICE.to_string(), s.to_string()));
    }
    m
}

/// The environment that owns an object running a service, given how to
/// read its labels: its [`ENV`], when it also carries [`MANAGED`] and a
/// non-empty [`SERVICE`]; else `None` (not twip's).
pub fn owner<'a>(label: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    if label(SERVICE).is_some_and(|s| !s.is_empty()) {
        shared_owner(label)
    } else {
        None
    }
}

/// The environment that owns an object the environment shares (a network):
/// its [`ENV`], when it also carries [`MANAGED`]; else `None`.
pub fn shared_owner<'a>(label: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    if label(MANAGED) == Some(MANAGED_VALUE) {
        label(ENV).filter(|e| !e.is_empty())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'a>(m: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> + 'a {
        move |k| m.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
    }

    #[test]
    fn only_the_full_set_of_labels_owns() {
        let full = [(ENV, "e"), (MANAGED, "true"), (SERVICE, "app")];
        assert_eq!(owner(read(&full)), Some("e"));
        assert_eq!(shared_owner(read(&full)), Some("e"));
        let stray = [(ENV, "e")];
        assert_eq!(owner(read(&stray)), None, "a stray env label owns nothing");
        assert_eq!(shared_owner(read(&stray)), None);
        let no_service = [(ENV, "e"), (MANAGED, "true")];
        assert_eq!(owner(read(&no_service)), None);
        assert_eq!(shared_owner(read(&no_service)), Some("e"));
        let wrong_marker = [(ENV, "e"), (MANAGED, "yes"), (SERVICE, "app")];
        assert_eq!(owner(read(&wrong_marker)), None);
    }

    #[test]
    fn what_twip_writes_it_owns() {
        let m = marks("e", Some("app"));
        let get = |k: &str| m.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(owner(get), Some("e"));
        let n = marks("e", None);
        let get = |k: &str| n.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(shared_owner(get), Some("e"));
        assert_eq!(owner(get), None);
    }
}
