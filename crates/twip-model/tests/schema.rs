//! The JSON Schemas of the scenario format and the plan file (`twip
//! schema`): the shipped copies are current, and every bundled scenario and
//! committed plan fits its schema (each table and field it uses is in the
//! schema, with the type the schema says).

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Resolves a `$ref` into the schema's `$defs`.
fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/$defs/");
            &schema["$defs"][name]
        }
        None => node,
    }
}

/// The JSON types a schema node allows (`anyOf` / `oneOf` merged).
fn types(schema: &Value, node: &Value) -> Vec<String> {
    let node = resolve(schema, node);
    let mut out: Vec<String> = match &node["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    for k in ["anyOf", "oneOf"] {
        if let Some(alts) = node[k].as_array() {
            for a in alts {
                out.extend(types(schema, a));
            }
        }
    }
    if node.get("enum").is_some() || node.get("const").is_some() {
        out.push("string".into());
    }
    out
}

/// Walks `value` (a scenario read as JSON) against `node`; the problems found.
fn check(schema: &Value, node: &Value, value: &Value, at: &str, bad: &mut Vec<String>) {
    let node = resolve(schema, node);
    let ty = types(schema, node);
    let kind = match value {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::Null => "null",
    };
    let fits = ty.is_empty()
        || ty.iter().any(|t| t == kind)
        || (kind == "integer" && ty.iter().any(|t| t == "number"));
    if !fits {
        bad.push(format!("{at}: {kind}, the schema says {ty:?}"));
        return;
    }
    match value {
        Value::Object(m) => {
            // The object's properties, wherever the alternatives put them.
            let mut props = Vec::new();
            // A map's values (`additionalProperties` as a schema).
            let mut values = None;
            let mut stack = vec![node];
            while let Some(n) = stack.pop() {
                let n = resolve(schema, n);
                if let Some(p) = n["properties"].as_object() {
                    props.push(p);
                }
                if n["additionalProperties"].is_object() {
                    values = Some(&n["additionalProperties"]);
                }
                for k in ["anyOf", "oneOf", "allOf"] {
                    if let Some(alts) = n[k].as_array() {
                        stack.extend(alts.iter());
                    }
                }
            }
            for (k, v) in m {
                match props.iter().find_map(|p| p.get(k)).or(values) {
                    Some(sub) => check(schema, sub, v, &format!("{at}.{k}"), bad),
                    None => bad.push(format!("{at}.{k}: not in the schema")),
                }
            }
        }
        Value::Array(xs) => {
            let items = &node["items"];
            if !items.is_null() {
                for (i, x) in xs.iter().enumerate() {
                    check(schema, items, x, &format!("{at}[{i}]"), bad);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_shipped_scenario_schema_is_current() {
    let shipped = std::fs::read_to_string(root().join("scenarios/scenario.schema.json")).unwrap();
    assert_eq!(
        shipped.trim_end(),
        twip_model::scenario_schema(),
        "regenerate it: twip schema scenario > scenarios/scenario.schema.json"
    );
}

#[test]
fn every_bundled_scenario_fits_the_schema() {
    let schema: Value = serde_json::from_str(&twip_model::scenario_schema()).unwrap();
    let mut files = Vec::new();
    for dir in ["scenarios/twip", "scenarios/examples"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let value: toml::Value = toml::from_str(&text).unwrap();
        let json = serde_json::to_value(value).unwrap();
        let mut bad = Vec::new();
        check(&schema, &schema, &json, "", &mut bad);
        assert!(bad.is_empty(), "{}: {bad:#?}", f.display());
    }
    // And the walk can fail: a field the format does not have.
    let mut bad = Vec::new();
    let wrong = serde_json::json!({ "name": "x", "traffic": { "entry": "a", "surge": 2 } });
    check(&schema, &schema, &wrong, "", &mut bad);
    assert_eq!(bad, [".traffic.surge: not in the schema"]);
    let mut bad = Vec::new();
    let wrong = serde_json::json!({ "duration": 24 });
    check(&schema, &schema, &wrong, "", &mut bad);
    assert_eq!(bad.len(), 1, "{bad:?}");
}

#[test]
fn the_shipped_plan_schema_is_current_and_the_committed_plans_fit_it() {
    let shipped = std::fs::read_to_string(root().join("reports/plan.schema.json")).unwrap();
    assert_eq!(
        shipped.trim_end(),
        twip_model::plan_schema(),
        "regenerate it: twip schema plan > reports/plan.schema.json"
    );
    let schema: Value = serde_json::from_str(&twip_model::plan_schema()).unwrap();
    for name in ["limited-release", "worldwide", "worldwide-elastic"] {
        let f = root().join(format!("reports/plans/{name}.json"));
        let plan: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let mut bad = Vec::new();
        check(&schema, &schema, &plan, "", &mut bad);
        assert!(bad.is_empty(), "{}: {bad:#?}", f.display());
    }
}
