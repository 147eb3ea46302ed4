//! `twip-testapp`: an HTTP/1.x backend for twip's Docker tests, standing in
//! for the Java app. Std only, so it links statically into a `FROM scratch`
//! image.
//!
//! Environment:
//! - `PORT` (default 8080)
//! - `TWIP_SERVICE_TIME`: `exponential:MEAN`, `constant:MEAN`,
//!   `lognormal:MEAN:P99` or `gamma:MEAN:P99`, in ms (default `constant:1`)
//! - `TWIP_WORKERS`: requests served at once; more wait (default 64)
//! - `TWIP_NAME`: echoed in every answer (default: the host name)
//! - `TWIP_HEAP_MB`: memory allocated and touched at start, like a JVM's
//!   heap (default 16), so a too-small memory limit really kills it
//! - `TWIP_SEED`: the seed of the service times (default: drawn from the
//!   clock and the process id, so replicas and restarts draw apart)
//!
//! `GET /health` answers at once; any other request waits a drawn service
//! time and answers `200` with `TWIP_NAME` in the body.
//!
//! `twip-testapp --health` is the container's health check: it asks
//! `127.0.0.1:PORT/health` and exits 0 if the answer is 200.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use twip_model::Dist;
use twip_sim::Sampler;

fn parse_dist(spec: &str) -> Result<Dist, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let num = |i: usize| -> Result<f64, String> {
        parts
            .get(i)
            .ok_or_else(|| format!("TWIP_SERVICE_TIME {spec:?}: missing parameter {i}"))?
            .parse::<f64>()
            .map_err(|_| format!("TWIP_SERVICE_TIME {spec:?}: parameter {i} is not a number"))
    };
    match parts[0] {
        "exponential" => Dist::exponential(num(1)?),
        "constant" => Dist::constant(num(1)?),
        "lognormal" => Dist::lognormal(num(1)?, num(2)?),
        "gamma" => Dist::gamma_p99(num(1)?, num(2)?),
        other => Err(format!(
            "TWIP_SERVICE_TIME {spec:?}: unknown distribution {other:?} (exponential, constant, lognormal, gamma)"
        )),
    }
}

/// The replica's worker pool: a counting semaphore that admits waiters in
/// arrival order, as Jetty's queue does and the model assumes. (A plain
/// semaphore lets a request that arrives just as a worker frees up take it
/// ahead of those waiting, which stretches the tail at high load.)
struct Pool {
    /// (tickets handed out, tickets admitted so far).
    state: Mutex<(u64, u64)>,
    cv: Condvar,
}

impl Pool {
    fn new(workers: u32) -> Pool {
        Pool {
            state: Mutex::new((0, u64::from(workers))),
            cv: Condvar::new(),
        }
    }
    fn acquire(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = s.0;
        s.0 += 1;
        while ticket >= s.1 {
            s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
    fn release(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 += 1;
        // Every waiter checks its ticket; only the next one goes.
        self.cv.notify_all();
    }
}

fn serve(
    mut stream: TcpStream,
    pool: &Pool,
    sampler: &Sampler,
    name: &str,
    seed: u64,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    // One write per answer, sent at once: a response in several small
    // writes met Nagle's algorithm and the client's delayed ACK (~40 ms
    // added to every answer on a reused connection).
    stream.set_nodelay(true)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut keep_alive = request_line.contains("HTTP/1.1");
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if lower.starts_with("connection:") {
                keep_alive = lower.contains("keep-alive");
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let body = if path == "/health" {
            "ok\n".to_string()
        } else {
            pool.acquire();
            std::thread::sleep(Duration::from_secs_f64(sampler.sample(&mut rng)));
            pool.release();
            format!("{name}\n")
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{body}",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        stream.write_all(answer.as_bytes())?;
        stream.flush()?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// A seed of this process's own: the clock and the process id. Seeding
/// every replica alike (by connection number alone) made two replicas, and
/// a replica and its restart, replay the same service times.
fn process_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Connection `i`'s seed: its own stream (nginx opens a connection per
/// request, so each stream gives one draw or a few).
fn connection_seed(base: u64, i: u64) -> u64 {
    base ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn health(port: &str) -> std::process::ExitCode {
    use std::io::Read;
    let ok = (|| -> std::io::Result<bool> {
        let mut s = TcpStream::connect(format!("127.0.0.1:{port}"))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(b"GET /health HTTP/1.0\r\n\r\n")?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok(answer.starts_with("HTTP/1.1 200"))
    })()
    .unwrap_or(false);
    std::process::ExitCode::from(if ok { 0 } else { 1 })
}

fn main() -> std::process::ExitCode {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    if std::env::args().nth(1).as_deref() == Some("--health") {
        return health(&env("PORT", "8080"));
    }
    let dist = match parse_dist(&env("TWIP_SERVICE_TIME", "constant:1")) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("twip-testapp: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let workers: u32 = match env("TWIP_WORKERS", "64").parse() {
        Ok(n) if n > 0 => n,
        _ => {
            eprintln!("twip-testapp: TWIP_WORKERS must be a positive number");
            return std::process::ExitCode::from(1);
        }
    };
    let heap_mb: usize = match env("TWIP_HEAP_MB", "16").parse() {
        Ok(n) => n,
        Err(_) => {
            eprintln!("twip-testapp: TWIP_HEAP_MB must be a number of MiB");
            return std::process::ExitCode::from(1);
        }
    };
    // Touch every page, as a JVM does with -XX:+AlwaysPreTouch.
    let heap = std::hint::black_box(vec![1u8; heap_mb << 20]);
    let name = env("TWIP_NAME", &env("HOSTNAME", "twip-testapp"));
    let port = env("PORT", "8080");
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("twip-testapp: cannot listen on port {port}: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    eprintln!("twip-testapp {name}: listening on {port}, {workers} workers, {dist:?}");
    let shared = Arc::new((Pool::new(workers), Sampler::new(&dist), name));
    let base = match std::env::var("TWIP_SEED") {
        Ok(s) => match s.parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("twip-testapp: TWIP_SEED must be a whole number");
                return std::process::ExitCode::from(1);
            }
        },
        Err(_) => process_seed(),
    };
    for (i, conn) in listener.incoming().enumerate() {
        let Ok(stream) = conn else { continue };
        let shared = shared.clone();
        std::thread::spawn(move || {
            let (pool, sampler, name) = &*shared;
            let _ = serve(stream, pool, sampler, name, connection_seed(base, i as u64));
        });
    }
    drop(heap);
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_distributions() {
        assert_eq!(parse_dist("constant:5").unwrap().mean_ms(), 5.0);
        assert!((parse_dist("lognormal:60:450").unwrap().mean_ms() - 60.0).abs() < 1e-9);
        assert!(parse_dist("weibull:1")
            .unwrap_err()
            .contains("unknown distribution"));
        assert!(parse_dist("constant")
            .unwrap_err()
            .contains("missing parameter"));
    }

    #[test]
    fn replicas_draw_apart_and_a_given_seed_draws_again() {
        use std::collections::HashSet;
        // Two replicas started with different bases never share a stream.
        let (a, b) = (0x5eed_0001_u64, 0x5eed_0002_u64);
        let sa: HashSet<u64> = (0..10_000).map(|i| connection_seed(a, i)).collect();
        let sb: HashSet<u64> = (0..10_000).map(|i| connection_seed(b, i)).collect();
        assert_eq!(sa.len(), 10_000);
        assert!(sa.is_disjoint(&sb));
        // TWIP_SEED gives the same streams again.
        assert_eq!(connection_seed(7, 3), connection_seed(7, 3));
        // And their first draws are those of different streams.
        let sampler = Sampler::new(&Dist::exponential(10.0).unwrap());
        let draw = |seed| sampler.sample(&mut Xoshiro256PlusPlus::seed_from_u64(seed));
        assert_ne!(draw(connection_seed(a, 0)), draw(connection_seed(b, 0)));
    }

    /// One worker, held; three requests queue in a known order; each
    /// release admits the one that has waited longest.
    #[test]
    fn the_pool_admits_in_arrival_order() {
        let pool = Arc::new(Pool::new(1));
        pool.acquire();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for k in 0..3 {
            let (p, o) = (pool.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                p.acquire();
                o.lock().unwrap().push(k);
                p.release();
            }));
            // Wait until thread k holds its ticket before starting k + 1.
            while pool.state.lock().unwrap().0 < k + 2 {
                std::thread::yield_now();
            }
        }
        pool.release();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);
    }
}
