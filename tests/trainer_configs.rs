//! Story: point ferry at the config a trainer runs with (kohya sd-scripts TOML, lora-scripts TOML, kohya_ss
//! GUI JSON, ai-toolkit YAML) and get every file training opens, and nothing it does not: the models the
//! config names (repo ids, hub URLs mapped to the configured endpoint, files in repos, plain URLs, local
//! files), plus the tokenizers the trainer loads at run time for the family it trains. Judged after install
//! by huggingface_hub and transformers with no network.
mod support;

use std::path::Path;

use support::file_server::FileServer;
use support::hub_server::{
    diffusers_repo, flux_repo, flux_text_encoders_repo, pipeline_with_safety_checker, safetensors,
    t5_tokenizer_repo, text_model_repo, HubServer,
};
use support::{describe, fails, ferry, ok, test_python};

const TOKEN: &str = "hf_test_token";
const T5_WEIGHTS: usize = 3 << 20;

fn offline_python(script: &str, hf_home: &Path) -> String {
    let mut cmd = std::process::Command::new(test_python());
    cmd.args(["-c", script])
        .env("HF_HOME", hf_home)
        .env_remove("HF_HUB_CACHE")
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("HF_TOKEN");
    ok(&mut cmd)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn model<'a>(lock: &'a serde_json::Value, repo: &str) -> &'a serde_json::Value {
    lock["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["repo"] == repo)
        .unwrap_or_else(|| panic!("{repo} missing from {lock:#}"))
}

fn paths(m: &serde_json::Value) -> Vec<String> {
    m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn write(path: &Path, content: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn keygen(d: &Path) {
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
}

fn flux_hub() -> HubServer {
    let hub = HubServer::start();
    hub.add_model("black-forest-labs/FLUX.1-dev", flux_repo().gated(TOKEN));
    hub.add_model(
        "comfyanonymous/flux_text_encoders",
        flux_text_encoders_repo(),
    );
    hub.add_model("openai/clip-vit-large-patch14", text_model_repo());
    hub.add_model("google/t5-v1_1-xxl", t5_tokenizer_repo(T5_WEIGHTS));
    hub
}

#[test]
fn kohya_flux_config_brings_encoders_autoencoder_tokenizers_urls_and_local_files() {
    let hub = flux_hub();
    let site = FileServer::start();
    let lora = safetensors(&[("lora_up", &[4, 4])], 77);
    site.add("4242", "chara_flux.safetensors", lora.clone());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let style = safetensors(&[("style", &[2, 2])], 78);
    write(&d.join("cfg/loras/style.safetensors"), &style);
    // The shape of sd-scripts' Flux LoRA configs (flux_train_network.py --config_file), with the files
    // pasted as hub URLs the way users copy them from the hub's web pages.
    let config = format!(
        r#"[model_arguments]
pretrained_model_name_or_path = "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors"
clip_l = "https://huggingface.co/comfyanonymous/flux_text_encoders/blob/main/clip_l.safetensors"
t5xxl = "comfyanonymous/flux_text_encoders/t5xxl_fp16.safetensors"
ae = "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/ae.safetensors?download=true"

[network_arguments]
network_module = "networks.lora_flux"
network_dim = 4
network_weights = "{}/api/download/models/4242"
base_weights = ["./loras/style.safetensors"]

[training_arguments]
output_dir = "./output"
mixed_precision = "bf16"
timestep_sampling = "shift"
guidance_scale = 1.0
cache_text_encoder_outputs = true
"#,
        site.url
    );
    write(&d.join("cfg/flux_lora.toml"), &config);
    keygen(d);
    ok(ferry(d)
        .args([
            "lock",
            "--config",
            "cfg/flux_lora.toml",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "f.lock",
        ])
        .env("HF_TOKEN", TOKEN));
    let lock = json(&d.join("f.lock"));
    assert_eq!(
        paths(model(&lock, "black-forest-labs/FLUX.1-dev")),
        ["ae.safetensors", "flux1-dev.safetensors"]
    );
    assert_eq!(
        paths(model(&lock, "comfyanonymous/flux_text_encoders")),
        ["clip_l.safetensors", "t5xxl_fp16.safetensors"]
    );
    let clip = model(&lock, "openai/clip-vit-large-patch14");
    assert!(
        paths(clip)
            .iter()
            .all(|p| p.ends_with(".json") || p.ends_with(".txt")),
        "{clip:#}"
    );
    let t5 = model(&lock, "google/t5-v1_1-xxl");
    assert_eq!(
        paths(t5),
        [
            "config.json",
            "special_tokens_map.json",
            "tokenizer.json",
            "tokenizer_config.json"
        ]
    );
    let why = t5["reason"].as_str().unwrap();
    assert!(
        why.contains("run-time T5-XXL tokenizer of Flux in kohya sd-scripts"),
        "{why}"
    );
    let files = lock["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["chara_flux.safetensors", "loras/style.safetensors"]);
    assert_eq!(files[0]["size"], lora.len());
    assert_eq!(files[0]["sha256"], support::hub_server::sha256_hex(&lora));
    assert!(files[0]["source"].as_str().unwrap().starts_with(&site.url));
    assert!(
        files[1]["origins"][0]
            .as_str()
            .unwrap()
            .contains("flux_lora.toml:11 (network_arguments.base_weights)"),
        "{:#}",
        files[1]
    );

    // A gated repo without a token: a clear error naming the repo, nothing written.
    let err = fails(
        ferry(d).args([
            "bundle",
            "--locked",
            "f.lock",
            "-s",
            "k",
            "-o",
            "nogate.ferry.tar",
        ]),
        1,
    );
    assert!(err.contains("black-forest-labs/FLUX.1-dev"), "{err}");
    assert!(!d.join("nogate.ferry.tar").exists());

    ok(ferry(d)
        .args([
            "bundle",
            "--locked",
            "f.lock",
            "-s",
            "k",
            "-o",
            "f.ferry.tar",
        ])
        .env("HF_TOKEN", TOKEN));
    for big in [
        "pytorch_model.bin",
        "tf_model.h5",
        "t5xxl_fp8",
        "text_encoder_2/",
        "transformer/",
    ] {
        let hits: Vec<String> = hub
            .requests_to(big)
            .iter()
            .map(|l| l.path.clone())
            .collect();
        assert!(hits.is_empty(), "{big} must not be fetched: {hits:?}");
    }
    assert!(
        site.log().iter().all(|(_, _, auth)| !auth),
        "the hub token never goes to another host: {:?}",
        site.log()
    );
    ok(ferry(d).args(["verify", "f.ferry.tar", "-p", "k.pub"]));

    let text = ok(ferry(d).args(["inspect", "f.ferry.tar"]));
    for needle in [
        "run-time T5-XXL tokenizer of Flux in kohya sd-scripts",
        "run-time CLIP-L tokenizer of Flux in kohya sd-scripts",
        "flux_lora.toml:4 (model_arguments.t5xxl)",
        "t5xxl_fp16.safetensors",
        "files/chara_flux.safetensors",
        "files/loras/style.safetensors",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&ok(ferry(d).args(["inspect", "f.ferry.tar", "--json"]))).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 2, "{v:#}");
    let flux = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["repo"] == "black-forest-labs/FLUX.1-dev")
        .unwrap();
    assert_eq!(flux["file_list"].as_array().unwrap().len(), 2);
    assert!(
        flux["why"].as_str().unwrap().contains("flux_lora.toml"),
        "{flux:#}"
    );

    // A plain `tar x` shows the members; SHA256SUMS covers files/.
    let x = d.join("x");
    std::fs::create_dir(&x).unwrap();
    ok(std::process::Command::new("tar")
        .args(["xf", "../f.ferry.tar"])
        .current_dir(&x));
    assert_eq!(
        std::fs::read(x.join("files/chara_flux.safetensors")).unwrap(),
        lora
    );
    ok(std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&x));
    let sums = std::fs::read_to_string(x.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("files/loras/style.safetensors"), "{sums}");
    let sbom = std::fs::read_to_string(x.join("sbom.cdx.json")).unwrap();
    assert!(
        sbom.contains("files/chara_flux.safetensors")
            && sbom.contains(&support::hub_server::sha256_hex(&lora)),
        "the SBOM lists files that are not on a hub: {sbom}"
    );

    let home = d.join("hf");
    let out_files = d.join("trainer");
    ok(ferry(d).args([
        "install",
        "f.ferry.tar",
        "-p",
        "k.pub",
        "--only",
        "models",
        "--hf-home",
        home.to_str().unwrap(),
        "--files-dir",
        out_files.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(out_files.join("chara_flux.safetensors")).unwrap(),
        lora
    );
    assert_eq!(
        std::fs::read(out_files.join("loras/style.safetensors")).unwrap(),
        style
    );
    let out = offline_python(
        concat!(
            "from huggingface_hub import hf_hub_download\n",
            "import os\n",
            "for repo, f in [('black-forest-labs/FLUX.1-dev', 'flux1-dev.safetensors'),\n",
            "                ('black-forest-labs/FLUX.1-dev', 'ae.safetensors'),\n",
            "                ('comfyanonymous/flux_text_encoders', 'clip_l.safetensors'),\n",
            "                ('comfyanonymous/flux_text_encoders', 't5xxl_fp16.safetensors')]:\n",
            "    assert os.path.getsize(hf_hub_download(repo, f)) > 0\n",
            "from transformers import CLIPTokenizer, T5TokenizerFast\n",
            "c = CLIPTokenizer.from_pretrained('openai/clip-vit-large-patch14')\n",
            "t = T5TokenizerFast.from_pretrained('google/t5-v1_1-xxl')\n",
            "print('ok', c('a b')['input_ids'], t('a b')['input_ids'])",
        ),
        &home,
    );
    assert!(out.contains("ok") && out.contains("[3, 4, 1]"), "{out}");
}

#[test]
fn the_example_flux_config_locks_as_shipped() {
    let hub = flux_hub();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/configs/flux_lora.toml");
    std::fs::copy(&example, d.join("flux_lora.toml")).unwrap();
    let mut cmd = ferry(d);
    cmd.args([
        "lock",
        "--config",
        "flux_lora.toml",
        "--hf-endpoint",
        &hub.url,
        "-o",
        "e.lock",
    ])
    .env("HF_TOKEN", TOKEN);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        describe(&cmd, &out)
    );
    let lock = json(&d.join("e.lock"));
    let repos: Vec<&str> = lock["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["repo"].as_str().unwrap())
        .collect();
    assert_eq!(
        repos,
        [
            "black-forest-labs/FLUX.1-dev",
            "comfyanonymous/flux_text_encoders",
            "google/t5-v1_1-xxl",
            "openai/clip-vit-large-patch14"
        ]
    );
}

#[test]
fn lora_scripts_sdxl_local_checkpoint_and_a_pipeline_named_as_vae() {
    let hub = HubServer::start();
    hub.add_model("org/sdxl-pipeline", diffusers_repo());
    hub.add_model("openai/clip-vit-large-patch14", text_model_repo());
    hub.add_model(
        "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k",
        text_model_repo(),
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let checkpoint = safetensors(&[("unet", &[8, 8])], 3);
    write(&d.join("sd-models/model.safetensors"), &checkpoint);
    // lora-scripts' saved TOML (config/default.toml keys, model_train_type picks sdxl_train_network.py).
    write(
        &d.join("config/autosave/sdxl.toml"),
        "model_train_type = \"sdxl-lora\"\npretrained_model_name_or_path = \"./sd-models/model.safetensors\"\n\
         vae = \"org/sdxl-pipeline\"\nv2 = false\ntrain_data_dir = \"./train/input\"\nreg_data_dir = \"\"\n\
         output_name = \"aki\"\noutput_dir = \"./output\"\nnetwork_module = \"networks.lora\"\nnetwork_weights = \"\"\n",
    );
    keygen(d);
    ok(ferry(d).args([
        "bundle",
        "--config",
        "config/autosave/sdxl.toml",
        "--hf-endpoint",
        &hub.url,
        "-s",
        "k",
        "-o",
        "s.ferry.tar",
    ]));
    let v: serde_json::Value =
        serde_json::from_str(&ok(ferry(d).args(["inspect", "s.ferry.tar", "--json"]))).unwrap();
    let vae = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["repo"] == "org/sdxl-pipeline")
        .unwrap();
    let vae_files: Vec<&str> = vae["file_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        vae_files,
        ["vae/config.json", "vae/diffusion_pytorch_model.safetensors"],
        "a pipeline named as a VAE brings only its vae/ folder"
    );
    let repos: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["repo"].as_str().unwrap())
        .collect();
    assert!(
        repos.contains(&"laion/CLIP-ViT-bigG-14-laion2B-39B-b160k")
            && repos.contains(&"openai/clip-vit-large-patch14"),
        "{repos:?}"
    );
    assert_eq!(v["files"][0]["name"], "sd-models/model.safetensors");

    let home = d.join("hf");
    let out_files = d.join("lora-scripts");
    ok(ferry(d).args([
        "install",
        "s.ferry.tar",
        "-p",
        "k.pub",
        "--hf-home",
        home.to_str().unwrap(),
        "--files-dir",
        out_files.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(out_files.join("sd-models/model.safetensors")).unwrap(),
        checkpoint
    );
    let out = offline_python(
        "from huggingface_hub import snapshot_download\n\
         import os\n\
         p = snapshot_download('org/sdxl-pipeline')\n\
         print(sorted(os.listdir(p)))\n\
         from transformers import CLIPTokenizer\n\
         t = CLIPTokenizer.from_pretrained('laion/CLIP-ViT-bigG-14-laion2B-39B-b160k')\n\
         print('ok', type(t).__name__)",
        &home,
    );
    assert!(
        out.contains("['vae']") && out.contains("ok CLIPTokenizer"),
        "{out}"
    );
}

#[test]
fn kohya_gui_sd1_leaves_out_the_safety_checker_and_upload_targets() {
    let hub = HubServer::start();
    hub.add_model("org/sd15", pipeline_with_safety_checker());
    hub.add_model("openai/clip-vit-large-patch14", text_model_repo());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("gui.json"),
        r#"{
  "LoRA_type": "Standard",
  "model_list": "custom",
  "pretrained_model_name_or_path": "org/sd15",
  "v2": false,
  "sdxl": false,
  "flux1_checkbox": false,
  "huggingface_repo_id": "me/my-upload-target",
  "output_dir": "/out",
  "vae": ""
}
"#,
    );
    ok(ferry(d).args([
        "lock",
        "--config",
        "gui.json",
        "--hf-endpoint",
        &hub.url,
        "-o",
        "g.lock",
    ]));
    let lock = json(&d.join("g.lock"));
    let sd = paths(model(&lock, "org/sd15"));
    assert!(
        sd.contains(&"unet/diffusion_pytorch_model.safetensors".to_string()),
        "{sd:?}"
    );
    assert!(
        !sd.iter().any(|p| p.starts_with("safety_checker/")),
        "training never opens the safety checker: {sd:?}"
    );
    let repos: Vec<&str> = lock["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["repo"].as_str().unwrap())
        .collect();
    assert_eq!(repos, ["openai/clip-vit-large-patch14", "org/sd15"]);
    // Asked for by name, the same repo keeps its safety checker (what from_pretrained loads).
    ok(ferry(d).args([
        "lock",
        "--model",
        "org/sd15",
        "--hf-endpoint",
        &hub.url,
        "-o",
        "m.lock",
    ]));
    let all = paths(model(&json(&d.join("m.lock")), "org/sd15"));
    assert!(
        all.iter().any(|p| p.starts_with("safety_checker/")),
        "{all:?}"
    );
}

#[test]
fn ai_toolkit_flux_takes_the_pipeline_folders() {
    let hub = flux_hub();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // ai-toolkit config/examples/train_lora_flux_24gb.yaml, trimmed.
    write(
        &d.join("train_lora_flux_24gb.yaml"),
        "job: extension\nconfig:\n  name: \"my_first_flux_lora_v1\"\n  process:\n    - type: 'sd_trainer'\n      \
         training_folder: \"output\"\n      datasets:\n        - folder_path: \"/path/to/images/folder\"\n          \
         caption_ext: \"txt\"\n      model:\n        name_or_path: \"black-forest-labs/FLUX.1-dev\"\n        \
         is_flux: true\n        quantize: true\nmeta:\n  name: \"[name]\"\n",
    );
    ok(ferry(d)
        .args([
            "lock",
            "--config",
            "train_lora_flux_24gb.yaml",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "a.lock",
        ])
        .env("HF_TOKEN", TOKEN));
    let lock = json(&d.join("a.lock"));
    assert_eq!(lock["models"].as_array().unwrap().len(), 1, "{lock:#}");
    let flux = paths(model(&lock, "black-forest-labs/FLUX.1-dev"));
    assert!(flux.contains(&"transformer/diffusion_pytorch_model.safetensors".to_string()));
    assert!(
        flux.contains(&"tokenizer_2/tokenizer.json".to_string()),
        "{flux:?}"
    );
    assert!(
        !flux.contains(&"flux1-dev.safetensors".to_string()),
        "ai-toolkit loads the diffusers folders, not the single file: {flux:?}"
    );
}

#[test]
fn typos_missing_files_and_empty_patterns_are_errors() {
    let hub = flux_hub();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("typo.toml"),
        "[model_arguments]\npretrained_model_name_or_pth = \"runwayml/stable-diffusion-v1-5\"\nv2 = false\n",
    );
    let err = fails(
        ferry(d).args([
            "lock",
            "--config",
            "typo.toml",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "t.lock",
        ]),
        2,
    );
    assert!(
        err.contains("typo.toml:2")
            && err.contains("did you mean pretrained_model_name_or_path?")
            && err.contains("nothing to bundle"),
        "{err}"
    );
    assert!(!d.join("t.lock").exists());

    write(
        &d.join("cfg/missing.toml"),
        "pretrained_model_name_or_path = \"./sd-models/model.safetensors\"\n",
    );
    let err = fails(
        ferry(d).args([
            "lock",
            "--config",
            "cfg/missing.toml",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "m.lock",
        ]),
        2,
    );
    assert!(
        err.contains("missing.toml:1")
            && err.contains("pretrained_model_name_or_path")
            && err.contains("./sd-models/model.safetensors")
            && err.contains("--skip-missing"),
        "{err}"
    );
    let mut cmd = ferry(d);
    cmd.args([
        "lock",
        "--config",
        "cfg/missing.toml",
        "--skip-missing",
        "--hf-endpoint",
        &hub.url,
        "-o",
        "m.lock",
    ]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("missing.toml:1"),
        "{stderr}"
    );

    let err = fails(
        ferry(d).args([
            "lock",
            "--model",
            "google/t5-v1_1-xxl",
            "--include",
            "*.gguf",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "p.lock",
        ]),
        1,
    );
    assert!(
        err.contains("'*.gguf'") && err.contains("google/t5-v1_1-xxl"),
        "{err}"
    );
    let err = fails(
        ferry(d).args([
            "lock",
            "--model",
            "google/t5-v1_1-xxl",
            "--exclude",
            "onnx/*",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "p.lock",
        ]),
        1,
    );
    assert!(err.contains("exclude pattern 'onnx/*'"), "{err}");
    assert!(!d.join("p.lock").exists());
}
