//! Desired against observed ECS state: what to register, create, update or
//! remove. Pure, unit-tested; [`crate::apply`] executes the result.

use crate::desired::{Desired, Placement, ServiceDesired, TaskDef};
use crate::EcsError;

/// The latest ACTIVE revision of a task definition family.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedTask {
    /// Its ARN (`...:task-definition/FAMILY:REV`).
    pub arn: String,
    /// Revision number.
    pub revision: i32,
    /// Its fields, as twip compares them.
    pub def: TaskDef,
    /// The environment that owns it: its `twip.env` tag when it carries
    /// every ownership tag ([`twip_deploy::labels::owner`]), else `None`.
    pub owner: Option<String>,
}

/// An ACTIVE ECS service in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedService {
    /// Service name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// The environment that owns it: its `twip.env` tag when it carries
    /// every ownership tag ([`twip_deploy::labels::owner`]), else `None`.
    pub owner: Option<String>,
    /// `desiredCount`.
    pub count: i32,
    /// `runningCount`.
    pub running: i32,
    /// `pendingCount`.
    pub pending: i32,
    /// The task definition ARN it runs.
    pub task_definition: String,
    /// Its placement strategies and constraints, as the service records them.
    pub placement: Placement,
}

/// What twip found in ECS for one environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The cluster exists (ACTIVE).
    pub cluster: bool,
    /// ACTIVE services of the cluster (all of them: ownership is checked here).
    pub services: Vec<ObservedService>,
    /// Latest ACTIVE revision of each desired family that has one.
    pub tasks: Vec<ObservedTask>,
}

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create the cluster (tagged `twip.env`, `twip.managed`).
    CreateCluster(String),
    /// Register a (new revision of a) task definition; `changes` is empty
    /// for a new family.
    Register {
        /// The desired definition.
        task: TaskDef,
        /// The revision it replaces, if any.
        replaces: Option<i32>,
        /// What differs from it.
        changes: Vec<String>,
    },
    /// Create an ECS service.
    CreateService(ServiceDesired),
    /// Update what differs of an ECS service.
    UpdateService {
        /// The desired service.
        service: ServiceDesired,
        /// Set `desiredCount`.
        count: bool,
        /// Point it at the family's latest revision.
        task_definition: bool,
        /// Set the placement strategies and constraints.
        placement: bool,
        /// What differs, for people.
        changes: Vec<String>,
    },
    /// Scale to 0 and delete one of twip's services the plan no longer has.
    RemoveService {
        /// Service name.
        name: String,
        /// Its desired count now.
        count: i32,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CreateCluster(c) => write!(f, "+ create   cluster {c}"),
            Action::Register {
                task,
                replaces: None,
                ..
            } => write!(
                f,
                "+ register task definition {} ({}, {} cpu units, {} MiB)",
                task.family, task.image, task.cpu, task.memory_mib
            ),
            Action::Register {
                task,
                replaces: Some(r),
                changes,
            } => write!(
                f,
                "~ register task definition {} revision {} (was {r}): {}",
                task.family,
                r + 1,
                changes.join("; ")
            ),
            Action::CreateService(s) => write!(
                f,
                "+ create   service {} ({} tasks of {}, placement {})",
                s.name, s.count, s.task.family, s.placement
            ),
            Action::UpdateService {
                service, changes, ..
            } => write!(
                f,
                "~ update   service {}: {}",
                service.name,
                changes.join("; ")
            ),
            Action::RemoveService { name, count } => write!(
                f,
                "- remove   service {name} (not in the plan; scale {count} → 0, delete)"
            ),
        }
    }
}

/// The family part of a task definition ARN (`...:task-definition/FAMILY:REV`).
pub fn family_of(arn: &str) -> &str {
    let tail = arn.rsplit('/').next().unwrap_or(arn);
    tail.rsplit_once(':').map(|(f, _)| f).unwrap_or(tail)
}

/// The revision part of a task definition ARN (0 if none).
pub fn revision_of(arn: &str) -> u32 {
    arn.rsplit_once(':')
        .and_then(|(_, r)| r.parse().ok())
        .unwrap_or(0)
}

/// The changes that turn `observed` into `desired`: cluster, then task
/// definitions, then services (created or updated), then removals.
///
/// Refuses ([`EcsError::NotOwned`]) when a service or a family of the plan
/// exists without twip's full set of tags for this environment: twip never
/// touches it.
pub fn diff(desired: &Desired, observed: &Observed) -> Result<Vec<Action>, EcsError> {
    let env = &desired.env;
    let owned = |owner: &Option<String>| owner.as_deref() == Some(env.as_str());
    let mut actions = Vec::new();
    if !observed.cluster {
        actions.push(Action::CreateCluster(desired.cluster.clone()));
    }
    let mut registers = Vec::new();
    let mut services = Vec::new();
    for s in &desired.services {
        let task = observed
            .tasks
            .iter()
            .find(|t| t.def.family == s.task.family);
        if let Some(t) = task {
            if !owned(&t.owner) {
                return Err(EcsError::NotOwned {
                    kind: "task definition".into(),
                    name: t.arn.clone(),
                    env: env.clone(),
                });
            }
        }
        let new_revision = match task {
            None => {
                registers.push(Action::Register {
                    task: s.task.clone(),
                    replaces: None,
                    changes: vec![],
                });
                true
            }
            Some(t) => {
                let changes = s.task.differences(&t.def);
                if changes.is_empty() {
                    false
                } else {
                    registers.push(Action::Register {
                        task: s.task.clone(),
                        replaces: Some(t.revision),
                        changes,
                    });
                    true
                }
            }
        };
        match observed.services.iter().find(|o| o.name == s.name) {
            None => services.push(Action::CreateService(s.clone())),
            Some(o) if !owned(&o.owner) => {
                return Err(EcsError::NotOwned {
                    kind: "ECS service".into(),
                    name: o.name.clone(),
                    env: env.clone(),
                })
            }
            Some(o) => {
                let mut changes = Vec::new();
                let count = o.count != s.count;
                if count {
                    changes.push(format!("desired count {} → {}", o.count, s.count));
                }
                let latest = task.map(|t| t.arn.as_str());
                let task_definition = new_revision || latest != Some(o.task_definition.as_str());
                if task_definition {
                    changes.push(format!(
                        "task definition {} → {}",
                        o.task_definition.rsplit('/').next().unwrap_or_default(),
                        if new_revision {
                            "the new revision".to_string()
                        } else {
                            latest
                                .and_then(|a| a.rsplit('/').next())
                                .unwrap_or_default()
                                .to_string()
                        }
                    ));
                }
                let placement = o.placement != s.placement;
                if placement {
                    changes.push(format!("placement {} → {}", o.placement, s.placement));
                }
                if !changes.is_empty() {
                    services.push(Action::UpdateService {
                        service: s.clone(),
                        count,
                        task_definition,
                        placement,
                        changes,
                    });
                }
            }
        }
    }
    let removes = observed
        .services
        .iter()
        .filter(|o| owned(&o.owner) && !desired.services.iter().any(|s| s.name == o.name))
        .map(|o| Action::RemoveService {
            name: o.name.clone(),
            count: o.count,
        });
    actions.extend(registers);
    actions.extend(services);
    actions.extend(removes);
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::Strategy;

    fn task(family: &str, image: &str) -> TaskDef {
        TaskDef {
            family: family.into(),
            container: "app".into(),
            image: image.into(),
            cpu: 512,
            memory_mib: 256,
            port: 8080,
            env: vec![],
            health: vec!["CMD".into(), "true".into()],
            health_interval_s: 5,
            health_timeout_s: 5,
            health_retries: 3,
            health_start_s: 10,
            tags: vec![],
        }
    }

    fn placement() -> Placement {
        Placement {
            strategies: vec![Strategy {
                kind: "spread".into(),
                field: "instanceId".into(),
            }],
            constraints: vec![],
        }
    }

    fn desired(count: i32, image: &str) -> Desired {
        Desired {
            env: "e".into(),
            cluster: "c".into(),
            services: vec![ServiceDesired {
                name: "e-app".into(),
                service: "app".into(),
                task: task("e-app", image),
                count,
                placement: placement(),
            }],
            capacity: vec![],
            warnings: vec![],
        }
    }

    fn observed(count: i32, image: &str, owner: &str) -> Observed {
        let arn = "arn:aws:ecs:r:1:task-definition/e-app:4".to_string();
        Observed {
            cluster: true,
            services: vec![ObservedService {
                name: "e-app".into(),
                arn: "arn:aws:ecs:r:1:service/c/e-app".into(),
                owner: Some(owner.into()),
                count,
                running: count,
                pending: 0,
                task_definition: arn.clone(),
                placement: placement(),
            }],
            tasks: vec![ObservedTask {
                arn,
                revision: 4,
                def: task("e-app", image),
                owner: Some(owner.into()),
            }],
        }
    }

    #[test]
    fn nothing_there_means_create_everything_in_order() {
        let a = diff(&desired(2, "img:1"), &Observed::default()).unwrap();
        assert_eq!(a.len(), 3);
        assert!(matches!(&a[0], Action::CreateCluster(c) if c == "c"));
        assert!(matches!(&a[1], Action::Register { replaces: None, .. }));
        assert!(matches!(&a[2], Action::CreateService(s) if s.count == 2));
    }

    #[test]
    fn in_sync_means_no_change() {
        assert!(diff(&desired(2, "img:1"), &observed(2, "img:1", "e"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn scaling_updates_only_the_count() {
        let a = diff(&desired(3, "img:1"), &observed(2, "img:1", "e")).unwrap();
        assert_eq!(a.len(), 1);
        assert!(matches!(
            &a[0],
            Action::UpdateService {
                count: true,
                task_definition: false,
                placement: false,
                ..
            }
        ));
        assert_eq!(
            a[0].to_string(),
            "~ update   service e-app: desired count 2 → 3"
        );
    }

    #[test]
    fn a_new_image_registers_a_revision_and_points_the_service_at_it() {
        let a = diff(&desired(2, "img:2"), &observed(2, "img:1", "e")).unwrap();
        assert_eq!(a.len(), 2);
        assert!(
            matches!(&a[0], Action::Register { replaces: Some(4), changes, .. } if changes == &vec!["image img:1 → img:2".to_string()])
        );
        assert!(matches!(
            &a[1],
            Action::UpdateService {
                task_definition: true,
                count: false,
                ..
            }
        ));
    }

    #[test]
    fn objects_without_the_tag_are_refused() {
        let e = diff(&desired(2, "img:1"), &observed(2, "img:1", "other")).unwrap_err();
        assert!(matches!(e, EcsError::NotOwned { .. }), "{e}");
    }

    #[test]
    fn services_the_plan_dropped_are_removed_foreign_ones_ignored() {
        let mut o = observed(2, "img:1", "e");
        let mut gone = o.services[0].clone();
        gone.name = "e-old".into();
        let mut foreign = o.services[0].clone();
        foreign.name = "someone-else".into();
        foreign.owner = None;
        o.services.push(gone);
        o.services.push(foreign);
        let a = diff(&desired(2, "img:1"), &o).unwrap();
        assert_eq!(a.len(), 1);
        assert!(matches!(&a[0], Action::RemoveService { name, .. } if name == "e-old"));
    }

    #[test]
    fn family_of_reads_the_arn() {
        assert_eq!(
            family_of("arn:aws:ecs:eu-west-1:1:task-definition/prod-app:12"),
            "prod-app"
        );
        assert_eq!(family_of("prod-app:3"), "prod-app");
        assert_eq!(
            revision_of("arn:aws:ecs:r:1:task-definition/prod-app:12"),
            12
        );
    }
}
