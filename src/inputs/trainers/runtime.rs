//! Repos a trainer downloads at run time for a family, whatever the config says: tokenizers (only their
//! tokenizer files), and for ai-toolkit's Chroma the extras repo it takes the T5 encoder and VAE from.
use super::family::Family;
use super::Trainer;

/// One run-time repo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeRepo {
    pub repo: &'static str,
    /// Folder of the repo the trainer loads from (`tokenizer` for SD2), or none for the root.
    pub folder: Option<&'static str>,
    /// Tokenizer files only (true), or the whole folder.
    pub tokenizer_only: bool,
    /// What it is, for the reason shown by `inspect` ("CLIP-L tokenizer").
    pub what: &'static str,
    /// The trainer's source file that loads it.
    pub source: &'static str,
}

const fn tok(repo: &'static str, what: &'static str, source: &'static str) -> RuntimeRepo {
    RuntimeRepo {
        repo,
        folder: None,
        tokenizer_only: true,
        what,
        source,
    }
}

pub const CLIP_L: &str = "openai/clip-vit-large-patch14";
pub const CLIP_G: &str = "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k";
pub const T5_XXL: &str = "google/t5-v1_1-xxl";
pub const SD2: &str = "stabilityai/stable-diffusion-2";
pub const GEMMA2: &str = "google/gemma-2-2b";
pub const QWEN25_VL: &str = "Qwen/Qwen2.5-VL-7B-Instruct";
pub const BYT5: &str = "google/byt5-small";
pub const FLEX1: &str = "ostris/Flex.1-alpha";
/// finetune/tag_images_by_wd14_tagger.py `DEFAULT_WD14_TAGGER_REPO`.
pub const WD14_DEFAULT: &str = "SmilingWolf/wd-v1-4-convnext-tagger-v2";

/// What `trainer` downloads at run time when it trains `family`.
pub fn runtime_repos(trainer: Trainer, family: &Family) -> Vec<RuntimeRepo> {
    if !trainer.runs_sd_scripts() {
        // ai-toolkit loads tokenizers from the diffusers repo it trains, except Chroma's extras.
        return match family {
            Family::Chroma => ["tokenizer_2", "text_encoder_2", "vae"]
                .into_iter()
                .map(|folder| RuntimeRepo {
                    repo: FLEX1,
                    folder: Some(folder),
                    tokenizer_only: false,
                    what: "T5 encoder, tokenizer and VAE",
                    source: "extensions_built_in/diffusion_models/chroma/chroma_model.py",
                })
                .collect(),
            _ => Vec::new(),
        };
    }
    match family {
        Family::Sd1 => vec![tok(CLIP_L, "CLIP-L tokenizer", "library/strategy_sd.py")],
        Family::Sd2 => vec![RuntimeRepo {
            repo: SD2,
            folder: Some("tokenizer"),
            tokenizer_only: true,
            what: "SD2 tokenizer",
            source: "library/strategy_sd.py",
        }],
        Family::Sdxl => vec![
            tok(CLIP_L, "CLIP-L tokenizer", "library/strategy_sdxl.py"),
            tok(
                CLIP_G,
                "CLIP-G (bigG) tokenizer",
                "library/strategy_sdxl.py",
            ),
        ],
        Family::Sd3 => vec![
            tok(CLIP_L, "CLIP-L tokenizer", "library/strategy_sd3.py"),
            tok(CLIP_G, "CLIP-G (bigG) tokenizer", "library/strategy_sd3.py"),
            tok(T5_XXL, "T5-XXL tokenizer", "library/strategy_sd3.py"),
        ],
        Family::Flux | Family::Chroma => vec![
            tok(CLIP_L, "CLIP-L tokenizer", "library/strategy_flux.py"),
            tok(T5_XXL, "T5-XXL tokenizer", "library/strategy_flux.py"),
        ],
        Family::Lumina => vec![tok(
            GEMMA2,
            "Gemma 2 tokenizer",
            "library/strategy_lumina.py",
        )],
        Family::HunyuanImage => vec![
            tok(
                QWEN25_VL,
                "Qwen2.5-VL tokenizer",
                "library/hunyuan_image_text_encoder.py",
            ),
            tok(
                BYT5,
                "byT5 tokenizer",
                "library/hunyuan_image_text_encoder.py",
            ),
        ],
        // Anima reads its tokenizers from local folders only (local_files_only=True).
        Family::Anima | Family::Other(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_needs_clip_l_and_t5() {
        let r = runtime_repos(Trainer::Kohya, &Family::Flux);
        let repos: Vec<&str> = r.iter().map(|r| r.repo).collect();
        assert_eq!(repos, [CLIP_L, T5_XXL]);
        assert!(r.iter().all(|r| r.tokenizer_only));
        assert!(runtime_repos(Trainer::AiToolkit, &Family::Flux).is_empty());
        assert_eq!(runtime_repos(Trainer::AiToolkit, &Family::Chroma).len(), 3);
    }
}
