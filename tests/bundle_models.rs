//! Story: bundle every model a LoRA config needs through a hub mirror; after a plain `tar x`,
//! huggingface_hub and transformers load them with no network.
mod support;

use support::hub_server::{diffusers_repo, text_model_repo, HubServer};
use support::{fails, ferry, ok, test_python};

fn offline_python(script: &str, hub_cache: &std::path::Path) -> String {
    let mut cmd = std::process::Command::new(test_python());
    cmd.args(["-c", script])
        .env("HF_HUB_CACHE", hub_cache)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("HF_TOKEN");
    ok(&mut cmd)
}

#[test]
fn lora_config_models_load_offline_after_tar_x() {
    let hub = HubServer::start();
    // The original repo is gone (404); only the community copy exists.
    hub.add_model(
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        diffusers_repo(),
    );
    hub.add_model("openai/clip-vit-large-patch14", text_model_repo());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("chara_lora.yaml"),
        "base_model: \"runwayml/stable-diffusion-v1-5\"\ntrain_data_dir: ./data\noutput_dir: ./out\nresolution: 512\n",
    )
    .unwrap();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    let dry = ok(ferry(d).args([
        "bundle",
        "--config",
        "chara_lora.yaml",
        "--hf-endpoint",
        &hub.url,
        "-s",
        "k",
        "--dry-run",
    ]));
    assert!(dry.contains("total:"), "{dry}");
    assert!(!d.join("chara_lora.ferry.tar").exists());
    ok(ferry(d).args([
        "lock",
        "--config",
        "chara_lora.yaml",
        "--hf-endpoint",
        &hub.url,
        "-o",
        "m.lock",
    ]));
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("m.lock")).unwrap()).unwrap();
    let models = lock["models"].as_array().unwrap();
    let sd = models
        .iter()
        .find(|m| m["repo"] == "runwayml/stable-diffusion-v1-5")
        .expect("original name kept");
    assert_eq!(
        sd["source_repo"],
        "stable-diffusion-v1-5/stable-diffusion-v1-5"
    );
    assert_eq!(sd["commit"].as_str().unwrap().len(), 40);
    let sd_files: Vec<&str> = sd["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        sd_files.contains(&"unet/diffusion_pytorch_model.safetensors"),
        "{sd_files:?}"
    );
    assert!(
        !sd_files.iter().any(|f| f.ends_with(".ckpt")
            || f.ends_with(".bin")
            || f.starts_with("onnx/")
            || f.contains("fp16")),
        "{sd_files:?}"
    );
    let clip = models
        .iter()
        .find(|m| m["repo"] == "openai/clip-vit-large-patch14")
        .expect("tokenizer added");
    assert!(
        clip["reason"].as_str().unwrap().contains("added because"),
        "{clip:#}"
    );
    assert!(clip["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| !f["path"].as_str().unwrap().ends_with(".safetensors")));

    ok(ferry(d).args([
        "bundle",
        "--locked",
        "m.lock",
        "-s",
        "k",
        "-o",
        "m.ferry.tar",
    ]));
    ok(ferry(d).args(["verify", "m.ferry.tar", "-p", "k.pub"]));
    let inspect = ok(ferry(d).args(["inspect", "m.ferry.tar"]));
    assert!(
        inspect.contains("stable-diffusion-v1-5/stable-diffusion-v1-5")
            && inspect.contains("added because"),
        "{inspect}"
    );

    let x = d.join("x");
    std::fs::create_dir(&x).unwrap();
    ok(std::process::Command::new("tar")
        .args(["xf", "../m.ferry.tar"])
        .current_dir(&x));
    let refs =
        std::fs::read(x.join("models/hub/models--runwayml--stable-diffusion-v1-5/refs/main"))
            .unwrap();
    assert_eq!(refs.len(), 40, "refs/main holds the commit with no newline");
    let hub_cache = x.join("models/hub");
    let out = offline_python(
        "from huggingface_hub import snapshot_download\n\
         import os\n\
         p = snapshot_download('runwayml/stable-diffusion-v1-5')\n\
         assert os.path.exists(os.path.join(p, 'unet/diffusion_pytorch_model.safetensors'))\n\
         q = snapshot_download('openai/clip-vit-large-patch14')\n\
         print('ok', len(os.listdir(q)))",
        &hub_cache,
    );
    assert!(out.starts_with("ok"), "{out}");
    let out = offline_python(
        "from transformers import AutoConfig, AutoTokenizer\n\
         c = AutoConfig.from_pretrained('openai/clip-vit-large-patch14')\n\
         t = AutoTokenizer.from_pretrained('openai/clip-vit-large-patch14')\n\
         print(c.model_type, type(t).__name__)",
        &hub_cache,
    );
    assert!(
        out.contains("clip") && out.contains("CLIPTokenizer"),
        "{out}"
    );
}

#[test]
fn missing_and_gated_repos_are_clear_errors() {
    let hub = HubServer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = fails(
        ferry(d).args([
            "lock",
            "--model",
            "nobody/nothing",
            "--hf-endpoint",
            &hub.url,
            "-o",
            "x.lock",
        ]),
        1,
    );
    assert!(err.contains("nobody/nothing"), "{err}");
    assert!(!d.join("x.lock").exists());
}
