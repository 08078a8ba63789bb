//! Story: "bundle the models my configs name" — resolve hub repos to commits, choose the files a pipeline
//! needs, download them through a mirror and lay them out as the Hugging Face cache.
#[path = "support/hub_server.rs"]
mod hub_server;

use std::path::{Path, PathBuf};

use ferry::fetch::download::SilentProgress;
use ferry::fetch::hub::Hub;
use ferry::fetch::models::{fetch_models, lock_models, plan_summary, StagedFile};
use ferry::inputs::ModelRequest;
use ferry::lock::LockedModel;
use ferry::types::RepoKind;
use hub_server::{diffusers_repo, text_model_repo, HubServer, Repo};

fn request(repo: &str) -> ModelRequest {
    ModelRequest {
        repo: repo.parse().unwrap(),
        kind: RepoKind::Model,
        revision: None,
        file: None,
        include: vec![],
        exclude: vec![],
        variant: None,
        reason: None,
        origin: "test".into(),
        pick: Default::default(),
    }
}

fn paths(m: &LockedModel) -> Vec<&str> {
    m.files.iter().map(|f| f.path.as_str()).collect()
}

fn lock_one(server: &HubServer, req: ModelRequest) -> LockedModel {
    let hub = Hub::new(&server.url, None).unwrap();
    let mut locked = lock_models(&[req], &hub).unwrap();
    assert_eq!(locked.len(), 1);
    locked.remove(0)
}

const TOKENIZER: [&str; 4] = [
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
];

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort();
    v
}

#[test]
fn diffusers_pipeline_gets_fp32_safetensors_only() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    let m = lock_one(&server, request("org/pipe"));
    let mut want = vec![
        "feature_extractor/preprocessor_config.json",
        "model_index.json",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.safetensors",
    ];
    want.extend(TOKENIZER);
    assert_eq!(paths(&m), sorted(want));
    assert_eq!(m.commit.as_str(), server.commit_of("org/pipe"));
    assert_eq!(m.revision, "main");
    assert!(m.source_repo.is_none());
    // Page size 3: the tree listing took several pages, followed through `Link`.
    assert!(server.requests_to("/tree/").len() > 5);
    // LFS files carry their sha256 as the blob name; others their git sha1.
    let unet = m
        .files
        .iter()
        .find(|f| f.path.starts_with("unet/diff"))
        .unwrap();
    assert!(unet.lfs);
    assert_eq!(unet.blob, unet.sha256_hex());
    let cfg = m
        .files
        .iter()
        .find(|f| f.path == "unet/config.json")
        .unwrap();
    assert!(!cfg.lfs);
    assert_eq!(cfg.blob.len(), 40);
}

#[test]
fn diffusers_fp16_variant() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    let mut req = request("org/pipe");
    req.variant = Some("fp16".into());
    let m = lock_one(&server, req);
    let weights: Vec<&str> = paths(&m)
        .into_iter()
        .filter(|p| p.ends_with(".safetensors") || p.ends_with(".bin"))
        .collect();
    assert_eq!(
        weights,
        [
            "text_encoder/model.fp16.safetensors",
            "unet/diffusion_pytorch_model.fp16.safetensors",
            "vae/diffusion_pytorch_model.fp16.safetensors",
        ]
    );
    assert!(!paths(&m)
        .iter()
        .any(|p| p.contains("onnx") || p.ends_with(".ckpt")));
}

#[test]
fn include_and_exclude_globs() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    let mut req = request("org/pipe");
    req.include = vec!["*.json".into(), "unet/".into()];
    req.exclude = vec!["*fp16*".into(), "*.bin".into(), "tokenizer/*".into()];
    let m = lock_one(&server, req);
    assert_eq!(
        paths(&m),
        [
            "feature_extractor/preprocessor_config.json",
            "model_index.json",
            "safety_checker/config.json",
            "scheduler/scheduler_config.json",
            "text_encoder/config.json",
            "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors",
            "vae/config.json",
        ]
    );
}

#[test]
fn single_file_and_duplicate_formats() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    server.add_model("openai/clip-like", text_model_repo());
    let mut req = request("org/pipe");
    req.file = Some("v1-5-pruned-emaonly.safetensors".into());
    assert_eq!(
        paths(&lock_one(&server, req)),
        ["v1-5-pruned-emaonly.safetensors"]
    );
    let m = lock_one(&server, request("openai/clip-like"));
    let mut want = vec![
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ];
    want.extend(TOKENIZER.iter().map(|t| t.trim_start_matches("tokenizer/")));
    assert_eq!(paths(&m), sorted(want));
}

#[test]
fn missing_things_are_named() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    let hub = Hub::new(&server.url, None).unwrap();
    let err = lock_models(&[request("org/nope")], &hub)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("org/nope") && err.contains("not found"),
        "{err}"
    );
    let mut req = request("org/pipe");
    req.revision = Some("v9".into());
    let err = lock_models(&[req], &hub).unwrap_err().to_string();
    assert!(err.contains("'v9' not found"), "{err}");
    let mut req = request("org/pipe");
    req.file = Some("nope.safetensors".into());
    let err = lock_models(&[req], &hub).unwrap_err().to_string();
    assert!(err.contains("nope.safetensors"), "{err}");
}

#[test]
fn pr_revision_is_encoded_and_becomes_a_ref() {
    let server = HubServer::start();
    server.add_model("org/clip", text_model_repo().with_ref("refs/pr/1"));
    let mut req = request("org/clip");
    req.revision = Some("refs/pr/1".into());
    let mut m = vec![lock_one(&server, req)];
    assert_eq!(server.requests_to("/revision/refs%2Fpr%2F1").len(), 1);
    let work = tempfile::tempdir().unwrap();
    let hub = Hub::new(&server.url, None).unwrap();
    let members = fetch_models(&mut m, &hub, work.path(), 4, &SilentProgress).unwrap();
    let refs = members
        .iter()
        .find(|(n, _)| n.ends_with("/refs/refs/pr/1"))
        .expect("refs/refs/pr/1 member");
    match &refs.1 {
        StagedFile::File { path, .. } => {
            assert_eq!(std::fs::read_to_string(path).unwrap(), m[0].commit.as_str())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn deleted_repo_comes_from_its_alias_under_the_original_name() {
    let server = HubServer::start();
    server.add_model(
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        diffusers_repo(),
    );
    let hub = Hub::new(&server.url, None).unwrap();
    let mut locked = lock_models(&[request("runwayml/stable-diffusion-v1-5")], &hub).unwrap();
    assert_eq!(locked[0].repo.as_str(), "runwayml/stable-diffusion-v1-5");
    assert_eq!(
        locked[0].source_repo.as_ref().unwrap().as_str(),
        "stable-diffusion-v1-5/stable-diffusion-v1-5"
    );
    let summary = plan_summary(&locked);
    assert!(
        summary.contains("runwayml/stable-diffusion-v1-5@main")
            && summary.contains("from stable-diffusion-v1-5/stable-diffusion-v1-5")
            && summary.contains("13 files"),
        "{summary}"
    );
    let work = tempfile::tempdir().unwrap();
    let members = fetch_models(&mut locked, &hub, work.path(), 4, &SilentProgress).unwrap();
    assert!(members
        .iter()
        .all(|(n, _)| n.starts_with("models/hub/models--runwayml--stable-diffusion-v1-5/")));
    assert!(!server
        .requests_to("/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/")
        .is_empty());
}

/// Copy staged members into `root` as a tar extraction would.
fn lay_out(members: &[(String, StagedFile)], root: &Path) {
    for (name, staged) in members {
        let dest = root.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        match staged {
            StagedFile::File { path, .. } => {
                std::fs::copy(path, &dest).unwrap();
            }
            StagedFile::Symlink { target } => std::os::unix::fs::symlink(target, &dest).unwrap(),
        }
    }
}

#[test]
fn fetch_lays_out_the_cache_without_leaking_the_token() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    let hub = Hub::new(&server.url, Some("hf_secret".into())).unwrap();
    let mut locked = lock_models(&[request("org/pipe")], &hub).unwrap();
    let work = tempfile::tempdir().unwrap();
    let members = fetch_models(&mut locked, &hub, work.path(), 3, &SilentProgress).unwrap();

    // LFS files went through a redirect to the storage host, which never saw the token.
    let storage: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.role == hub_server::Role::Storage)
        .collect();
    assert_eq!(storage.len(), 3, "three safetensors files");
    assert!(!server.storage_saw_authorization());
    assert!(server
        .requests_to("/org/pipe/resolve/")
        .iter()
        .all(|l| l.header("authorization") == Some("Bearer hf_secret")));
    // Downloads are pinned to the commit, never to `main`.
    assert!(server.requests_to("/resolve/main/").is_empty());

    let m = locked[0].clone();
    let base = "models/hub/models--org--pipe";
    let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&format!("{base}/refs/main").as_str()));
    for f in &m.files {
        assert_ne!(f.sha256_hex(), "0".repeat(64), "{} has its sha256", f.path);
        let blob = members
            .iter()
            .find(|(n, _)| *n == format!("{base}/blobs/{}", f.blob))
            .unwrap();
        match &blob.1 {
            StagedFile::File { path, sha256, size } => {
                assert_eq!(Some(sha256), f.sha256.as_ref());
                assert_eq!(*size, std::fs::metadata(path).unwrap().len());
            }
            other => panic!("{other:?}"),
        }
        let link = members
            .iter()
            .find(|(n, _)| *n == format!("{base}/snapshots/{}/{}", m.commit, f.path))
            .unwrap();
        let ups = "../".repeat(2 + f.path.matches('/').count());
        assert_eq!(
            link.1,
            StagedFile::Symlink {
                target: format!("{ups}blobs/{}", f.blob)
            }
        );
    }
    assert!(!names.iter().any(|n| n.contains("/trees/")));

    // A second fetch is served from the work dir: no file requests.
    let before = server.log().len();
    fetch_models(&mut locked, &hub, work.path(), 3, &SilentProgress).unwrap();
    assert_eq!(server.log().len(), before);

    // The real huggingface_hub reads the layout offline.
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup-test-env.sh",
        python.display()
    );
    let root = tempfile::tempdir().unwrap();
    lay_out(&members, root.path());
    let script = "import json, os, sys\n\
        from huggingface_hub import snapshot_download, hf_hub_download\n\
        p = snapshot_download('org/pipe')\n\
        files = sorted(os.path.relpath(os.path.join(d, f), p) for d, _, fs in os.walk(p) for f in fs)\n\
        cfg = json.load(open(hf_hub_download('org/pipe', 'unet/config.json')))\n\
        size = sum(os.path.getsize(os.path.join(p, f)) for f in files)\n\
        print(json.dumps({'path': p, 'files': files, 'cfg': cfg, 'size': size}))\n";
    let out = std::process::Command::new(&python)
        .args(["-c", script])
        .env("HF_HUB_CACHE", root.path().join("models/hub"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(v["path"].as_str().unwrap().ends_with(m.commit.as_str()));
    assert_eq!(v["files"].as_array().unwrap().len(), m.files.len());
    assert_eq!(v["cfg"]["sample_size"], 64);
    let total: u64 = m.files.iter().map(|f| f.size).sum();
    assert_eq!(v["size"], total, "every symlink resolves to its full blob");
}

#[test]
fn datasets_use_their_own_urls() {
    let server = HubServer::start();
    server.add_dataset(
        "org/captions",
        Repo::new()
            .file("data/train.jsonl", "{\"text\": \"a\"}\n")
            .file("README.md", "# captions\n"),
    );
    let mut req = request("org/captions");
    req.kind = RepoKind::Dataset;
    let hub = Hub::new(&server.url, None).unwrap();
    let mut locked = lock_models(&[req], &hub).unwrap();
    assert_eq!(paths(&locked[0]), ["README.md", "data/train.jsonl"]);
    let work = tempfile::tempdir().unwrap();
    let members = fetch_models(&mut locked, &hub, work.path(), 2, &SilentProgress).unwrap();
    assert!(members
        .iter()
        .all(|(n, _)| n.starts_with("models/hub/datasets--org--captions/")));
    assert_eq!(
        server.requests_to("/datasets/org/captions/resolve/").len(),
        2
    );
}

#[test]
fn flaky_api_is_retried_and_requests_for_one_repo_merge() {
    std::env::set_var("FERRY_RETRY_BASE_MS", "20");
    let server = HubServer::start();
    server.add_model("openai/clip-like", text_model_repo());
    server.fault(
        "/api/models/openai/clip-like/revision/",
        hub_server::FaultKind::Status(502),
        2,
    );
    server.fail_nth(1, hub_server::FaultKind::Status(500));
    server.fault(
        "/api/models/openai/clip-like/tree/",
        hub_server::FaultKind::Status(503),
        1,
    );
    let mut a = request("openai/clip-like");
    a.include = vec!["*.json".into()];
    a.reason = Some("added because a config names its tokenizer".into());
    let mut b = request("openai/clip-like");
    b.file = Some("merges.txt".into());
    let hub = Hub::new(&server.url, None).unwrap();
    let locked = lock_models(&[a, b], &hub).unwrap();
    assert_eq!(locked.len(), 1);
    assert_eq!(
        paths(&locked[0]),
        [
            "config.json",
            "merges.txt",
            "preprocessor_config.json",
            "special_tokens_map.json",
            "tokenizer_config.json",
            "vocab.json",
        ]
    );
    assert!(locked[0].reason.is_none(), "named directly by one request");
}

#[test]
fn mirrors_without_tree_api_or_with_upstream_links_still_work() {
    let server = HubServer::start();
    server.add_model("org/pipe", diffusers_repo());
    let with_tree = lock_one(&server, request("org/pipe"));

    // Upstream `Link` headers are followed on the configured endpoint only.
    let relinked = HubServer::start();
    relinked.add_model("org/pipe", diffusers_repo());
    relinked.set_link_origin("http://upstream.invalid:1");
    assert_eq!(lock_one(&relinked, request("org/pipe")), with_tree);
    assert!(relinked.requests_to("/tree/").len() > 5);

    // No tree API: the revision API with `?blobs=true` gives the same lock.
    let bare = HubServer::start();
    bare.add_model("org/pipe", diffusers_repo());
    bare.disable_tree_api();
    assert_eq!(lock_one(&bare, request("org/pipe")), with_tree);
    assert_eq!(bare.requests_to("?blobs=true").len(), 1);
}

#[test]
fn hostile_paths_from_the_server_are_refused() {
    let server = HubServer::start();
    server.add_model(
        "org/evil",
        Repo::new()
            .file("config.json", "{}")
            .file("a/../../../escape.json", "{}"),
    );
    let hub = Hub::new(&server.url, None).unwrap();
    let err = lock_models(&[request("org/evil")], &hub)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unsafe file entry 'a/../../../escape.json'"),
        "{err}"
    );
}
