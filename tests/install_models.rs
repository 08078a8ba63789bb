//! Story: the bundle's models land in the user's Hugging Face cache so that offline loading works, merged with
//! what is already there and never corrupting it.
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::install::{install_extracted, Only, Options, Silent};
use wheelbuilder::{fingerprint, git_blob_sha1, Staging};

const C0: &str = "0000000000000000000000000000000000000abc";
const C1: &str = "1111111111111111111111111111111111111def";
const REPO: &str = "ferry-org/tiny";
const CONFIG: &[u8] = b"{\"hidden_size\": 8}";
const WEIGHTS: &[u8] = b"fake safetensors payload";

fn tiny(staging: &mut Staging, commit: &str, weights: &[u8]) {
    staging.add_model(
        REPO,
        "main",
        commit,
        &[
            ("config.json", CONFIG, false),
            ("sub/weights.safetensors", weights, true),
        ],
    );
}

fn opts(hf_home: &Path) -> Options {
    Options {
        hf_home: Some(hf_home.to_path_buf()),
        only: Some(Only::Models),
        ..Options::default()
    }
}

fn repo_dir(hf_home: &Path) -> PathBuf {
    hf_home.join("hub/models--ferry-org--tiny")
}

/// An interpreter with huggingface_hub: FERRY_TEST_HF_PYTHON, else `.venv-test/bin/python` in the repo root.
fn hf_python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("FERRY_TEST_HF_PYTHON").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python")),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import huggingface_hub"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn models_land_in_the_hf_cache_and_load_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    tiny(&mut staging, C1, WEIGHTS);
    let hf = tmp.path().join("hf");
    let summary = install_extracted(&staging.dir, &staging.lock, &opts(&hf), &Silent).unwrap();
    assert_eq!(summary.models[0].files, 2);

    let repo = repo_dir(&hf);
    assert_eq!(
        std::fs::read(repo.join("refs/main")).unwrap(),
        C1.as_bytes()
    );
    let snap = repo.join("snapshots").join(C1);
    assert_eq!(
        std::fs::read_link(snap.join("config.json")).unwrap(),
        PathBuf::from(format!("../../blobs/{}", git_blob_sha1(CONFIG)))
    );
    let sha = ferry::types::Sha256::digest(WEIGHTS).to_string();
    assert_eq!(
        std::fs::read_link(snap.join("sub/weights.safetensors")).unwrap(),
        PathBuf::from(format!("../../../blobs/{sha}"))
    );
    assert_eq!(
        std::fs::read(snap.join("sub/weights.safetensors")).unwrap(),
        WEIGHTS
    );
    let leftovers: Vec<_> = std::fs::read_dir(hf.join("hub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "staging left behind: {leftovers:?}");

    // The same bundle again: nothing changes.
    let before = fingerprint(&hf);
    let again = install_extracted(&staging.dir, &staging.lock, &opts(&hf), &Silent).unwrap();
    assert_eq!(again.models[0].reused, 2);
    assert_eq!(before, fingerprint(&hf));

    // huggingface_hub, the judge.
    let python = hf_python().expect("huggingface_hub not available: run scripts/setup-test-env.sh (or set FERRY_TEST_HF_PYTHON)");
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; from huggingface_hub import snapshot_download, hf_hub_download\n\
             p = snapshot_download(sys.argv[1], local_files_only=True)\n\
             f = hf_hub_download(sys.argv[1], 'sub/weights.safetensors', local_files_only=True)\n\
             print(p); print(open(f, 'rb').read().decode())",
            REPO,
        ])
        .env("HF_HUB_CACHE", hf.join("hub"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HOME")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "snapshot_download failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.lines().next().unwrap().ends_with(C1), "{stdout}");
    assert!(stdout.contains("fake safetensors payload"), "{stdout}");
}

#[test]
fn merges_with_an_existing_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("hf");
    let mut first = Staging::new(&tmp.path().join("b0"));
    tiny(&mut first, C0, b"old weights");
    install_extracted(&first.dir, &first.lock, &opts(&hf), &Silent).unwrap();

    let mut second = Staging::new(&tmp.path().join("b1"));
    tiny(&mut second, C1, WEIGHTS);
    let s = install_extracted(&second.dir, &second.lock, &opts(&hf), &Silent).unwrap();
    assert_eq!(s.models[0].reused, 1, "config.json's blob is shared");
    let repo = repo_dir(&hf);
    assert_eq!(
        std::fs::read(repo.join("refs/main")).unwrap(),
        C1.as_bytes()
    );
    assert_eq!(
        std::fs::read(
            repo.join("snapshots")
                .join(C0)
                .join("sub/weights.safetensors")
        )
        .unwrap(),
        b"old weights"
    );
    assert_eq!(
        std::fs::read(
            repo.join("snapshots")
                .join(C1)
                .join("sub/weights.safetensors")
        )
        .unwrap(),
        WEIGHTS
    );
}

#[test]
fn refuses_to_overwrite_a_blob_or_leave_an_incomplete_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("hf");
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    tiny(&mut staging, C1, WEIGHTS);
    let blobs = repo_dir(&hf).join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();

    // A blob with the same name but other bytes.
    let sha = ferry::types::Sha256::digest(WEIGHTS).to_string();
    std::fs::write(blobs.join(&sha), b"corrupted").unwrap();
    let before = fingerprint(&hf);
    let err = install_extracted(&staging.dir, &staging.lock, &opts(&hf), &Silent).unwrap_err();
    assert!(err.to_string().contains(&sha), "{err}");
    assert!(err.to_string().contains(REPO), "{err}");
    assert_eq!(before, fingerprint(&hf));
    std::fs::remove_file(blobs.join(&sha)).unwrap();

    // huggingface_hub 2.x's tree listing names a file the bundle lacks.
    let trees = repo_dir(&hf).join("trees");
    std::fs::create_dir_all(&trees).unwrap();
    std::fs::write(
        trees.join(format!("{C1}.json")),
        r#"{"format_version": 1, "files": {"config.json": {"size": 18, "blob_id": "x"}, "tokenizer.json": {"size": 3, "blob_id": "y"}}}"#,
    )
    .unwrap();
    let before = fingerprint(&hf);
    let err = install_extracted(&staging.dir, &staging.lock, &opts(&hf), &Silent).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(REPO) && msg.contains("tokenizer.json"),
        "{msg}"
    );
    assert_eq!(before, fingerprint(&hf));
}

#[test]
fn tampered_bundle_blob_is_refused_and_cache_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let hf = tmp.path().join("hf");
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    tiny(&mut staging, C1, WEIGHTS);
    let sha = ferry::types::Sha256::digest(WEIGHTS).to_string();
    std::fs::write(
        staging
            .dir
            .join("models/hub/models--ferry-org--tiny/blobs")
            .join(&sha),
        b"swapped",
    )
    .unwrap();
    let err = install_extracted(&staging.dir, &staging.lock, &opts(&hf), &Silent).unwrap_err();
    assert!(err.is_verification(), "{err}");
    assert!(err.to_string().contains("sub/weights.safetensors"), "{err}");
    assert!(
        !hf.exists(),
        "the cache folder was created by a failed install"
    );
}

#[test]
fn local_dir_gets_plain_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    tiny(&mut staging, C1, WEIGHTS);
    let out = tmp.path().join("models");
    let o = Options {
        local_dir: Some(out.clone()),
        only: Some(Only::Models),
        ..Options::default()
    };
    install_extracted(&staging.dir, &staging.lock, &o, &Silent).unwrap();
    let f = out.join("ferry-org/tiny/sub/weights.safetensors");
    assert!(!std::fs::symlink_metadata(&f)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(f).unwrap(), WEIGHTS);
    assert_eq!(
        std::fs::read(out.join("ferry-org/tiny/config.json")).unwrap(),
        CONFIG
    );
}
