//! Average pooling of NHWC images to a small fixed grid, from reshape and mean alone (no conv kernel
//! is needed): `[B, S, S, C]` → `[B, G, S/G, G, S/G, C]` → mean over the two cell axes.
use anyhow::{ensure, Result};

use crate::Tensor;

/// `[B, S, S, C]` → `[B, G·G·C]`: the mean of each of the G×G cells, flattened row-major.
pub fn average_pool_nhwc(images: &Tensor, grid: usize) -> Result<Tensor> {
    let shape = images.shape().to_vec();
    ensure!(shape.len() == 4 && shape[1] == shape[2], "average_pool_nhwc expects [B, S, S, C] images, got {shape:?}");
    let (batch, side, channels) = (shape[0], shape[1], shape[3]);
    ensure!(grid > 0 && side % grid == 0, "image side {side} is not a multiple of the pooling grid {grid}");
    let cell = side / grid;
    let cells = images.reshape(&[batch, grid, cell, grid, cell, channels])?;
    let pooled = cells.mean(4, false)?.mean(2, false)?;
    Ok(pooled.reshape(&[batch, grid * grid * channels])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;

    #[test]
    fn pools_each_cell_to_its_mean() {
        // One 4×4 single-channel image with value = row·4 + column, pooled to 2×2.
        let values: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let image = Tensor::from_vec(values, &[1, 4, 4, 1], Device::Cpu).unwrap();
        let pooled = average_pool_nhwc(&image, 2).unwrap();
        assert_eq!(pooled.shape(), &[1, 4]);
        assert_eq!(pooled.to_vec_f32().unwrap(), vec![2.5, 4.5, 10.5, 12.5]);
        assert!(average_pool_nhwc(&image, 3).unwrap_err().to_string().contains("not a multiple"));
    }
}
