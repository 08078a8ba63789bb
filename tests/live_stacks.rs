//! Opt-in (FERRY_LIVE_STACKS=1): lock real training stacks (tests/fixtures/stacks/*.txt) for four targets
//! against the package index the user configured for pip (PIP_INDEX_URL, else pip's own default), and
//! compare the resolved sets with `uv pip compile` for the same target. Prints both times. Never run by CI.
//! FERRY_LIVE_STACKS_ONLY=comfyui,sd-scripts picks stacks; the cache is cold for both tools.
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

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

fn configured_index() -> String {
    std::env::var("PIP_INDEX_URL").ok().unwrap_or_else(|| {
        let out = std::process::Command::new(support::test_python())
            .args([
                "-c",
                "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// (ferry platform, uv --python-platform, MACOSX_DEPLOYMENT_TARGET)
const TARGETS: &[(&str, &str, &str)] = &[
    ("manylinux_2_28_x86_64", "x86_64-manylinux_2_28", ""),
    ("manylinux_2_28_aarch64", "aarch64-manylinux_2_28", ""),
    ("win_amd64", "x86_64-pc-windows-msvc", ""),
    ("macosx_14_0_arm64", "aarch64-apple-darwin", "14.0"),
];

fn ferry_set(lock: &Path) -> BTreeSet<String> {
    let lock: serde_json::Value = serde_json::from_slice(&std::fs::read(lock).unwrap()).unwrap();
    lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        // Build requirements of sdists travel too; uv's list has only runtime packages.
        .filter(|p| {
            !p["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("build requirement"))
        })
        .map(|p| {
            format!(
                "{}=={}",
                normalize(p["name"].as_str().unwrap()),
                p["version"].as_str().unwrap()
            )
        })
        .collect()
}

fn uv_set(out: &str) -> BTreeSet<String> {
    out.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (n, v) = l.split_once("==")?;
            Some(format!(
                "{}=={}",
                normalize(n.split('[').next().unwrap()),
                v.split(';').next().unwrap().trim()
            ))
        })
        .collect()
}

#[test]
fn real_stacks_for_four_targets_match_uv() {
    if std::env::var("FERRY_LIVE_STACKS").as_deref() != Ok("1") {
        eprintln!("live stacks test not run: set FERRY_LIVE_STACKS=1 to lock against the configured index");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let only = std::env::var("FERRY_LIVE_STACKS_ONLY").ok();
    let mut stacks: Vec<_> = std::fs::read_dir(root.join("tests/fixtures/stacks"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|s| s == stem))
        })
        .collect();
    stacks.sort();
    let index = configured_index();
    let uv = support::test_python().with_file_name("uv");
    let mut failures = Vec::new();
    for reqs in &stacks {
        let stem = reqs.file_stem().unwrap().to_string_lossy().into_owned();
        for (plat, uv_plat, macos) in TARGETS {
            let dir = tempfile::tempdir().unwrap();
            let lock = dir.path().join("l.lock");
            let t = Instant::now();
            let out = support::ferry(dir.path())
                .args(["lock", "-r"])
                .arg(reqs)
                .args([
                    "--python-version",
                    "3.10",
                    "--platform",
                    plat,
                    "--index-url",
                    &index,
                    "-o",
                ])
                .arg(&lock)
                .output()
                .unwrap();
            let ferry_secs = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut cmd = std::process::Command::new(&uv);
            cmd.args(["pip", "compile"])
                .arg(reqs)
                .args([
                    "--python-version",
                    "3.10",
                    "--python-platform",
                    uv_plat,
                    "--index-url",
                    &index,
                    "-q",
                    "--no-header",
                    "--no-annotate",
                    "--cache-dir",
                ])
                .arg(dir.path().join("uv-cache"))
                .env("UV_PYTHON_DOWNLOADS", "never");
            if !macos.is_empty() {
                cmd.env("MACOSX_DEPLOYMENT_TARGET", macos);
            }
            let uv_out = cmd.output().unwrap();
            let uv_secs = t.elapsed().as_secs_f64();
            eprintln!(
                "{stem} {plat}: ferry {ferry_secs:.1} s ({}), uv {uv_secs:.1} s ({})",
                out.status, uv_out.status
            );
            match (out.status.success(), uv_out.status.success()) {
                (true, true) => {
                    let f = ferry_set(&lock);
                    let u = uv_set(&String::from_utf8_lossy(&uv_out.stdout));
                    if f != u {
                        failures.push(format!(
                            "{stem} {plat}: ferry only {:?}; uv only {:?}",
                            f.difference(&u).collect::<Vec<_>>(),
                            u.difference(&f).collect::<Vec<_>>()
                        ));
                    }
                }
                (false, false) => eprintln!(
                    "  both fail:\n  ferry: {}\n  uv: {}",
                    String::from_utf8_lossy(&out.stderr).trim(),
                    String::from_utf8_lossy(&uv_out.stderr).trim()
                ),
                _ => failures.push(format!(
                    "{stem} {plat}: ferry {} / uv {}\nferry stderr: {}\nuv stderr: {}",
                    out.status,
                    uv_out.status,
                    String::from_utf8_lossy(&out.stderr).trim(),
                    String::from_utf8_lossy(&uv_out.stderr).trim()
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
