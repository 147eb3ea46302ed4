//! Applies a twip plan to AWS ECS through aws-sdk-ecs.
//!
//! [`desired::desired`] turns a plan (and its scenario) into one task
//! definition (family `ENV-SERVICE`) and one ECS service per scenario
//! service, with placement from the plan's policy; [`observe`] reads what
//! the cluster has; [`diff::diff`] compares the two (a task definition
//! counts as changed only when a field twip sets differs from the latest
//! registered revision, so a second apply registers nothing); [`apply`]
//! executes the changes and, if a call fails, says what was and was not
//! applied. Everything twip creates carries the tags `twip.env` and
//! `twip.service`; nothing without them is touched.
//!
//! Configuration comes from the standard AWS chain (environment, profile,
//! SSO, instance role) through aws-config, with the SDK's standard retry
//! policy (exponential back-off with jitter on throttling and transient
//! errors).

pub mod desired;
pub mod diff;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    ClusterField, Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LaunchType,
    NetworkMode, PlacementConstraint, PlacementConstraintType, PlacementStrategy,
    PlacementStrategyType, PortMapping, ServiceField, SortOrder, Tag, TaskDefinitionFamilyStatus,
    TaskDefinitionField, TaskDefinitionStatus, TransportProtocol,
};
use aws_sdk_ecs::Client;

pub use desired::{Capacity, Desired, Placement, ServiceDesired, Strategy, TaskDef};
pub use diff::{Action, Observed, ObservedService, ObservedTask};

/// Why applying (or reading) failed: one-line cause, with a hint.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// No region in the arguments or the configuration chain.
    #[error("no AWS region; hint: pass --region, or set AWS_REGION or a profile's region")]
    NoRegion,
    /// Credentials missing, refused or expired.
    #[error("{action}: AWS credentials are missing, invalid or expired ({message}); hint: refresh them (`aws sso login`, a new session token) or check AWS_PROFILE / AWS_ACCESS_KEY_ID")]
    Credentials {
        /// What twip was doing.
        action: String,
        /// What the SDK or the service said.
        message: String,
    },
    /// The cluster does not exist.
    #[error("ECS cluster {0:?} does not exist in this account and region; hint: check --cluster and --region (`twip apply` creates it)")]
    ClusterNotFound(String),
    /// The endpoint did not answer.
    #[error("{action}: the ECS endpoint {endpoint} did not answer ({message}); hint: check --endpoint-url, --region and the network")]
    Unreachable {
        /// What twip was doing.
        action: String,
        /// Where it was sent.
        endpoint: String,
        /// What the SDK said.
        message: String,
    },
    /// ECS refused a call (after the retries the SDK makes).
    #[error("{action} failed: {code}: {message}")]
    Call {
        /// What twip was doing.
        action: String,
        /// The service's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// An object twip would change exists without twip's tags.
    #[error("{kind} {name} exists but is not tagged twip.env={env}: twip does not touch it; hint: use another --env or --cluster")]
    NotOwned {
        /// What kind of object.
        kind: String,
        /// Which.
        name: String,
        /// The environment.
        env: String,
    },
    /// Stopped half-way: what was and was not applied.
    #[error("{cause}\n  applied: {}\n  not applied: {}\n  hint: fix the cause and apply again; it converges from here", list(.done), list(.left))]
    Partial {
        /// The first failure.
        cause: Box<EcsError>,
        /// Actions carried out.
        done: Vec<String>,
        /// Actions not carried out.
        left: Vec<String>,
    },
}

/// An error and its sources, `: `-separated (without the Debug dump of
/// `DisplayErrorContext`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join("; ")
    }
}

/// Error codes that mean the credentials are the problem.
const CREDENTIAL_CODES: &[&str] = &[
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
];

/// A connection to ECS for one cluster.
#[derive(Debug, Clone)]
pub struct Ecs {
    client: Client,
    /// The endpoint, for messages.
    pub endpoint: String,
    /// The cluster.
    pub cluster: String,
    /// The region in use.
    pub region: String,
}

/// Where to connect: `region` and `endpoint_url` override the AWS
/// configuration chain's.
pub async fn connect(
    cluster: &str,
    region: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<Ecs, EcsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    if let Some(u) = endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let config = loader.load().await;
    let Some(region) = config.region().map(|r| r.to_string()) else {
        return Err(EcsError::NoRegion);
    };
    Ok(Ecs {
        client: Client::new(&config),
        endpoint: endpoint_url
            .map(str::to_string)
            .unwrap_or_else(|| format!("ecs.{region}.amazonaws.com")),
        cluster: cluster.to_string(),
        region,
    })
}

impl Ecs {
    /// Turns an SDK error into an [`EcsError`].
    fn err<E, R>(&self, action: &str, e: SdkError<E, R>) -> EcsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = e.code().unwrap_or_default().to_string();
        let message = e.message().map(str::to_string).unwrap_or_else(|| chain(&e));
        if CREDENTIAL_CODES.contains(&code.as_str()) {
            return EcsError::Credentials {
                action: action.into(),
                message: format!("{code}: {message}"),
            };
        }
        if code == "ClusterNotFoundException" {
            return EcsError::ClusterNotFound(self.cluster.clone());
        }
        match &e {
            SdkError::DispatchFailure(_)
            | SdkError::TimeoutError(_)
            | SdkError::ConstructionFailure(_) => {
                let text = chain(&e);
                let lower = text.to_lowercase();
                if lower.contains("credential") || lower.contains("identity") {
                    EcsError::Credentials {
                        action: action.into(),
                        message: text,
                    }
                } else {
                    EcsError::Unreachable {
                        action: action.into(),
                        endpoint: self.endpoint.clone(),
                        message: text,
                    }
                }
            }
            _ => EcsError::Call {
                action: action.into(),
                code: if code.is_empty() {
                    "error".into()
                } else {
                    code
                },
                message,
            },
        }
    }

    /// Whether the cluster exists (is ACTIVE).
    pub async fn cluster_exists(&self) -> Result<bool, EcsError> {
        let out = self
            .client
            .describe_clusters()
            .clusters(&self.cluster)
            .include(ClusterField::Tags)
            .send()
            .await
            .map_err(|e| self.err(&format!("describing cluster {}", self.cluster), e))?;
        Ok(out.clusters().iter().any(|c| c.status() == Some("ACTIVE")))
    }

    /// Every ACTIVE service of the cluster.
    pub async fn services(&self) -> Result<Vec<ObservedService>, EcsError> {
        let action = format!("listing the services of cluster {}", self.cluster);
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_services()
                .cluster(&self.cluster)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.err(&action, e))?;
            arns.extend(out.service_arns().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut services = Vec::new();
        for chunk in arns.chunks(10) {
            let out = self
                .client
                .describe_services()
                .cluster(&self.cluster)
                .set_services(Some(chunk.to_vec()))
                .include(ServiceField::Tags)
                .send()
                .await
                .map_err(|e| self.err(&action, e))?;
            for s in out.services() {
                if s.status() != Some("ACTIVE") {
                    continue;
                }
                let tag = |k: &str| {
                    s.tags()
                        .iter()
                        .find(|t| t.key() == Some(k))
                        .and_then(|t| t.value())
                        .map(str::to_string)
                };
                let placement = Placement {
                    strategies: s
                        .placement_strategy()
                        .iter()
                        .map(|p| Strategy {
                            kind: p.r#type().map(|t| t.as_str()).unwrap_or("").to_string(),
                            field: p.field().unwrap_or("").to_string(),
                        })
                        .collect(),
                    constraints: s
                        .placement_constraints()
                        .iter()
                        .map(|c| c.r#type().map(|t| t.as_str()).unwrap_or("").to_string())
                        .collect(),
                };
                services.push(ObservedService {
                    name: s.service_name().unwrap_or_default().to_string(),
                    arn: s.service_arn().unwrap_or_default().to_string(),
                    env_tag: tag(desired::TAG_ENV),
                    count: s.desired_count(),
                    running: s.running_count(),
                    pending: s.pending_count(),
                    task_definition: s.task_definition().unwrap_or_default().to_string(),
                    placement,
                });
            }
        }
        Ok(services)
    }

    /// The latest ACTIVE revision of `family`, if any.
    pub async fn latest_task(&self, family: &str) -> Result<Option<ObservedTask>, EcsError> {
        let action = format!("reading task definition family {family}");
        let out = self
            .client
            .list_task_definitions()
            .family_prefix(family)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .send()
            .await
            .map_err(|e| self.err(&action, e))?;
        // The highest revision of exactly this family (not every endpoint
        // sorts as asked).
        let Some(arn) = out
            .task_definition_arns()
            .iter()
            .filter(|a| diff::family_of(a) == family)
            .max_by_key(|a| diff::revision_of(a))
        else {
            return Ok(None);
        };
        self.task(arn).await.map(Some)
    }

    /// One task definition, as twip compares it.
    pub async fn task(&self, arn: &str) -> Result<ObservedTask, EcsError> {
        let out = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| self.err(&format!("describing task definition {arn}"), e))?;
        let td = out.task_definition();
        let c = td.and_then(|t| t.container_definitions().first());
        let hc = c.and_then(|c| c.health_check());
        let mut env: Vec<(String, String)> = c
            .map(|c| c.environment())
            .unwrap_or_default()
            .iter()
            .map(|kv| {
                (
                    kv.name().unwrap_or_default().to_string(),
                    kv.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        env.sort();
        let mut tags: Vec<(String, String)> = out
            .tags()
            .iter()
            .filter(|t| t.key().is_some_and(|k| k.starts_with("twip.")))
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        tags.sort();
        let env_tag = tags
            .iter()
            .find(|(k, _)| k == desired::TAG_ENV)
            .map(|(_, v)| v.clone());
        Ok(ObservedTask {
            arn: td
                .and_then(|t| t.task_definition_arn())
                .unwrap_or(arn)
                .to_string(),
            revision: td.map(|t| t.revision()).unwrap_or_default(),
            def: TaskDef {
                family: td.and_then(|t| t.family()).unwrap_or_default().to_string(),
                container: c.and_then(|c| c.name()).unwrap_or_default().to_string(),
                image: c.and_then(|c| c.image()).unwrap_or_default().to_string(),
                cpu: c.map(|c| c.cpu()).unwrap_or_default(),
                memory_mib: c.and_then(|c| c.memory()).unwrap_or_default(),
                port: c
                    .and_then(|c| c.port_mappings().first())
                    .and_then(|p| p.container_port())
                    .unwrap_or_default(),
                env,
                health: hc.map(|h| h.command().to_vec()).unwrap_or_default(),
                health_interval_s: hc.and_then(|h| h.interval()).unwrap_or_default(),
                health_timeout_s: hc.and_then(|h| h.timeout()).unwrap_or_default(),
                health_retries: hc.and_then(|h| h.retries()).unwrap_or_default(),
                health_start_s: hc.and_then(|h| h.start_period()).unwrap_or_default(),
                tags,
            },
            env_tag,
        })
    }

    /// What exists for `d`: the cluster, its services, the desired families'
    /// latest revisions.
    pub async fn observe(&self, d: &Desired) -> Result<Observed, EcsError> {
        let cluster = self.cluster_exists().await?;
        let services = if cluster {
            self.services().await?
        } else {
            Vec::new()
        };
        let mut tasks = Vec::new();
        for s in &d.services {
            if let Some(t) = self.latest_task(&s.task.family).await? {
                tasks.push(t);
            }
        }
        Ok(Observed {
            cluster,
            services,
            tasks,
        })
    }

    async fn create_cluster(&self, env: &str) -> Result<(), EcsError> {
        self.client
            .create_cluster()
            .cluster_name(&self.cluster)
            .tags(tag(desired::TAG_ENV, env))
            .send()
            .await
            .map_err(|e| self.err(&format!("creating cluster {}", self.cluster), e))?;
        Ok(())
    }

    async fn register(&self, t: &TaskDef) -> Result<String, EcsError> {
        let action = format!("registering task definition {}", t.family);
        let health = HealthCheck::builder()
            .set_command(Some(t.health.clone()))
            .interval(t.health_interval_s)
            .timeout(t.health_timeout_s)
            .retries(t.health_retries)
            .start_period(t.health_start_s)
            .build()
            .map_err(|e| EcsError::Call {
                action: action.clone(),
                code: "invalid health check".into(),
                message: e.to_string(),
            })?;
        let container = ContainerDefinition::builder()
            .name(&t.container)
            .image(&t.image)
            .cpu(t.cpu)
            .memory(t.memory_mib)
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(t.port)
                    .host_port(0)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .set_environment(Some(
                t.env
                    .iter()
                    .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
                    .collect(),
            ))
            .health_check(health)
            .build();
        let out = self
            .client
            .register_task_definition()
            .family(&t.family)
            .network_mode(NetworkMode::Bridge)
            .requires_compatibilities(Compatibility::Ec2)
            .container_definitions(container)
            .set_tags(Some(t.tags.iter().map(|(k, v)| tag(k, v)).collect()))
            .send()
            .await
            .map_err(|e| self.err(&action, e))?;
        Ok(out
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_string())
    }

    async fn create_service(
        &self,
        env: &str,
        s: &ServiceDesired,
        task: &str,
    ) -> Result<(), EcsError> {
        let action = format!("creating service {}", s.name);
        self.client
            .create_service()
            .cluster(&self.cluster)
            .service_name(&s.name)
            .task_definition(task)
            .desired_count(s.count)
            .launch_type(LaunchType::Ec2)
            .set_placement_strategy(Some(strategies(&s.placement)))
            .set_placement_constraints(Some(constraints(&s.placement)))
            .set_tags(Some(service_tags(env, s)))
            .send()
            .await
            .map_err(|e| self.err(&action, e))?;
        // Read it back: an endpoint that did not record the placement as
        // asked (moto's does not at creation) gets it set by UpdateService.
        let recorded = self
            .services()
            .await?
            .into_iter()
            .find(|o| o.name == s.name);
        if recorded.is_none_or(|o| o.placement != s.placement) {
            self.update_service(s, None, None, true).await?;
        }
        Ok(())
    }

    async fn update_service(
        &self,
        s: &ServiceDesired,
        count: Option<i32>,
        task: Option<&str>,
        placement: bool,
    ) -> Result<(), EcsError> {
        let action = format!("updating service {}", s.name);
        let mut call = self
            .client
            .update_service()
            .cluster(&self.cluster)
            .service(&s.name)
            .set_desired_count(count)
            .set_task_definition(task.map(str::to_string));
        if placement {
            call = call
                .set_placement_strategy(Some(strategies(&s.placement)))
                .set_placement_constraints(Some(constraints(&s.placement)));
        }
        call.send().await.map_err(|e| self.err(&action, e))?;
        Ok(())
    }

    async fn remove_service(&self, name: &str, count: i32) -> Result<(), EcsError> {
        if count != 0 {
            self.client
                .update_service()
                .cluster(&self.cluster)
                .service(name)
                .desired_count(0)
                .send()
                .await
                .map_err(|e| self.err(&format!("scaling service {name} to 0"), e))?;
        }
        self.client
            .delete_service()
            .cluster(&self.cluster)
            .service(name)
            .send()
            .await
            .map_err(|e| self.err(&format!("deleting service {name}"), e))?;
        Ok(())
    }

    /// Deregisters every ACTIVE task definition tagged `twip.env=env` whose
    /// family starts with `ENV-`; returns their ARNs.
    async fn deregister_all(&self, env: &str) -> Result<Vec<String>, EcsError> {
        let action = "listing task definition families";
        let mut families = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_task_definition_families()
                .family_prefix(format!("{env}-"))
                .status(TaskDefinitionFamilyStatus::Active)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.err(action, e))?;
            families.extend(out.families().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let mut gone = Vec::new();
        for family in families {
            let out = self
                .client
                .list_task_definitions()
                .family_prefix(&family)
                .status(TaskDefinitionStatus::Active)
                .send()
                .await
                .map_err(|e| self.err(&format!("listing family {family}"), e))?;
            for arn in out.task_definition_arns() {
                if diff::family_of(arn) != family {
                    continue;
                }
                let t = self.task(arn).await?;
                if t.env_tag.as_deref() != Some(env) {
                    continue;
                }
                self.client
                    .deregister_task_definition()
                    .task_definition(arn)
                    .send()
                    .await
                    .map_err(|e| self.err(&format!("deregistering {arn}"), e))?;
                gone.push(arn.clone());
            }
        }
        Ok(gone)
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

fn service_tags(env: &str, s: &ServiceDesired) -> Vec<Tag> {
    vec![
        tag(desired::TAG_ENV, env),
        tag(desired::TAG_SERVICE, &s.service),
    ]
}

fn strategies(p: &Placement) -> Vec<PlacementStrategy> {
    p.strategies
        .iter()
        .map(|s| {
            PlacementStrategy::builder()
                .r#type(PlacementStrategyType::from(s.kind.as_str()))
                .field(&s.field)
                .build()
        })
        .collect()
}

fn constraints(p: &Placement) -> Vec<PlacementConstraint> {
    p.constraints
        .iter()
        .map(|c| {
            PlacementConstraint::builder()
                .r#type(PlacementConstraintType::from(c.as_str()))
                .build()
        })
        .collect()
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The changes (empty: in sync).
    pub actions: Vec<Action>,
    /// Whether they were carried out (false for a dry run).
    pub applied: bool,
}

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
            return Err(EcsError::Partial {
                cause: Box::new(e),
                done,
                left: actions[i..].iter().map(|a| a.to_string()).collect(),
            });
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
                task_definition: o
                    .map(|o| o.task_definition.rsplit('/').next().unwrap_or_default())
                    .unwrap_or("-")
                    .to_string(),
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
                task_definition: o
                    .map(|o| o.task_definition.rsplit('/').next().unwrap_or_default())
                    .unwrap_or("-")
                    .to_string(),
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
    let partial = |e: EcsError, done: &Vec<String>, left: String| EcsError::Partial {
        cause: Box::new(e),
        done: done.clone(),
        left: vec![left],
    };
    let services = ecs.services().await?;
    let ours: Vec<&ObservedService> = services
        .iter()
        .filter(|s| s.env_tag.as_deref() == Some(env))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_failure_says_what_was_and_was_not_applied() {
        let e = EcsError::Partial {
            cause: Box::new(EcsError::Call {
                action: "creating service e-app".into(),
                code: "ClientException".into(),
                message: "no".into(),
            }),
            done: vec!["+ create   cluster c".into()],
            left: vec!["+ create   service e-app".into()],
        };
        let text = e.to_string();
        assert!(text.contains("applied: + create   cluster c"), "{text}");
        assert!(
            text.contains("not applied: + create   service e-app"),
            "{text}"
        );
    }
}
