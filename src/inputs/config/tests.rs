use super::*;
use crate::inputs::trainers::runtime::{CLIP_G, CLIP_L, SD2, T5_XXL};

const SD1_TOKENIZER: &str = CLIP_L;
const SDXL_TOKENIZER2: &str = CLIP_G;

fn config(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    fs::write(&p, text).unwrap();
    (d, p)
}

fn models(name: &str, text: &str) -> ConfigModels {
    let (_d, p) = config(name, text);
    read(&p).unwrap()
}

fn models_skip(name: &str, text: &str) -> ConfigModels {
    let (_d, p) = config(name, text);
    read_with(&p, ReadOptions { skip_missing: true }).unwrap()
}

fn err(name: &str, text: &str) -> String {
    let (_d, p) = config(name, text);
    read(&p).unwrap_err().to_string()
}

fn repos(c: &ConfigModels) -> Vec<String> {
    c.models.iter().map(|m| m.repo.to_string()).collect()
}

const KOHYA: &str = r#"
[model_arguments]
pretrained_model_name_or_path = "runwayml/stable-diffusion-v1-5"
vae = "stabilityai/sd-vae-ft-mse@main"
v2 = false

[dataset_arguments]
train_data_dir = "./train/chara"
network_weights = ""
"#;

#[test]
fn kohya_toml_sd1() {
    let c = models("chara.toml", KOHYA);
    assert_eq!(
        repos(&c),
        [
            "runwayml/stable-diffusion-v1-5",
            "stabilityai/sd-vae-ft-mse",
            SD1_TOKENIZER
        ]
    );
    let base = &c.models[0];
    assert!(
        base.origin
            .contains("chara.toml:3 (model_arguments.pretrained_model_name_or_path)"),
        "{}",
        base.origin
    );
    assert_eq!(base.pick, Pick::Training);
    assert_eq!(c.models[1].revision.as_deref(), Some("main"));
    assert_eq!(c.models[1].pick, Pick::Vae);
    let tok = &c.models[2];
    assert_eq!(tok.pick, Pick::Tokenizer { folder: None });
    let reason = tok.reason.as_deref().unwrap();
    assert!(
        reason.contains("CLIP-L tokenizer of SD1 in kohya sd-scripts"),
        "{reason}"
    );
    assert!(c.local_paths.is_empty(), "{:?}", c.local_paths);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn seed_yaml_style_with_local_paths() {
    let text = "base_model: /models/sd15.safetensors\nmodel_type: sd15\nvae: ./vae.pt\ntrain_data_dir: data\noutput_dir: out\n";
    let c = models_skip("lora.yaml", text);
    assert_eq!(repos(&c), [SD1_TOKENIZER]);
    assert_eq!(c.local_paths, ["/models/sd15.safetensors", "./vae.pt"]);
    assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
    let e = err("lora.yaml", text);
    assert!(
        e.contains("lora.yaml:1:") && e.contains("base_model") && e.contains("--skip-missing"),
        "{e}"
    );
}

#[test]
fn local_files_are_carried() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("sd-models")).unwrap();
    fs::write(d.path().join("sd-models/model.safetensors"), b"weights").unwrap();
    fs::create_dir_all(d.path().join("vae_dir/sub")).unwrap();
    fs::write(d.path().join("vae_dir/config.json"), b"{}").unwrap();
    fs::write(d.path().join("vae_dir/sub/w.safetensors"), b"w").unwrap();
    let p = d.path().join("lora.toml");
    fs::write(
        &p,
        "[model]\npretrained_model_name_or_path = \"./sd-models/model.safetensors\"\nvae = \"vae_dir\"\n",
    )
    .unwrap();
    let c = read(&p).unwrap();
    let mut names: Vec<&str> = c.files.iter().map(|f| f.name.as_deref().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "sd-models/model.safetensors",
            "vae_dir/config.json",
            "vae_dir/sub/w.safetensors"
        ]
    );
    assert!(c.files[0]
        .origin
        .contains("lora.toml:2 (model.pretrained_model_name_or_path)"));
    assert_eq!(repos(&c), [SD1_TOKENIZER]);
}

#[test]
fn sdxl_detection() {
    for text in [
        "base_model: stabilityai/stable-diffusion-xl-base-1.0\n",
        "base_model: org/model\nmodel_type: sdxl\n",
        "pretrained_model_name_or_path: org/model\nsdxl: true\n",
        "model_train_type: sdxl-lora\npretrained_model_name_or_path: org/m\n",
    ] {
        let c = models("x.yml", text);
        let r = repos(&c);
        assert!(r.contains(&SD1_TOKENIZER.to_string()), "{text}: {r:?}");
        assert!(r.contains(&SDXL_TOKENIZER2.to_string()), "{text}: {r:?}");
        assert!(c
            .models
            .last()
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .contains("SDXL"));
    }
    let c = models("x.yaml", "base_model: org/xlnet-thing\nmodel_type: sd1\n");
    assert!(
        !repos(&c).contains(&SDXL_TOKENIZER2.to_string()),
        "explicit type wins"
    );
}

#[test]
fn sd2_flux_sd3_and_others() {
    let c = models_skip(
        "x.json",
        r#"{"pretrained_model_name_or_path": "./sd21.ckpt", "v2": true}"#,
    );
    assert_eq!(repos(&c), [SD2]);
    assert_eq!(
        c.models[0].pick,
        Pick::Tokenizer {
            folder: Some("tokenizer".into())
        }
    );
    // Flux: sd-scripts loads CLIP-L and T5-XXL tokenizers at run time (library/strategy_flux.py).
    let c = models(
        "x.toml",
        "pretrained_model_name_or_path = \"org/flux/flux1-dev.safetensors\"\nclip_l = \"org/te/clip_l.safetensors\"\n\
         t5xxl = \"org/te/t5xxl_fp16.safetensors\"\nae = \"org/flux/ae.safetensors\"\n",
    );
    let r = repos(&c);
    assert_eq!(r.len(), 6, "{r:?}");
    assert_eq!(&r[4..], [CLIP_L, T5_XXL]);
    assert!(c.models[4]
        .reason
        .as_deref()
        .unwrap()
        .contains("of Flux in kohya sd-scripts"));
    let c = models(
        "x.toml",
        "clip_g = \"a/b/g.safetensors\"\nt5xxl = \"a/b/t.safetensors\"\npretrained_model_name_or_path = \"org/sd3\"\n",
    );
    assert_eq!(&repos(&c)[3..], [CLIP_L, CLIP_G, T5_XXL]);
    let sd3 = c
        .models
        .iter()
        .find(|m| m.repo.as_str() == "org/sd3")
        .unwrap();
    assert_eq!(sd3.pick, Pick::RootWeights, "SD3 loads one file");
    let c = models("x.toml", "learning_rate = 1e-4\n");
    assert!(c.models.is_empty(), "not a training config: nothing added");
}

#[test]
fn newer_sd_scripts_families() {
    use crate::inputs::trainers::runtime::{BYT5, GEMMA2, QWEN25_VL};
    let c = models(
        "lumina.toml",
        "pretrained_model_name_or_path = \"org/lumina/lumina_2.safetensors\"\n\
         gemma2 = \"org/gemma/gemma_2_2b_fp16.safetensors\"\nae = \"org/flux/ae.safetensors\"\n",
    );
    assert_eq!(repos(&c).last().unwrap(), GEMMA2);
    let c = models(
        "hunyuan.toml",
        "pretrained_model_name_or_path = \"org/hy/dit.safetensors\"\n\
         text_encoder = \"org/hy/qwen_2.5_vl_7b.safetensors\"\nbyt5 = \"org/hy/byt5_small.safetensors\"\n\
         vae = \"org/hy/vae.safetensors\"\n",
    );
    assert_eq!(&repos(&c)[4..], [QWEN25_VL, BYT5]);
    let c = models(
        "anima.toml",
        "pretrained_model_name_or_path = \"org/anima/dit.safetensors\"\nqwen3 = \"org/anima/qwen3.safetensors\"\n",
    );
    assert_eq!(
        repos(&c),
        ["org/anima", "org/anima"],
        "Anima reads tokenizers from local folders"
    );
}

#[test]
fn kohya_gui_json() {
    let c = models(
        "gui.json",
        r#"{"LoRA_type": "Standard", "pretrained_model_name_or_path": "stabilityai/stable-diffusion-xl-base-1.0",
            "sdxl": true, "sdxl_no_half_vae": true, "v2": false, "vae": "", "output_dir": "/out",
            "huggingface_repo_id": "me/my-lora", "model_list": "custom"}"#,
    );
    assert_eq!(
        repos(&c),
        [
            "stabilityai/stable-diffusion-xl-base-1.0",
            SD1_TOKENIZER,
            SDXL_TOKENIZER2
        ]
    );
    let c = models_skip(
        "gui.json",
        r#"{"pretrained_model_name_or_path": "/m/flux1-dev.safetensors", "flux1_checkbox": true}"#,
    );
    assert_eq!(repos(&c), [CLIP_L, T5_XXL]);
    assert!(c.models[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("kohya_ss GUI"));
}

#[test]
fn ai_toolkit_yaml() {
    let c = models(
        "train_lora_flux_schnell_24gb.yaml",
        "job: extension\nconfig:\n  name: x\n  process:\n    - type: sd_trainer\n      model:\n        \
         name_or_path: \"black-forest-labs/FLUX.1-schnell\"\n        \
         assistant_lora_path: \"ostris/FLUX.1-schnell-training-adapter\"\n        is_flux: true\n        quantize: true\n",
    );
    assert_eq!(
        repos(&c),
        [
            "black-forest-labs/FLUX.1-schnell",
            "ostris/FLUX.1-schnell-training-adapter"
        ]
    );
    assert_eq!(
        c.models[0].pick,
        Pick::Training,
        "ai-toolkit loads the pipeline"
    );
    let c = models(
        "chroma.yaml",
        "job: extension\nconfig:\n  process:\n    - model:\n        name_or_path: lodestones/Chroma\n        arch: chroma\n",
    );
    assert_eq!(repos(&c)[1], "ostris/Flex.1-alpha");
}

#[test]
fn hub_urls_to_files_and_plain_urls() {
    let c = models(
        "x.yaml",
        "train:\n  base_model: https://example.invalid/org/model/blob/v1.0/sub/m.safetensors\n  \
         vae: https://example.invalid/org/vae/resolve/refs%2Fpr%2F1/vae.safetensors?download=true\n  \
         network_weights: https://models.example.invalid/api/download/models/12345\n",
    );
    assert_eq!(c.models[0].file.as_deref(), Some("sub/m.safetensors"));
    assert_eq!(c.models[0].revision.as_deref(), Some("v1.0"));
    assert_eq!(c.models[1].revision.as_deref(), Some("refs/pr/1"));
    assert_eq!(c.models[1].file.as_deref(), Some("vae.safetensors"));
    assert!(
        c.models[1].origin.contains("x.yaml:3 (train.vae)"),
        "{}",
        c.models[1].origin
    );
    assert_eq!(c.files.len(), 1);
    assert!(
        matches!(&c.files[0].source, FileSource::Url(u) if u.path() == "/api/download/models/12345")
    );
    let r = parse_hub_ref("https://example.invalid/datasets/org/set/tree/main").unwrap();
    assert_eq!(r.kind, RepoKind::Dataset);
    assert!(parse_hub_ref("https://example.invalid/api/download/12345").is_err());
}

#[test]
fn malformed_repo_ids_name_file_line_and_key() {
    for bad in ["org//name", "org/na me", "a/b/c/d"] {
        let e = err("c.toml", &format!("[m]\nlr = 1\nbase_model = \"{bad}\"\n"));
        assert!(
            e.contains("c.toml:3:") && e.contains("m.base_model"),
            "{bad}: {e}"
        );
    }
    let e = err("c.json", r#"{"a": {"vae": "x/y@"}}"#);
    assert!(e.contains("a.vae") && e.contains("revision"), "{e}");
}

#[test]
fn parse_errors_carry_lines() {
    let e = err("c.toml", "a = 1\nb = = 2\n");
    assert!(e.contains("c.toml:2:") && e.contains("TOML"), "{e}");
    let e = err("c.yaml", "a: 1\nb: [1, 2\n");
    assert!(e.contains("c.yaml:") && e.contains("YAML"), "{e}");
    let e = err("c.json", "{\n\"a\": }\n");
    assert!(e.contains("c.json:2:") && e.contains("JSON"), "{e}");
    let e = err("c.ini", "a=1\n");
    assert!(e.contains("unknown config format"), "{e}");
}

#[test]
fn wd14_tagger() {
    let c = models("c.toml", "[tagger]\nenable = true\nthresh = 0.35\n");
    assert_eq!(repos(&c), [WD14_DEFAULT]);
    assert!(c.models[0].reason.as_deref().unwrap().contains("WD14"));
    assert_eq!(c.models[0].pick, Pick::Tagger);
    let c = models(
        "c.toml",
        "wd14_tagger_repo = \"SmilingWolf/wd-v1-4-moat-tagger-v2\"\nwd14_caption = true\n",
    );
    assert_eq!(repos(&c), ["SmilingWolf/wd-v1-4-moat-tagger-v2"]);
    assert!(c.models[0].reason.is_none());
    let c = models("c.yaml", "caption_method: wd14\n");
    assert_eq!(repos(&c), [WD14_DEFAULT]);
    let c = models("c.toml", "[tagger]\nenable = false\n");
    assert!(c.models.is_empty());
}

#[test]
fn tokenizer_cache_dir_dedup_and_bare_words() {
    let c = models(
        "c.yaml",
        "base_model: runwayml/stable-diffusion-v1-5\ntokenizer_cache_dir: ./tok\n\
         clip_model: ViT-L-14\nnested:\n  - repo_id: runwayml/stable-diffusion-v1-5\n\
         text_encoder: openai/clip-vit-large-patch14\n",
    );
    assert_eq!(repos(&c), ["runwayml/stable-diffusion-v1-5", SD1_TOKENIZER]);
    assert!(
        c.models[1].reason.is_none(),
        "the named one comes first and wins"
    );
    assert_eq!(c.local_paths, ["./tok"]);
}

#[test]
fn typo_keys_are_warned_about() {
    let c = models(
        "lora.toml",
        "[model_arguments]\npretrained_model_name_or_pth = \"runwayml/stable-diffusion-v1-5\"\n\
         output_name = \"chara\"\nsdxl_no_half_vae = true\nlearning_rate = \"1e-4\"\n",
    );
    assert!(c.models.is_empty(), "{:?}", c.models);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = &c.warnings[0];
    assert!(
        w.contains("lora.toml:2") && w.contains("did you mean pretrained_model_name_or_path?"),
        "{w}"
    );
}

#[test]
fn key_lines() {
    assert!(line_has_key("  base_model: x", "base_model"));
    assert!(line_has_key("\"vae\" : \"x\"", "vae"));
    assert!(line_has_key("vae=\"x\"", "vae"));
    assert!(!line_has_key("sdxl_vae = 1", "vae"));
    assert!(!line_has_key("vae_dir = 1", "vae"));
}
