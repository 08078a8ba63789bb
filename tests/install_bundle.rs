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
