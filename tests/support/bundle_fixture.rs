//! Fixtures for the bundle tests: a handmade lock with a wheel, an sdist and a small model in the Hugging Face
//! cache layout, a signing key, and helpers to run the real `ferry`, GNU tar, sha256sum and minisign.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry::bundle::{self, sign, Entry, WriteOptions};
use ferry::lock::{DistKind, Lock, LockedModel, LockedModelFile, LockedPackage, FORMAT_VERSION};
use ferry::target::Target;
use ferry::types::Sha256;

pub const MTIME: u64 = 1_700_000_000;
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
pub const WHEEL: &str = "demo_pkg-1.0-py3-none-any.whl";
pub const SDIST: &str = "native_thing-2.0.tar.gz";
pub const LONG_FILE: &str =
    "a_rather_long_file_name_that_pushes_the_member_path_well_past_one_hundred_bytes.json";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub lock: Lock,
    pub entries: Vec<Entry>,
    pub secret: PathBuf,
    pub public: PathBuf,
}

impl Fixture {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn key(&self) -> sign::SecretKey {
        sign::load_secret_key_with(&self.secret, None).expect("load fixture key")
    }

    pub fn options(&self) -> WriteOptions {
        WriteOptions {
            mtime: MTIME,
            split: None,
            trusted_comment: bundle::default_trusted_comment(&self.lock.name, MTIME),
        }
    }

    /// Write the bundle to `out` with the fixture key.
    pub fn write(&self, out: &Path) -> bundle::WriteSummary {
        bundle::write(
            &self.lock,
            self.entries.clone(),
            &self.key(),
            out,
            &self.options(),
        )
        .expect("write bundle")
    }
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> (PathBuf, Sha256, u64) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    (path, Sha256::digest(bytes), bytes.len() as u64)
}

/// Bytes that look a little like a zip; the bundle does not care what is inside.
fn pseudo_archive(seed: u8, len: usize) -> Vec<u8> {
    let mut v = b"PK\x03\x04".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let (wheel_path, wheel_sha, wheel_size) = file(&src, WHEEL, &pseudo_archive(1, 70_000));
    let (sdist_path, sdist_sha, sdist_size) = file(&src, SDIST, &pseudo_archive(2, 3_000));
    let (config_path, config_sha, config_size) = file(&src, "config.json", b"{\"hidden\": 8}\n");
    let (weights_path, weights_sha, weights_size) =
        file(&src, "model.safetensors", &pseudo_archive(3, 200_000));
    let (long_path, long_sha, long_size) = file(&src, "long.json", b"{}\n");
    let (refs_path, refs_sha, refs_size) = file(&src, "main", COMMIT.as_bytes());
    let config_blob = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391".to_string();
    let long_blob = "d00491fd7e5bb6fa28c517a0bb32b8b506539d4d".to_string();
    let weights_blob = weights_sha.to_string();

    let package =
        |name: &str, version: &str, filename: &str, kind, sha: &Sha256, size| LockedPackage {
            name: name.parse().unwrap(),
            version: version.into(),
            filename: filename.into(),
            kind,
            url: format!("http://127.0.0.1:1/files/{filename}"),
            sha256: sha.clone(),
            size,
            targets: vec!["cp310-manylinux_2_28_x86_64".into()],
            requested: true,
            reason: None,
            needs_compiler: false,
            built_from: None,
        };
    let mut sdist = package(
        "native-thing",
        "2.0",
        SDIST,
        DistKind::Sdist,
        &sdist_sha,
        sdist_size,
    );
    sdist.needs_compiler = true;
    sdist.reason = Some("no wheel for manylinux_2_28_x86_64".into());
    let model_file = |path: &str, blob: &str, sha: &Sha256, size, lfs| LockedModelFile {
        path: path.into(),
        blob: blob.into(),
        sha256: Some(sha.clone()),
        size,
        lfs,
    };
    let lock = Lock {
        format: FORMAT_VERSION,
        tool: "ferry 0.1.0".into(),
        name: "demo".into(),
        created: MTIME,
        targets: vec![Target::new("3.10", vec!["manylinux_2_28_x86_64".into()]).unwrap()],
        inputs: vec!["requirements.txt".into()],
        requirements: vec!["demo-pkg==1.0".into()],
        indexes: vec!["http://127.0.0.1:1/simple".into()],
        hf_endpoint: None,
        packages: vec![
            package(
                "demo-pkg",
                "1.0",
                WHEEL,
                DistKind::Wheel,
                &wheel_sha,
                wheel_size,
            ),
            sdist,
        ],
        models: vec![LockedModel {
            repo: "org/tiny".parse().unwrap(),
            kind: Default::default(),
            revision: "main".into(),
            commit: COMMIT.parse().unwrap(),
            source_repo: Some("old-org/tiny".parse().unwrap()),
            reason: Some("the training config names it as the tokenizer".into()),
            origins: vec![],
            files: vec![
                model_file("config.json", &config_blob, &config_sha, config_size, false),
                model_file(
                    "model.safetensors",
                    &weights_blob,
                    &weights_sha,
                    weights_size,
                    true,
                ),
                model_file(
                    &format!("sub/{LONG_FILE}"),
                    &long_blob,
                    &long_sha,
                    long_size,
                    false,
                ),
            ],
        }],
        files: vec![],
        local_paths: vec![],
        skipped: vec![],
        torch: vec![],
        delta: None,
    };

    let repo = "models/hub/models--org--tiny";
    let f = |member: String, path: PathBuf, sha256: Sha256, size| Entry::File {
        member,
        path,
        sha256,
        size,
    };
    let link = |member: String, target: String| Entry::Symlink { member, target };
    let entries = vec![
        f(format!("wheels/{WHEEL}"), wheel_path, wheel_sha, wheel_size),
        f(format!("wheels/{SDIST}"), sdist_path, sdist_sha, sdist_size),
        f(
            format!("{repo}/blobs/{config_blob}"),
            config_path,
            config_sha,
            config_size,
        ),
        f(
            format!("{repo}/blobs/{weights_blob}"),
            weights_path,
            weights_sha,
            weights_size,
        ),
        f(
            format!("{repo}/blobs/{long_blob}"),
            long_path,
            long_sha,
            long_size,
        ),
        f(format!("{repo}/refs/main"), refs_path, refs_sha, refs_size),
        link(
            format!("{repo}/snapshots/{COMMIT}/config.json"),
            format!("../../blobs/{config_blob}"),
        ),
        link(
            format!("{repo}/snapshots/{COMMIT}/model.safetensors"),
            format!("../../blobs/{weights_blob}"),
        ),
        link(
            format!("{repo}/snapshots/{COMMIT}/sub/{LONG_FILE}"),
            format!("../../../blobs/{long_blob}"),
        ),
    ];
    let secret = dir.path().join("ferry.key");
    let public = dir.path().join("ferry.pub");
    sign::generate(&secret, &public, false, false).unwrap();
    Fixture {
        dir,
        lock,
        entries,
        secret,
        public,
    }
}

/// Run a command; panic with everything it printed when it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn describe(cmd: &str, out: &Output) -> String {
    format!(
        "{cmd}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn ferry(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    for a in args {
        cmd.arg(a);
    }
    cmd.env_remove("FERRY_KEY_PASSWORD");
    run(&mut cmd)
}

/// `ferry verify BUNDLE -p KEY`; returns (exit code, stdout, stderr).
pub fn ferry_verify(bundle: &Path, public: &Path) -> (i32, String, String) {
    let out = ferry(&[&"verify", &bundle, &"-p", &public]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The minisign CLI is the judge of signatures; its absence is a broken test setup, not a skip.
pub fn require_minisign() {
    let found = Command::new("minisign").arg("-v").output().is_ok();
    assert!(
        found,
        "the `minisign` CLI is not on PATH: run scripts/setup-test-env.sh (it installs minisign) and retry"
    );
}

/// Every file and folder under `dir` (relative paths), sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
