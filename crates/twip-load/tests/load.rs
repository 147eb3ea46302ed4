//! The generator against servers the tests start on 127.0.0.1: a known
//! delay, a one-second stall, the Poisson count, the bounds, the error
//! classes. Every run is bounded by a handful of requests or a second or
//! two; the whole file takes a few seconds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use twip_load::{Arrivals, Config, ErrorClass, LoadError, LoadReport};

/// What the test server does with a request that arrived at an instant.
#[derive(Clone, Copy)]
enum Reply {
    /// Answer with this status after this long.
    After(Duration, u16),
    /// Never answer (the connection is closed after five seconds).
    Never,
}

/// A minimal HTTP/1.1 server on 127.0.0.1 (a thread per connection,
/// keep-alive, no bodies read); returns its port. Its threads end when a
/// connection is idle for five seconds or the test binary exits.
fn serve(reply: impl Fn(Instant) -> Reply + Send + Sync + 'static) -> u16 {
    serve_paths(move |at, _| reply(at))
}

/// [`serve`], the reply chosen by the arrival and the request's path.
fn serve_paths(reply: impl Fn(Instant, &str) -> Reply + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let reply = reply.clone();
            std::thread::spawn(move || connection(stream, &*reply));
        }
    });
    port
}

fn connection(mut stream: TcpStream, reply: &dyn Fn(Instant, &str) -> Reply) {
    stream.set_nodelay(true).ok();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
        buf.drain(..end);
        match reply(Instant::now(), &path) {
            Reply::Never => {
                std::thread::sleep(Duration::from_secs(5));
                return;
            }
            Reply::After(delay, status) => {
                std::thread::sleep(delay);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
                );
                if stream.write_all(response.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

fn config(port: u16, rate: f64) -> Config {
    Config::new(format!("http://127.0.0.1:{port}/"), Arrivals::poisson(rate))
}

fn run(c: &Config) -> LoadReport {
    twip_load::run(c).unwrap()
}

/// The server answers after 20 ms; the median latency is 20 ms plus what
/// the generator and the loopback add. It cannot be less (the server sleeps
/// 20 ms), and what is added is tokio's timer (a request may leave up to
/// ~1 ms after its intended start), a loopback round trip (tens of µs) and
/// thread wake-ups on a possibly busy two-core machine: 10 ms covers that
/// with room, while a generator that measured something else (no delay, or
/// two delays) would fail.
#[test]
fn p50_is_the_server_delay() {
    let port = serve(|_| Reply::After(Duration::from_millis(20), 200));
    let mut c = config(port, 100.0);
    c.requests = Some(100);
    let r = run(&c);
    assert_eq!((r.requests, r.ok, r.errors.total), (100, 100, 0));
    let l = r.latency_ms.unwrap();
    assert!(
        (20.0..30.0).contains(&l.p50_ms),
        "p50 {} ms for a 20 ms server",
        l.p50_ms
    );
    assert!(l.min_ms >= 20.0, "min {} ms", l.min_ms);
}

/// The server stalls for one second from 0.5 s after the first request: it
/// answers nothing that arrives in [0.5 s, 1.5 s) until 1.5 s, and at once
/// otherwise. An open-loop generator keeps sending at 200/s during the
/// stall, and a request scheduled at offset `o` into it waits about
/// `1 s − o`: each interval of 100 ms inside the stall shows at least the
/// rest of the stall after it, and about a quarter of all requests wait
/// more than half a second. A closed-loop generator would have sent one
/// request per connection during the stall and recorded one long latency
/// per connection, invisible at p99.
#[test]
fn a_stall_shows_in_the_latency_of_requests_scheduled_during_it() {
    let first = Arc::new(OnceLock::<Instant>::new());
    let f = first.clone();
    let port = serve(move |now| {
        let first = *f.get_or_init(|| now);
        let (from, to) = (
            first + Duration::from_millis(500),
            first + Duration::from_millis(1500),
        );
        if now >= from && now < to {
            Reply::After(to - now, 200)
        } else {
            Reply::After(Duration::ZERO, 200)
        }
    });
    let mut c = config(port, 200.0);
    c.duration_s = Some(2.0);
    c.interval_s = 0.1;
    c.seed = 3;
    // The stall in the generator's time: from the first intended start on
    // (the first request reaches the server within a few ms of it).
    let t1 = c.schedule().next().unwrap();
    let (stall_from, stall_to) = (t1 + 0.5, t1 + 1.5);
    let r = run(&c);
    assert_eq!(r.errors.total, 0, "{:?}", r.errors);
    let slack = 0.03;
    let mut inside = 0;
    for i in &r.intervals {
        let end = i.start_s + r.interval_s;
        if i.start_s >= stall_from + slack && end <= stall_to - slack {
            inside += 1;
            let l = i.latency_ms.unwrap();
            let floor_ms = (stall_to - end - slack) * 1000.0;
            assert!(
                l.min_ms >= floor_ms,
                "interval at {:.1} s: min {} ms, expected at least {floor_ms:.0} ms",
                i.start_s,
                l.min_ms
            );
        }
    }
    assert!(inside >= 8, "{inside} intervals inside the stall");
    let l = r.latency_ms.unwrap();
    assert!(l.max_ms >= 900.0, "max {} ms", l.max_ms);
    assert!(l.p99_ms >= 850.0, "p99 {} ms", l.p99_ms);
    let waited_long = r.histogram.count_between(500_000, u64::MAX);
    let share = waited_long as f64 / r.ok as f64;
    assert!(
        (0.15..0.35).contains(&share),
        "{waited_long} of {} requests waited over 500 ms",
        r.ok
    );
}

/// Over a fixed duration at a fixed rate the number of requests sent is
/// Poisson: 400/s for 1 s gives 400 ± 3 × 20.
#[test]
fn the_count_over_a_fixed_duration_is_poisson() {
    let port = serve(|_| Reply::After(Duration::ZERO, 200));
    for seed in [1, 2] {
        let mut c = config(port, 400.0);
        c.duration_s = Some(1.0);
        c.seed = seed;
        let r = run(&c);
        assert!(
            (400.0 - r.requests as f64).abs() <= 3.0 * 20.0,
            "seed {seed}: {} requests",
            r.requests
        );
        assert_eq!(r.ok, r.requests);
        assert_eq!(
            r.requests,
            c.schedule().count() as u64,
            "all scheduled were sent"
        );
        assert_eq!(r.intervals.len(), 1);
    }
}

/// The schedule alone over many seeds: counts over 10 s at 50/s have the
/// Poisson mean and variance (both 500), within three standard errors.
#[test]
fn the_schedule_counts_have_poisson_mean_and_variance() {
    let n = 400.0;
    let counts: Vec<f64> = (0..400)
        .map(|seed| {
            let mut c = config(1, 50.0);
            c.duration_s = Some(10.0);
            c.seed = seed;
            c.schedule().count() as f64
        })
        .collect();
    let mean = counts.iter().sum::<f64>() / n;
    let var = counts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let mu: f64 = 500.0;
    assert!((mean - mu).abs() <= 3.0 * (mu / n).sqrt(), "mean {mean}");
    // The sample variance of a Poisson(μ) sample has a standard error of
    // about μ √(2 / (n − 1)) for large μ.
    assert!(
        (var - mu).abs() <= 3.0 * mu * (2.0 / (n - 1.0)).sqrt(),
        "variance {var}"
    );
}

/// A scenario's profile, 10× faster: 100/s with a 3× spike from 20 s to
/// 40 s of a 60 s scenario plays in 6 s, at the scenario's rates (not ×10).
#[test]
fn a_scenario_profile_is_played_faster_at_its_own_rates() {
    let s = twip_model::Scenario::parse(
        r#"
name = "spiky"
duration = "60s"
warmup = "0s"
seed = 1
[[service]]
name = "app"
replicas = 1
workers = 1
service_time = { dist = "exponential", mean_ms = 1 }
[traffic]
entry = "app"
rps = 100
[[traffic.spike]]
at = "20s"
duration = "20s"
multiplier = 3
"#,
        Path::new("spiky.toml"),
    )
    .unwrap();
    let c = Config::new(
        "http://127.0.0.1:1/",
        Arrivals::scenario(&s, 0.0, 10.0, 1.0),
    );
    c.validate().unwrap();
    assert_eq!(c.span_s(), Some(6.0));
    let times: Vec<f64> = c.schedule().collect();
    assert!(times.iter().all(|&t| t < 6.0));
    let in_spike = times.iter().filter(|&&t| (2.0..4.0).contains(&t)).count() as f64;
    let outside = times.len() as f64 - in_spike;
    // 300/s for 2 s of generator time, and 100/s for 4 s.
    assert!(
        (in_spike - 600.0).abs() <= 3.0 * 600f64.sqrt(),
        "{in_spike} in the spike"
    );
    assert!(
        (outside - 400.0).abs() <= 3.0 * 400f64.sqrt(),
        "{outside} outside"
    );
}

/// `requests` stops the run after that many, however high the rate;
/// `duration` stops scheduling at that time, and the run ends once the last
/// responses are in.
#[test]
fn the_generator_stops_at_its_bounds() {
    let port = serve(|_| Reply::After(Duration::from_millis(5), 200));
    let mut c = config(port, 1000.0);
    c.requests = Some(30);
    let r = run(&c);
    assert_eq!((r.requests, r.ok), (30, 30));
    assert!(
        r.elapsed_s < 1.0,
        "{} s for 30 requests at 1000/s",
        r.elapsed_s
    );

    let mut c = config(port, 100.0);
    c.duration_s = Some(0.5);
    let started = Instant::now();
    let r = run(&c);
    let wall = started.elapsed().as_secs_f64();
    assert!((0.45..1.0).contains(&wall), "0.5 s run took {wall} s");
    assert!(r.span_s == 0.5 && r.requests == r.ok);
    assert!(
        r.requests > 20 && r.requests < 80,
        "{} requests",
        r.requests
    );

    // Both: whichever comes first.
    let mut c = config(port, 100.0);
    c.duration_s = Some(0.3);
    c.requests = Some(1000);
    assert!(run(&c).requests < 1000);
}

/// Connection refused (a port nobody listens on), timeouts and HTTP status
/// codes are told apart.
#[test]
fn errors_are_classified() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = config(port, 200.0);
    c.requests = Some(10);
    let r = run(&c);
    assert_eq!(
        (r.ok, r.errors.total, r.errors.connect_refused),
        (0, 10, 10)
    );
    assert_eq!(r.errors.classes(), vec![(ErrorClass::ConnectRefused, 10)]);
    assert!(r.latency_ms.is_none());

    let port = serve(|_| Reply::Never);
    let mut c = config(port, 200.0);
    c.requests = Some(5);
    c.timeout_s = 0.1;
    let r = run(&c);
    assert_eq!((r.errors.timeout, r.errors.total), (5, 5));
    assert!(r.elapsed_s < 1.0, "{} s", r.elapsed_s);

    let port = serve(|_| Reply::After(Duration::ZERO, 503));
    let mut c = config(port, 200.0);
    c.requests = Some(5);
    let r = run(&c);
    assert_eq!(r.errors.status.get(&503), Some(&5));
    assert_eq!((r.errors.status_5xx, r.errors.total, r.ok), (5, 5, 0));
}

/// The in-flight bound holds, and reaching it is reported as the
/// generator's bottleneck.
#[test]
fn the_in_flight_bound_is_reported() {
    let port = serve(|_| Reply::After(Duration::from_millis(100), 200));
    let mut c = config(port, 200.0);
    c.requests = Some(20);
    c.max_in_flight = 2;
    let r = run(&c);
    assert_eq!(r.ok, 20);
    assert!(r.peak_in_flight <= 2);
    assert!(r.waited_for_slot > 0);
    assert!(
        matches!(
            r.bottlenecks[0],
            twip_load::Bottleneck::InFlightBound { bound: 2, .. }
        ),
        "{:?}",
        r.bottlenecks
    );
    // Ten rounds of 100 ms: the last requests' latency from their intended
    // start is close to a second, though each took 100 ms once sent.
    let l = r.latency_ms.unwrap();
    let sent = r.response_ms.unwrap();
    assert!(l.max_ms > 700.0 && sent.max_ms < 300.0, "{l:?} {sent:?}");
}

/// Bad settings are errors naming the setting, never a panic.
#[test]
fn extra_headers_are_sent_and_bad_ones_refused() {
    // A server that keeps the header block of the one request it gets.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .ok();
        String::from_utf8_lossy(&buf).to_ascii_lowercase()
    });
    let mut c = config(port, 50.0);
    c.requests = Some(1);
    c.headers = vec![
        "X-Twip-Test: 42".into(),
        "Host: shop.example".into(),
        "X-Twip-Test:43".into(),
    ];
    let r = run(&c);
    assert_eq!(r.ok, 1, "{:?}", r.errors);
    let head = seen.join().unwrap();
    assert!(head.contains("\r\nx-twip-test: 42\r\n"), "{head}");
    assert!(head.contains("\r\nx-twip-test: 43\r\n"), "{head}");
    // Host replaced, not doubled.
    assert_eq!(head.matches("\r\nhost:").count(), 1, "{head}");
    assert!(head.contains("\r\nhost: shop.example\r\n"), "{head}");
    for bad in ["no colon", "Bad Name: x", "X-Ok: line\nbreak"] {
        let mut c = config(port, 1.0);
        c.requests = Some(1);
        c.headers = vec![bad.into()];
        match c.validate() {
            Err(LoadError::Invalid { field, problem }) => {
                assert_eq!(field, "header", "{bad}");
                assert!(problem.contains(&format!("{bad:?}")), "{problem}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

/// 400/s for 1.5 s, the first 0.5 s a warm-up, three requests to /a/ for
/// one to /b: the server's counts are the generator's, the warm-up's
/// requests are left out of the totals, and the share of /a/ is binomial.
#[test]
fn paths_are_drawn_by_weight_and_the_warmup_is_left_out() {
    use std::sync::Mutex;
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = hits.clone();
    let port = serve_paths(move |_, path| {
        seen.lock().unwrap().push(path.to_string());
        Reply::After(Duration::ZERO, 200)
    });
    let mut c = config(port, 400.0);
    c.duration_s = Some(1.5);
    c.warmup_s = 0.5;
    c.paths = vec![("/a/".into(), 3.0), ("/b".into(), 1.0)];
    let r = run(&c);
    let hits = hits.lock().unwrap().clone();
    assert_eq!(r.requests + r.warmup_requests, hits.len() as u64);
    assert!(hits.iter().all(|p| p == "/a/" || p == "/b"), "{hits:?}");
    // Poisson counts: 200 in the warm-up, 400 after, within 3 σ.
    let within = |n: u64, mean: f64| (n as f64 - mean).abs() <= 3.0 * mean.sqrt();
    assert!(within(r.warmup_requests, 200.0), "{}", r.warmup_requests);
    assert!(within(r.requests, 400.0), "{}", r.requests);
    assert_eq!(r.ok + r.errors.total, r.requests);
    assert!(
        (r.sent_rate - r.requests as f64).abs() < 1e-9,
        "{}",
        r.sent_rate
    );
    let a = hits.iter().filter(|p| *p == "/a/").count() as f64;
    let n = hits.len() as f64;
    assert!(
        (a / n - 0.75).abs() <= 3.0 * (0.75 * 0.25 / n).sqrt(),
        "{a} of {n} to /a/"
    );
    assert_eq!(r.paths, c.paths);
    let field = |c: &Config| match c.validate() {
        Err(LoadError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let mut bad = c.clone();
    bad.paths = vec![("a".into(), 1.0)];
    assert_eq!(field(&bad), "path");
    bad.paths = vec![("/a".into(), 0.0)];
    assert_eq!(field(&bad), "path");
    let mut bad = c.clone();
    bad.warmup_s = 1.5;
    assert_eq!(field(&bad), "warmup");
}

#[test]
fn bad_settings_are_errors() {
    let field = |c: Config| match c.validate() {
        Err(LoadError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let bounded = |mut c: Config| {
        c.requests = Some(1);
        c
    };
    assert_eq!(field(bounded(config(1, 0.0))), "rate");
    assert_eq!(field(bounded(config(1, -5.0))), "rate");
    assert_eq!(field(bounded(config(1, f64::NAN))), "rate");
    assert_eq!(field(bounded(config(1, 1e9))), "rate");
    for url in [
        "https://127.0.0.1/",
        "ftp://x/",
        "127.0.0.1:80",
        "http://",
        "not a url",
    ] {
        let mut c = bounded(config(1, 1.0));
        c.url = url.into();
        assert_eq!(field(c), "url", "{url}");
    }
    let mut c = bounded(config(1, 1.0));
    c.timeout_s = 0.0;
    assert_eq!(field(c), "timeout");
    let mut c = bounded(config(1, 1.0));
    c.max_in_flight = 0;
    assert_eq!(field(c), "max-in-flight");
    let mut c = config(1, 1.0);
    c.requests = Some(0);
    assert_eq!(field(c), "requests");
    assert!(matches!(
        config(1, 1.0).validate(),
        Err(LoadError::Unbounded)
    ));
}
