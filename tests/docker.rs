//! `twip apply --target docker` against the real engine.
//!
//! Needs a running Docker engine and the images built by
//! `crates/twip-docker/images/build.sh`; run by `.ci/run` as
//! `cargo test -p twip-cli --test e2e -- --ignored --test-threads 1 docker::`.
//! Every test uses its own environment name and port, and destroys it.

use crate::common::{root, text, tmp, twip};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const SCENARIO: &str = "scenarios/twip/training.toml";

/// A training plan with `app` replicas of the app, all on one node, written to a temp file.
fn plan(name: &str, app: u32) -> PathBuf {
    let placements: Vec<serde_json::Value> = [("lb", 1), ("static", 1), ("app", app)]
        .iter()
        .flat_map(|&(s, n)| {
            (0..n).map(move |r| serde_json::json!({"service": s, "replica": r, "node": "node-1"}))
        })
        .collect();
    let plan = serde_json::json!({
        "scenario": "training", "policy": "spread",
        "nodes": [{"id": "node-1", "instance_type": "c5.xlarge", "zone": "us-east-1a", "cpu": 4.0, "memory_mb": 8192, "hourly_usd": 0.17}],
        "replicas": {"lb": 1, "static": 1, "app": app},
        "placements": placements,
        "cost": {"hourly_usd": 0.17, "monthly_usd": 124.1},
        "verification": [], "rejected": []
    });
    let p = tmp(&format!("docker-{name}.json"));
    std::fs::write(&p, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    p
}

/// Destroys the environment when the test ends, passed or not.
struct Env {
    name: String,
    port: u16,
}

impl Env {
    fn new(name: &str, port: u16) -> Env {
        let e = Env {
            name: format!("t-{name}-{}", std::process::id()),
            port,
        };
        twip(&["destroy", "--target", "docker", "--env", &e.name]);
        e
    }
    fn apply(&self, plan: &Path, extra: &[&str]) -> Output {
        let port = self.port.to_string();
        let mut args = vec![
            "apply",
            plan.to_str().unwrap(),
            "--target",
            "docker",
            "--scenario",
            SCENARIO,
            "--env",
            &self.name,
            "--port",
            &port,
        ];
        args.extend_from_slice(extra);
        twip(&args)
    }
    /// Applies `plan` over a copy of the training scenario with `from` replaced by `to`.
    fn apply_variant(&self, plan: &Path, from: &str, to: &str) -> Output {
        let src = std::fs::read_to_string(root().join(SCENARIO))
            .unwrap()
            .replace(from, to);
        let scenario = tmp(&format!("docker-{}.toml", self.name));
        std::fs::write(&scenario, src).unwrap();
        let port = self.port.to_string();
        let (plan, scenario) = (plan.to_str().unwrap(), scenario.to_str().unwrap());
        twip(&[
            "apply",
            plan,
            "--target",
            "docker",
            "--scenario",
            scenario,
            "--env",
            &self.name,
            "--port",
            &port,
        ])
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("front listens");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let code = answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (code, answer)
    }
    fn containers(&self, service: &str) -> Vec<String> {
        let o = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=twip.env={}", self.name),
                "--filter",
                &format!("label=twip.service={service}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        twip(&["destroy", "--target", "docker", "--env", &self.name]);
    }
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn apply_serves_converges_scales_and_destroys() {
    let env = Env::new("main", 18_481);
    let two = plan("two", 2);
    let o = env.apply(&two, &["--dry-run"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "dry run shows changes: {}",
        text(&o)
    );
    assert!(
        env.containers("app").is_empty(),
        "a dry run changes nothing"
    );

    let o = env.apply(&two, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (code, body) = env.get("/");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("app-"), "answered by an app replica: {body}");
    assert_eq!(env.get("/static/").0, 200);

    // Re-applying changes nothing.
    let o = env.apply(&two, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no changes"));

    // 2 -> 3: exactly one container created, and the front uses it.
    let o = env.apply(&plan("three", 3), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(text(&o).matches("+ create").count(), 1, "{}", text(&o));
    assert_eq!(env.containers("app").len(), 3);
    let names: std::collections::BTreeSet<String> = (0..30)
        .map(|_| env.get("/").1.lines().last().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        names.len(),
        3,
        "round robin reaches all three replicas: {names:?}"
    );

    // Kill one back end: requests keep succeeding through the others.
    let victim = env.containers("app")[0].clone();
    Command::new("docker")
        .args(["kill", &victim])
        .output()
        .unwrap();
    for _ in 0..20 {
        assert_eq!(env.get("/").0, 200);
    }

    let status = twip(&[
        "status",
        "--target",
        "docker",
        "--env",
        &env.name,
        "--plan",
        plan("three", 3).to_str().unwrap(),
        "--scenario",
        SCENARIO,
        "--port",
        &env.port.to_string(),
    ]);
    assert!(text(&status).contains("app"), "{}", text(&status));

    let o = twip(&["destroy", "--target", "docker", "--env", &env.name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=twip.env={}", env.name),
        ])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "destroy leaves no container");
    let nets = Command::new("docker")
        .args([
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("name=twip-{}", env.name),
        ])
        .output()
        .unwrap();
    assert!(nets.stdout.is_empty(), "destroy leaves no network");
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn never_touches_what_it_does_not_own() {
    let env = Env::new("owned", 18_482);
    // Same name scheme, no twip labels.
    let stranger = format!("twip-{}-app-0-00000000", env.name);
    let run = Command::new("docker")
        .args(["run", "-d", "--name", &stranger, "twip/app:latest"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let o = env.apply(&plan("one", 1), &[]);
    twip(&["destroy", "--target", "docker", "--env", &env.name]);
    let still = Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("name={stranger}")])
        .output()
        .unwrap();
    let alive = !still.stdout.is_empty();
    Command::new("docker")
        .args(["rm", "-f", &stranger])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(alive, "the unowned container survived apply and destroy");
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn zero_app_replicas_warns_then_front_answers_502() {
    let env = Env::new("zero", 18_483);
    let o = env.apply(&plan("zero", 0), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("warning: service app has no replica"),
        "{}",
        text(&o)
    );
    assert_eq!(env.get("/").0, 502);
    assert_eq!(env.get("/static/").0, 200, "the rest still serves");
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn killed_apply_converges_on_the_next_one() {
    let env = Env::new("sigkill", 18_484);
    let p = plan("two", 2);
    let port = env.port.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twip"))
        .args([
            "apply",
            p.to_str().unwrap(),
            "--target",
            "docker",
            "--scenario",
            SCENARIO,
            "--env",
            &env.name,
            "--port",
            &port,
        ])
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let o = env.apply(&p, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = env.apply(&p, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "converged: {}", text(&o));
    assert_eq!(env.get("/").0, 200);
}

#[test]
fn engine_errors_are_one_line_with_a_hint() {
    // A missing plan file is bad input, not a crash.
    let o = twip(&[
        "apply",
        "no/such/plan.json",
        "--target",
        "docker",
        "--scenario",
        SCENARIO,
        "--env",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("no/such/plan.json"));
    // An unreachable engine: one line, a hint, exit 1.
    let o = Command::new(env!("CARGO_BIN_EXE_twip"))
        .args(["destroy", "--target", "docker", "--env", "x"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("not reachable") && t.contains("hint"), "{t}");
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn the_planners_training_plan_applies_and_serves() {
    let env = Env::new("planned", 18_485);
    let out = tmp("training-plan.json");
    let o = twip(&["plan", SCENARIO, "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The plan names its scenario: no --scenario needed.
    let port = env.port.to_string();
    let o = twip(&[
        "apply",
        out.to_str().unwrap(),
        "--target",
        "docker",
        "--env",
        &env.name,
        "--port",
        &port,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(env.get("/").0, 200);
    assert_eq!(env.get("/static/").0, 200);
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn port_taken_and_image_missing_are_clear_errors() {
    // Port taken by someone else.
    let env = Env::new("port", 18_486);
    let _squatter = std::net::TcpListener::bind(("127.0.0.1", env.port)).unwrap();
    let o = env.apply(&plan("one", 1), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("127.0.0.1:18486 is already in use") && t.contains("hint: pass --port"),
        "{t}"
    );
    assert!(
        t.contains("applied:") && t.contains("not applied:"),
        "what was and was not done is reported: {t}"
    );

    // An image nobody built.
    let env2 = Env::new("image", 18_487);
    let o = env2.apply_variant(
        &plan("one-missing", 1),
        "twip/app:latest",
        "twip/nonexistent:1",
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("image twip/nonexistent:1 is missing; hint"),
        "{}",
        text(&o)
    );
    assert!(env2.containers("lb").is_empty(), "nothing was started");
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn out_of_memory_is_a_clear_error() {
    // The app's 16 MiB start-up heap cannot live in 8 MiB.
    let env = Env::new("oom", 18_488);
    let o = env.apply_variant(&plan("oom", 1), "memory_mb = 2048", "memory_mb = 8");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("killed for lack of memory")
            && t.contains("hint: raise the service's memory_mb"),
        "{t}"
    );
    assert!(t.contains("not applied:"), "{t}");
}
