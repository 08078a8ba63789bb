//! What the trainers themselves read: which config keys name models ([`keys`]), which model family a config
//! trains ([`family`]), and which repos the trainer downloads at run time for that family ([`runtime`]).
//! Facts are taken from each trainer's own source; docs/configs.md has the table.
pub mod family;
pub mod keys;
pub mod runtime;

/// The trainer a config is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trainer {
    /// kohya sd-scripts `--config_file` (TOML) or a plain JSON/YAML of its arguments.
    Kohya,
    /// lora-scripts (runs sd-scripts underneath; `model_train_type` picks the script).
    LoraScripts,
    /// bmaltais kohya_ss GUI JSON (runs sd-scripts underneath).
    KohyaGui,
    /// ostris ai-toolkit YAML (`config.process[].model`).
    AiToolkit,
}

impl Trainer {
    pub fn name(self) -> &'static str {
        match self {
            Trainer::Kohya => "kohya sd-scripts",
            Trainer::LoraScripts => "kohya sd-scripts (run by lora-scripts)",
            Trainer::KohyaGui => "kohya sd-scripts (run by the kohya_ss GUI)",
            Trainer::AiToolkit => "ai-toolkit",
        }
    }

    /// Whether sd-scripts does the training (its strategies load the run-time tokenizers).
    pub fn runs_sd_scripts(self) -> bool {
        !matches!(self, Trainer::AiToolkit)
    }

    /// Guess the trainer from the config's top-level shape.
    pub fn detect(tree: &serde_json::Value) -> Trainer {
        let Some(top) = tree.as_object() else {
            return Trainer::Kohya;
        };
        let has = |k: &str| top.contains_key(k);
        if has("job")
            || top
                .get("config")
                .is_some_and(|c| c.get("process").is_some())
        {
            Trainer::AiToolkit
        } else if has("model_train_type") || has("model") && top["model"].is_object() {
            Trainer::LoraScripts
        } else if has("LoRA_type")
            || has("model_list")
            || top.keys().any(|k| k.ends_with("_checkbox"))
        {
            Trainer::KohyaGui
        } else {
            Trainer::Kohya
        }
    }
}
