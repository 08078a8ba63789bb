//! Which files of a repo a request means ([`Pick`]) after the user's include/exclude globs, each of which
//! must match some file of the repo (a pattern that matches nothing is a typo, never an empty model).
use super::error::Error;
use super::hub_select;
use crate::inputs::{ModelRequest, Pick};

/// Files a tokenizer's `from_pretrained` reads (CLIP, T5, Gemma, Qwen, byT5 tokenizers), with the model
/// `config.json` that `AutoTokenizer` reads to find the tokenizer class. Never weights.
pub const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spiece.model",
    "tokenizer.model",
    "sentencepiece.bpe.model",
    "config.json",
];

/// What sd-scripts' finetune/tag_images_by_wd14_tagger.py downloads: the ONNX model or the Keras one
/// (`FILES`, `SUB_DIR_FILES`), and the tag list.
pub const TAGGER_FILES: &[&str] = &[
    "model.onnx",
    "selected_tags.csv",
    "keras_metadata.pb",
    "saved_model.pb",
    "variables/variables.data-00000-of-00001",
    "variables/variables.index",
];

/// Pipeline components training never opens (sd-scripts loads pipelines with `safety_checker=None`).
const NOT_FOR_TRAINING: &[&str] = &["safety_checker"];

/// Single-file checkpoint formats, best first.
const ROOT_WEIGHTS: &[&str] = &[".safetensors", ".sft", ".ckpt", ".pt", ".pth", ".bin"];

/// The files of a repo (`paths`: every file at the commit) that `req` asks for; `model_index` reads the
/// pipeline's `model_index.json` when the choice needs it.
pub fn choose(
    req: &ModelRequest,
    paths: &[String],
    model_index: &mut dyn FnMut() -> Result<Vec<u8>, Error>,
) -> Result<Vec<String>, Error> {
    if let Some(file) = &req.file {
        return Ok(vec![file.clone()]);
    }
    let bad_glob = |e: globset::Error| Error::Config(format!("bad glob: {e}"));
    for (flag, globs) in [("include", &req.include), ("exclude", &req.exclude)] {
        for g in globs.iter() {
            let one = hub_select::patterns(std::slice::from_ref(g)).map_err(bad_glob)?;
            if !paths.iter().any(|p| one.is_match(p.as_str())) {
                return Err(Error::Config(format!(
                    "{flag} pattern '{g}' matches no file of {} ({} files at this revision)",
                    req.repo,
                    paths.len()
                )));
            }
        }
    }
    let include = hub_select::patterns(&req.include).map_err(bad_glob)?;
    let exclude = hub_select::patterns(&req.exclude).map_err(bad_glob)?;
    if !req.include.is_empty() {
        return Ok(hub_select::filter(paths, &include, &exclude, true));
    }
    let base = match &req.pick {
        Pick::Default => pipeline_or_default(req, paths, model_index, &[])?,
        Pick::Training => pipeline_or_default(req, paths, model_index, NOT_FOR_TRAINING)?,
        Pick::RootWeights => {
            let root = root_weights(paths);
            if root.is_empty() {
                pipeline_or_default(req, paths, model_index, NOT_FOR_TRAINING)?
            } else {
                root
            }
        }
        Pick::Vae if paths.iter().any(|p| p.starts_with("vae/")) => {
            hub_select::diffusers_files(paths, &["vae".to_string()], req.variant.as_deref())
                .into_iter()
                .filter(|p| p.starts_with("vae/"))
                .collect()
        }
        Pick::Vae => hub_select::default_files(paths),
        Pick::Tokenizer { folder } => {
            let prefix = folder.as_ref().map(|f| format!("{f}/")).unwrap_or_default();
            paths
                .iter()
                .filter(|p| {
                    p.strip_prefix(&prefix)
                        .is_some_and(|name| TOKENIZER_FILES.contains(&name))
                })
                .cloned()
                .collect()
        }
        Pick::Folder(folder) => {
            let prefix = format!("{folder}/");
            let inside: Vec<String> = paths
                .iter()
                .filter(|p| p.starts_with(&prefix))
                .cloned()
                .collect();
            hub_select::default_files(&inside)
        }
        Pick::Tagger => paths
            .iter()
            .filter(|p| TAGGER_FILES.contains(&p.as_str()))
            .cloned()
            .collect(),
    };
    if base.is_empty() {
        return Err(Error::Config(format!(
            "{} has none of the files {} (it has {} files; name the ones to take with include patterns)",
            req.repo,
            describe(&req.pick),
            paths.len()
        )));
    }
    Ok(hub_select::filter(&base, &include, &exclude, false))
}

fn describe(pick: &Pick) -> String {
    match pick {
        Pick::Tokenizer { folder: Some(f) } => format!("a tokenizer reads (in {f}/)"),
        Pick::Tokenizer { folder: None } => "a tokenizer reads".into(),
        Pick::Folder(f) => format!("the trainer reads (in {f}/)"),
        Pick::Tagger => "the WD14 tagger reads".into(),
        _ => "the trainer reads".into(),
    }
}

/// A diffusers pipeline's components (less `skip`), else everything but duplicate weights.
fn pipeline_or_default(
    req: &ModelRequest,
    paths: &[String],
    model_index: &mut dyn FnMut() -> Result<Vec<u8>, Error>,
    skip: &[&str],
) -> Result<Vec<String>, Error> {
    if !paths.iter().any(|p| p == "model_index.json") {
        return Ok(hub_select::default_files(paths));
    }
    let index = model_index()?;
    Ok(match hub_select::pipeline_components(&index) {
        Some(components) => {
            let components: Vec<String> = components
                .into_iter()
                .filter(|c| !skip.contains(&c.as_str()))
                .collect();
            hub_select::diffusers_files(paths, &components, req.variant.as_deref())
        }
        None => hub_select::default_files(paths),
    })
}

/// The single-file checkpoints at the repo's root, in the best format present.
fn root_weights(paths: &[String]) -> Vec<String> {
    let root: Vec<&String> = paths.iter().filter(|p| !p.contains('/')).collect();
    for ext in ROOT_WEIGHTS {
        let found: Vec<String> = root
            .iter()
            .filter(|p| p.ends_with(ext))
            .map(|p| p.to_string())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pick: Pick) -> ModelRequest {
        ModelRequest {
            repo: "org/name".parse().unwrap(),
            kind: Default::default(),
            revision: None,
            file: None,
            include: vec![],
            exclude: vec![],
            variant: None,
            reason: None,
            origin: "test".into(),
            pick,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn no_index() -> Result<Vec<u8>, Error> {
        panic!("model_index.json not needed")
    }

    #[test]
    fn tokenizer_vae_and_root_picks() {
        let t5 = strings(&[
            "config.json",
            "pytorch_model.bin",
            "special_tokens_map.json",
            "spiece.model",
            "tokenizer_config.json",
        ]);
        let got = choose(&req(Pick::Tokenizer { folder: None }), &t5, &mut no_index).unwrap();
        assert_eq!(
            got,
            strings(&[
                "config.json",
                "special_tokens_map.json",
                "spiece.model",
                "tokenizer_config.json"
            ])
        );
        let flux = strings(&[
            "ae.safetensors",
            "flux1-dev.safetensors",
            "model_index.json",
            "transformer/diffusion_pytorch_model.safetensors",
            "vae/config.json",
            "vae/diffusion_pytorch_model.safetensors",
        ]);
        assert_eq!(
            choose(&req(Pick::RootWeights), &flux, &mut no_index).unwrap(),
            strings(&["ae.safetensors", "flux1-dev.safetensors"])
        );
        assert_eq!(
            choose(&req(Pick::Vae), &flux, &mut no_index).unwrap(),
            strings(&["vae/config.json", "vae/diffusion_pytorch_model.safetensors"])
        );
        let mut r = req(Pick::Default);
        r.include = strings(&["*.gguf"]);
        let e = choose(&r, &flux, &mut no_index).unwrap_err().to_string();
        assert!(e.contains("'*.gguf'") && e.contains("org/name"), "{e}");
        let mut r = req(Pick::Tokenizer { folder: None });
        r.exclude = strings(&["nothing/*"]);
        let e = choose(&r, &t5, &mut no_index).unwrap_err().to_string();
        assert!(e.contains("exclude pattern 'nothing/*'"), "{e}");
    }
}
