//! The sizes of a CLIP model, as HuggingFace's `CLIPConfig` (config.json) spells them: read with
//! HF's defaults for absent fields, written back in the same layout.
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::nn::Activation;

/// Where the text encoder reads its sentence vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextPooling {
    /// The first position holding this end-of-text id (transformers ≥ 4.31 with a real eos_token_id).
    FirstEos(i32),
    /// The position of the largest id (configs whose eos_token_id is the old placeholder 2; OpenAI's
    /// end-of-text token is the highest id of its vocabulary).
    ArgmaxId,
    /// The last position that is not padding (memefuse's own vocabularies, which have no end token).
    LastRealToken,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipTextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f32,
    pub pooling: TextPooling,
    /// Kept only to write config.json back as it was.
    pub bos_token_id: Option<i64>,
    pub pad_token_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipVisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: Activation,
    pub layer_norm_eps: f32,
}

impl ClipVisionConfig {
    /// Patches per side (HF floors: a remainder of the image is never seen).
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
    /// Class token plus one token per patch.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    pub text: ClipTextConfig,
    pub vision: ClipVisionConfig,
    pub projection_dim: usize,
}

/// A config.json field that is absent or has the wrong type, by its path (`text_config.hidden_size`).
#[derive(Debug, thiserror::Error)]
#[error("config.json: {path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

fn error(path: String, message: impl Into<String>) -> ConfigError {
    ConfigError { path, message: message.into() }
}

/// Reads the fields of one sub-config, falling back to HF's defaults.
struct Fields<'a> {
    prefix: &'static str,
    object: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}.{key}", self.prefix) }
    }

    fn size(&self, key: &str, default: usize) -> Result<usize, ConfigError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => match value.as_u64() {
                Some(n) if n > 0 => Ok(n as usize),
                _ => Err(error(self.path(key), format!("must be a positive integer, got {value}"))),
            },
        }
    }

    fn float(&self, key: &str, default: f32) -> Result<f32, ConfigError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value.as_f64().filter(|v| *v > 0.0).map(|v| v as f32).ok_or_else(|| error(self.path(key), format!("must be a positive number, got {value}"))),
        }
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or_else(|| error(self.path(key), format!("must be an integer, got {value}"))),
        }
    }

    fn activation(&self) -> Result<Activation, ConfigError> {
        match self.object.get("hidden_act").map(|v| v.as_str()) {
            None => Ok(Activation::QuickGelu),
            Some(Some("quick_gelu")) => Ok(Activation::QuickGelu),
            Some(Some("gelu")) => Ok(Activation::Gelu),
            Some(other) => Err(error(self.path("hidden_act"), format!("{other:?} is not supported (quick_gelu or gelu)"))),
        }
    }
}

fn sub_config<'a>(root: &'a Map<String, Value>, key: &'static str) -> Result<Fields<'a>, ConfigError> {
    match root.get(key) {
        Some(Value::Object(object)) => Ok(Fields { prefix: key, object }),
        None => Err(error(key.to_string(), "missing (a CLIPModel config.json has text_config and vision_config)")),
        Some(other) => Err(error(key.to_string(), format!("must be an object, got {other}"))),
    }
}

fn check_heads(prefix: &str, hidden: usize, heads: usize) -> Result<(), ConfigError> {
    if !hidden.is_multiple_of(heads) {
        return Err(error(format!("{prefix}.num_attention_heads"), format!("{heads} heads do not divide hidden_size {hidden}")));
    }
    Ok(())
}

impl ClipConfig {
    /// Parses a HuggingFace CLIPModel config.json (`model_type` "clip").
    pub fn from_hf_json(text: &str) -> Result<Self, ConfigError> {
        let root: Value = serde_json::from_str(text).map_err(|e| error("(file)".into(), format!("not JSON: {e}")))?;
        let Value::Object(root) = root else { return Err(error("(file)".into(), "must be a JSON object")) };
        if let Some(model_type) = root.get("model_type").and_then(|v| v.as_str()) {
            if model_type != "clip" {
                return Err(error("model_type".into(), format!("is {model_type:?}; only \"clip\" (CLIPModel) folders are supported")));
            }
        }
        let top = Fields { prefix: "", object: &root };
        let (t, v) = (sub_config(&root, "text_config")?, sub_config(&root, "vision_config")?);
        let pooling = match t.object.get("eos_token_id") {
            None => TextPooling::FirstEos(49407),
            Some(Value::Number(n)) if n.as_i64() == Some(2) => TextPooling::ArgmaxId,
            Some(Value::Number(n)) if n.as_i64().is_some_and(|id| (0..=i32::MAX as i64).contains(&id)) => TextPooling::FirstEos(n.as_i64().unwrap() as i32),
            Some(other) => return Err(error(t.path("eos_token_id"), format!("must be one token id, got {other}"))),
        };
        let text = ClipTextConfig {
            vocab_size: t.size("vocab_size", 49408)?,
            hidden_size: t.size("hidden_size", 512)?,
            intermediate_size: t.size("intermediate_size", 2048)?,
            num_hidden_layers: t.size("num_hidden_layers", 12)?,
            num_attention_heads: t.size("num_attention_heads", 8)?,
            max_position_embeddings: t.size("max_position_embeddings", 77)?,
            hidden_act: t.activation()?,
            layer_norm_eps: t.float("layer_norm_eps", 1e-5)?,
            pooling,
            bos_token_id: t.integer("bos_token_id")?,
            pad_token_id: t.integer("pad_token_id")?,
        };
        let vision = ClipVisionConfig {
            hidden_size: v.size("hidden_size", 768)?,
            intermediate_size: v.size("intermediate_size", 3072)?,
            num_hidden_layers: v.size("num_hidden_layers", 12)?,
            num_attention_heads: v.size("num_attention_heads", 12)?,
            image_size: v.size("image_size", 224)?,
            patch_size: v.size("patch_size", 32)?,
            hidden_act: v.activation()?,
            layer_norm_eps: v.float("layer_norm_eps", 1e-5)?,
        };
        if v.size("num_channels", 3)? != 3 {
            return Err(error(v.path("num_channels"), "only 3-channel (RGB) images are supported"));
        }
        if vision.patch_size > vision.image_size {
            return Err(error(v.path("patch_size"), format!("{} is larger than image_size {}", vision.patch_size, vision.image_size)));
        }
        check_heads("text_config", text.hidden_size, text.num_attention_heads)?;
        check_heads("vision_config", vision.hidden_size, vision.num_attention_heads)?;
        Ok(Self { text, vision, projection_dim: top.size("projection_dim", 512)? })
    }

    /// config.json in HuggingFace's layout. A model pooling at the last real token (memefuse's
    /// own vocabularies) has no HF equivalent and is refused.
    pub fn to_hf_json(&self, logit_scale: f32) -> Result<String, ConfigError> {
        let eos_token_id = match self.text.pooling {
            TextPooling::FirstEos(id) => id as i64,
            TextPooling::ArgmaxId => 2,
            TextPooling::LastRealToken => {
                return Err(error("text_config.eos_token_id".into(), "this model pools at the last real token of a memefuse vocabulary, which HuggingFace's CLIPTextModel cannot express"))
            }
        };
        let act = |a: Activation| match a {
            Activation::QuickGelu => "quick_gelu",
            Activation::Gelu => "gelu",
        };
        let (t, v) = (&self.text, &self.vision);
        let mut text_config = json!({
            "model_type": "clip_text_model",
            "vocab_size": t.vocab_size, "hidden_size": t.hidden_size, "intermediate_size": t.intermediate_size,
            "num_hidden_layers": t.num_hidden_layers, "num_attention_heads": t.num_attention_heads,
            "max_position_embeddings": t.max_position_embeddings, "hidden_act": act(t.hidden_act),
            "layer_norm_eps": t.layer_norm_eps, "eos_token_id": eos_token_id, "projection_dim": self.projection_dim,
        });
        for (key, value) in [("bos_token_id", t.bos_token_id), ("pad_token_id", t.pad_token_id)] {
            if let Some(value) = value {
                text_config[key] = json!(value);
            }
        }
        let config = json!({
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": self.projection_dim,
            "logit_scale_init_value": logit_scale,
            "text_config": text_config,
            "vision_config": {
                "model_type": "clip_vision_model",
                "hidden_size": v.hidden_size, "intermediate_size": v.intermediate_size,
                "num_hidden_layers": v.num_hidden_layers, "num_attention_heads": v.num_attention_heads,
                "num_channels": 3, "image_size": v.image_size, "patch_size": v.patch_size,
                "hidden_act": act(v.hidden_act), "layer_norm_eps": v.layer_norm_eps, "projection_dim": self.projection_dim,
            },
        });
        Ok(serde_json::to_string_pretty(&config).expect("a JSON value always serializes") + "\n")
    }
}
