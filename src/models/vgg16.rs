//! VGG16, torchvision's configuration D, on NHWC images:
//!
//! ```text
//! features:   [conv3x3-ReLU] ×2 (64)  maxpool   features.0, .2            pool .4
//!             [conv3x3-ReLU] ×2 (128) maxpool   features.5, .7            pool .9
//!             [conv3x3-ReLU] ×3 (256) maxpool   features.10, .12, .14     pool .16
//!             [conv3x3-ReLU] ×3 (512) maxpool   features.17, .19, .21     pool .23
//!             [conv3x3-ReLU] ×3 (512) maxpool   features.24, .26, .28     pool .30
//! avgpool:    adaptive average to 7×7
//! classifier: Linear(512·7·7, 4096) ReLU Dropout(0.5)   classifier.0
//!             Linear(4096, 4096) ReLU Dropout(0.5)      classifier.3
//!             Linear(4096, 2)                           classifier.6
//! ```
//!
//! Parameter names are torchvision's, so a torchvision state_dict loads by name (src/io/weights.rs).
//! The flatten before the classifier uses PyTorch's NCHW order (C, H, W): the NHWC map is permuted
//! first, so imported `classifier.0` weights see their features in the order they were trained on.
//! `vgg16-small` keeps the structure with channel widths ÷16 and a 256-wide classifier, for CPU tests.
use crate::nn::{adaptive_avg_pool2d, dropout, max_pool2d, Conv2d, Linear};
use crate::util::Rng;
use crate::{Device, Error, Result, Tensor};

/// Convolutions per block in configuration D.
const CONVS_PER_BLOCK: [usize; 5] = [2, 2, 3, 3, 3];
/// The adaptive pool's output side.
pub const POOLED_SIDE: usize = 7;

#[derive(Clone, Debug, PartialEq)]
pub struct Vgg16Config {
    /// The registry name: "vgg16" or "vgg16-small".
    pub name: String,
    /// Output channels of the five blocks' convolutions.
    pub block_widths: [usize; 5],
    /// Width of classifier.0 and classifier.3.
    pub hidden: usize,
    pub classes: usize,
    pub dropout: f32,
}

impl Vgg16Config {
    /// torchvision's VGG16 with a 2-class head.
    pub fn full() -> Self {
        Self { name: "vgg16".into(), block_widths: [64, 128, 256, 512, 512], hidden: 4096, classes: 2, dropout: 0.5 }
    }

    /// The same structure, channel widths ÷16, a 256-wide classifier (≈ 0.5 M parameters).
    pub fn small() -> Self {
        Self { name: "vgg16-small".into(), block_widths: [4, 8, 16, 32, 32], hidden: 256, classes: 2, dropout: 0.5 }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "vgg16" => Ok(Self::full()),
            "vgg16-small" => Ok(Self::small()),
            other => Err(Error::shape("vgg16", format!("unknown model '{other}': expected vgg16 or vgg16-small"))),
        }
    }

    /// Every parameter's torchvision name and shape, in `Vgg16::parameters` order.
    pub fn parameter_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes = Vec::new();
        let (mut index, mut channels) = (0, 3);
        for (&width, &convs) in self.block_widths.iter().zip(&CONVS_PER_BLOCK) {
            for _ in 0..convs {
                shapes.push((format!("features.{index}.weight"), vec![width, channels, 3, 3]));
                shapes.push((format!("features.{index}.bias"), vec![width]));
                channels = width;
                index += 2;
            }
            index += 1;
        }
        for (index, inputs, outputs) in [(0, self.flattened_features(), self.hidden), (3, self.hidden, self.hidden), (6, self.hidden, self.classes)] {
            shapes.push((format!("classifier.{index}.weight"), vec![outputs, inputs]));
            shapes.push((format!("classifier.{index}.bias"), vec![outputs]));
        }
        shapes
    }

    /// Inputs of classifier.0: the last block's channels × 7 × 7.
    pub fn flattened_features(&self) -> usize {
        self.block_widths[4] * POOLED_SIDE * POOLED_SIDE
    }
}

pub struct Vgg16 {
    config: Vgg16Config,
    /// The five blocks' convolutions, in order (each followed by ReLU; each block by a max-pool).
    blocks: Vec<Vec<Conv2d>>,
    classifier: [Linear; 3],
    /// Learning-rate scale of everything but `classifier.6` (see `ModelConfig::image_lr_scale`).
    body_lr_scale: f32,
}

impl Vgg16 {
    pub fn new(config: Vgg16Config, rng: &mut Rng, device: Device) -> Result<Self> {
        let mut blocks = Vec::new();
        let (mut index, mut channels) = (0, 3);
        for (&width, &convs) in config.block_widths.iter().zip(&CONVS_PER_BLOCK) {
            let mut block = Vec::new();
            for _ in 0..convs {
                // torchvision's VGG init: kaiming normal over fan-out (ReLU gain), zero bias. (PyTorch's
                // layer default shrinks the signal ~√3 per layer: 13 layers would barely train.)
                let std = (2.0 / (width * 9) as f32).sqrt();
                let weight = Tensor::randn(&[width, channels, 3, 3], std, rng, device)?;
                let bias = Tensor::zeros(&[width], crate::DType::F32, device)?;
                block.push(Conv2d::from_parts(&format!("features.{index}"), weight, bias, 1, 1)?);
                channels = width;
                index += 2; // conv, ReLU
            }
            index += 1; // max-pool
            blocks.push(block);
        }
        let classifier = [
            Linear::new("classifier.0", config.flattened_features(), config.hidden, rng, device)?,
            Linear::new("classifier.3", config.hidden, config.hidden, rng, device)?,
            Linear::new("classifier.6", config.hidden, config.classes, rng, device)?,
        ];
        // torchvision: Linear weights N(0, 0.01²), zero biases.
        let _no_grad = crate::autograd::no_grad();
        for layer in &classifier {
            layer.weight().axpby_(1.0, &Tensor::randn(layer.weight().shape(), 0.01, rng, device)?, 0.0)?;
            if let Some(bias) = layer.bias() {
                bias.fill_(0.0)?;
            }
        }
        Ok(Self { config, blocks, classifier, body_lr_scale: 1.0 })
    }

    /// Trains the body (features, classifier.0 and .3) at `scale` × the run's learning rate and the
    /// 2-class head at the run's rate.
    pub fn with_body_lr_scale(mut self, scale: f32) -> Self {
        self.body_lr_scale = scale;
        self
    }

    /// Whether `name` is a parameter of the 2-class head, `classifier.6`.
    pub fn is_head_parameter(name: &str) -> bool {
        name.starts_with("classifier.6.")
    }

    pub fn config(&self) -> &Vgg16Config {
        &self.config
    }

    /// images: [B, H, W, 3] NHWC (normalised), any float dtype: the network computes in that dtype
    /// from its f32 parameters. Returns logits [B, classes].
    pub fn forward(&self, images: &Tensor, training: bool, rng: &mut Rng) -> Result<Tensor> {
        let features = self.features(images, training, rng)?;
        self.classifier[2].forward(&features)
    }

    /// The embedding before the last layer: classifier.3's output after ReLU and dropout, [B, hidden].
    pub fn features(&self, images: &Tensor, training: bool, rng: &mut Rng) -> Result<Tensor> {
        if images.rank() != 4 || images.shape()[3] != 3 {
            return Err(Error::shape("vgg16", format!("expects NHWC RGB images [B, H, W, 3], got {:?}", images.shape())));
        }
        if images.shape()[1] < 32 || images.shape()[2] < 32 {
            return Err(Error::shape("vgg16", format!("five 2x2 max-pools need images of at least 32x32, got {:?}", images.shape())));
        }
        let mut x = images.clone();
        for block in &self.blocks {
            for conv in block {
                x = conv.forward_relu(&x)?;
            }
            x = max_pool2d(&x)?;
        }
        let pooled = adaptive_avg_pool2d(&x, POOLED_SIDE, POOLED_SIDE)?;
        // NHWC → NCHW before flattening: PyTorch's (C, H, W) feature order.
        let flat = pooled.permute(&[0, 3, 1, 2])?.flatten_from(1)?;
        let hidden = dropout(&self.classifier[0].forward(&flat)?.relu()?, self.config.dropout, training, rng)?;
        dropout(&self.classifier[1].forward(&hidden)?.relu()?, self.config.dropout, training, rng)
    }

    /// Every parameter with its torchvision name, features first, in layer order.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut parameters: Vec<(String, Tensor)> = self.blocks.iter().flatten().flat_map(|conv| conv.parameters()).collect();
        parameters.extend(self.classifier.iter().flat_map(|layer| layer.parameters()));
        parameters
    }
}

/// The registry's interface: images in, logits out; the embedding is `features` in eval mode.
impl super::Model for Vgg16 {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn needs(&self) -> super::Needs {
        super::Needs { image: true, text: false }
    }

    fn forward(&self, input: &super::ModelInput, training: bool, rng: &mut Rng) -> anyhow::Result<Tensor> {
        Ok(Vgg16::forward(self, input.images()?, training, rng)?)
    }

    /// torchvision's files: a 1000-class ImageNet head is replaced by this model's fresh head.
    fn import_weights(&self, path: &std::path::Path) -> anyhow::Result<crate::io::weights::ImportSummary> {
        Ok(crate::io::weights::load_vgg16(path, self)?)
    }

    fn embed(&self, input: &super::ModelInput) -> anyhow::Result<Tensor> {
        Ok(self.features(input.images()?, false, &mut Rng::new(0))?)
    }

    fn parameters(&self) -> Vec<(String, Tensor)> {
        Vgg16::parameters(self)
    }

    fn learning_rate_scale(&self, name: &str) -> f32 {
        if Vgg16::is_head_parameter(name) { 1.0 } else { self.body_lr_scale }
    }
}
