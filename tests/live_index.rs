//! Opt-in (FERRY_LIVE_INDEX=1): lock a real-world LoRA requirements file from the configured package
//! index and compare the result with `uv pip compile` for the same target. Never run by .ci/run.
mod support;

use std::collections::BTreeSet;
use std::path::Path;

fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c == '_' || c == '.' {
            '-'
        } else {
            c.to_ascii_lowercase()
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

#[test]
fn lock_matches_uv_pip_compile() {
    if std::env::var("FERRY_LIVE_INDEX").as_deref() != Ok("1") {
        eprintln!(
            "live index test not run: set FERRY_LIVE_INDEX=1 to lock against the configured index"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reqs = root.join("manifests/lora-requirements.txt");
    let dir = tempfile::tempdir().unwrap();
    let index = std::env::var("PIP_INDEX_URL").ok().unwrap_or_else(|| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    });
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(["lock", "-r"])
        .arg(&reqs)
        .args([
            "--python-version",
            "3.10",
            "--platform",
            "manylinux_2_28_x86_64",
            "--index-url",
            &index,
            "-o",
        ])
        .arg(dir.path().join("l.lock"));
    support::ok(&mut cmd);
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("l.lock")).unwrap()).unwrap();
    let ferry: BTreeSet<String> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}=={}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    let uv = support::test_python().with_file_name("uv");
    let out = support::ok(
        std::process::Command::new(uv)
            .args(["pip", "compile"])
            .arg(&reqs)
            .args([
                "--python-version",
                "3.10",
                "--python-platform",
                "x86_64-manylinux_2_28",
                "--index-url",
                &index,
                "-q",
                "--no-header",
                "--no-annotate",
            ]),
    );
    let uv: BTreeSet<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, v) = l.split_once("==").unwrap();
            format!("{}=={}", normalize(n), v.split(';').next().unwrap().trim())
        })
        .collect();
    assert_eq!(
        ferry,
        uv,
        "ferry only: {:?}\nuv only: {:?}",
        ferry.difference(&uv).collect::<Vec<_>>(),
        uv.difference(&ferry).collect::<Vec<_>>()
    );
}
