//! The TrueType font the charts' text is measured and drawn with (plotters'
//! pure-Rust `ab_glyph` backend needs one registered at run time).
//!
//! DejaVu Sans is compiled into the binary (`fonts/DejaVuSans.ttf`, 742 KiB,
//! Bitstream Vera licence in `fonts/LICENSE-DejaVu`), so a report needs no
//! font package on the machine. `TWIP_FONT=file.ttf` replaces it.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::ReportError;

/// Environment variable naming a `.ttf` file to use instead of the embedded font.
pub const FONT_ENV: &str = "TWIP_FONT";

/// DejaVu Sans 2.37, as Debian's fonts-dejavu-core ships it.
static EMBEDDED: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

static LOADED: OnceLock<Result<(), String>> = OnceLock::new();

/// Registers the font once; every chart calls this first.
pub fn ensure() -> Result<(), ReportError> {
    LOADED.get_or_init(load).clone().map_err(ReportError::Font)
}

fn load() -> Result<(), String> {
    let (bytes, what): (&'static [u8], String) = match std::env::var_os(FONT_ENV) {
        Some(p) => {
            let path = PathBuf::from(p);
            let bytes =
                std::fs::read(&path).map_err(|e| format!("{FONT_ENV}={}: {e}", path.display()))?;
            // plotters keeps fonts for the life of the process.
            (
                Box::leak(bytes.into_boxed_slice()),
                format!("{FONT_ENV}={}", path.display()),
            )
        }
        None => (EMBEDDED, "the embedded DejaVu Sans".to_string()),
    };
    plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
        .map_err(|_| format!("{what}: not a TrueType font plotters can read"))
}
