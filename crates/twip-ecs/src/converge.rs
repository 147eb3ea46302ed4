//! Convergence: observe, diff, then carry the changes out in order
//! (cluster, registrations, services, removals), stopping at the first
//! failure with what was and was not applied; and status and destroy, which
//! read and remove the same objects.

use twip_deploy::Partial;

use crate::client::Ecs;
use crate::desired::Desired;
use crate::diff::{self, Action, ObservedService};
use crate::error::EcsError;

/// What an apply did: the [`Action`]s and whether they were carried out.
pub type Outcome = twip_deploy::Outcome<Action>;

/// Converges the cluster to `d`; with `dry_run` only computes the changes.
/// `log` receives one line per step done.
pub async fn apply(
    ecs: &Ecs,
    d: &Desired,
    dry_run: bool,
    log: &mut dyn FnMut(String),
) -> Result<Outcome, EcsError> {
    let observed = ecs.observe(d).await?;
    let actions = diff::diff(d, &observed)?;
    if dry_run || actions.is_empty() {
        return Ok(Outcome {
            actions,
            applied: false,
        });
    }
    // The revision each family's services run: the latest registered, or
    // the one registered now.
    let mut arns: Vec<(String, String)> = observed
        .tasks
        .iter()
        .map(|t| (t.def.family.clone(), t.arn.clone()))
        .collect();
    let mut done: Vec<String> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let arn_of = |arns: &[(String, String)], family: &str| {
            arns.iter()
                .find(|(f, _)| f == family)
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| family.to_string())
        };
        let step = async {
            match a {
                Action::CreateCluster(_) => ecs.create_cluster(&d.env).await,
                Action::Register { task, .. } => {
                    let arn = ecs.register(task).await?;
                    arns.retain(|(f, _)| f != &task.family);
                    arns.push((task.family.clone(), arn));
                    Ok(())
                }
                Action::CreateService(s) => {
                    ecs.create_service(&d.env, s, &arn_of(&arns, &s.task.family))
                        .await
                }
                Action::UpdateService {
                    service,
                    count,
                    task_definition,
                    placement,
                    ..
                } => {
                    let arn = arn_of(&arns, &service.task.family);
                    ecs.update_service(
                        service,
                        count.then_some(service.count),
                        task_definition.then_some(arn.as_str()),
                        *placement,
                    )
                    .await
                }
                Action::RemoveService { name, count } => ecs.remove_service(name, *count).await,
            }
        };
        if let Err(e) = step.await {
            return Err(EcsError::Partial(Partial::new(
                e,
                done,
                actions[i..].iter().map(|a| a.to_string()).collect(),
            )));
        }
        log(a.to_string());
        done.push(a.to_string());
    }
    Ok(Outcome {
        actions,
        applied: true,
    })
}

/// One service's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    /// ECS service name.
    pub name: String,
    /// Replicas the plan wants.
    pub plan: i32,
    /// ECS `desiredCount` (`None`: no such service).
    pub desired: Option<i32>,
    /// Tasks running.
    pub running: i32,
    /// Tasks pending.
    pub pending: i32,
    /// The task definition it runs (`FAMILY:REV`).
    pub task_definition: String,
    /// What differs from the plan (empty: in sync).
    pub drift: Vec<String>,
}

/// Desired against the cluster, per service. Fails with
/// [`EcsError::ClusterNotFound`] when the cluster does not exist.
pub async fn status(ecs: &Ecs, d: &Desired) -> Result<Vec<ServiceStatus>, EcsError> {
    if !ecs.cluster_exists().await? {
        return Err(EcsError::ClusterNotFound(ecs.cluster.clone()));
    }
    let observed = ecs.observe(d).await?;
    let actions = diff::diff(d, &observed)?;
    let mut rows: Vec<ServiceStatus> = d
        .services
        .iter()
        .map(|s| {
            let o = observed.services.iter().find(|o| o.name == s.name);
            let mut drift: Vec<String> = actions
                .iter()
                .filter_map(|a| match a {
                    Action::Register { task, .. } if task.family == s.task.family => {
                        Some("task definition differs".to_string())
                    }
                    Action::UpdateService {
                        service, changes, ..
                    } if service.name == s.name => Some(changes.join("; ")),
                    Action::CreateService(x) if x.name == s.name => Some("missing".into()),
                    _ => None,
                })
                .collect();
            if let Some(o) = o {
                if o.running < s.count {
                    drift.push(format!("{} of {} tasks running", o.running, s.count));
                }
            }
            ServiceStatus {
                name: s.name.clone(),
                plan: s.count,
                desired: o.map(|o| o.count),
                running: o.map(|o| o.running).unwrap_or_default(),
                pending: o.map(|o| o.pending).unwrap_or_default(),
                task_definition: revision_name(o),
                drift,
            }
        })
        .collect();
    for a in &actions {
        if let Action::RemoveService { name, count } = a {
            let o = observed.services.iter().find(|o| &o.name == name);
            rows.push(ServiceStatus {
                name: name.clone(),
                plan: 0,
                desired: Some(*count),
                running: o.map(|o| o.running).unwrap_or_default(),
                pending: o.map(|o| o.pending).unwrap_or_default(),
                task_definition: revision_name(o),
                drift: vec!["not in the plan".into()],
            });
        }
    }
    Ok(rows)
}

/// Removes what twip owns for `env` in the cluster: its services (scaled to
/// 0, then deleted) and its task definitions (deregistered). Returns one
/// line per object. Fails with [`EcsError::ClusterNotFound`] when the
/// cluster does not exist; on a failure half-way, says what was removed.
pub async fn destroy(ecs: &Ecs, env: &str) -> Result<Vec<String>, EcsError> {
    if !ecs.cluster_exists().await? {
        return Err(EcsError::ClusterNotFound(ecs.cluster.clone()));
    }
    let mut done = Vec::new();
    let partial = |e: EcsError, done: &Vec<String>, left: String| {
        EcsError::Partial(Partial::destroy(e, done.clone(), vec![left]))
    };
    let services = ecs.services().await?;
    let ours: Vec<&ObservedService> = services
        .iter()
        .filter(|s| s.owner.as_deref() == Some(env))
        .collect();
    for s in &ours {
        if let Err(e) = ecs.remove_service(&s.name, s.count).await {
            return Err(partial(
                e,
                &done,
                format!(
                    "the services and task definitions of {env} from {} on",
                    s.name
                ),
            ));
        }
        done.push(format!(
            "service {} (scaled {} → 0, deleted)",
            s.name, s.count
        ));
    }
    match ecs.deregister_all(env).await {
        Ok(arns) => done.extend(
            arns.iter()
                .map(|a| format!("task definition {}", a.rsplit('/').next().unwrap_or(a))),
        ),
        Err(e) => {
            return Err(partial(
                e,
                &done,
                format!("deregistering the task definitions of {env}"),
            ))
        }
    }
    Ok(done)
}

/// The short name (`family:revision`) of an observed service's task
/// definition, `-` when there is no such service.
fn revision_name(o: Option<&ObservedService>) -> String {
    o.map(|o| o.task_definition.rsplit('/').next().unwrap_or_default())
        .unwrap_or("-")
        .to_string()
}
