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

/// What is missing or wrong in a scenario's infrastructure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InfraError {
    /// No `[infrastructure] catalog`.
    #[error("{}: to plan, the scenario needs [infrastructure] catalog = \"PATH\" (e.g. \"../catalog/aws-ec2.toml\")", scenario.display())]
    NoCatalog {
        /// Scenario file.
        scenario: PathBuf,
    },
    /// Several regions and none chosen.
    #[error("{}: [infrastructure] region is needed to price the catalog's instances (regions: {})", scenario.display(), regions.join(", "))]
    NoRegion {
        /// Scenario file.
        scenario: PathBuf,
        /// The catalog's regions.
        regions: Vec<String>,
    },
    /// The region is not in the catalog.
    #[error("{}: region {region:?} is not in catalog {}", scenario.display(), catalog.display())]
    UnknownRegion {
        /// Scenario file.
        scenario: PathBuf,
        /// The region asked for.
        region: String,
        /// Catalog file.
        catalog: PathBuf,
    },
    /// A zone is not in the region.
    #[error("{}: zone {zone:?} is not a zone of {region} in catalog {} (zones: {})", scenario.display(), catalog.display(), known.join(", "))]
    UnknownZone {
        /// Scenario file.
        scenario: PathBuf,
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
    #[error("{}: instance type {name:?} is not in catalog {} (types: {})", scenario.display(), catalog.display(), known.join(", "))]
    UnknownType {
        /// Scenario file.
        scenario: PathBuf,
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
    #[error("{}: [infrastructure.autoscaling] instance_type {name:?} is not an allowed, priced type (allowed: {})", scenario.display(), known.join(", "))]
    ProviderType {
        /// Scenario file.
        scenario: PathBuf,
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

/// Reads the scenario's catalog and resolves region, zones and types.
pub fn infra(s: &Scenario) -> Result<Infra, PlanError> {
    let scenario = s.path.clone();
    let Some(path) = &s.infrastructure.catalog else {
        return Err(InfraError::NoCatalog { scenario }.into());
    };
    let cat = Catalog::load(path)?;
    let region = match &s.infrastructure.region {
        Some(r) => r.clone(),
        None if cat.regions.len() == 1 => cat.regions[0].name.clone(),
        None => {
            return Err(InfraError::NoRegion {
                scenario,
                regions: cat.regions.iter().map(|r| r.name.clone()).collect(),
            }
            .into())
        }
    };
    let known = cat.zones(&region);
    if !cat.regions.is_empty() && known.is_empty() {
        return Err(InfraError::UnknownRegion {
            scenario,
            region,
            catalog: cat.path.clone(),
        }
        .into());
    }
    let mut zones = s.infrastructure.zones.clone();
    if zones == [DEFAULT_ZONE] && !known.is_empty() {
        zones = known.to_vec();
    }
    if !known.is_empty() {
        if let Some(z) = zones.iter().find(|z| !known.contains(z)) {
            return Err(InfraError::UnknownZone {
                scenario,
                zone: z.clone(),
                region,
                catalog: cat.path.clone(),
                known: known.to_vec(),
            }
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
        for name in &s.infrastructure.instance_types {
            let t = cat.instance(name).ok_or_else(|| InfraError::UnknownType {
                scenario: scenario.clone(),
                name: name.clone(),
                catalog: cat.path.clone(),
                known: cat.names().iter().map(|n| n.to_string()).collect(),
            })?;
            let p = t.price(&region).ok_or_else(|| InfraError::NoPrice {
                catalog: cat.path.clone(),
                name: name.clone(),
                region: region.clone(),
            })?;
            types.push((t.clone(), p));
        }
    }
    if types.is_empty() {
        return Err(InfraError::NothingPriced {
            catalog: cat.path.clone(),
            region,
        }
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
        return Err(InfraError::ProviderType {
            scenario: s.path.clone(),
            name: ns.instance_type.clone().unwrap_or_default(),
            known: infra.types.iter().map(|(t, _)| t.name.clone()).collect(),
        }
        .into());
    };
    // What a placement may count on, as the planner's node shapes.
    let shape = crate::request::NodeShape::of(t);
    Ok(Some(twip_sim::NodeType {
        name: t.name.clone(),
        vcpu: f64::from(shape.cpu_millis) / 1000.0,
        memory_mb: f64::from(shape.memory_mib),
        usd_per_hour: *price,
    }))
}
