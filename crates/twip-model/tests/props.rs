//! Property tests: `Scenario::parse` and `Plan::parse` never panic on mutated
//! versions of the bundled files, every error they return points at a line
//! of the file and says something, and what they accept is stable.
//!
//! By default each property runs 256 cases (proptest's default). For a
//! longer search:
//!
//! ```text
//! PROPTEST_CASES=20000 cargo test --release -p twip-model --test props
//! ```

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use twip_model::{Error, Plan, Scenario};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files of `dir` (relative to the repository) ending in `ext`, with their text.
fn files(dir: &str, ext: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no .{ext} files in {dir}");
    out
}

fn scenarios() -> Vec<(PathBuf, String)> {
    let mut v = files("scenarios/twip", "toml");
    v.extend(files("scenarios/examples", "toml"));
    v
}

/// Values that break numbers: zero, negative, huge, tiny, out of every
/// integer type, not numbers at all.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "5e-324",
    "4294967296",
    "-4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "65536",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "-0.0",
    "3.5",
    "\"NaN\"",
    "\"1e308\"",
    "true",
    "[]",
    "{}",
];

/// Replacements for the contents of strings.
const STRINGS: &[&str] = &[
    "",
    " ",
    "x",
    "app",
    "front",
    "node-1",
    "zone-1",
    "us-east-1a",
    "0s",
    "1e308h",
    "99999999999999999999h",
    "-5m",
    "app/4294967296",
    "app/-1",
    "app/",
    "/0",
    "one",
    "zone",
    "replica",
    "gamma",
    "empirical",
    "../../../no/such/file",
    "\\u0000",
    "ü日本",
    "\\",
];

/// Lines worth inserting: tables and keys the validator looks at.
const SNIPPETS: &[&str] = &[
    "[[service]]",
    "[[service.calls]]\nto = \"app\"",
    "[[failure]]\nkind = \"node\"\nat = \"0s\"",
    "[[failure]]\nkind = \"replica\"\nat = \"1s\"\ntarget = \"app/0\"",
    "[[traffic.spike]]\nat = \"0s\"\nduration = \"1e308h\"\nmultiplier = 1e308",
    "[[traffic.region]]\nname = \"r\"\npeak_rps = 1e308\nprofile = [1e308]",
    "routing = \"one\"",
    "replicas = 0",
    "workers = 4294967295",
    "service_time = { dist = \"gamma\", mean_ms = 5e-324, p99_ms = 1e308 }",
    "service_time = { dist = \"lognormal\", mean_ms = 1e308, p99_ms = 1e308 }",
    "service_time = { dist = \"empirical\", samples_ms = [] }",
    "[slo]\nsurvive = [\"replica\"]",
    "[infrastructure]\nzones = []\nmax_nodes = 0",
    "\"nodes\": [],",
    "{",
    "}",
    "]",
];

/// One change to a file. Indices are reduced modulo what exists.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    Number(usize, usize),
    Str(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(Mutation::DeleteLine),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        3 => (any::<usize>(), 0..NUMBERS.len()).prop_map(|(a, b)| Mutation::Number(a, b)),
        2 => (any::<usize>(), 0..STRINGS.len()).prop_map(|(a, b)| Mutation::Str(a, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Byte ranges of the numbers in `text` (a digit run not inside a word).
fn numbers(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = (b[i].is_ascii_digit()
            || (b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            && (i == 0 || b" =[,:\n\t{".contains(&b[i - 1]));
        if starts {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b".+-_".contains(&b[j])) {
                j += 1;
            }
            out.push(i..j);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Byte ranges of the contents of the double-quoted strings in `text`.
fn strings(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' && b[j] != b'\n' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            if j < b.len() && b[j] == b'"' {
                out.push(i + 1..j);
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    let joined = |lines: Vec<String>| lines.join("\n") + "\n";
    match *m {
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
            joined(lines)
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
            joined(lines)
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            lines.swap(a % n, b % n);
            joined(lines)
        }
        Mutation::Insert(i, s) => {
            lines.insert(i % (lines.len() + 1), SNIPPETS[s].to_string());
            joined(lines)
        }
        Mutation::Number(k, v) => replace_nth(text, &numbers(text), k, NUMBERS[v]),
        Mutation::Str(k, v) => replace_nth(text, &strings(text), k, STRINGS[v]),
        Mutation::Truncate(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_string()
        }
        _ => text.to_string(),
    }
}

fn replace_nth(text: &str, ranges: &[std::ops::Range<usize>], k: usize, with: &str) -> String {
    if ranges.is_empty() {
        return text.to_string();
    }
    let r = &ranges[k % ranges.len()];
    format!("{}{with}{}", &text[..r.start], &text[r.end..])
}

/// An error must point at a line of the file and say what is wrong.
fn check_error(e: &Error, text: &str, path: &Path) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    let line = e.line();
    prop_assert!(
        line.is_some_and(|l| l >= 1 && l <= lines + 1),
        "line {line:?} outside 1..={} for: {e}",
        lines + 1
    );
    let shown = e.to_string();
    let prefix = format!("{}:{}: ", path.display(), line.unwrap_or(0));
    prop_assert!(shown.starts_with(&prefix), "{shown}");
    let rest = shown[prefix.len()..].trim();
    prop_assert!(!rest.is_empty(), "empty message: {shown:?}");
    if let Some(f) = e.field() {
        prop_assert!(!f.is_empty(), "empty field: {shown}");
        prop_assert!(
            rest.len() > f.len() + "field ``: ".len(),
            "no message after the field: {shown}"
        );
    }
    Ok(())
}

/// An accepted scenario keeps the validator's promises, and parsing the
/// same text again gives the same scenario.
fn check_scenario(s: &Scenario, text: &str, path: &Path) -> Result<(), TestCaseError> {
    prop_assert!(s.duration_s > 0.0 && s.warmup_s >= 0.0 && s.warmup_s < s.duration_s);
    prop_assert!(!s.services.is_empty());
    prop_assert!(s.traffic.entry < s.services.len());
    prop_assert!(s.traffic.peak_rate() > 0.0);
    prop_assert!(!s.infrastructure.zones.is_empty() && s.infrastructure.max_nodes >= 1);
    for svc in &s.services {
        prop_assert!(svc.workers >= 1 && svc.cpu > 0.0 && svc.memory_mb >= 1);
        prop_assert!(svc.service_time.mean_ms() >= 0.0, "{:?}", svc.service_time);
        for c in &svc.calls {
            prop_assert!(c.to < s.services.len());
            prop_assert!((0.0..=1.0).contains(&c.probability));
        }
    }
    let again = Scenario::parse(text, path).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(
        serde_json::to_string(s).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
    Ok(())
}

proptest! {
    #[test]
    fn scenario_parse_never_panics_and_errors_point_at_a_line(
        file in 0..scenarios().len(),
        muts in prop::collection::vec(mutation(), 1..5),
    ) {
        let all = scenarios();
        let (path, original) = &all[file];
        let mut text = original.clone();
        for m in &muts {
            text = apply(&text, m);
        }
        match Scenario::parse(&text, path) {
            Err(e) => check_error(&e, &text, path)?,
            Ok(s) => check_scenario(&s, &text, path)?,
        }
    }

    #[test]
    fn plan_parse_never_panics_and_errors_point_at_a_line(
        file in 0..files("reports/plans", "json").len(),
        muts in prop::collection::vec(mutation(), 1..5),
    ) {
        let all = files("reports/plans", "json");
        let (path, original) = &all[file];
        let mut text = original.clone();
        for m in &muts {
            text = apply(&text, m);
        }
        match Plan::parse(&text, path) {
            Err(e) => check_error(&e, &text, path)?,
            Ok(p) => {
                let again = Plan::parse(&text, path).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&p, &again);
                // What is accepted can be written and read back.
                let written = serde_json::to_string_pretty(&p).unwrap();
                let back = Plan::parse(&written, path).map_err(|e| TestCaseError::fail(format!("re-reading the written plan: {e}")))?;
                prop_assert_eq!(&p, &back);
            }
        }
    }
}

/// The bundled files themselves are accepted (so the mutations start from
/// valid inputs) and the mutation helpers find what they mutate.
#[test]
fn the_bundled_files_parse_and_have_numbers_and_strings() {
    for (path, text) in scenarios() {
        let s = Scenario::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        check_scenario(&s, &text, &path).unwrap();
        assert!(numbers(&text).len() > 3, "{}", path.display());
        assert!(strings(&text).len() > 3, "{}", path.display());
    }
    for (path, text) in files("reports/plans", "json") {
        Plan::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        assert!(numbers(&text).len() > 3, "{}", path.display());
    }
    assert_eq!(
        numbers("a = 12\nb = [1.5, -3e2]\nc1 = \"4\""),
        vec![4..6, 12..15, 17..21]
    );
    assert_eq!(strings("a = \"x\"\nb = \"\""), vec![5..6, 13..13]);
}
