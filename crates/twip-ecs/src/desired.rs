//! What should exist in ECS for a plan: one task definition and one service
//! per scenario service, placement from the plan's policy, and the EC2
//! capacity the plan's nodes stand for. Pure: no AWS here.

use std::collections::BTreeMap;

use twip_deploy::labels;
use twip_deploy::{check_cluster_name, check_env_name, service_specs, NameError};
use twip_model::plan::Plan;
use twip_model::Scenario;

/// One placement strategy (`type`, `field`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Strategy {
    /// `spread`, `binpack` or `random`.
    pub kind: String,
    /// `attribute:ecs.availability-zone`, `instanceId`, `memory`, ...
    pub field: String,
}

/// Placement strategies and constraints of one ECS service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Strategies, in order.
    pub strategies: Vec<Strategy>,
    /// Constraint types (`distinctInstance`).
    pub constraints: Vec<String>,
}

impl Placement {
    /// A compact text form: `spread:instanceId,binpack:memory;distinctInstance`.
    pub fn tag(&self) -> String {
        let s: Vec<String> = self
            .strategies
            .iter()
            .map(|s| format!("{}:{}", s.kind, s.field))
            .collect();
        format!("{};{}", s.join(","), self.constraints.join(","))
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s: Vec<String> = self
            .strategies
            .iter()
            .map(|s| format!("{} {}", s.kind, s.field))
            .collect();
        write!(
            f,
            "[{}]",
            if s.is_empty() {
                "no strategy".into()
            } else {
                s.join(", ")
            }
        )?;
        if !self.constraints.is_empty() {
            write!(f, " + {}", self.constraints.join(", "))?;
        }
        Ok(())
    }
}

/// The parts of a task definition twip sets (and compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDef {
    /// Family, `ENV-SERVICE`.
    pub family: String,
    /// Container name (the service's).
    pub container: String,
    /// Image.
    pub image: String,
    /// CPU units (1024 per vCPU).
    pub cpu: i32,
    /// Hard memory limit in MiB.
    pub memory_mib: i32,
    /// Container port (bridge mode, dynamic host port).
    pub port: i32,
    /// Environment, sorted by name.
    pub env: Vec<(String, String)>,
    /// Health check command (`CMD` form).
    pub health: Vec<String>,
    /// Health check interval, s (ECS: 5–300).
    pub health_interval_s: i32,
    /// Health check timeout, s (ECS: 2–60).
    pub health_timeout_s: i32,
    /// Retries (ECS: 1–10).
    pub health_retries: i32,
    /// Grace period after start, s (ECS: 0–300).
    pub health_start_s: i32,
    /// Tags (`twip.env`, `twip.managed`, `twip.service`), sorted.
    pub tags: Vec<(String, String)>,
}

impl TaskDef {
    /// The fields in which `self` (desired) differs from `other` (registered).
    pub fn differences(&self, other: &TaskDef) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{name} {b} → {a}"));
            }
        };
        cmp("container", self.container.clone(), other.container.clone());
        cmp("image", self.image.clone(), other.image.clone());
        cmp("cpu", self.cpu.to_string(), other.cpu.to_string());
        cmp(
            "memory",
            self.memory_mib.to_string(),
            other.memory_mib.to_string(),
        );
        cmp("port", self.port.to_string(), other.port.to_string());
        cmp(
            "environment",
            format!("{:?}", self.env),
            format!("{:?}", other.env),
        );
        cmp(
            "health check",
            format!(
                "{:?} every {} s, timeout {} s, {} retries, start {} s",
                self.health,
                self.health_interval_s,
                self.health_timeout_s,
                self.health_retries,
                self.health_start_s
            ),
            format!(
                "{:?} every {} s, timeout {} s, {} retries, start {} s",
                other.health,
                other.health_interval_s,
                other.health_timeout_s,
                other.health_retries,
                other.health_start_s
            ),
        );
        cmp(
            "tags",
            format!("{:?}", self.tags),
            format!("{:?}", other.tags),
        );
        d
    }
}

/// One ECS service to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDesired {
    /// ECS service name, `ENV-SERVICE`.
    pub name: String,
    /// Scenario service.
    pub service: String,
    /// Its task definition.
    pub task: TaskDef,
    /// `desiredCount`: the plan's replicas.
    pub count: i32,
    /// Placement from the plan's policy.
    pub placement: Placement,
}

/// EC2 capacity to provide: `count` instances of `instance_type` in `zone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    /// Instance type.
    pub instance_type: String,
    /// Availability zone.
    pub zone: String,
    /// How many.
    pub count: u32,
}

/// The desired ECS state of one environment in one cluster.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Environment name.
    pub env: String,
    /// Cluster name.
    pub cluster: String,
    /// Services, in scenario order.
    pub services: Vec<ServiceDesired>,
    /// EC2 capacity the plan's nodes stand for.
    pub capacity: Vec<Capacity>,
    /// Warnings to show before applying.
    pub warnings: Vec<String>,
}

/// The placement of one service: strategies from the policy (`zone-spread`
/// → spread by zone then instance, `spread` → spread by instance, `binpack`
/// → binpack memory), plus `distinctInstance` when the plan keeps the
/// service's replicas on distinct nodes (its anti-affinity: a node loss then
/// takes at most one, as the plan was verified). A plugin policy cannot be
/// expressed in ECS: it gets spread by instance, and `None` says so.
pub fn placement(policy: &str, plan: &Plan, service: &str) -> (Placement, bool) {
    let strategy = |kind: &str, field: &str| Strategy {
        kind: kind.into(),
        field: field.into(),
    };
    let (strategies, known) = match policy {
        "zone-spread" => (
            vec![
                strategy("spread", "attribute:ecs.availability-zone"),
                strategy("spread", "instanceId"),
            ],
            true,
        ),
        "spread" => (vec![strategy("spread", "instanceId")], true),
        "binpack" => (vec![strategy("binpack", "memory")], true),
        _ => (vec![strategy("spread", "instanceId")], false),
    };
    let nodes: Vec<&str> = plan
        .placements
        .iter()
        .filter(|p| p.service == service)
        .map(|p| p.node.as_str())
        .collect();
    let mut distinct = nodes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let constraints = if nodes.len() >= 2 && distinct.len() == nodes.len() {
        vec!["distinctInstance".to_string()]
    } else {
        vec![]
    };
    (
        Placement {
            strategies,
            constraints,
        },
        known,
    )
}

/// The plan's nodes grouped by instance type and zone.
pub fn capacity(plan: &Plan) -> Vec<Capacity> {
    let mut groups: BTreeMap<(String, String), u32> = BTreeMap::new();
    for n in &plan.nodes {
        *groups
            .entry((n.instance_type.clone(), n.zone.clone()))
            .or_default() += 1;
    }
    groups
        .into_iter()
        .map(|((instance_type, zone), count)| Capacity {
            instance_type,
            zone,
            count,
        })
        .collect()
}

/// An Auto Scaling group per zone that would provide [`capacity`] to
/// `cluster`, as AWS CLI commands to adapt (launch template, subnets).
pub fn asg_sketch(capacity: &[Capacity], env: &str, cluster: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# One launch template per instance type: the ECS-optimized AMI, an instance\n\
         # profile with the AmazonEC2ContainerServiceforEC2Role policy, and user data\n\
         #   #!/bin/bash\n#   echo ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"
    ));
    for c in capacity {
        let name = format!(
            "twip-{env}-{}-{}",
            c.zone,
            c.instance_type.replace('.', "-")
        );
        out.push_str(&format!(
            "aws autoscaling create-auto-scaling-group --auto-scaling-group-name {name} \\\n  \
             --launch-template LaunchTemplateName=twip-{env}-{ty},Version='$Latest' \\\n  \
             --min-size {n} --max-size {n} --desired-capacity {n} \\\n  \
             --vpc-zone-identifier SUBNET-IN-{zone} \\\n  \
             --tags Key=twip.env,Value={env},PropagateAtLaunch=true Key=twip.managed,Value=true,PropagateAtLaunch=true\n",
            ty = c.instance_type.replace('.', "-"),
            n = c.count,
            zone = c.zone,
        ));
    }
    out
}

/// ECS accepts `[lo, hi]` for health check fields.
fn clamp(v: f64, lo: i32, hi: i32) -> i32 {
    (v.round() as i64).clamp(lo as i64, hi as i64) as i32
}

/// The desired state of `env` in `cluster` for `plan` over `scenario`.
pub fn desired(
    plan: &Plan,
    scenario: &Scenario,
    env: &str,
    cluster: &str,
) -> Result<Desired, NameError> {
    check_env_name(env)?;
    check_cluster_name(cluster)?;
    let (specs, mut warnings) = service_specs(plan, scenario);
    let mut services = Vec::new();
    let mut warned_policy = false;
    for s in &specs {
        let name = format!("{env}-{}", s.service);
        let mut env_vars: Vec<(String, String)> = s
            .env
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect();
        if !s.env.is_empty() {
            // The test backend names itself in its answers.
            env_vars.push(("TWIP_NAME".into(), s.service.clone()));
        }
        env_vars.sort();
        let mut tags = labels::marks(env, Some(&s.service));
        tags.sort();
        let task = TaskDef {
            family: name.clone(),
            container: s.service.clone(),
            image: s.image.clone(),
            cpu: (s.cpu * 1024.0).round() as i32,
            memory_mib: s.memory_mb as i32,
            port: s.port as i32,
            env: env_vars,
            health: s.health.clone(),
            health_interval_s: clamp(s.health_interval_s, 5, 300),
            health_timeout_s: 5,
            health_retries: clamp(s.health_retries as f64, 1, 10),
            health_start_s: 10,
            tags,
        };
        let (placement, known) = placement(&plan.policy, plan, &s.service);
        if !known && !warned_policy {
            warned_policy = true;
            warnings.push(format!(
                "policy {:?} has no ECS equivalent: services are spread by instance; the plan's placement itself is not enforced",
                plan.policy
            ));
        }
        services.push(ServiceDesired {
            name,
            service: s.service.clone(),
            task,
            count: s.replicas as i32,
            placement,
        });
    }
    Ok(Desired {
        env: env.to_string(),
        cluster: cluster.to_string(),
        services,
        capacity: capacity(plan),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use twip_model::plan::{Cost, Placement as P, PlanNode};

    fn plan(policy: &str, placements: &[(&str, u32, &str)]) -> Plan {
        let node = |id: &str, zone: &str| PlanNode {
            id: id.into(),
            instance_type: "c5.large".into(),
            zone: zone.into(),
            cpu: 2.0,
            memory_mb: 4096,
            hourly_usd: 0.1,
        };
        Plan {
            scenario: "s".into(),
            scenario_file: None,
            policy: policy.into(),
            region: None,
            nodes: vec![
                node("node-1", "z-a"),
                node("node-2", "z-b"),
                node("node-3", "z-a"),
            ],
            replicas: BTreeMap::new(),
            placements: placements
                .iter()
                .map(|&(s, r, n)| P {
                    service: s.into(),
                    replica: r,
                    node: n.into(),
                })
                .collect(),
            cost: Cost::hourly(0.3),
            verification: vec![],
            rejected: vec![],
            elastic: None,
        }
    }

    #[test]
    fn placement_follows_the_policy() {
        let p = plan("zone-spread", &[]);
        let (z, known) = placement("zone-spread", &p, "app");
        assert!(known);
        assert_eq!(
            z.tag(),
            "spread:attribute:ecs.availability-zone,spread:instanceId;"
        );
        assert_eq!(placement("spread", &p, "app").0.tag(), "spread:instanceId;");
        assert_eq!(placement("binpack", &p, "app").0.tag(), "binpack:memory;");
        let (plugin, known) = placement("plugins/mine.wasm", &p, "app");
        assert!(!known);
        assert_eq!(plugin.tag(), "spread:instanceId;");
    }

    #[test]
    fn distinct_nodes_in_the_plan_mean_distinct_instances() {
        let apart = plan(
            "spread",
            &[
                ("app", 0, "node-1"),
                ("app", 1, "node-2"),
                ("lb", 0, "node-1"),
            ],
        );
        assert_eq!(
            placement("spread", &apart, "app").0.constraints,
            vec!["distinctInstance"]
        );
        // One replica: nothing to keep apart.
        assert!(placement("spread", &apart, "lb").0.constraints.is_empty());
        let together = plan("binpack", &[("app", 0, "node-1"), ("app", 1, "node-1")]);
        assert!(placement("binpack", &together, "app")
            .0
            .constraints
            .is_empty());
    }

    #[test]
    fn capacity_groups_nodes_by_type_and_zone() {
        let c = capacity(&plan("spread", &[]));
        assert_eq!(
            c,
            vec![
                Capacity {
                    instance_type: "c5.large".into(),
                    zone: "z-a".into(),
                    count: 2
                },
                Capacity {
                    instance_type: "c5.large".into(),
                    zone: "z-b".into(),
                    count: 1
                },
            ]
        );
        let sketch = asg_sketch(&c, "prod", "main");
        assert!(sketch.contains("ECS_CLUSTER=main"));
        assert!(sketch.contains("twip-prod-z-a-c5-large"));
        assert!(sketch.contains("--desired-capacity 2"));
    }

    #[test]
    fn differences_name_the_fields() {
        let t = TaskDef {
            family: "e-app".into(),
            container: "app".into(),
            image: "a:1".into(),
            cpu: 512,
            memory_mib: 256,
            port: 80,
            env: vec![],
            health: vec!["CMD".into(), "true".into()],
            health_interval_s: 5,
            health_timeout_s: 5,
            health_retries: 3,
            health_start_s: 10,
            tags: vec![],
        };
        assert!(t.differences(&t).is_empty());
        let mut u = t.clone();
        u.image = "a:2".into();
        u.memory_mib = 512;
        let d = u.differences(&t);
        assert_eq!(d, vec!["image a:1 → a:2", "memory 256 → 512"]);
    }
}
