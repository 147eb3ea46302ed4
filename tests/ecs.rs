//! `twip apply | status | destroy --target ecs` through aws-sdk-ecs against
//! moto's ECS server (a real emulator of the ECS API, not a mock).
//!
//! Run by `.ci/run` as
//! `TWIP_ECS_ENDPOINT=$(.ci/moto.sh start) cargo test -p twip-cli --test e2e -- --ignored ecs::`.
//! Every test has its own cluster and environment. What ECS recorded is read
//! back with plain JSON calls to the emulator, independently of twip. A small
//! proxy in front of the emulator injects the AWS error answers moto never
//! gives (throttling, expired credentials, a refused call) and records the
//! requests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{root, text, tmp};

const SCENARIO: &str = "scenarios/twip/training.toml";

/// The emulator's URL; fails loudly when it is not set or does not answer.
fn endpoint() -> String {
    let url = std::env::var("TWIP_ECS_ENDPOINT").unwrap_or_else(|_| {
        panic!("TWIP_ECS_ENDPOINT is not set: start the emulator with `.ci/moto.sh start` and export what it prints")
    });
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let addr = hostport
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("TWIP_ECS_ENDPOINT={url}: not host:port ({e})"))
        .next()
        .unwrap_or_else(|| panic!("TWIP_ECS_ENDPOINT={url}: no address"));
    TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap_or_else(|e| {
        panic!(
            "TWIP_ECS_ENDPOINT={url} does not answer ({e}): is moto running (`.ci/moto.sh start`)?"
        )
    });
    url.trim_end_matches('/').to_string()
}

/// Runs `twip` with fake credentials only (no profile, no instance metadata).
fn twip(args: &[&str]) -> Output {
    twip_with(args, true)
}

/// Runs `twip` with fake credentials or with none at all.
fn twip_with(args: &[&str], credentials: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twip"));
    c.args(args)
        .current_dir(root())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    if credentials {
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing");
    }
    c.output().expect("twip runs")
}

/// A plain HTTP/1.1 exchange; returns (status, body).
fn http(addr: &str, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let status = String::from_utf8_lossy(&answer[..split])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer[split + 4..].to_vec())
}

/// One ECS API call straight to the emulator (JSON protocol), bypassing twip.
fn ecs(op: &str, body: Value) -> Value {
    let url = endpoint();
    let addr = url.trim_start_matches("http://");
    let body = body.to_string();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AmazonEC2ContainerServiceV20141113.{op}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (status, answer) = http(addr, &head, body.as_bytes());
    let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{op}: {v}");
    v
}

/// A training plan: `app` replicas of the app on distinct nodes (three
/// nodes over two zones), lb and static on node-1.
fn plan(name: &str, policy: &str, app: u32) -> PathBuf {
    let mut placements = vec![
        json!({"service": "lb", "replica": 0, "node": "node-1"}),
        json!({"service": "static", "replica": 0, "node": "node-1"}),
    ];
    for r in 0..app {
        placements
            .push(json!({"service": "app", "replica": r, "node": format!("node-{}", r % 3 + 1)}));
    }
    let node = |id: &str, zone: &str| json!({"id": id, "instance_type": "c5.xlarge", "zone": zone, "cpu": 4.0, "memory_mb": 8192, "hourly_usd": 0.17});
    let plan = json!({
        "scenario": "training", "policy": policy, "region": "us-east-1",
        "nodes": [node("node-1", "us-east-1a"), node("node-2", "us-east-1b"), node("node-3", "us-east-1a")],
        "replicas": {"lb": 1, "static": 1, "app": app},
        "placements": placements,
        "cost": {"hourly_usd": 0.51, "monthly_usd": 372.3},
        "verification": [], "rejected": []
    });
    let p = tmp(&format!("ecs-{name}.json"));
    std::fs::write(&p, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    p
}

/// The training scenario over two zones (the plans here put nodes in
/// us-east-1a and us-east-1b, and a plan must be in its scenario's zones),
/// with `from` replaced by `to`.
fn scenario_variant(name: &str, from: &str, to: &str) -> PathBuf {
    let src = std::fs::read_to_string(root().join(SCENARIO)).unwrap();
    let catalog = root().join("scenarios/catalog/aws-ec2.toml");
    let src = src
        .replace(
            "zones = [\"us-east-1a\"]",
            "zones = [\"us-east-1a\", \"us-east-1b\"]",
        )
        .replace(
            "\"../catalog/aws-ec2.toml\"",
            &format!("{:?}", catalog.display().to_string()),
        );
    assert!(src.contains(from), "{from:?} is in {SCENARIO}");
    let p = tmp(&format!("ecs-{name}.toml"));
    std::fs::write(&p, src.replace(from, to)).unwrap();
    p
}

/// The training scenario over the plans' two zones (written once: the
/// tests run in parallel).
fn scenario() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| scenario_variant("scenario", "name = ", "name = "))
        .clone()
}

/// One test's cluster and environment (both unique).
struct Env {
    name: String,
    cluster: String,
    endpoint: String,
}

impl Env {
    fn new(name: &str) -> Env {
        let id = format!("{name}-{}", std::process::id());
        Env {
            name: format!("t{id}"),
            cluster: format!("c{id}"),
            endpoint: endpoint(),
        }
    }

    /// `twip apply PLAN --target ecs` over `scenario` through `endpoint`.
    fn apply_via(&self, endpoint: &str, plan: &Path, scenario: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "apply",
            plan.to_str().unwrap(),
            "--target",
            "ecs",
            "--scenario",
            scenario.to_str().unwrap(),
            "--env",
            &self.name,
            "--cluster",
            &self.cluster,
            "--endpoint-url",
            endpoint,
        ];
        args.extend_from_slice(extra);
        twip(&args)
    }

    fn apply(&self, plan: &Path, extra: &[&str]) -> Output {
        self.apply_via(&self.endpoint, plan, &scenario(), extra)
    }

    fn status(&self, plan: &Path) -> Output {
        twip(&[
            "status",
            "--target",
            "ecs",
            "--env",
            &self.name,
            "--plan",
            plan.to_str().unwrap(),
            "--scenario",
            scenario().to_str().unwrap(),
            "--cluster",
            &self.cluster,
            "--endpoint-url",
            &self.endpoint,
        ])
    }

    fn destroy(&self) -> Output {
        twip(&[
            "destroy",
            "--target",
            "ecs",
            "--env",
            &self.name,
            "--cluster",
            &self.cluster,
            "--endpoint-url",
            &self.endpoint,
        ])
    }

    /// The ACTIVE services of the cluster as ECS records them, by name.
    fn services(&self) -> BTreeMap<String, Value> {
        let arns = ecs("ListServices", json!({"cluster": self.cluster}))["serviceArns"].clone();
        let v = ecs(
            "DescribeServices",
            json!({"cluster": self.cluster, "services": arns, "include": ["TAGS"]}),
        );
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "ACTIVE")
            .map(|s| (s["serviceName"].as_str().unwrap().to_string(), s.clone()))
            .collect()
    }

    /// The ACTIVE revisions of `ENV-SERVICE`.
    fn revisions(&self, service: &str) -> Vec<String> {
        let v = ecs(
            "ListTaskDefinitions",
            json!({"familyPrefix": format!("{}-{service}", self.name), "status": "ACTIVE"}),
        );
        v["taskDefinitionArns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    fn service(&self, service: &str) -> Value {
        self.services()
            .remove(&format!("{}-{service}", self.name))
            .unwrap_or_else(|| panic!("service {service} exists"))
    }
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "{}", text(o));
}

fn tags(v: &Value) -> BTreeMap<String, String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t["key"].as_str().unwrap_or_default().to_string(),
                        t["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn apply_creates_everything_and_a_second_apply_changes_nothing() {
    let env = Env::new("apply");
    let p = plan("apply", "spread", 2);

    let o = env.apply(&p, &["--dry-run"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "dry run shows changes: {}",
        text(&o)
    );
    assert!(text(&o).contains(&format!("+ create   cluster {}", env.cluster)));
    let v = ecs("DescribeClusters", json!({"clusters": [env.cluster]}));
    assert!(
        v["clusters"].as_array().unwrap().is_empty(),
        "a dry run creates nothing: {v}"
    );

    let o = env.apply(&p, &[]);
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains("2 x c5.xlarge in us-east-1a"),
        "capacity printout: {out}"
    );
    assert!(out.contains("1 x c5.xlarge in us-east-1b"), "{out}");
    assert!(
        out.contains("3 task definitions registered, 3 services created"),
        "{out}"
    );

    let services = env.services();
    assert_eq!(services.len(), 3, "{services:?}");
    let app = &services[&format!("{}-app", env.name)];
    assert_eq!(app["desiredCount"], 2);
    assert_eq!(app["launchType"], "EC2");
    let t = tags(&app["tags"]);
    assert_eq!(t["twip.env"], env.name);
    assert_eq!(t["twip.service"], "app");
    assert_eq!(t["twip.managed"], "true");
    assert!(app["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with(&format!("task-definition/{}-app:1", env.name)));

    let td = ecs(
        "DescribeTaskDefinition",
        json!({"taskDefinition": format!("{}-app", env.name), "include": ["TAGS"]}),
    );
    let c = &td["taskDefinition"]["containerDefinitions"][0];
    assert_eq!(c["image"], "twip/app:latest");
    assert_eq!(c["cpu"], 2048);
    assert_eq!(c["memory"], 2048);
    assert_eq!(c["portMappings"][0]["containerPort"], 8080);
    assert_eq!(c["healthCheck"]["command"][1], "/twip-testapp");
    assert_eq!(tags(&td["tags"])["twip.env"], env.name);
    assert_eq!(tags(&td["tags"])["twip.managed"], "true");

    // A second apply converges: no change, no new revision.
    let o = env.apply(&p, &[]);
    ok(&o);
    assert!(text(&o).contains("no changes"), "{}", text(&o));
    assert_eq!(env.revisions("app").len(), 1);
    let o = env.apply(&p, &["--dry-run"]);
    ok(&o);

    // Status: the configuration is in sync, but moto starts no task, so
    // they are pending: that is drift (exit 2) until they run.
    let o = env.status(&p);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains(&format!("{}-app:1", env.name)), "{out}");
    assert!(out.contains("0 of 2 tasks running"), "{out}");
    assert!(
        !out.contains("differs") && !out.contains("missing"),
        "{out}"
    );

    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn scaling_a_service_changes_its_count_only() {
    let env = Env::new("scale");
    ok(&env.apply(&plan("scale-2", "spread", 2), &[]));
    let o = env.apply(&plan("scale-3", "spread", 3), &[]);
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains(&format!(
            "~ update   service {}-app: desired count 2 → 3",
            env.name
        )),
        "{out}"
    );
    assert!(
        !out.contains("~ register") && !out.contains("+ register"),
        "no new revision: {out}"
    );
    assert_eq!(env.service("app")["desiredCount"], 3);
    assert_eq!(env.service("lb")["desiredCount"], 1);
    assert_eq!(env.revisions("app").len(), 1);
    ok(&env.apply(&plan("scale-3", "spread", 3), &["--dry-run"]));
    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn a_service_the_plan_no_longer_has_is_removed() {
    let env = Env::new("dropped");
    let p = plan("dropped", "spread", 2);
    ok(&env.apply(&p, &[]));
    // A service of this environment, tagged by twip, that the plan does not name.
    let old = format!("{}-old", env.name);
    ecs(
        "CreateService",
        json!({"cluster": env.cluster, "serviceName": old, "taskDefinition": format!("{}-lb", env.name),
               "desiredCount": 2, "tags": [{"key": "twip.env", "value": env.name}, {"key": "twip.service", "value": "old"}, {"key": "twip.managed", "value": "true"}]}),
    );
    let o = env.apply(&p, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "- remove   service {old} (not in the plan; scale 2 → 0, delete)"
        )),
        "{}",
        text(&o)
    );
    let o = env.apply(&p, &[]);
    ok(&o);
    assert!(text(&o).contains("1 removed"), "{}", text(&o));
    assert!(!env.services().contains_key(&old));
    assert_eq!(env.services().len(), 3);
    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn a_stray_env_tag_is_not_ownership() {
    let env = Env::new("stray");
    let p = plan("stray", "spread", 2);
    ok(&env.apply(&p, &[]));
    // Services carrying some of twip's tags, not all: env only, and env
    // and service without the twip.managed marker.
    let partial = [
        (
            "foreign-env",
            json!([{"key": "twip.env", "value": env.name}]),
        ),
        (
            "foreign-service",
            json!([{"key": "twip.env", "value": env.name}, {"key": "twip.service", "value": "old"}]),
        ),
    ];
    for (name, tags) in &partial {
        ecs(
            "CreateService",
            json!({"cluster": env.cluster, "serviceName": name, "taskDefinition": format!("{}-lb", env.name),
                   "desiredCount": 1, "tags": tags}),
        );
    }
    let o = env.apply(&p, &[]);
    ok(&o);
    assert!(!text(&o).contains("foreign-"), "{}", text(&o));
    let o = env.destroy();
    ok(&o);
    assert!(!text(&o).contains("foreign-"), "{}", text(&o));
    let left = env.services();
    for (name, _) in &partial {
        assert_eq!(
            left[*name]["desiredCount"], 1,
            "{name} survived apply and destroy: {left:?}"
        );
    }
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn a_new_image_registers_a_revision_and_updates_the_service() {
    let env = Env::new("image");
    let p = plan("image", "spread", 2);
    ok(&env.apply(&p, &[]));
    let v2 = scenario_variant(
        "image-v2",
        "image = \"twip/app:latest\"",
        "image = \"twip/app:v2\"",
    );
    let o = env.apply_via(&env.endpoint, &p, &v2, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("image twip/app:latest → twip/app:v2"),
        "{}",
        text(&o)
    );
    let o = env.apply_via(&env.endpoint, &p, &v2, &[]);
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains("1 task definitions registered, 0 services created, 1 updated"),
        "{out}"
    );
    let app = env.service("app");
    assert!(
        app["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{}-app:2", env.name)),
        "{app}"
    );
    assert_eq!(app["desiredCount"], 2, "the count is kept");
    let td = ecs(
        "DescribeTaskDefinition",
        json!({"taskDefinition": format!("{}-app", env.name)}),
    );
    assert_eq!(td["taskDefinition"]["revision"], 2);
    assert_eq!(
        td["taskDefinition"]["containerDefinitions"][0]["image"],
        "twip/app:v2"
    );
    // The other services did not move.
    assert!(env.service("lb")["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with(":1"));
    // And it converged.
    let o = env.apply_via(&env.endpoint, &p, &v2, &[]);
    ok(&o);
    assert!(text(&o).contains("no changes"), "{}", text(&o));
    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn placement_follows_the_policy_on_the_wire_and_on_the_service() {
    let env = Env::new("place");
    let proxy = Proxy::start(&env.endpoint, vec![]);
    let o = env.apply_via(
        &proxy.url(),
        &plan("place-zone", "zone-spread", 2),
        &scenario(),
        &[],
    );
    ok(&o);
    let app = env.service("app");
    let zone_spread = json!([
        {"type": "spread", "field": "attribute:ecs.availability-zone"},
        {"type": "spread", "field": "instanceId"}
    ]);
    assert_eq!(app["placementStrategy"], zone_spread, "{app}");
    // The plan keeps the two app replicas on distinct nodes; lb has one replica.
    assert_eq!(
        app["placementConstraints"],
        json!([{"type": "distinctInstance"}])
    );
    assert_eq!(env.service("lb")["placementConstraints"], json!([]));
    // The CreateService request itself carried them.
    let create = proxy
        .requests("CreateService")
        .into_iter()
        .find(|b| b["serviceName"] == format!("{}-app", env.name))
        .expect("CreateService for app");
    assert_eq!(create["placementStrategy"], zone_spread);
    assert_eq!(
        create["placementConstraints"],
        json!([{"type": "distinctInstance"}])
    );
    assert_eq!(create["desiredCount"], 2);
    assert!(text(&o).contains("EC2 capacity to provide"));

    // Same plan, same placement: nothing to do.
    let o = env.apply(&plan("place-zone", "zone-spread", 2), &[]);
    ok(&o);
    assert!(text(&o).contains("no changes"), "{}", text(&o));

    // Binpack: placement updated in place, no new revision.
    let o = env.apply(&plan("place-bin", "binpack", 2), &[]);
    ok(&o);
    assert!(text(&o).contains("placement"), "{}", text(&o));
    assert_eq!(
        env.service("app")["placementStrategy"],
        json!([{"type": "binpack", "field": "memory"}])
    );
    assert_eq!(env.revisions("app").len(), 1);

    // Node spread with the ASG sketch.
    let o = env.apply(&plan("place-spread", "spread", 2), &["--asg-sketch"]);
    ok(&o);
    assert!(
        text(&o).contains("create-auto-scaling-group"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains(&format!("ECS_CLUSTER={}", env.cluster)));
    assert_eq!(
        env.service("app")["placementStrategy"],
        json!([{"type": "spread", "field": "instanceId"}])
    );
    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn destroy_removes_twips_objects_and_nothing_else() {
    let env = Env::new("destroy");
    ok(&env.apply(&plan("destroy", "spread", 2), &[]));
    // Someone else's service and task definition in the same cluster.
    let foreign_family = format!("{}-foreign", env.name);
    ecs(
        "RegisterTaskDefinition",
        json!({"family": foreign_family, "containerDefinitions": [{"name": "x", "image": "x", "memory": 64}]}),
    );
    ecs(
        "CreateService",
        json!({"cluster": env.cluster, "serviceName": "theirs", "taskDefinition": foreign_family, "desiredCount": 1}),
    );

    let o = env.destroy();
    ok(&o);
    let out = text(&o);
    assert!(
        out.contains(&format!("service {}-app (scaled 2 → 0, deleted)", env.name)),
        "{out}"
    );
    assert!(
        out.contains(&format!("task definition {}-app:1", env.name)),
        "{out}"
    );
    let left = env.services();
    assert_eq!(left.keys().collect::<Vec<_>>(), vec!["theirs"], "{left:?}");
    assert_eq!(left["theirs"]["desiredCount"], 1);
    assert!(env.revisions("app").is_empty());
    assert_eq!(env.revisions("foreign").len(), 1, "not twip's: kept");

    // A service of the plan's name that twip does not own is refused.
    ecs(
        "CreateService",
        json!({"cluster": env.cluster, "serviceName": format!("{}-lb", env.name), "taskDefinition": foreign_family, "desiredCount": 1}),
    );
    let o = env.apply(&plan("destroy", "spread", 2), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is not tagged as twip's (twip.env="),
        "{}",
        text(&o)
    );
    // Destroying again removes only what twip owns (now: the task definitions it registered).
    ok(&env.destroy());
    assert!(env.services().contains_key(&format!("{}-lb", env.name)));
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn an_unknown_cluster_is_a_clear_error() {
    let env = Env::new("unknown");
    let o = env.status(&plan("unknown", "spread", 2));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("ECS cluster {:?} does not exist", env.cluster)),
        "{}",
        text(&o)
    );
    let o = env.destroy();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("does not exist"), "{}", text(&o));
    // Missing --cluster is an input error.
    let o = twip(&["destroy", "--target", "ecs", "--env", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("needs --cluster"), "{}", text(&o));
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn a_failed_call_stops_with_a_summary_and_the_next_apply_converges() {
    let env = Env::new("partial");
    let p = plan("partial", "spread", 2);
    let proxy = Proxy::start(
        &env.endpoint,
        vec![Fault {
            op: "CreateService".into(),
            body_contains: format!("\"{}-app\"", env.name),
            times: 1,
            status: 400,
            body: r#"{"__type":"ClientException","message":"injected: the service cannot be created"}"#.into(),
        }],
    );
    let o = env.apply_via(&proxy.url(), &p, &scenario(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!(
            "creating service {}-app failed: ClientException: injected",
            env.name
        )),
        "{out}"
    );
    assert!(out.contains("applied: + create   cluster"), "{out}");
    assert!(
        out.contains(&format!("not applied: + create   service {}-app", env.name)),
        "{out}"
    );
    assert_eq!(env.services().len(), 2, "lb and static were created");

    let o = env.apply(&p, &[]);
    ok(&o);
    assert!(
        text(&o).contains("0 task definitions registered, 1 services created"),
        "{}",
        text(&o)
    );
    let o = env.apply(&p, &[]);
    ok(&o);
    assert!(text(&o).contains("no changes"));
    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn throttling_is_retried_with_the_sdk_policy() {
    let env = Env::new("throttle");
    let proxy = Proxy::start(
        &env.endpoint,
        vec![Fault {
            op: "RegisterTaskDefinition".into(),
            body_contains: String::new(),
            times: 2,
            status: 400,
            body: r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        }],
    );
    let o = env.apply_via(
        &proxy.url(),
        &plan("throttle", "spread", 2),
        &scenario(),
        &[],
    );
    ok(&o);
    // Two throttled attempts, then the three registrations.
    assert_eq!(proxy.requests("RegisterTaskDefinition").len(), 5);
    assert_eq!(env.revisions("lb").len(), 1);
    ok(&env.destroy());
}

#[test]
#[ignore = "needs moto's ECS server: TWIP_ECS_ENDPOINT"]
fn expired_credentials_and_a_dead_endpoint_are_clear_errors() {
    let env = Env::new("creds");
    let proxy = Proxy::start(
        &env.endpoint,
        vec![Fault {
            op: "DescribeClusters".into(),
            body_contains: String::new(),
            times: 100,
            status: 400,
            body: r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#.into(),
        }],
    );
    let o = env.apply_via(&proxy.url(), &plan("creds", "spread", 2), &scenario(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("AWS credentials are missing, invalid or expired (ExpiredTokenException"),
        "{}",
        text(&o)
    );

    // No credentials anywhere in the chain.
    let o = twip_with(
        &[
            "destroy",
            "--target",
            "ecs",
            "--env",
            &env.name,
            "--cluster",
            &env.cluster,
            "--endpoint-url",
            &env.endpoint,
        ],
        false,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("AWS credentials are missing, invalid or expired")
            && text(&o).contains("no credentials found in chain"),
        "{}",
        text(&o)
    );

    // Nothing listens on port 1.
    let o = env.apply_via(
        "http://127.0.0.1:1",
        &plan("dead", "spread", 2),
        &scenario(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the ECS endpoint http://127.0.0.1:1 did not answer"),
        "{}",
        text(&o)
    );
}

// ------------------------------------------------------------ fault proxy

/// An error answer to give instead of forwarding.
#[derive(Clone)]
struct Fault {
    /// Operation (`X-Amz-Target` suffix).
    op: String,
    /// Only requests whose body contains this.
    body_contains: String,
    /// How many times.
    times: u32,
    /// HTTP status.
    status: u16,
    /// JSON error body (`__type`, `message`).
    body: String,
}

/// Forwards HTTP requests to the emulator, answering some with injected
/// errors, and records every request (operation, JSON body).
struct Proxy {
    port: u16,
    log: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Proxy {
    fn start(upstream: &str, faults: Vec<Fault>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = upstream.trim_start_matches("http://").to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let faults = Arc::new(Mutex::new(faults));
        let l = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (upstream, log, faults) = (upstream.clone(), l.clone(), faults.clone());
                std::thread::spawn(move || serve(conn, &upstream, &log, &faults));
            }
        });
        Proxy { port, log }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Bodies of the requests for `op`, in order (injected failures included).
    fn requests(&self, op: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

/// Serves one client connection (keep-alive) until it closes.
fn serve(
    conn: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<(String, Value)>>,
    faults: &Mutex<Vec<Fault>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut head = String::new();
        let mut length = 0usize;
        let mut op = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("x-amz-target:") {
                op = line
                    .trim()
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            if lower.starts_with("connection:") {
                continue;
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let text = String::from_utf8_lossy(&body).to_string();
        log.lock().unwrap().push((
            op.clone(),
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ));
        let fault = {
            let mut f = faults.lock().unwrap();
            f.iter_mut()
                .find(|f| f.op == op && f.times > 0 && text.contains(&f.body_contains))
                .map(|f| {
                    f.times -= 1;
                    f.clone()
                })
        };
        let answer = match fault {
            Some(f) => format!(
                "HTTP/1.1 {} Error\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{}",
                f.status,
                f.body.len(),
                f.body
            )
            .into_bytes(),
            None => {
                let head = format!("{head}Connection: close\r\n\r\n");
                let (status, answer) = http(upstream, &head, &body);
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n",
                    answer.len()
                )
                .into_bytes();
                out.extend_from_slice(&answer);
                out
            }
        };
        if conn.write_all(&answer).is_err() {
            return;
        }
    }
}
