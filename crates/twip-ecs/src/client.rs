//! The calls to ECS: connecting, reading what the cluster has, and the
//! calls that change it. A list read whole (services, task definition
//! families and their revisions) goes through the SDK's paginators, so every
//! page is seen; the latest revision of a family is the first page of a
//! descending listing. No decisions here: what to call, and in which order,
//! is [`crate::converge`]'s.

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
use twip_deploy::labels;

use crate::desired::{Desired, Placement, ServiceDesired, Strategy, TaskDef};
use crate::diff::{self, Observed, ObservedService, ObservedTask};
use crate::error::{classify, EcsError};

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
    /// Turns an SDK error from `action` into an [`EcsError`].
    fn err<E, R>(&self, action: &str, e: SdkError<E, R>) -> EcsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        classify(action, &self.cluster, &self.endpoint, e)
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
        let arns: Vec<String> = self
            .client
            .list_services()
            .cluster(&self.cluster)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err(&action, e))?;
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
                    owner: labels::owner(tag).map(str::to_string),
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
            .filter(|t| t.key().is_some_and(|k| k.starts_with(labels::PREFIX)))
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        tags.sort();
        let owner = labels::owner(|k| {
            tags.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        })
        .map(str::to_string);
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
            owner,
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

    pub(crate) async fn create_cluster(&self, env: &str) -> Result<(), EcsError> {
        self.client
            .create_cluster()
            .cluster_name(&self.cluster)
            .set_tags(Some(
                labels::marks(env, None)
                    .iter()
                    .map(|(k, v)| tag(k, v))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| self.err(&format!("creating cluster {}", self.cluster), e))?;
        Ok(())
    }

    pub(crate) async fn register(&self, t: &TaskDef) -> Result<String, EcsError> {
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

    pub(crate) async fn create_service(
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

    pub(crate) async fn update_service(
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

    pub(crate) async fn remove_service(&self, name: &str, count: i32) -> Result<(), EcsError> {
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

    /// Deregisters every ACTIVE task definition twip owns in `env` (all its
    /// ownership tags, [`labels::owner`]) whose
    /// family starts with `ENV-`; returns their ARNs.
    pub(crate) async fn deregister_all(&self, env: &str) -> Result<Vec<String>, EcsError> {
        let action = "listing task definition families";
        let families: Vec<String> = self
            .client
            .list_task_definition_families()
            .family_prefix(format!("{env}-"))
            .status(TaskDefinitionFamilyStatus::Active)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.err(action, e))?;
        let mut gone = Vec::new();
        for family in families {
            let arns: Vec<String> = self
                .client
                .list_task_definitions()
                .family_prefix(&family)
                .status(TaskDefinitionStatus::Active)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| self.err(&format!("listing family {family}"), e))?;
            for arn in &arns {
                if diff::family_of(arn) != family {
                    continue;
                }
                let t = self.task(arn).await?;
                if t.owner.as_deref() != Some(env) {
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
    labels::marks(env, Some(&s.service))
        .iter()
        .map(|(k, v)| tag(k, v))
        .collect()
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
