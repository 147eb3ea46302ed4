//! The TrueType font the charts' text is measured and drawn with (plotters'
//! pure-Rust `ab_glyph` backend needs one registered at run time).

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::ReportError;

/// Environment variable naming a `.ttf` file to use instead of the defaults.
pub const FONT_ENV: &str = "TWIP_FONT";

/// Where Debian's `fonts-dejavu-core` (and other distributions) put the font.
const CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

static LOADED: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Finds and registers the font once; every chart calls this first.
pub fn ensure() -> Result<(), ReportError> {
    LOADED
        .get_or_init(load)
        .as_ref()
        .map(|_| ())
        .map_err(|m| ReportError::Font(m.clone()))
}

fn load() -> Result<PathBuf, String> {
    let paths: Vec<PathBuf> = match std::env::var_os(FONT_ENV) {
        Some(p) => vec![PathBuf::from(p)],
        None => CANDIDATES.iter().map(PathBuf::from).collect(),
    };
    let Some(path) = paths.iter().find(|p| p.is_file()) else {
        return Err(format!(
            "no font for the charts: none of {} exists; install Debian's fonts-dejavu-core \
             (apt-get install fonts-dejavu-core) or set {FONT_ENV} to a .ttf file",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // plotters keeps fonts for the life of the process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| format!("{}: not a TrueType font plotters can read", path.display()))?;
    Ok(path.clone())
}
