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
        self.apply_variants(plan, &[(from, to)])
    }
    /// The same with several replacements.
    fn apply_variants(&self, plan: &Path, changes: &[(&str, &str)]) -> Output {
        let mut src = std::fs::read_to_string(root().join(SCENARIO)).unwrap();
        for (from, to) in changes {
            assert!(src.contains(from), "{from:?} is in {SCENARIO}");
            src = src.replace(from, to);
        }
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
    /// `twip status` against `plan`, with `--port` only when given.
    fn status(&self, plan: &Path, port: Option<u16>) -> Output {
        let port = port.map(|p| p.to_string());
        let mut args = vec![
            "status",
            "--target",
            "docker",
            "--env",
            &self.name,
            "--plan",
            plan.to_str().unwrap(),
            "--scenario",
            SCENARIO,
        ];
        if let Some(p) = &port {
            args.extend_from_slice(&["--port", p]);
        }
        twip(&args)
    }
    /// The names of the containers of `service` (running or not).
    fn names(&self, service: &str) -> Vec<String> {
        let o = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--format",
                "{{.Names}}",
                "--filter",
                &format!("label=twip.env={}", self.name),
                "--filter",
                &format!("label=twip.service={service}"),
            ])
            .output()
            .unwrap();
        let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }
    /// The replicas (`app-0`, ...) that answer `n` requests to `/`.
    fn answering(&self, n: usize) -> std::collections::BTreeSet<String> {
        (0..n)
            .map(|_| self.get("/").1.lines().last().unwrap_or("").to_string())
            .collect()
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

/// `docker CMD...`, asserted to succeed; its standard output, trimmed.
fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Removes a container or network that is not twip's when the test ends.
struct Foreign(&'static str, String);

impl Drop for Foreign {
    fn drop(&mut self) {
        let args: &[&str] = if self.0 == "network" {
            &["network", "rm", &self.1]
        } else {
            &["rm", "-f", &self.1]
        };
        let _ = Command::new("docker").args(args).output();
    }
}

/// One `GET /` to 127.0.0.1:`port`: the status, 0 when there was no answer.
fn try_get(port: u16) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if write!(s, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return 0;
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Sends `GET /` from `clients` threads, one request after another each,
/// until `until` returns, at most `cap` requests per client; returns the
/// requests sent and the status of every failed one.
fn under_load<T>(
    port: u16,
    clients: usize,
    cap: usize,
    until: impl FnOnce() -> T,
) -> (T, usize, Vec<u16>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut sent, mut failed) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) && sent < cap {
                    let code = try_get(port);
                    sent += 1;
                    if code != 200 {
                        failed.push(code);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                (sent, failed)
            })
        })
        .collect();
    let result = until();
    stop.store(true, Ordering::Relaxed);
    let (mut sent, mut failed) = (0, Vec::new());
    for t in threads {
        let (s, f) = t.join().unwrap();
        sent += s;
        failed.extend(f);
    }
    (result, sent, failed)
}

/// The upstream servers of `service` in the front's configuration file.
fn front_servers(front: &str, service: &str) -> Vec<String> {
    let conf = docker(&["exec", front, "cat", "/etc/twip/nginx.conf"]);
    let mut v: Vec<String> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server "))
        .filter_map(|l| l.split(':').next())
        .filter(|h| h.starts_with("twip-") && h.contains(&format!("-{service}-")))
        .map(str::to_string)
        .collect();
    v.sort();
    v
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
    // A stray twip label is not ownership: only twip.env, or twip.env and
    // twip.service without the twip.managed marker.
    let stray_env = Foreign("container", format!("stray-env-{}", env.name));
    let stray_service = Foreign("container", format!("stray-service-{}", env.name));
    let env_label = format!("twip.env={}", env.name);
    docker(&[
        "run",
        "-d",
        "--name",
        &stray_env.1,
        "--label",
        &env_label,
        "twip/app:latest",
    ]);
    docker(&[
        "run",
        "-d",
        "--name",
        &stray_service.1,
        "--label",
        &env_label,
        "--label",
        "twip.service=app",
        "twip/app:latest",
    ]);
    let o = env.apply(&plan("one", 1), &[]);
    let d = twip(&["destroy", "--target", "docker", "--env", &env.name]);
    let alive =
        |name: &str| !docker(&["ps", "-q", "--filter", &format!("name=^{name}$")]).is_empty();
    let alive_all = [
        alive(&stranger),
        alive(&stray_env.1),
        alive(&stray_service.1),
    ];
    Command::new("docker")
        .args(["rm", "-f", &stranger])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(d.status.code(), Some(0), "{}", text(&d));
    assert!(!text(&d).contains("stray-"), "{}", text(&d));
    assert_eq!(
        alive_all,
        [true; 3],
        "the unowned containers (no labels, twip.env only, twip.env and twip.service) survived apply and destroy"
    );
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn an_unlabelled_network_of_twips_name_is_refused() {
    let env = Env::new("netown", 18_493);
    let net = Foreign("network", format!("twip-{}", env.name));
    docker(&["network", "create", &net.1]);
    let o = env.apply(&plan("netown", 1), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "network {} exists but twip did not create it",
            net.1
        )) && text(&o).contains("hint:"),
        "{}",
        text(&o)
    );
    assert!(
        env.names("lb").is_empty() && env.names("app").is_empty(),
        "nothing was started"
    );
    let o = env.apply(&plan("netown", 1), &["--dry-run"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a dry run says so too: {}",
        text(&o)
    );
    let o = twip(&["destroy", "--target", "docker", "--env", &env.name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("name=^{}$", net.1)
        ])
        .lines()
        .count(),
        1,
        "destroy leaves the network it does not own"
    );
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn a_destroy_stopped_half_way_says_what_it_removed() {
    let env = Env::new("halfdestroy", 18_494);
    let o = env.apply(&plan("halfdestroy", 1), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let app = env.names("app");
    // Someone else's container on twip's network: the network cannot go.
    let net = format!("twip-{}", env.name);
    let guest = Foreign("container", format!("guest-{}", env.name));
    docker(&[
        "run",
        "-d",
        "--name",
        &guest.1,
        "--network",
        &net,
        "twip/app:latest",
    ]);
    let o = twip(&["destroy", "--target", "docker", "--env", &env.name]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("removed: ") && t.contains(&app[0]),
        "what was removed is listed: {t}"
    );
    assert!(t.contains(&format!("not removed: network {net}")), "{t}");
    assert!(t.contains("hint: fix the cause and destroy again"), "{t}");
    assert!(
        env.names("app").is_empty() && env.names("lb").is_empty(),
        "{t}"
    );
    drop(guest);
    let o = twip(&["destroy", "--target", "docker", "--env", &env.name]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&net), "{}", text(&o));
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn a_front_left_unreloaded_is_drift_and_the_next_apply_reloads_it() {
    let env = Env::new("unreloaded", 18_489);
    let (two, three) = (plan("unreloaded-2", 2), plan("unreloaded-3", 3));
    let o = env.apply(&two, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let front = env.names("lb")[0].clone();
    let two_conf = docker(&["exec", &front, "cat", "/etc/twip/nginx.conf"]);
    let o = env.apply(&three, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Where an apply killed after creating the third replica and before
    // reloading the front leaves it: three replicas, nginx routing to two.
    let mut put = Command::new("docker")
        .args([
            "exec",
            "-i",
            &front,
            "sh",
            "-c",
            "cat > /etc/twip/nginx.conf && nginx -s reload -c /etc/twip/nginx.conf 2>/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    put.stdin
        .take()
        .unwrap()
        .write_all(format!("{two_conf}\n").as_bytes())
        .unwrap();
    assert!(put.wait().unwrap().success());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        env.answering(30).len(),
        2,
        "the front routes to two replicas"
    );

    let o = env.status(&three, Some(env.port));
    assert_eq!(
        o.status.code(),
        Some(2),
        "a stale front is drift: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("routes to other upstreams than the plan's"),
        "{}",
        text(&o)
    );
    let o = env.apply(&three, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("~ reload   {front}")),
        "{}",
        text(&o)
    );
    let o = env.apply(&three, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("1 reloaded"), "{}", text(&o));
    assert_eq!(
        front_servers(&front, "app"),
        env.names("app"),
        "the front's upstreams are the plan's replicas"
    );
    assert_eq!(
        env.answering(30).len(),
        3,
        "and the front routes to all three"
    );
    let o = env.status(&three, Some(env.port));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn a_replica_that_changes_address_gets_traffic_again() {
    let env = Env::new("readdress", 18_490);
    let o = env.apply(&plan("readdress", 2), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let victim = env.names("app")[0].clone();
    let ip = || {
        docker(&[
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &victim,
        ])
    };
    let before = ip();
    let replica = docker(&[
        "inspect",
        "-f",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &victim,
    ])
    .lines()
    .find_map(|l| l.strip_prefix("TWIP_NAME="))
    .unwrap()
    .to_string();
    // Stop it, let another container take an address, start it again.
    docker(&["stop", &victim]);
    let squatter = Foreign("container", format!("squatter-{}", env.name));
    docker(&[
        "run",
        "-d",
        "--name",
        &squatter.1,
        "--network",
        &format!("twip-{}", env.name),
        "twip/app:latest",
    ]);
    docker(&["start", &victim]);
    let after = ip();
    assert_ne!(before, after, "the restart changed the replica's address");
    let start = std::time::Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    while !seen.contains(&replica) && start.elapsed() < Duration::from_secs(30) {
        seen.extend(env.answering(10));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        seen.contains(&replica),
        "{replica} at {after} (was {before}) gets traffic again: {seen:?}"
    );
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn status_and_apply_without_port_read_it_from_the_front() {
    let env = Env::new("portless", 18_492);
    let p = plan("portless", 1);
    let o = env.apply(&p, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = env.status(&p, None);
    assert_eq!(o.status.code(), Some(0), "no false drift: {}", text(&o));
    let o = twip(&[
        "apply",
        p.to_str().unwrap(),
        "--target",
        "docker",
        "--scenario",
        SCENARIO,
        "--env",
        &env.name,
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("no changes"), "{}", text(&o));
    // Another port asked for is a real change.
    let o = env.status(&p, Some(env.port + 100));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn a_recreation_under_load_loses_no_request() {
    let env = Env::new("drain", 18_491);
    let p = plan("drain", 2);
    // Slow answers (0.8 s each), so requests are in flight at the old
    // replicas when they are recreated.
    let slow = (
        "service_time = { dist = \"lognormal\", mean_ms = 60, p99_ms = 450 }",
        "service_time = { dist = \"constant\", mean_ms = 800 }",
    );
    let o = env.apply_variants(&p, &[slow]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Every app replica recreated (a new spec) while four clients send
    // requests one after another (at most 4 × 500).
    let (o, sent, failed) = under_load(env.port, 4, 500, || {
        env.apply_variants(&p, &[slow, ("cpu = 2\n", "cpu = 1.5\n")])
    });
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(text(&o).matches("- remove").count(), 2, "{}", text(&o));
    assert!(sent > 10, "the load ran during the recreation: {sent}");
    let front = env.names("lb")[0].clone();
    let logs = Command::new("docker")
        .args(["logs", &front])
        .output()
        .unwrap();
    assert!(
        failed.is_empty(),
        "{} of {sent} requests failed: {failed:?}; {}; the front says: {}",
        failed.len(),
        text(&o),
        String::from_utf8_lossy(&logs.stderr)
    );
}

#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn changing_the_front_replaces_it_and_leaves_no_debris() {
    let env = Env::new("newfront", 18_495);
    let p = plan("newfront", 1);
    let o = env.apply(&p, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let old = env.names("lb");
    let app = env.names("app");
    let (o, sent, failed) = under_load(env.port, 1, 1000, || {
        env.apply_variant(
            &p,
            "memory_mb = 256\n[[service.calls]]",
            "memory_mb = 200\n[[service.calls]]",
        )
    });
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("front replaced: no front served for"),
        "{}",
        text(&o)
    );
    let new = env.names("lb");
    assert_eq!(new.len(), 1, "one front: {new:?}");
    assert_ne!(new, old);
    assert_eq!(env.names("app"), app, "the back ends are untouched");
    assert_eq!(env.get("/").0, 200);
    assert!(sent > 0 && failed.len() < sent, "{failed:?}");
    let created = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=twip.env={}", env.name),
        "--filter",
        "status=created",
    ]);
    assert!(
        created.is_empty(),
        "no Created container is left: {created}"
    );
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
    let created = docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=twip.env={}", env.name),
        "--filter",
        "status=created",
    ]);
    assert!(
        created.is_empty(),
        "a front that could not start is not left behind: {created}"
    );
    assert!(env.names("lb").is_empty(), "{:?}", env.names("lb"));

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

/// `twip calibrate` on a training environment with two app replicas (the
/// test app draws the scenario's own lognormal, mean 60 ms, p99 450 ms):
/// two low rates of 20 s each. What can fail: the ladder's rates, the
/// Poisson counts sent, the errors, the app's times read from the front's
/// log (their mean against the true 60 ms, within 3 standard errors of a
/// lognormal of cv 1.66), the front's own time from the generator, the
/// calibrated scenario (it loads, keeps the comments), and the refusal of
/// an environment that does not run the plan.
#[test]
#[ignore = "needs a Docker engine and the twip images"]
fn calibrate_measures_simulates_and_fits_the_test_app() {
    let env = Env::new("calibrate", 18_497);
    let p = plan("calibrate", 2);
    let (p, port) = (p.to_str().unwrap(), env.port.to_string());
    let out = tmp("calibration.json");
    let scenario = tmp("calibrated.toml");
    let args = |extra: &[&'static str]| {
        let mut a: Vec<String> = [
            "calibrate",
            p,
            "--target",
            "docker",
            "--scenario",
            SCENARIO,
            "--env",
            &env.name,
            "--port",
            &port,
            "--rates",
            "20,40",
            "--duration",
            "20s",
            "--warmup",
            "3s",
            "--replications",
            "10",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // Nothing runs yet: refused, nothing written.
    let o = twip(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("does not run the plan"), "{}", text(&o));
    assert!(text(&o).contains("--apply"), "{}", text(&o));
    assert!(!out.exists());

    let mut a = args(&["--apply", "--write-scenario"]);
    a.push(scenario.to_str().unwrap().to_string());
    let o = twip(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let c = crate::common::json(&o);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(c, file, "stdout is the file");
    // Two app replicas × 4 workers ÷ (0.4 visits × 60 ms): 333.3/s.
    let cap = c["capacity_rps"].as_f64().unwrap();
    assert!((cap - 1000.0 / 3.0).abs() < 0.1, "{cap}");
    assert_eq!(c["bottleneck"], "app");
    let rungs = c["rungs"].as_array().unwrap();
    assert_eq!(rungs.len(), 2);
    for (r, rate) in rungs.iter().zip([20.0, 40.0]) {
        assert_eq!(r["rate_rps"].as_f64(), Some(rate));
        let n = r["measured"]["requests"].as_f64().unwrap();
        let mean = rate * 20.0;
        assert!(
            (n - mean).abs() <= 3.0 * mean.sqrt(),
            "{n} requests at {rate}/s"
        );
        assert_eq!(r["measured"]["error_rate"].as_f64(), Some(0.0), "{r}");
        let (m, s) = (&r["measured"], &r["simulated"]);
        // The measured p99 is of a few hundred app requests: only its order
        // is checked here (bench/calibrate holds the accuracy figures).
        let (mp99, sp99) = (
            m["p99_ms"].as_f64().unwrap(),
            s["p99_ms"]["value"].as_f64().unwrap(),
        );
        assert!(
            mp99 > sp99 / 2.0 && mp99 < sp99 * 2.0,
            "p99 {mp99} measured, {sp99} simulated"
        );
        assert!(s["p99_ms"]["ci95"].as_f64().unwrap() > 0.0);
    }
    let fits = c["fits"].as_array().unwrap();
    let fit = |name: &str| fits.iter().find(|f| f["service"] == name).unwrap();
    assert_eq!(fit("lb")["measured_by"], "generator");
    assert_eq!(fit("static")["measured_by"], "front_log");
    let app = fit("app");
    assert_eq!(app["measured_by"], "front_log");
    let n = app["samples"].as_f64().unwrap();
    // 40 % of 20/s for 20 s: 160 expected, Poisson.
    assert!((n - 160.0).abs() <= 3.0 * 160f64.sqrt(), "{n} app samples");
    let mean = app["mean_ms"].as_f64().unwrap();
    let se = 60.0 * 1.66 / n.sqrt();
    assert!(
        (mean - 60.0).abs() < 3.0 * se + 1.0,
        "app mean {mean} ms over {n} samples"
    );
    assert!(
        ["agrees", "lognormal", "gamma"].contains(&app["choice"].as_str().unwrap()),
        "{app}"
    );
    // The calibrated copy loads and keeps the comments.
    let text_out = std::fs::read_to_string(&scenario).unwrap();
    assert!(
        text_out.starts_with("# Calibrated by `twip calibrate`"),
        "{text_out}"
    );
    assert!(
        text_out.contains("# Jetty: a request holds a thread"),
        "{text_out}"
    );
    let o = twip(&["validate", scenario.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}
