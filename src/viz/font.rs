//! DejaVu Sans, embedded, registered with plotters as "sans-serif".
//!
//! The font file and its licence (Bitstream Vera licence, redistribution allowed with the notice)
//! are in `assets/fonts/`, taken from Debian's `fonts-dejavu-core` package.
use std::sync::Once;

use plotters::style::FontStyle;

/// The family name every figure uses.
pub const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font once per process; drawing calls this before using any text.
pub fn ensure_registered() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // Bold and italic requests fall back to the normal face.
        if plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_err() {
            panic!("the embedded DejaVu Sans font failed to parse");
        }
    });
}
