//! Config keys that name a model, with what the trainer does with them, and the did-you-mean check for
//! keys that look like model references but that no trainer reads.

/// What a model-bearing key holds; decides which files of a repo the trainer opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The model being trained (a diffusers pipeline repo or a single checkpoint file).
    Checkpoint,
    /// An autoencoder: a VAE file or repo, or a pipeline whose `vae/` folder is used.
    Vae,
    /// A text encoder (CLIP-L, CLIP-G, T5-XXL, Gemma 2, Qwen, byT5, …).
    TextEncoder,
    /// LoRA or adapter weights loaded on top (`network_weights`, `assistant_lora_path`, …).
    Weights,
    /// A captioning/tagging model (WD14 tagger, BLIP, …).
    Tagger,
    /// Any other model the trainer loads (controlnet, extras repo, …).
    Other,
}

/// Keys read by kohya sd-scripts (library/train_util.py, train_network.py, library/*_train_utils.py,
/// hunyuan_image_train_network.py, finetune/tag_images_by_wd14_tagger.py), the kohya_ss GUI JSON
/// (kohya_gui/lora_gui.py) and ai-toolkit (toolkit/config_modules.py `ModelConfig`).
pub const KNOWN: &[(&str, Role)] = &[
    // sd-scripts
    ("pretrained_model_name_or_path", Role::Checkpoint),
    ("vae", Role::Vae),
    ("clip_l", Role::TextEncoder),
    ("clip_g", Role::TextEncoder),
    ("t5xxl", Role::TextEncoder),
    ("ae", Role::Vae),
    ("gemma2", Role::TextEncoder),
    ("qwen3", Role::TextEncoder),
    ("byt5", Role::TextEncoder),
    ("text_encoder", Role::TextEncoder),
    ("t5_tokenizer_path", Role::TextEncoder),
    ("llm_adapter_path", Role::Weights),
    ("network_weights", Role::Weights),
    ("base_weights", Role::Weights),
    ("controlnet_model_name_or_path", Role::Other),
    ("wd14_tagger_repo", Role::Tagger),
    ("repo_id", Role::Tagger),
    // kohya_ss GUI
    ("lora_network_weights", Role::Weights),
    ("sd3_clip_l", Role::TextEncoder),
    ("sd3_t5xxl", Role::TextEncoder),
    ("lumina_ae", Role::Vae),
    ("lumina_gemma2", Role::TextEncoder),
    ("anima_qwen3", Role::TextEncoder),
    ("anima_vae", Role::Vae),
    ("anima_llm_adapter_path", Role::Weights),
    ("anima_t5_tokenizer_path", Role::TextEncoder),
    ("hunyuan_text_encoder", Role::TextEncoder),
    ("hunyuan_byt5", Role::TextEncoder),
    ("hunyuan_vae", Role::Vae),
    // ai-toolkit
    ("name_or_path", Role::Checkpoint),
    ("extras_name_or_path", Role::Other),
    ("refiner_name_or_path", Role::Checkpoint),
    ("assistant_lora_path", Role::Weights),
    ("inference_lora_path", Role::Weights),
    ("lora_path", Role::Weights),
    ("vae_path", Role::Vae),
    ("text_encoder_path", Role::TextEncoder),
    ("llama_model_path", Role::TextEncoder),
    ("unet_path", Role::Checkpoint),
    // other trainers and seed-style configs
    ("base_model", Role::Checkpoint),
    ("model_name_or_path", Role::Checkpoint),
    ("tokenizer", Role::TextEncoder),
    ("tokenizer_name", Role::TextEncoder),
    ("text_encoder_2", Role::TextEncoder),
    ("clip_model", Role::TextEncoder),
    ("tagger_repo", Role::Tagger),
    ("model_id", Role::Other),
];

/// Generic endings of model keys in other trainers' configs (`*_model`, `*_repo_id`, …).
const SUFFIXES: &[&str] = &[
    "_model",
    "_repo",
    "_repo_id",
    "_model_id",
    "_model_name_or_path",
    "_vae",
];

/// Keys that look like model keys but name something else: upload targets, menus, output names.
const NOT_MODELS: &[&str] = &[
    "huggingface_repo_id",
    "huggingface_repo_type",
    "huggingface_path_in_repo",
    "huggingface_repo_visibility",
    "model_list",
    "model_type",
    "model_train_type",
    "model_prediction_type",
    "save_model_as",
    "output_name",
    "output_dir",
    "logging_dir",
    "train_data_dir",
    "reg_data_dir",
    "tokenizer_cache_dir",
    "sample_prompts",
    "dataset_config",
    "resume",
    "save_model",
    "push_to_hub",
    "hf_repo_id",
];

/// The role of a model-bearing key, `None` for any other key.
pub fn role(key: &str) -> Option<Role> {
    if NOT_MODELS.contains(&key) {
        return None;
    }
    if let Some((_, r)) = KNOWN.iter().find(|(k, _)| *k == key) {
        return Some(*r);
    }
    if SUFFIXES.iter().any(|s| key.ends_with(s)) {
        return Some(if key.contains("vae") {
            Role::Vae
        } else if key.contains("tagger") || key.contains("caption") {
            Role::Tagger
        } else {
            Role::Other
        });
    }
    None
}

/// Words that make an unknown key look like it was meant to name a model.
const MODEL_WORDS: &[&str] = &[
    "model",
    "vae",
    "clip",
    "t5",
    "weights",
    "encoder",
    "checkpoint",
    "ckpt",
    "lora",
    "tokenizer",
];

/// For a key no trainer reads whose value looks like a model reference: the known key it was probably
/// meant to be (`pretrained_model_name_or_pth` → `pretrained_model_name_or_path`), or `Some(None)` when it
/// looks like a model key but nothing is close. `None` when the key does not look like a model key.
pub fn unknown_model_key(key: &str, value_looks_like_model: bool) -> Option<Option<&'static str>> {
    if role(key).is_some() || NOT_MODELS.contains(&key) {
        return None;
    }
    let wordy = MODEL_WORDS.iter().any(|w| key.contains(w));
    let closest = KNOWN
        .iter()
        .map(|(k, _)| (*k, strsim::damerau_levenshtein(key, k)))
        .filter(|(k, d)| *d <= (k.len() / 4).max(1))
        .min_by_key(|(_, d)| *d)
        .map(|(k, _)| k);
    // A flag, a number or a data folder never names a model: only values that look like one are reported.
    (value_looks_like_model && (closest.is_some() || wordy)).then_some(closest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_typos() {
        assert_eq!(role("clip_l"), Some(Role::TextEncoder));
        assert_eq!(role("ae"), Some(Role::Vae));
        assert_eq!(role("huggingface_repo_id"), None);
        assert_eq!(role("my_tagger_repo"), Some(Role::Tagger));
        assert_eq!(
            unknown_model_key("pretrained_model_name_or_pth", true),
            Some(Some("pretrained_model_name_or_path"))
        );
        assert_eq!(unknown_model_key("t5xl", true), Some(Some("t5xxl")));
        assert_eq!(unknown_model_key("base_checkpoint", true), Some(None));
        assert_eq!(unknown_model_key("base_checkpoint", false), None);
        assert_eq!(unknown_model_key("learning_rate", true), None);
        assert_eq!(unknown_model_key("clip_l", true), None);
    }
}
