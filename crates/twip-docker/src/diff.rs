//! Desired against observed: what to create and what to remove. Pure.

use crate::desired::{Desired, Spec};

/// A container twip owns, as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// Container name.
    pub name: String,
    /// `twip.service`.
    pub service: String,
    /// Running (not exited or created-only).
    pub running: bool,
    /// Health: `Some(true)` healthy, `Some(false)` unhealthy, `None` starting or none.
    pub healthy: Option<bool>,
    /// The host port it publishes on 127.0.0.1 (the front only).
    pub publish: Option<u16>,
    /// For a running front: the marker of the configuration nginx runs now
    /// (`None`: not a front, or it did not answer).
    pub live: Option<String>,
}

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create and start this container.
    Create(Spec),
    /// Remove a container that is not running (a leftover of an interrupted
    /// apply or a crash) before creating it again.
    Replace(Spec),
    /// Rewrite a running front's configuration and reload it: the
    /// upstreams it routes to now are not the plan's (an apply stopped
    /// before the reload, or the configuration was changed by hand).
    Reload(Spec),
    /// Remove this container (not desired any more).
    Remove(Observed),
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Create(s) => write!(
                f,
                "+ create   {} ({} replica {} on {}, {})",
                s.name, s.service, s.replica, s.node, s.image
            ),
            Action::Replace(s) => write!(
                f,
                "~ recreate {} ({} replica {}: not running)",
                s.name, s.service, s.replica
            ),
            Action::Reload(s) => write!(
                f,
                "~ reload   {} ({} replica {}: routes to other upstreams than the plan's)",
                s.name, s.service, s.replica
            ),
            Action::Remove(o) => write!(f, "- remove   {} ({})", o.name, o.service),
        }
    }
}

/// The changes that turn `observed` into `desired`, in an order that keeps
/// serving: every creation, then the reloads of running fronts whose live
/// upstreams are not the plan's, then the removals, so a service never
/// loses its last healthy replica before its replacement runs and the front
/// stops sending to a container before it goes.
pub fn diff(desired: &Desired, observed: &[Observed]) -> Vec<Action> {
    let mut creates = Vec::new();
    let mut reloads = Vec::new();
    for spec in &desired.containers {
        match observed.iter().find(|o| o.name == spec.name) {
            None => creates.push(Action::Create(spec.clone())),
            Some(o) if !o.running => creates.push(Action::Replace(spec.clone())),
            Some(o) if spec.is_proxy && o.live.as_deref() != Some(&desired.front_marker) => {
                reloads.push(Action::Reload(spec.clone()))
            }
            Some(_) => {}
        }
    }
    let removes = observed
        .iter()
        .filter(|o| !desired.containers.iter().any(|s| s.name == o.name))
        .map(|o| Action::Remove(o.clone()));
    creates.into_iter().chain(reloads).chain(removes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Spec;

    fn spec(name: &str, service: &str) -> Spec {
        Spec {
            name: name.into(),
            service: service.into(),
            replica: 0,
            node: "node-1".into(),
            image: "img".into(),
            env: vec![],
            cmd: None,
            nano_cpus: 1,
            memory_bytes: 1,
            port: 80,
            publish: None,
            health: vec![],
            health_interval_s: 1.0,
            health_retries: 1,
            hash: "h".into(),
            is_proxy: false,
        }
    }

    fn obs(name: &str, service: &str, running: bool) -> Observed {
        Observed {
            name: name.into(),
            service: service.into(),
            running,
            healthy: Some(running),
            publish: None,
            live: None,
        }
    }

    fn desired(names: &[(&str, &str)]) -> Desired {
        Desired {
            env: "e".into(),
            network: "twip-e".into(),
            containers: names.iter().map(|(n, s)| spec(n, s)).collect(),
            proxy_conf: String::new(),
            front_marker: "m".into(),
            warnings: vec![],
        }
    }

    #[test]
    fn in_sync_means_no_change() {
        let d = desired(&[("a", "app"), ("b", "app")]);
        assert!(diff(&d, &[obs("a", "app", true), obs("b", "app", true)]).is_empty());
    }

    #[test]
    fn creates_before_removes_and_replaces_dead_ones() {
        let d = desired(&[("a2", "app"), ("b", "app"), ("c", "app")]);
        let actions = diff(
            &d,
            &[
                obs("a1", "app", true),
                obs("b", "app", false),
                obs("c", "app", true),
            ],
        );
        assert_eq!(actions.len(), 3);
        assert!(matches!(&actions[0], Action::Create(s) if s.name == "a2"));
        assert!(matches!(&actions[1], Action::Replace(s) if s.name == "b"));
        assert!(matches!(&actions[2], Action::Remove(o) if o.name == "a1"));
    }

    #[test]
    fn a_front_running_other_upstreams_is_reloaded_before_removals() {
        let mut d = desired(&[("lb", "lb"), ("a", "app")]);
        d.containers[0].is_proxy = true;
        let mut front = obs("lb", "lb", true);
        front.live = Some("m".into());
        assert!(diff(&d, &[front.clone(), obs("a", "app", true)]).is_empty());
        // Killed between creating a replica and reloading: the front still
        // routes to the old set, and nothing else differs.
        front.live = Some("old".into());
        let actions = diff(
            &d,
            &[front.clone(), obs("a", "app", true), obs("x", "app", true)],
        );
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(matches!(&actions[0], Action::Reload(s) if s.name == "lb"));
        assert!(matches!(&actions[1], Action::Remove(o) if o.name == "x"));
        // A front that did not answer is reloaded too.
        front.live = None;
        assert!(matches!(
            &diff(&d, &[front, obs("a", "app", true)])[..],
            [Action::Reload(_)]
        ));
    }
}
