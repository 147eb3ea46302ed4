//! The instance catalog: instance types (size, hourly price per region) and
//! the zones of each region, read from TOML (`scenarios/catalog/aws-ec2.toml`).
//!
//! The bundled catalogs are compiled in ([`BUILTIN`]), so a scenario names
//! one by its name (`catalog = "aws-ec2"`) and it is found wherever twip
//! runs from, `cargo install` included.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::locate::{from_toml, line_of_path, FieldPath};
use crate::Error;

/// A validated catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// Catalog name (e.g. `aws-ec2`).
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// When the prices were taken, as the file says.
    pub prices_as_of: String,
    /// Regions, in file order.
    pub regions: Vec<CatalogRegion>,
    /// Instance types, in file order.
    pub instance_types: Vec<InstanceType>,
}

/// A region and its zones.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogRegion {
    /// Region name (`us-east-1`).
    pub name: String,
    /// Its availability zones.
    pub zones: Vec<String>,
}

/// One instance type.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceType {
    /// Name (`m5.large`).
    pub name: String,
    /// Family (`m5`).
    pub family: String,
    /// Category (`general purpose`, `burstable`...), free text.
    pub category: String,
    /// vCPU.
    pub vcpu: f64,
    /// Memory in MiB.
    pub memory_mb: u32,
    /// On-demand USD per hour, by region.
    pub hourly_usd: BTreeMap<String, f64>,
    /// Burstable types: the fraction of each vCPU usable all the time.
    pub burstable_baseline: Option<f64>,
}

impl InstanceType {
    /// vCPU a capacity plan may count on at a sustained peak
    /// (`vcpu × burstable_baseline` for burstable types).
    pub fn sustained_vcpu(&self) -> f64 {
        self.vcpu * self.burstable_baseline.unwrap_or(1.0)
    }

    /// The millicores replicas may be placed on: the sustained vCPU, to
    /// the millicore below (the planner's node shapes and the simulator's
    /// provider nodes both count on this).
    pub fn usable_cpu_millis(&self) -> u32 {
        (self.sustained_vcpu() * 1000.0).floor() as u32
    }

    /// Hourly price in `region`, if the catalog has one.
    pub fn price(&self, region: &str) -> Option<f64> {
        self.hourly_usd.get(region).copied()
    }
}

/// A replica's millicores: its vCPU rounded up (a replica never gets less
/// than it asked for). The planner's placement requests and the
/// simulator's questions to the placement policy both count on this.
pub fn replica_cpu_millis(cpu: f64) -> u32 {
    (cpu * 1000.0).ceil() as u32
}

/// The catalogs bundled with twip: `(name, TOML text)`. A scenario's
/// `catalog = "NAME"` (a bare name, no folder, no extension) is one of these.
pub const BUILTIN: &[(&str, &str)] = &[(
    "aws-ec2",
    include_str!("../../../scenarios/catalog/aws-ec2.toml"),
)];

/// The text of the bundled catalog called `name`, if there is one.
pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Whether a scenario's `catalog` value is a catalog name rather than a
/// path: no folder separator and no extension (`aws-ec2`, not
/// `../catalog/aws-ec2.toml`).
pub fn is_name(value: &str) -> bool {
    !value.is_empty() && !value.contains(['/', '\\']) && Path::new(value).extension().is_none()
}

/// The names of the bundled catalogs.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    name: String,
    prices_as_of: String,
    #[serde(default, rename = "region")]
    regions: Vec<RawRegion>,
    #[serde(default, rename = "instance_type")]
    instance_types: Vec<RawType>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    name: String,
    zones: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    name: String,
    family: String,
    #[serde(default)]
    category: Option<String>,
    vcpu: f64,
    memory_mb: u32,
    hourly_usd: BTreeMap<String, f64>,
    #[serde(default)]
    burstable_baseline: Option<f64>,
}

impl Catalog {
    /// Reads and validates a catalog file, or the bundled catalog when
    /// `path` is a bare name ([`is_name`]) of one ([`BUILTIN`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Catalog, Error> {
        let path = path.as_ref();
        if let Some(name) = path.to_str().filter(|p| is_name(p)) {
            return match builtin(name) {
                Some(text) => Catalog::parse(text, path),
                None => Err(Error::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "no bundled catalog of that name (bundled: {}; a file is named by a path such as \"../catalog/my.toml\")",
                            builtin_names().join(", ")
                        ),
                    ),
                }),
            };
        }
        let src = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Catalog::parse(&src, path)
    }

    /// Parses and validates catalog text; `path` is used in messages.
    pub fn parse(src: &str, path: &Path) -> Result<Catalog, Error> {
        let raw: RawCatalog = from_toml(src, path, &|_| None)?;
        let err = |f: &FieldPath, message: String| Error::Invalid {
            path: path.to_path_buf(),
            line: line_of_path(src, f),
            field: f.to_string(),
            message,
        };
        let root = FieldPath::default();
        let mut regions: Vec<CatalogRegion> = Vec::new();
        for (i, r) in raw.regions.iter().enumerate() {
            let f = root.key("region").index(i);
            if r.name.trim().is_empty() {
                return Err(err(&f.key("name"), "must not be empty".into()));
            }
            if regions.iter().any(|x| x.name == r.name) {
                return Err(err(
                    &f.key("name"),
                    format!("region {:?} is defined twice", r.name),
                ));
            }
            if r.zones.is_empty() {
                return Err(err(&f.key("zones"), "expected at least one zone".into()));
            }
            for (k, z) in r.zones.iter().enumerate() {
                if r.zones[..k].contains(z) {
                    return Err(err(
                        &f.key("zones").index(k),
                        format!("zone {z:?} is listed twice"),
                    ));
                }
            }
            regions.push(CatalogRegion {
                name: r.name.clone(),
                zones: r.zones.clone(),
            });
        }
        if raw.instance_types.is_empty() {
            return Err(err(
                &root.key("instance_type"),
                "expected at least one [[instance_type]]".into(),
            ));
        }
        let mut types: Vec<InstanceType> = Vec::new();
        for (i, t) in raw.instance_types.iter().enumerate() {
            let f = root.key("instance_type").index(i);
            if t.name.trim().is_empty() {
                return Err(err(&f.key("name"), "must not be empty".into()));
            }
            if types.iter().any(|x| x.name == t.name) {
                return Err(err(
                    &f.key("name"),
                    format!("instance type {:?} is defined twice", t.name),
                ));
            }
            if !(t.vcpu.is_finite() && t.vcpu > 0.0) {
                return Err(err(
                    &f.key("vcpu"),
                    format!("expected a positive number of vCPU, got {}", t.vcpu),
                ));
            }
            if t.memory_mb == 0 {
                return Err(err(&f.key("memory_mb"), "must be at least 1".into()));
            }
            if t.hourly_usd.is_empty() {
                return Err(err(
                    &f.key("hourly_usd"),
                    "expected a price for at least one region".into(),
                ));
            }
            for (region, price) in &t.hourly_usd {
                let fp = f.key("hourly_usd").key(region);
                if !(price.is_finite() && *price > 0.0) {
                    return Err(err(
                        &fp,
                        format!("expected a positive price in USD per hour, got {price}"),
                    ));
                }
                if !regions.is_empty() && !regions.iter().any(|r| &r.name == region) {
                    let names: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
                    return Err(err(
                        &fp,
                        format!(
                            "no region {region:?} in this catalog (regions: {})",
                            names.join(", ")
                        ),
                    ));
                }
            }
            if let Some(b) = t.burstable_baseline {
                if !(b > 0.0 && b <= 1.0) {
                    return Err(err(
                        &f.key("burstable_baseline"),
                        format!("expected a fraction in (0, 1], got {b}"),
                    ));
                }
            }
            types.push(InstanceType {
                name: t.name.clone(),
                family: t.family.clone(),
                category: t.category.clone().unwrap_or_default(),
                vcpu: t.vcpu,
                memory_mb: t.memory_mb,
                hourly_usd: t.hourly_usd.clone(),
                burstable_baseline: t.burstable_baseline,
            });
        }
        Ok(Catalog {
            name: raw.name,
            path: path.to_path_buf(),
            prices_as_of: raw.prices_as_of,
            regions,
            instance_types: types,
        })
    }

    /// The instance type called `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceType> {
        self.instance_types.iter().find(|t| t.name == name)
    }

    /// The zones of `region` (empty if the catalog does not know it).
    pub fn zones(&self, region: &str) -> &[String] {
        self.regions
            .iter()
            .find(|r| r.name == region)
            .map(|r| r.zones.as_slice())
            .unwrap_or(&[])
    }

    /// Names of all instance types, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.instance_types
            .iter()
            .map(|t| t.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalog_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/catalog/aws-ec2.toml");
        let c = Catalog::load(&p).unwrap();
        let m5 = c.instance("m5.large").unwrap();
        assert_eq!(m5.vcpu, 2.0);
        assert_eq!(m5.memory_mb, 8192);
        assert_eq!(m5.price("us-east-1"), Some(0.096));
        assert_eq!(c.zones("eu-west-1").len(), 3);
        assert!(c.zones("mars-1").is_empty());
        assert!(c.instance("nope.large").is_none());
        assert!(c.instance("t3.large").unwrap().sustained_vcpu() < 1.0);
        for t in &c.instance_types {
            for r in ["us-east-1", "eu-west-1", "ap-southeast-1"] {
                assert!(t.price(r).is_some(), "{} has no price in {r}", t.name);
            }
        }
    }

    #[test]
    fn the_bundled_catalog_is_found_by_name() {
        let by_name = Catalog::load("aws-ec2").unwrap();
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/catalog/aws-ec2.toml");
        let by_path = Catalog::load(&p).unwrap();
        assert_eq!(by_name.names(), by_path.names());
        assert_eq!(by_name.path, Path::new("aws-ec2"));
        assert!(is_name("aws-ec2"));
        assert!(!is_name("../catalog/aws-ec2.toml"));
        assert!(!is_name("aws-ec2.toml"));
        let e = Catalog::load("gcp").unwrap_err().to_string();
        assert!(
            e.contains("no bundled catalog") && e.contains("aws-ec2"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_line_and_field() {
        let src = "name = \"x\"\nprices_as_of = \"now\"\n[[region]]\nname = \"r\"\nzones = [\"a\"]\n[[instance_type]]\nname = \"t\"\nfamily = \"f\"\nvcpu = -2\nmemory_mb = 10\nhourly_usd = { r = 1.0 }\n";
        let e = Catalog::parse(src, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "c.toml:9: field `instance_type[0].vcpu`: expected a positive number of vCPU, got -2"
        );
        let bad_region = src
            .replace("vcpu = -2", "vcpu = 2")
            .replace("{ r = 1.0 }", "{ q = 1.0 }");
        let e = Catalog::parse(&bad_region, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.toml:11: field `instance_type[0].hourly_usd.q`: no region \"q\""),
            "{e}"
        );
        let e = Catalog::parse(
            &src.replace("vcpu = -2", "vcpu = \"two\""),
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "c.toml:9: field `instance_type[0].vcpu`: expected a number, found the string \"two\""
        );
        let e = Catalog::parse(
            &src.replace("memory_mb = 10", "memory_mb = -10"),
            Path::new("c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "c.toml:10: field `instance_type[0].memory_mb`: expected a whole number ≥ 0, found the number -10"
        );
        let e = Catalog::parse("name = 1", Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.toml:1: "), "{e}");
    }
}
