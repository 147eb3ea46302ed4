//! A bounded fuzz run over the bundled scenarios (issue 21, item 7): each
//! mutation (a number replaced by an absurd one, a line dropped or doubled)
//! is simulated and some are planned; twip must answer 0, 1 or 2 within a
//! time limit: never abort, panic (101), hang or die of a signal.
//!
//! `cargo test --release -p twip-cli --test e2e -- --ignored fuzz::`
//! (`.ci/run` runs it in the release pass; `TWIP_FUZZ_CASES` for more).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{root, tmp};

/// Values a number in a scenario is replaced by.
const ABSURD: &[&str] = &[
    "0",
    "-1",
    "1e9",
    "1e308",
    "4294967296",
    "5e-324",
    "-0.0",
    "1e-300",
    "nan",
    "inf",
    "1000000",
    "18446744073709551616",
    "0.5",
    "2",
];

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte ranges of the numbers in `src` (outside comments, roughly).
fn numbers(src: &str) -> Vec<(usize, usize)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_comment = false;
    while i < b.len() {
        match b[i] {
            b'#' => in_comment = true,
            b'\n' => in_comment = false,
            c if !in_comment
                && c.is_ascii_digit()
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) =>
            {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
                    i += 1;
                }
                // Only bare numbers, not parts of strings ("14h40m", zone names).
                let quoted = src[..start].matches('"').count() % 2 == 1;
                if !quoted {
                    out.push((start, i));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn mutate(src: &str, rng: &mut Rng) -> (String, String) {
    let nums = numbers(src);
    let lines: Vec<&str> = src.lines().collect();
    match rng.below(4) {
        0 | 1 if !nums.is_empty() => {
            let (a, b) = nums[rng.below(nums.len())];
            let v = ABSURD[rng.below(ABSURD.len())];
            let what = format!("line {}: {} -> {v}", src[..a].lines().count(), &src[a..b]);
            (format!("{}{v}{}", &src[..a], &src[b..]), what)
        }
        2 => {
            let k = rng.below(lines.len());
            let mut v = lines.clone();
            let gone = v.remove(k);
            (v.join("\n"), format!("line {} dropped: {gone}", k + 1))
        }
        _ => {
            let k = rng.below(lines.len());
            let mut v = lines.clone();
            v.insert(k, lines[k]);
            (
                v.join("\n"),
                format!("line {} doubled: {}", k + 1, lines[k]),
            )
        }
    }
}

/// Runs twip with a time limit; `Err` says what went wrong.
fn run(args: &[&str], limit: Duration) -> Result<i32, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_twip"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("twip runs");
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return match status.code() {
                Some(c @ 0..=2) => Ok(c),
                Some(c) => Err(format!("exit code {c}")),
                None => Err(format!("killed by a signal ({status})")),
            };
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "release fuzz run: .ci/run"]
fn mutated_scenarios_exit_0_1_or_2_within_the_time_limit() {
    let cases: usize = std::env::var("TWIP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let catalog = root().join("scenarios/catalog/aws-ec2.toml");
    let catalog = catalog.canonicalize().unwrap();
    let sources: Vec<(String, String)> = [
        "twip/limited-release.toml",
        "twip/worldwide.toml",
        "twip/worldwide-elastic.toml",
        "twip/training.toml",
        "examples/shop.toml",
        "examples/mmc.toml",
    ]
    .iter()
    .map(|f| {
        let p = root().join("scenarios").join(f);
        let src = std::fs::read_to_string(&p).unwrap();
        // From a temporary folder the catalog is found by its absolute path.
        let mut src = src.replace(
            "\"../catalog/aws-ec2.toml\"",
            &format!("{:?}", catalog.to_string_lossy()),
        );
        // The elastic day is one segment on one core and its plan simulates
        // it whole: fuzz a three-hour day with the same events at a tenth of
        // the load (the plan takes seconds instead of a minute and a half).
        if f.ends_with("elastic.toml") {
            for (from, to) in [
                ("duration = \"24h\"", "duration = \"3h\""),
                ("peak_rps = 2000", "peak_rps = 200"),
                ("peak_rps = 1800", "peak_rps = 180"),
                ("peak_rps = 1200", "peak_rps = 120"),
                ("at = \"14h40m\"", "at = \"1h40m\""),
                ("at = \"15h20m\"", "at = \"2h20m\""),
                ("at = \"15h\"", "at = \"2h\""),
                ("at = \"19h\"", "at = \"2h30m\""),
                ("at = \"22h\"", "at = \"2h40m\""),
            ] {
                assert!(src.contains(from), "{f} has no {from}");
                src = src.replacen(from, to, 1);
            }
        }
        (f.to_string(), src)
    })
    .collect();
    let mut rng = Rng(0x7769_7021);
    let mut bad = Vec::new();
    let mut codes = [0usize; 3];
    for k in 0..cases {
        let (name, src) = &sources[k % sources.len()];
        let (text, what) = mutate(src, &mut rng);
        let file = tmp(&format!("fuzz-{k}.toml"));
        std::fs::write(&file, &text).unwrap();
        let path = file.to_string_lossy().into_owned();
        let mut runs: Vec<(Vec<&str>, Duration)> = vec![(
            vec!["simulate", &path, "--duration", "12m", "--format", "json"],
            Duration::from_secs(60),
        )];
        if k % 5 == 0 {
            runs.push((
                vec!["plan", &path, "--format", "json"],
                Duration::from_secs(120),
            ));
        }
        for (args, limit) in runs {
            match run(&args, limit) {
                Ok(c) => codes[c as usize] += 1,
                Err(e) => bad.push(format!("{name} ({what}), twip {}: {e}", args[0])),
            }
        }
        if bad.is_empty() {
            let _ = std::fs::remove_file(Path::new(&file));
        }
    }
    eprintln!("exit codes 0/1/2: {codes:?}");
    assert!(
        bad.is_empty(),
        "{} mutations misbehaved:\n{}",
        bad.len(),
        bad.join("\n")
    );
    // The mutations reach the validators and the engine alike: a good share
    // still simulates (the unmutated files all do).
    assert!(
        codes[0] * 5 >= cases && codes[1] > 0,
        "{codes:?}: too few mutations got past validation to exercise the engine"
    );
}
