//! Which image sides each model can read. VGG16's five 2×2 max-pools need at least 32 pixels, and
//! its adaptive average pool takes any side from there; the MLPs average-pool to an 8×8 grid, so
//! they need a multiple of 8; text-only models never look at the images (any side works, small
//! is cheapest). Memory is checked where the images are allocated (`prepare`, `predict`).
use anyhow::{bail, Result};

use super::image_mlp::POOL_GRID;

/// The smallest side VGG16 reads: 2⁵ for its five max-pools.
pub const VGG16_MIN_SIDE: usize = 32;

/// An error naming the model and what it supports when it cannot read `side`×`side` images.
pub fn check_image_size(model: &str, side: usize) -> Result<()> {
    let entry = super::entry(model)?;
    if side == 0 {
        bail!("--image-size must be positive");
    }
    match model {
        "vgg16" | "vgg16-small" if side < VGG16_MIN_SIDE => {
            bail!("--image-size {side}: {model} needs a side of at least {VGG16_MIN_SIDE} (five 2x2 max-pools)")
        }
        "vgg16" | "vgg16-small" => Ok(()),
        // The other image models pool to a fixed grid (image-mlp, fusion-mlp).
        _ if entry.needs.image && !side.is_multiple_of(POOL_GRID) => {
            bail!("--image-size {side}: {model} pools images to an {POOL_GRID}x{POOL_GRID} grid, so the side must be a multiple of {POOL_GRID} (e.g. {})", side.next_multiple_of(POOL_GRID))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_takes_the_sides_it_can_read() {
        for side in [32, 33, 64, 100, 224, 257] {
            check_image_size("vgg16", side).unwrap();
        }
        assert!(check_image_size("vgg16-small", 31).unwrap_err().to_string().contains("at least 32"));
        check_image_size("image-mlp", 96).unwrap();
        assert!(check_image_size("fusion-mlp", 100).unwrap_err().to_string().contains("multiple of 8"));
        check_image_size("lstm", 17).unwrap();
        assert!(check_image_size("lstm", 0).is_err());
    }
}
