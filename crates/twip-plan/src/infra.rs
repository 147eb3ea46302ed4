//! The infrastructure a scenario plans with: the catalog's region, zones
//! and instance types with their prices.

use std::path::PathBuf;

use twip_model::{Catalog, InstanceType, Scenario};

use crate::PlanError;

/// The instance types, region and zones a scenario plans with.
#[derive(Debug, Clone)]
pub struct Infra {
    /// Region whose prices apply.
    pub region: String,
    /// Zones nodes are dealt over.
    pub zones: Vec<String>,
    /// Allowed types with their price in the region.
    pub types: Vec<(InstanceType, f64)>,
    /// Catalog name and price date.
    pub catalog: String,
}

/// What is missing or wrong in a scenario's infrastructure, at the field
/// of the scenario that says it: `FILE:LINE: field `FIELD`: PROBLEM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: field `{field}`: {problem}", scenario.display())]
pub struct InfraError {
    /// Scenario file.
    pub scenario: PathBuf,
    /// 1-based line of the field (or of its nearest enclosing table).
    pub line: usize,
    /// The field (`infrastructure.zones[1]`).
    pub field: String,
    /// What is wrong (boxed: errors stay small).
    pub problem: Box<InfraProblem>,
}

/// What is wrong with a scenario's infrastructure, as data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfraProblem {
    /// No `[infrastructure] catalog`.
    #[error("to plan, the scenario needs [infrastructure] catalog = \"aws-ec2\" (the bundled catalog) or a path such as \"../catalog/aws-ec2.toml\"")]
    NoCatalog,
    /// The catalog file cannot be read (or no bundled catalog has the name).
    #[error("catalog {}: {reason}", catalog.display())]
    Unreadable {
        /// Catalog file or name.
        catalog: PathBuf,
        /// What the OS (or the bundled list) said.
        reason: String,
    },
    /// Several regions, no region given and no zones to tell which.
    #[error("[infrastructure] region (or zones of one region) is needed to price the catalog's instances (regions: {})", regions.join(", "))]
    NoRegion {
        /// The catalog's regions.
        regions: Vec<String>,
    },
    /// The region is not in the catalog.
    #[error("region {region:?} is not in catalog {} (regions: {})", catalog.display(), known.join(", "))]
    UnknownRegion {
        /// The region asked for.
        region: String,
        /// Catalog file.
        catalog: PathBuf,
        /// The catalog's regions.
        known: Vec<String>,
    },
    /// No region given, and the zones are in several regions.
    #[error("the zones span regions ({}): set [infrastructure] region, or list zones of one region", spans.iter().map(|(z, r)| format!("{z} in {r}")).collect::<Vec<_>>().join(", "))]
    ZonesSpanRegions {
        /// Each zone and its region.
        spans: Vec<(String, String)>,
    },
    /// No region given, and a zone is in none of the catalog's regions.
    #[error("zone {zone:?} is in no region of catalog {} (regions: {}); set [infrastructure] region or use the catalog's zones", catalog.display(), regions.join(", "))]
    ZoneNotInCatalog {
        /// The zone.
        zone: String,
        /// Catalog file.
        catalog: PathBuf,
        /// The catalog's regions.
        regions: Vec<String>,
    },
    /// A zone is not in the region.
    #[error("zone {zone:?} is not a zone of {region} in catalog {} (zones: {})", catalog.display(), known.join(", "))]
    UnknownZone {
        /// The zone asked for.
        zone: String,
        /// The region.
        region: String,
        /// Catalog file.
        catalog: PathBuf,
        /// The region's zones.
        known: Vec<String>,
    },
    /// An instance type is not in the catalog.
    #[error("instance type {name:?} is not in catalog {} (types: {})", catalog.display(), known.join(", "))]
    UnknownType {
        /// The type asked for.
        name: String,
        /// Catalog file.
        catalog: PathBuf,
        /// The catalog's types.
        known: Vec<String>,
    },
    /// An instance type has no price in the region.
    #[error("catalog {} has no price for {name} in {region}", catalog.display())]
    NoPrice {
        /// Catalog file.
        catalog: PathBuf,
        /// The type.
        name: String,
        /// The region.
        region: String,
    },
    /// The capacity provider's instance type is not among the allowed ones.
    #[error("instance type {name:?} is not an allowed, priced type (allowed: {})", known.join(", "))]
    ProviderType {
        /// The type asked for.
        name: String,
        /// The allowed types.
        known: Vec<String>,
    },
    /// No instance type at all is priced in the region.
    #[error("catalog {} has no instance type priced in {region}", catalog.display())]
    NothingPriced {
        /// Catalog file.
        catalog: PathBuf,
        /// The region.
        region: String,
    },
}

/// The zone a scenario has when it names none (`twip_model`'s default).
const DEFAULT_ZONE: &str = "zone-1";

/// `problem` at `field` of `s`.
fn at(s: &Scenario, field: &str, problem: InfraProblem) -> InfraError {
    InfraError {
        scenario: s.path.clone(),
        line: s.error(field, "").line().unwrap_or(1),
        field: field.to_string(),
        problem: Box::new(problem),
    }
}

/// The region a scenario plans in: `[infrastructure] region`, else the one
/// region its zones are in, else the catalog's only region.
fn region(s: &Scenario, cat: &Catalog) -> Result<String, InfraError> {
    let regions = || {
        cat.regions
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>()
    };
    if let Some(r) = &s.infrastructure.region {
        if !cat.regions.is_empty() && cat.zones(r).is_empty() {
            return Err(at(
                s,
                "infrastructure.region",
                InfraProblem::UnknownRegion {
                    region: r.clone(),
                    catalog: cat.path.clone(),
                    known: regions(),
                },
            ));
        }
        return Ok(r.clone());
    }
    let zones = &s.infrastructure.zones;
    if !cat.regions.is_empty() && zones.as_slice() != [DEFAULT_ZONE] {
        let mut spans: Vec<(String, String)> = Vec::new();
        for (k, z) in zones.iter().enumerate() {
            let Some(r) = cat.regions.iter().find(|r| r.zones.contains(z)) else {
                return Err(at(
                    s,
                    &format!("infrastructure.zones[{k}]"),
                    InfraProblem::ZoneNotInCatalog {
                        zone: z.clone(),
                        catalog: cat.path.clone(),
                        regions: regions(),
                    },
                ));
            };
            spans.push((z.clone(), r.name.clone()));
        }
        if spans.iter().any(|(_, r)| *r != spans[0].1) {
            return Err(at(
                s,
                "infrastructure.zones",
                InfraProblem::ZonesSpanRegions { spans },
            ));
        }
        return Ok(spans[0].1.clone());
    }
    match cat.regions.as_slice() {
        [only] => Ok(only.name.clone()),
        _ => Err(at(
            s,
            "infrastructure",
            InfraProblem::NoRegion { regions: regions() },
        )),
    }
}

/// Reads the scenario's catalog and resolves region, zones and types.
pub fn infra(s: &Scenario) -> Result<Infra, PlanError> {
    let Some(path) = &s.infrastructure.catalog else {
        return Err(at(s, "infrastructure", InfraProblem::NoCatalog).into());
    };
    let cat = match Catalog::load(path) {
        Ok(c) => c,
        Err(twip_model::Error::Io { path, source }) => {
            return Err(at(
                s,
                "infrastructure.catalog",
                InfraProblem::Unreadable {
                    catalog: path,
                    reason: source.to_string(),
                },
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let region = region(s, &cat)?;
    let known = cat.zones(&region);
    let mut zones = s.infrastructure.zones.clone();
    if zones == [DEFAULT_ZONE] && !known.is_empty() {
        zones = known.to_vec();
    }
    if !known.is_empty() {
        if let Some(k) = zones.iter().position(|z| !known.contains(z)) {
            return Err(at(
                s,
                &format!("infrastructure.zones[{k}]"),
                InfraProblem::UnknownZone {
                    zone: zones[k].clone(),
                    region,
                    catalog: cat.path.clone(),
                    known: known.to_vec(),
                },
            )
            .into());
        }
    }
    let mut types = Vec::new();
    if s.infrastructure.instance_types.is_empty() {
        for t in &cat.instance_types {
            if let Some(p) = t.price(&region) {
                types.push((t.clone(), p));
            }
        }
    } else {
        for (k, name) in s.infrastructure.instance_types.iter().enumerate() {
            let field = format!("infrastructure.instance_types[{k}]");
            let t = cat.instance(name).ok_or_else(|| {
                at(
                    s,
                    &field,
                    InfraProblem::UnknownType {
                        name: name.clone(),
                        catalog: cat.path.clone(),
                        known: cat.names().iter().map(|n| n.to_string()).collect(),
                    },
                )
            })?;
            let p = t.price(&region).ok_or_else(|| {
                at(
                    s,
                    &field,
                    InfraProblem::NoPrice {
                        catalog: cat.path.clone(),
                        name: name.clone(),
                        region: region.clone(),
                    },
                )
            })?;
            types.push((t.clone(), p));
        }
    }
    if types.is_empty() {
        return Err(at(
            s,
            "infrastructure",
            InfraProblem::NothingPriced {
                catalog: cat.path.clone(),
                region,
            },
        )
        .into());
    }
    Ok(Infra {
        region,
        zones,
        types,
        catalog: format!("{} (prices as of {})", cat.name, cat.prices_as_of),
    })
}

/// The size and price of the capacity provider's nodes
/// (`[infrastructure.autoscaling]`), for the simulator; `None` when the
/// scenario has no capacity provider. The type is the provider's
/// `instance_type`, else the first allowed one.
pub fn node_type(s: &Scenario) -> Result<Option<twip_sim::NodeType>, PlanError> {
    let Some(ns) = &s.infrastructure.autoscaling else {
        return Ok(None);
    };
    let infra = infra(s)?;
    let found = match &ns.instance_type {
        None => infra.types.first(),
        Some(name) => infra.types.iter().find(|(t, _)| t.name == *name),
    };
    let Some((t, price)) = found else {
        return Err(at(
            s,
            "infrastructure.autoscaling.instance_type",
            InfraProblem::ProviderType {
                name: ns.instance_type.clone().unwrap_or_default(),
                known: infra.types.iter().map(|(t, _)| t.name.clone()).collect(),
            },
        )
        .into());
    };
    Ok(Some(twip_sim::NodeType::of(t, *price)))
}

/// The checks only planning needs (the catalog, region, zones, instance
/// types and the capacity provider's type): what `twip simulate` warns
/// about, since a simulation needs none of them (except an elastic
/// scenario's provider, which it then refuses on its own).
pub fn planning_problems(s: &Scenario) -> Vec<PlanError> {
    let mut out = Vec::new();
    match infra(s) {
        Err(e) => out.push(e),
        Ok(_) => {
            if let Err(e) = node_type(s) {
                out.push(e);
            }
        }
    }
    out
}

/// Every check `twip plan` makes before it searches, without simulating:
/// [`planning_problems`], the placement policy (`policy`, else the
/// scenario's: a built-in name, or a plugin file that loads), and each
/// node failure's target in the scenario's own layout
/// ([`twip_model::consistency::check_node_failures`]). Empty: `twip plan`
/// would start searching.
pub fn check(s: &Scenario, policy: Option<&str>) -> Vec<PlanError> {
    let mut out = planning_problems(s);
    let given = policy.is_some();
    let policy = policy.unwrap_or(&s.policy);
    let base = s
        .path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    match twip_policy::Host::new() {
        Ok(host) => {
            match crate::load_policy(&host, policy, &base) {
                Ok(_) => {}
                // The scenario's own policy: at its field.
                Err(PlanError::Policy { source, .. }) if !given => out.push(
                    s.error("placement.policy", format!("policy {policy:?}: {source}"))
                        .into(),
                ),
                Err(e) => out.push(e),
            }
        }
        Err(source) => out.push(PlanError::Policy {
            policy: policy.to_string(),
            source: Box::new(source),
        }),
    }
    if let Err(e) = twip_model::consistency::check_node_failures(s) {
        out.push(e.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BASE: &str = "name = \"t\"\nduration = \"1h\"\n[[service]]\nname = \"app\"\nservice_time = { dist = \"exponential\", mean_ms = 10 }\n[traffic]\nentry = \"app\"\nrps = 10\n[infrastructure]\ncatalog = \"aws-ec2\"\n";

    fn scenario(extra: &str) -> Scenario {
        Scenario::parse(&format!("{BASE}{extra}"), Path::new("s.toml")).unwrap()
    }

    fn error(extra: &str) -> String {
        match infra(&scenario(extra)) {
            Ok(i) => panic!("accepted: region {}", i.region),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_region_is_inferred_from_the_zones() {
        let i = infra(&scenario("zones = [\"eu-west-1a\", \"eu-west-1b\"]\n")).unwrap();
        assert_eq!(i.region, "eu-west-1");
        assert_eq!(i.zones, ["eu-west-1a", "eu-west-1b"]);
        assert!(i.catalog.starts_with("aws-ec2"), "{}", i.catalog);
        let i = infra(&scenario("region = \"ap-southeast-1\"\n")).unwrap();
        assert_eq!(i.zones.len(), 3);
    }

    #[test]
    fn ambiguous_or_unknown_zones_and_bad_names_are_errors_at_their_line() {
        let e = error("zones = [\"eu-west-1a\", \"us-east-1b\"]\n");
        assert!(
            e.starts_with("s.toml:11: field `infrastructure.zones`: the zones span regions (eu-west-1a in eu-west-1, us-east-1b in us-east-1)"),
            "{e}"
        );
        let e = error("zones = [\"eu-west-1a\", \"mars-1a\"]\n");
        assert!(
            e.starts_with(
                "s.toml:11: field `infrastructure.zones[1]`: zone \"mars-1a\" is in no region"
            ),
            "{e}"
        );
        let e = error("");
        assert!(
            e.starts_with("s.toml:9: field `infrastructure`: [infrastructure] region (or zones of one region) is needed"),
            "{e}"
        );
        let e = error("region = \"mars-1\"\n");
        assert!(
            e.starts_with("s.toml:11: field `infrastructure.region`: region \"mars-1\" is not in catalog aws-ec2"),
            "{e}"
        );
        let e = error("region = \"eu-west-1\"\nzones = [\"us-east-1a\"]\n");
        assert!(
            e.starts_with("s.toml:12: field `infrastructure.zones[0]`: zone \"us-east-1a\" is not a zone of eu-west-1"),
            "{e}"
        );
        let e = error("region = \"eu-west-1\"\ninstance_types = [\"c5.large\", \"m9.huge\"]\n");
        assert!(
            e.starts_with("s.toml:12: field `infrastructure.instance_types[1]`: instance type \"m9.huge\" is not in catalog"),
            "{e}"
        );
        let e = match infra(
            &Scenario::parse(
                &BASE.replace("\"aws-ec2\"", "\"no/such.toml\""),
                Path::new("s.toml"),
            )
            .unwrap(),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        assert!(
            e.starts_with("s.toml:10: field `infrastructure.catalog`: catalog no/such.toml:"),
            "{e}"
        );
    }

    #[test]
    fn check_loads_the_policy_and_checks_node_failures() {
        let good = scenario("region = \"eu-west-1\"\n");
        assert!(check(&good, None).is_empty());
        let bad = check(&good, Some("no-such-policy"));
        assert_eq!(bad.len(), 1);
        assert!(bad[0].to_string().contains("no-such-policy"), "{}", bad[0]);
        let failure = Scenario::parse(
            &format!("{BASE}region = \"eu-west-1\"\n").replace(
                "[infrastructure]",
                "[[failure]]\nkind = \"node\"\ntarget = \"node-9\"\nat = \"10m\"\n[infrastructure]",
            ),
            Path::new("s.toml"),
        )
        .unwrap();
        let found = check(&failure, None);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .to_string()
                .starts_with("s.toml:11: field `failure[0].target`: no node \"node-9\""),
            "{}",
            found[0]
        );
    }
}
