//! Which files of a hub repo a bundle carries: the user's include/exclude globs, a single file, what
//! `DiffusionPipeline.from_pretrained` loads for a diffusers pipeline, or everything but duplicate weights.
use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobSet, GlobSetBuilder};

/// Weight file formats, best first.
const WEIGHT_FORMATS: [&str; 7] = ["safetensors", "bin", "ckpt", "pt", "h5", "msgpack", "onnx"];
/// Folders `from_pretrained` never reads for a PyTorch pipeline.
const SKIPPED_FOLDERS: [&str; 3] = ["onnx", "flax", "openvino"];

/// A pattern set as huggingface_hub's allow/ignore patterns read them: fnmatch-style, `*` also matches
/// `/`, and a pattern ending in `/` means everything under that folder.
pub fn patterns(globs: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        let g = if g.ends_with('/') {
            format!("{g}*")
        } else {
            g.clone()
        };
        builder.add(Glob::new(&g)?);
    }
    builder.build()
}

/// Paths (from `all`) matching any of `include` (all when empty) and none of `exclude`.
pub fn filter(
    all: &[String],
    include: &GlobSet,
    exclude: &GlobSet,
    any_include: bool,
) -> Vec<String> {
    all.iter()
        .filter(|p| !any_include || include.is_match(p.as_str()))
        .filter(|p| !exclude.is_match(p.as_str()))
        .cloned()
        .collect()
}

/// Component folders of a diffusers `model_index.json`: keys whose value is `[library, class]`.
pub fn pipeline_components(model_index: &[u8]) -> Option<Vec<String>> {
    let json: serde_json::Value = serde_json::from_slice(model_index).ok()?;
    let obj = json.as_object()?;
    Some(
        obj.iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .filter(|(_, v)| {
                v.as_array()
                    .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x.is_string()))
            })
            .map(|(k, _)| k.clone())
            .collect(),
    )
}

/// The weight format of a file name (`safetensors`, `bin`, …), also for shard indexes
/// (`model.safetensors.index.json` → `safetensors`); `None` for configs, tokenizers and the like.
fn weight_format(name: &str) -> Option<&'static str> {
    let stem = name.strip_suffix(".index.json").or_else(|| {
        // Variant indexes: `x.safetensors.index.fp16.json`.
        let (head, _) = name.rsplit_once(".index.")?;
        name.ends_with(".json").then_some(head)
    });
    let base = stem.unwrap_or(name);
    let ext = base.rsplit_once('.')?.1;
    let ext = if ext == "onnx_data" { "onnx" } else { ext };
    WEIGHT_FORMATS.iter().find(|f| **f == ext).copied()
}

/// The precision infix of a weight file (`unet.fp16.safetensors` → `fp16`,
/// `model.fp16-00001-of-00002.safetensors` → `fp16`); `None` for the default precision.
fn variant_of(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() < 3 {
        return None;
    }
    parts[1..parts.len() - 1]
        .iter()
        .map(|p| strip_shard(p))
        .find(|p| !p.is_empty() && !matches!(*p, "index" | "json") && !WEIGHT_FORMATS.contains(p))
        .map(str::to_string)
}

/// `fp16-00001-of-00002` → `fp16`.
fn strip_shard(part: &str) -> &str {
    match part.split_once('-') {
        Some((head, tail)) if tail.contains("-of-") => head,
        _ => part,
    }
}

fn folder_and_name(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// What `DiffusionPipeline.from_pretrained` needs: `model_index.json`, and in each component folder its
/// configs and tokenizer files plus one format (safetensors preferred) of one precision (`variant`, falling
/// back to the default precision when a component lacks it).
pub fn diffusers_files(
    all: &[String],
    components: &[String],
    variant: Option<&str>,
) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    if all.iter().any(|p| p == "model_index.json") {
        out.insert("model_index.json".into());
    }
    for comp in components {
        let prefix = format!("{comp}/");
        let files: Vec<&String> = all
            .iter()
            .filter(|p| p.starts_with(&prefix))
            .filter(|p| {
                !p.split('/')
                    .any(|seg| SKIPPED_FOLDERS.iter().any(|s| seg.eq_ignore_ascii_case(s)))
            })
            .collect();
        let (weights, others): (Vec<&String>, Vec<&String>) = files
            .into_iter()
            .partition(|p| weight_format(folder_and_name(p).1).is_some());
        out.extend(others.into_iter().cloned());
        out.extend(best_weights(&weights, variant));
    }
    out.into_iter().collect()
}

/// Within each folder: files of `variant` (or the default precision when there are none), in the best format.
fn best_weights(weights: &[&String], variant: Option<&str>) -> Vec<String> {
    let mut by_folder: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    for w in weights {
        by_folder.entry(folder_and_name(w).0).or_default().push(w);
    }
    let mut out = Vec::new();
    for files in by_folder.values() {
        let of_variant = |v: Option<&str>| -> Vec<&String> {
            files
                .iter()
                .filter(|p| variant_of(folder_and_name(p).1).as_deref() == v)
                .copied()
                .collect()
        };
        let mut chosen = of_variant(variant);
        if chosen.is_empty() && variant.is_some() {
            chosen = of_variant(None);
        }
        let best = WEIGHT_FORMATS
            .iter()
            .find(|f| chosen.iter().any(|p| weight_format(p) == Some(**f)));
        if let Some(best) = best {
            out.extend(
                chosen
                    .into_iter()
                    .filter(|p| weight_format(p) == Some(*best))
                    .cloned(),
            );
        }
    }
    out
}

/// A non-pipeline repo: everything, except that where a folder has safetensors weights its PyTorch, TF,
/// Flax and ONNX duplicates are left out (ONNX anywhere in the repo, once it has safetensors).
pub fn default_files(all: &[String]) -> Vec<String> {
    let repo_has_safetensors = all.iter().any(|p| weight_format(p) == Some("safetensors"));
    let folders_with_safetensors: BTreeSet<&str> = all
        .iter()
        .filter(|p| weight_format(p) == Some("safetensors"))
        .map(|p| folder_and_name(p).0)
        .collect();
    all.iter()
        .filter(|p| {
            let (folder, name) = folder_and_name(p);
            match weight_format(name) {
                Some("onnx") => !repo_has_safetensors,
                Some("safetensors") | None => true,
                Some("bin") => {
                    let weights_bin = name.starts_with("pytorch_model")
                        || name.starts_with("diffusion_pytorch_model")
                        || name.starts_with("model");
                    !(weights_bin && folders_with_safetensors.contains(folder))
                }
                Some("h5" | "msgpack") => !folders_with_safetensors.contains(folder),
                Some(_) => true,
            }
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn variants_and_formats() {
        assert_eq!(variant_of("diffusion_pytorch_model.safetensors"), None);
        assert_eq!(
            variant_of("diffusion_pytorch_model.fp16.safetensors").as_deref(),
            Some("fp16")
        );
        assert_eq!(
            variant_of("model.fp16-00001-of-00002.safetensors").as_deref(),
            Some("fp16")
        );
        assert_eq!(variant_of("model-00001-of-00002.safetensors"), None);
        assert_eq!(variant_of("model.safetensors.index.json"), None);
        assert_eq!(
            variant_of("model.safetensors.index.fp16.json").as_deref(),
            Some("fp16")
        );
        assert_eq!(
            weight_format("model.safetensors.index.fp16.json"),
            Some("safetensors")
        );
        assert_eq!(weight_format("pytorch_model.bin.index.json"), Some("bin"));
        assert_eq!(weight_format("config.json"), None);
        assert_eq!(weight_format("model.onnx_data"), Some("onnx"));
    }

    #[test]
    fn fnmatch_like_patterns() {
        let inc = patterns(&strings(&["*.json", "unet/"])).unwrap();
        let exc = patterns(&strings(&["*fp16*"])).unwrap();
        let all = strings(&[
            "a.json",
            "vae/config.json",
            "unet/x.bin",
            "unet/x.fp16.bin",
            "b.txt",
        ]);
        assert_eq!(
            filter(&all, &inc, &exc, true),
            strings(&["a.json", "vae/config.json", "unet/x.bin"])
        );
    }

    #[test]
    fn sharded_weights_and_variant_fallback() {
        let all = strings(&[
            "model_index.json",
            "text_encoder/config.json",
            "text_encoder/model.safetensors.index.json",
            "text_encoder/model-00001-of-00002.safetensors",
            "text_encoder/model-00002-of-00002.safetensors",
            "text_encoder/model.safetensors.index.fp16.json",
            "text_encoder/model.fp16-00001-of-00002.safetensors",
            "text_encoder/model.fp16-00002-of-00002.safetensors",
            "text_encoder/pytorch_model.bin.index.json",
            "text_encoder/pytorch_model-00001-of-00002.bin",
            "vae/config.json",
            "vae/diffusion_pytorch_model.bin",
            "vae/onnx/model.onnx",
            "v1-5-pruned.ckpt",
        ]);
        let comps = strings(&["text_encoder", "vae"]);
        assert_eq!(
            diffusers_files(&all, &comps, Some("fp16")),
            strings(&[
                "model_index.json",
                "text_encoder/config.json",
                "text_encoder/model.fp16-00001-of-00002.safetensors",
                "text_encoder/model.fp16-00002-of-00002.safetensors",
                "text_encoder/model.safetensors.index.fp16.json",
                "vae/config.json",
                // No fp16 and no safetensors here: the default precision, in the best format there is.
                "vae/diffusion_pytorch_model.bin",
            ])
        );
        assert_eq!(
            diffusers_files(&all, &comps, None),
            strings(&[
                "model_index.json",
                "text_encoder/config.json",
                "text_encoder/model-00001-of-00002.safetensors",
                "text_encoder/model-00002-of-00002.safetensors",
                "text_encoder/model.safetensors.index.json",
                "vae/config.json",
                "vae/diffusion_pytorch_model.bin",
            ])
        );
    }

    #[test]
    fn components_skip_null_entries() {
        let idx = br#"{"_class_name":"X","unet":["diffusers","U"],"safety_checker":[null,null],"force_zeros":true}"#;
        assert_eq!(pipeline_components(idx).unwrap(), strings(&["unet"]));
    }

    #[test]
    fn non_pipeline_drops_duplicates() {
        let all = strings(&[
            "config.json",
            "model.safetensors",
            "pytorch_model.bin",
            "tf_model.h5",
            "flax_model.msgpack",
            "onnx/model.onnx",
            "training_args.bin",
        ]);
        assert_eq!(
            default_files(&all),
            strings(&["config.json", "model.safetensors", "training_args.bin"])
        );
    }
}
