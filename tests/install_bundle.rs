//! Story: the user runs `ferry install BUNDLE -p ferry.pub --venv DIR --hf-home DIR` on the air-gapped host: a
//! signed bundle installs wheels and models; a tampered one exits 3 and creates nothing.
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::bundle::{self, sign, Entry, WriteOptions};
use wheelbuilder::{run, Staging, WheelBuilder};

const COMMIT: &str = "3333333333333333333333333333333333333aaa";

/// Every file and symlink of an extracted-bundle folder as bundle entries (ferry.json is written by `write`).
fn entries(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let member = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push(Entry::Symlink { member, target });
            } else if meta.is_dir() {
                stack.push(p);
            } else if member != "ferry.json" {
                let bytes = std::fs::read(&p).unwrap();
                out.push(Entry::File {
                    member,
                    sha256: ferry::types::Sha256::digest(&bytes),
                    size: bytes.len() as u64,
                    path: p,
                });
            }
        }
    }
    out
}

fn signed_bundle(tmp: &Path) -> (PathBuf, PathBuf) {
    let mut staging = Staging::new(&tmp.join("layout"));
    staging.add_wheel(
        &WheelBuilder::new("ferry-alpha", "1.0")
            .file(
                "ferry_alpha/__init__.py",
                "def main():\n    print('alpha via bundle')\n",
            )
            .entry_points("[console_scripts]\nalpha-hello = ferry_alpha:main\n"),
        true,
    );
    staging.add_model(
        "ferry-org/tiny",
        "main",
        COMMIT,
        &[
            ("config.json", b"{\"hidden_size\": 8}", false),
            ("w.bin", b"weights!", true),
        ],
    );
    let secret = tmp.join("ferry.key");
    let public = tmp.join("ferry.pub");
    sign::generate(&secret, &public, false, false).unwrap();
    let key = sign::load_secret_key_with(&secret, None).unwrap();
    let out = tmp.join("demo.ferry.tar");
    let opts = WriteOptions {
        mtime: 1_700_000_000,
        split: None,
        trusted_comment: bundle::default_trusted_comment("demo", 1_700_000_000),
    };
    bundle::write(&staging.lock, entries(&staging.dir), &key, &out, &opts).unwrap();
    (out, public)
}

fn ferry_install(bundle: &Path, public: &Path, venv: &Path, hf: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("install")
        .arg(bundle)
        .arg("-p")
        .arg(public)
        .arg("--venv")
        .arg(venv)
        .arg("--hf-home")
        .arg(hf)
        .arg("--json")
        .output()
        .unwrap()
}

#[test]
fn a_signed_bundle_installs_and_a_tampered_one_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let (bundle, public) = signed_bundle(tmp);
    let venv = tmp.join("venv");
    let hf = tmp.join("hf");
    let out = ferry_install(&bundle, &public, &venv, &hf);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["installed"][0]["name"], "ferry-alpha");
    assert_eq!(summary["models"][0]["repo"], "ferry-org/tiny");
    assert_eq!(
        run(&mut Command::new(venv.join("bin/alpha-hello"))).trim(),
        "alpha via bundle"
    );
    assert_eq!(
        std::fs::read(hf.join("hub/models--ferry-org--tiny/refs/main")).unwrap(),
        COMMIT.as_bytes()
    );

    // One byte of a model blob changed inside the tar: verification fails (exit 3), nothing is created.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes
        .windows(8)
        .position(|w| w == b"weights!")
        .expect("blob stored plainly in the tar");
    bytes[at] = b'W';
    let tampered = tmp.join("tampered.ferry.tar");
    std::fs::write(&tampered, bytes).unwrap();
    let (venv2, hf2) = (tmp.join("venv2"), tmp.join("hf2"));
    let out = ferry_install(&tampered, &public, &venv2, &hf2);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!venv2.exists() && !hf2.exists());
}

/// Bytes in regular files under `root` (symlinks not followed).
fn bytes_under(root: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(list) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in list.flatten() {
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

/// Story: a bundle with a 64 MiB model, split into 24 MiB volumes, installs straight from the volumes: no
/// extraction of the bundle, the model file written once into the HF cache's own staging area and renamed
/// into `blobs/` (never extracted and then copied). Sampled while ferry runs, the bytes written under the
/// install folders (venv, HF cache, TMPDIR) never exceed 1.1 × the model; TMPDIR gets nothing. A tampered
/// split bundle still changes nothing.
#[test]
fn installs_stream_from_the_bundle_without_extracting_it() {
    const MODEL: usize = 64 << 20;
    let keep = tempfile::tempdir().unwrap();
    let keep = keep.path();
    let (bundle, public) = {
        let layout = tempfile::tempdir().unwrap();
        let mut staging = Staging::new(&layout.path().join("layout"));
        staging.add_wheel(
            &WheelBuilder::new("ferry-alpha", "1.0")
                .file(
                    "ferry_alpha/__init__.py",
                    "def main():\n    print('streamed')\n",
                )
                .file("ferry_alpha/sub/deep.py", "X = 1\n")
                .entry_points("[console_scripts]\nalpha-hello = ferry_alpha:main\n"),
            true,
        );
        let mut x = 0x9E37_79B9u32;
        let weights: Vec<u8> = (0..MODEL)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        staging.add_model(
            "ferry-org/big",
            "main",
            COMMIT,
            &[
                ("config.json", b"{\"hidden_size\": 8}", false),
                ("model.safetensors", &weights, true),
            ],
        );
        let secret = keep.join("ferry.key");
        let public = keep.join("ferry.pub");
        sign::generate(&secret, &public, false, false).unwrap();
        let key = sign::load_secret_key_with(&secret, None).unwrap();
        let out = keep.join("big.ferry.tar");
        let opts = WriteOptions {
            mtime: 1_700_000_000,
            split: Some(24 << 20),
            trusted_comment: bundle::default_trusted_comment("big", 1_700_000_000),
        };
        let volumes =
            bundle::write(&staging.lock, entries(&staging.dir), &key, &out, &opts).unwrap();
        assert!(volumes.volumes.len() >= 3, "{:?}", volumes.volumes);
        (volumes.volumes[0].clone(), public)
    };

    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let tmpdir = work.join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    let (venv, hf) = (work.join("venv"), work.join("hf"));
    let install = |bundle: &Path, venv: &Path, hf: &Path| {
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .arg("install")
            .arg(bundle)
            .arg("-p")
            .arg(&public)
            .arg("--venv")
            .arg(venv)
            .arg("--hf-home")
            .arg(hf)
            .arg("--json")
            .env("TMPDIR", &tmpdir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = install(&bundle, &venv, &hf);
    let (mut peak, mut peak_tmp) = (0u64, 0u64);
    while child.try_wait().unwrap().is_none() {
        peak = peak.max(bytes_under(work));
        peak_tmp = peak_tmp.max(bytes_under(&tmpdir));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = bytes_under(work);
    peak = peak.max(after);
    let blob = hf.join("hub/models--ferry-org--big/blobs").join(
        ferry::types::Sha256::digest(
            &std::fs::read(hf.join(format!(
                "hub/models--ferry-org--big/snapshots/{COMMIT}/model.safetensors"
            )))
            .unwrap(),
        )
        .to_string(),
    );
    assert_eq!(std::fs::metadata(&blob).unwrap().len(), MODEL as u64);
    assert!(
        peak as f64 <= 1.1 * MODEL as f64,
        "peak {peak} bytes under the install folders for a {MODEL}-byte model (after: {after})"
    );
    assert!(peak_tmp < 1 << 20, "TMPDIR got {peak_tmp} bytes");
    assert_eq!(
        run(&mut Command::new(venv.join("bin/alpha-hello"))).trim(),
        "streamed"
    );
    // No staging folder left behind in the venv or the cache.
    for dir in [&venv, &hf.join("hub")] {
        let leftovers: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".ferry-staging")
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    // One byte of the model changed in the middle volume: exit 3, no venv, no cache.
    let middle = PathBuf::from(format!("{}", bundle.display()).replace(".000", ".001"));
    let mut bytes = std::fs::read(&middle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&middle, bytes).unwrap();
    let (venv2, hf2) = (work.join("venv2"), work.join("hf2"));
    let out = install(&bundle, &venv2, &hf2).wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!venv2.exists() && !hf2.exists());
}
