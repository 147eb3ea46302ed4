//! The calibrated copy of a scenario: the same TOML, comments and layout
//! kept (toml_edit), each fitted service's `service_time` replaced, and the
//! relative paths in it (the catalog, a `.wasm` policy, an empirical
//! distribution's file) rewritten for the copy's folder.

use std::path::{Component, Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Value};
use twip_model::calibration::ServiceFit;
use twip_model::Scenario;

/// Why the calibrated scenario could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The scenario's text is not TOML (it parsed when it was read, so it
    /// changed since).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The scenario.
        path: PathBuf,
        /// What toml_edit said.
        message: String,
    },
    /// The copy does not parse as a scenario: a bug, or a fit the model
    /// refuses.
    #[error("the calibrated scenario would not load: {0}")]
    Invalid(twip_model::Error),
}

/// Rounds to 3 decimals (µs), enough for any service time.
fn ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `path` made absolute and without `.` and `..`, by its text.
fn lexical(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `p` (relative to `from_dir`) relative to `to_dir`; an absolute `p`, or
/// one on another root, as it is.
fn rebase(p: &str, from_dir: &Path, to_dir: &Path) -> String {
    let path = Path::new(p);
    if path.is_absolute() {
        return p.to_string();
    }
    let target = lexical(&from_dir.join(path));
    let base = lexical(to_dir);
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Nothing shared but the root: the absolute path says more.
    if common <= 1 {
        return target.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c);
    }
    rel.display().to_string()
}

/// Replaces the string at `item` by `f(it)`, its decoration kept.
fn rewrite_str(item: Option<&mut Item>, f: impl Fn(&str) -> Option<String>) {
    if let Some(Item::Value(v)) = item {
        if let Some(new) = v.as_str().and_then(&f) {
            let decor = v.decor().clone();
            *v = Value::from(new);
            *v.decor_mut() = decor;
        }
    }
}

/// The scenario `text` (read from `from`) as it should be written to `to`
/// with the fitted times of `fits`, `header` (one or more lines) as a
/// comment on top. The result is checked to load as a scenario.
pub fn calibrated_scenario(
    text: &str,
    from: &Path,
    to: &Path,
    fits: &[ServiceFit],
    header: &str,
) -> Result<String, WriteError> {
    let mut doc: DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| WriteError::Parse {
                path: from.to_path_buf(),
                message: e.to_string(),
            })?;
    let dir = |p: &Path| {
        p.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let (from_dir, to_dir) = (dir(from), dir(to));
    let move_path = |p: &str| Some(rebase(p, &from_dir, &to_dir));
    if let Some(services) = doc
        .get_mut("service")
        .and_then(Item::as_array_of_tables_mut)
    {
        for table in services.iter_mut() {
            let name = table.get("name").and_then(Item::as_str).map(str::to_string);
            let fitted = fits
                .iter()
                .find(|f| Some(&f.service) == name.as_ref())
                .and_then(|f| f.fitted.as_ref());
            match fitted {
                Some(d) => {
                    let mut t = InlineTable::new();
                    t.insert("dist", Value::from(d.dist.name()));
                    t.insert("mean_ms", Value::from(ms(d.mean_ms)));
                    if !d.dist.is_mean_only() {
                        t.insert("p99_ms", Value::from(ms(d.p99_ms)));
                    }
                    let mut value = Value::InlineTable(t);
                    if let Some(Item::Value(old)) = table.get("service_time") {
                        *value.decor_mut() = old.decor().clone();
                    }
                    table.insert("service_time", Item::Value(value));
                }
                None => {
                    if let Some(st) = table.get_mut("service_time") {
                        if let Some(t) = st.as_table_like_mut() {
                            rewrite_str(t.get_mut("file"), move_path);
                        }
                    }
                }
            }
        }
    }
    if let Some(infra) = doc
        .get_mut("infrastructure")
        .and_then(Item::as_table_like_mut)
    {
        rewrite_str(infra.get_mut("catalog"), move_path);
    }
    if let Some(placement) = doc.get_mut("placement").and_then(Item::as_table_like_mut) {
        rewrite_str(placement.get_mut("policy"), |p| {
            p.ends_with(".wasm").then(|| rebase(p, &from_dir, &to_dir))
        });
    }
    let mut out = String::new();
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&doc.to_string());
    Scenario::parse(&out, to).map_err(WriteError::Invalid)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twip_model::calibration::{Choice, DistKind, DistSummary};

    fn fit(service: &str, dist: DistKind, mean: f64, p99: f64) -> ServiceFit {
        let d = DistSummary {
            dist,
            mean_ms: mean,
            p99_ms: p99,
        };
        ServiceFit {
            service: service.into(),
            measured_by: twip_model::calibration::MeasuredBy::FrontLog,
            tick_ms: 1.0,
            scenario_ks: None,
            samples: 1000,
            mean_ms: mean,
            mean_ci95_ms: 0.0,
            p50_ms: mean,
            p99_ms: p99,
            scenario: d.clone(),
            lognormal: None,
            gamma: None,
            choice: Choice::Lognormal,
            level_kept: false,
            fitted: Some(d),
        }
    }

    #[test]
    fn paths_are_rebased_between_folders() {
        let here = std::env::current_dir().unwrap();
        let from = here.join("scenarios/twip");
        assert_eq!(
            rebase("../catalog/aws.toml", &from, &from),
            "../catalog/aws.toml"
        );
        assert_eq!(
            rebase("../catalog/aws.toml", &from, &here.join("out")),
            "../scenarios/catalog/aws.toml"
        );
        assert_eq!(rebase("/abs/x.toml", &from, &here), "/abs/x.toml");
        assert_eq!(rebase("s.txt", &from, &from.join("a/b")), "../../s.txt");
    }

    #[test]
    fn fitted_times_replace_the_scenarios_and_keep_its_comments() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let from = root.join("scenarios/twip/training.toml");
        let text = std::fs::read_to_string(&from).unwrap();
        let to = std::env::temp_dir().join("twip-calibrate-write/calibrated.toml");
        let out = calibrated_scenario(
            &text,
            &from,
            &to,
            &[
                fit("app", DistKind::Gamma, 55.5, 300.25),
                fit("static", DistKind::Lognormal, 0.4, 3.2),
            ],
            "calibrated\nsecond line",
        )
        .unwrap();
        assert!(out.starts_with("# calibrated\n# second line\n"), "{out}");
        // Every comment of the original is still there.
        for line in text.lines().filter(|l| l.contains('#')) {
            let comment = &line[line.find('#').unwrap()..];
            assert!(out.contains(comment), "lost {comment:?}:\n{out}");
        }
        let s = Scenario::parse(&out, &to).unwrap();
        let app = s.services.iter().find(|x| x.name == "app").unwrap();
        assert!((app.service_time.mean_ms() - 55.5).abs() < 1e-9);
        assert!((app.service_time.quantile_ms(0.99) - 300.25).abs() < 1e-3);
        let st = s.services.iter().find(|x| x.name == "static").unwrap();
        assert!((st.service_time.mean_ms() - 0.4).abs() < 1e-9);
        // lb was not fitted.
        assert!(out.contains("service_time = { dist = \"lognormal\", mean_ms = 0.3, p99_ms = 2 }"));
        // The catalog is found from the copy's folder.
        let rebased = rebase(
            "../catalog/aws-ec2.toml",
            from.parent().unwrap(),
            to.parent().unwrap(),
        );
        assert!(out.contains(&format!("catalog = \"{rebased}\"")), "{out}");
        assert!(
            lexical(&to.parent().unwrap().join(&rebased)).exists(),
            "{rebased}"
        );
    }
}
