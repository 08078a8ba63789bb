//! Which model family a config trains, decided from the flags and keys the trainer itself uses.
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Family {
    Sd1,
    Sd2,
    Sdxl,
    Sd3,
    Flux,
    Chroma,
    Lumina,
    HunyuanImage,
    Anima,
    /// An ai-toolkit `arch` ferry has no run-time table for (qwen_image, wan21, hidream, …).
    Other(String),
}

impl Family {
    pub fn name(&self) -> String {
        match self {
            Family::Sd1 => "SD1".into(),
            Family::Sd2 => "SD2".into(),
            Family::Sdxl => "SDXL".into(),
            Family::Sd3 => "SD3".into(),
            Family::Flux => "Flux".into(),
            Family::Chroma => "Chroma".into(),
            Family::Lumina => "Lumina".into(),
            Family::HunyuanImage => "HunyuanImage".into(),
            Family::Anima => "Anima".into(),
            Family::Other(arch) => arch.clone(),
        }
    }

    /// Families whose checkpoint sd-scripts loads from one file (not a diffusers folder).
    pub fn single_file_checkpoint(&self) -> bool {
        !matches!(self, Family::Sd1 | Family::Sd2 | Family::Sdxl)
    }
}

/// Evidence collected while walking a config; [`Evidence::decide`] turns it into a family.
#[derive(Default, Debug)]
pub struct Evidence {
    /// From an explicit flag or type (`sdxl = true`, `model_train_type = "flux-lora"`, `arch: chroma`).
    explicit: Option<Family>,
    /// From keys only one family's script reads (`clip_g` → SD3, `t5xxl` + `ae` → Flux).
    keys: Vec<Family>,
    /// Names of the base model (`xl` in one is a last resort for SDXL).
    pub base_names: Vec<String>,
    /// The config names a model being trained (or says which type it trains).
    pub training: bool,
}

impl Evidence {
    fn set(&mut self, f: Family) {
        // The first explicit statement wins, except that a more specific one (chroma over flux) refines it.
        match (&self.explicit, &f) {
            (None, _) | (Some(Family::Flux), Family::Chroma) | (Some(Family::Sd1), _) => {
                self.explicit = Some(f)
            }
            _ => {}
        }
    }

    /// Look at one key and its value.
    pub fn note(&mut self, key: &str, value: &Value) {
        let truthy = value.as_bool() == Some(true);
        let non_empty = value.as_str().is_some_and(|s| !s.trim().is_empty())
            || value.as_array().is_some_and(|a| !a.is_empty());
        match key {
            "v2" | "v2_checkbox" | "is_v2" if truthy => self.set(Family::Sd2),
            "sdxl" | "sdxl_checkbox" | "is_xl" | "is_ssd" | "is_vega" if truthy => {
                self.set(Family::Sdxl)
            }
            "sd3_checkbox" | "is_v3" if truthy => self.set(Family::Sd3),
            "flux1_checkbox" | "is_flux" if truthy => self.set(Family::Flux),
            "lumina_checkbox" | "is_lumina2" if truthy => self.set(Family::Lumina),
            "anima_checkbox" if truthy => self.set(Family::Anima),
            "hunyuan_image_checkbox" if truthy => self.set(Family::HunyuanImage),
            "model_type" | "model_train_type" | "train_type" | "model_arch" | "arch" => {
                let v = value
                    .as_str()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                if let Some(f) = from_type(&v) {
                    self.set(f);
                }
                if !v.is_empty() {
                    self.training = true;
                }
            }
            "clip_g" | "sd3_clip_l" | "sd3_t5xxl" if non_empty => self.keys.push(Family::Sd3),
            // Arguments only library/sd3_train_utils.py defines (whatever their value).
            "save_clip"
            | "save_t5xxl"
            | "apply_lg_attn_mask"
            | "clip_g_dropout_rate"
            | "t5_dropout_rate"
            | "pos_emb_random_crop_rate"
            | "enable_scaled_pos_embed"
            | "training_shift" => self.keys.push(Family::Sd3),

            "t5xxl" | "ae" if non_empty => self.keys.push(Family::Flux),
            "gemma2" | "lumina_gemma2" | "lumina_ae" if non_empty => self.keys.push(Family::Lumina),
            "qwen3" | "anima_qwen3" | "llm_adapter_path" | "anima_vae" if non_empty => {
                self.keys.push(Family::Anima)
            }
            "byt5" | "hunyuan_byt5" | "hunyuan_text_encoder" if non_empty => {
                self.keys.push(Family::HunyuanImage)
            }
            _ => {}
        }
    }

    /// The family, or `None` when the config does not train anything ferry can tell.
    pub fn decide(&self) -> Option<Family> {
        if let Some(f) = &self.explicit {
            // `model_type = "flux"` is sd-scripts' default; keys of SD3, Lumina, … say more.
            if *f != Family::Flux || self.keys.is_empty() {
                return Some(f.clone());
            }
        }
        // The most specific key wins: SD3 also reads `t5xxl`, Lumina also reads `ae`.
        for f in [
            Family::Sd3,
            Family::Lumina,
            Family::Anima,
            Family::HunyuanImage,
            Family::Flux,
        ] {
            if self.keys.contains(&f) {
                return Some(f);
            }
        }
        if let Some(f) = &self.explicit {
            return Some(f.clone());
        }
        if !self.training {
            return None;
        }
        let xl = self
            .base_names
            .iter()
            .any(|n| n.to_ascii_lowercase().contains("xl"));
        Some(if xl { Family::Sdxl } else { Family::Sd1 })
    }
}

/// `model_train_type` (lora-scripts: `sdxl-lora`, `flux-lora`, `sd3-lora`, `sd-lora`), `model_type` (sd-scripts
/// flux/chroma, seed-style `sd15`), `arch` (ai-toolkit).
fn from_type(v: &str) -> Option<Family> {
    let f = if v.contains("sdxl") || v.contains("_xl") || v == "xl" {
        Family::Sdxl
    } else if v.contains("sd3") || v.contains("sd35") {
        Family::Sd3
    } else if v.contains("chroma") {
        Family::Chroma
    } else if v.contains("flux") || v.contains("flex") {
        Family::Flux
    } else if v.contains("lumina") {
        Family::Lumina
    } else if v.contains("hunyuan") {
        Family::HunyuanImage
    } else if v.contains("anima") {
        Family::Anima
    } else if v.contains("sd2") || v == "v2" {
        Family::Sd2
    } else if v.starts_with("sd") {
        Family::Sd1
    } else if v.is_empty() {
        return None;
    } else {
        Family::Other(v.to_string())
    };
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decide(pairs: &[(&str, Value)]) -> Option<Family> {
        let mut e = Evidence::default();
        for (k, v) in pairs {
            e.note(k, v);
        }
        e.decide()
    }

    #[test]
    fn families_from_keys_and_flags() {
        assert_eq!(
            decide(&[("t5xxl", json!("t.safetensors")), ("ae", json!("ae.sft"))]),
            Some(Family::Flux)
        );
        assert_eq!(
            decide(&[("clip_g", json!("g.safetensors")), ("t5xxl", json!("t"))]),
            Some(Family::Sd3)
        );
        assert_eq!(
            decide(&[("model_type", json!("chroma")), ("t5xxl", json!("t"))]),
            Some(Family::Chroma)
        );
        assert_eq!(
            decide(&[("model_type", json!("flux")), ("gemma2", json!("g"))]),
            Some(Family::Lumina)
        );
        assert_eq!(
            decide(&[("model_train_type", json!("sdxl-lora"))]),
            Some(Family::Sdxl)
        );
        assert_eq!(decide(&[("sdxl", json!(true))]), Some(Family::Sdxl));
        assert_eq!(
            decide(&[("arch", json!("qwen_image"))]),
            Some(Family::Other("qwen_image".into()))
        );
        assert_eq!(
            decide(&[("t5xxl", json!(""))]),
            None,
            "empty keys say nothing"
        );
        assert_eq!(decide(&[("v2", json!(true))]), Some(Family::Sd2));
        assert_eq!(
            decide(&[
                ("t5xxl", json!("t")),
                ("clip_l", json!("l")),
                ("t5_dropout_rate", json!(0.1))
            ]),
            Some(Family::Sd3),
            "an SD3 config whose checkpoint holds CLIP-G"
        );
    }
}
