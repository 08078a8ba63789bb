//! Story: only what changed travels. `bundle --have OLD` leaves out every file OLD carried and records
//! OLD's SHA256SUMS digest; installing the delta first checks the target holds what it leaves out (and
//! names what is missing, touching nothing); base + delta installs to exactly what the full bundle does.
mod support;

use std::path::Path;

use support::review_world::{bundle, hub, index, json, keygen, model, sha256sum, untar, MODEL};
use support::wheelbuilder::fingerprint;
use support::{fails, ferry, ok};

const BASE: &str = "app==1.0\nhelper==1.0\ndropme==1.0\n";
const NEW: &str = "app==1.0\nhelper==1.1\nnewpkg==1.0\n";

fn install(d: &Path, bundle: &str, venv: &str, hf: &str) -> String {
    ok(ferry(d).args([
        "install",
        bundle,
        "-p",
        "k.pub",
        "--venv",
        venv,
        "--hf-home",
        hf,
    ]))
}

fn freeze_ours(venv: &Path) -> Vec<String> {
    support::review_world::freeze(venv)
        .into_iter()
        .filter(|l| {
            ["app", "helper", "dropme", "newpkg"]
                .iter()
                .any(|p| l.starts_with(&format!("{p}==")))
        })
        .collect()
}

#[test]
fn base_plus_delta_installs_the_same_as_the_full_bundle() {
    let index = index();
    let hub = hub();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d);
    bundle(d, &index, Some(&hub), BASE, "base.ferry.tar", &[]);
    let base_commit = hub.commit_of(MODEL);
    std::fs::copy(d.join("base.ferry.tar.txt"), d.join("base.txt")).unwrap();
    ok(ferry(d)
        .args([
            "lock",
            "-r",
            "base.txt",
            "--index-url",
            &index.url,
            "-o",
            "base.lock",
        ])
        .args(["--model", MODEL, "--hf-endpoint", &hub.url])
        .args(support::review_world::target_args()));

    // A month later: helper upgraded, dropme gone, newpkg new, the model's weights retrained.
    hub.add_model(MODEL, model(2));
    let new_commit = hub.commit_of(MODEL);
    assert_ne!(base_commit, new_commit);
    bundle(d, &index, Some(&hub), NEW, "full.ferry.tar", &[]);
    bundle(
        d,
        &index,
        Some(&hub),
        NEW,
        "delta.ferry.tar",
        &["--have", "base.ferry.tar"],
    );
    ok(ferry(d).args(["verify", "delta.ferry.tar", "-p", "k.pub"]));

    // What the delta records and carries.
    let ext_base = untar(d, "base.ferry.tar", "ext-base");
    let ext = untar(d, "delta.ferry.tar", "ext-delta");
    let manifest = json(&ext.join("ferry.json"));
    let delta = &manifest["delta"];
    assert_eq!(
        delta["base"],
        sha256sum(&ext_base.join("SHA256SUMS")),
        "{delta:#}"
    );
    assert_eq!(delta["base_kind"], "bundle");
    assert_eq!(delta["removed"], serde_json::json!(["dropme==1.0"]));
    assert_eq!(delta["retired"][0]["commit"], base_commit.as_str());
    let omitted: Vec<&str> = delta["omitted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let blob = |path: &str| -> String {
        let m = manifest["models"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap()
            .clone();
        format!(
            "models/hub/models--org--tiny/blobs/{}",
            m["blob"].as_str().unwrap()
        )
    };
    let mut expected = vec![
        blob("README.md"),
        blob("config.json"),
        "wheels/app-1.0-py3-none-any.whl".to_string(),
    ];
    expected.sort();
    assert_eq!(omitted, expected, "{delta:#}");
    for m in &omitted {
        assert!(!ext.join(m).exists(), "{m} travelled");
    }
    assert!(ext.join("wheels/helper-1.1-py3-none-any.whl").is_file());
    assert!(ext.join("wheels/newpkg-1.0-py3-none-any.whl").is_file());
    assert!(ext.join(blob("model.safetensors")).is_file());
    let sums = std::fs::read_to_string(ext.join("SHA256SUMS")).unwrap();
    assert!(!sums.contains("app-1.0"), "{sums}");
    // Its pylock.toml still names the whole environment; what stayed home has a URL but no path.
    let pylock: toml::Value =
        toml::from_str(&std::fs::read_to_string(ext.join("pylock.toml")).unwrap()).unwrap();
    for p in pylock["packages"].as_array().unwrap() {
        let w = &p["wheels"][0];
        let carried = p["name"].as_str() != Some("app");
        assert_eq!(w.get("path").is_some(), carried, "{p:#?}");
        assert!(w.get("url").is_some(), "{p:#?}");
    }
    let size = |f: &str| std::fs::metadata(d.join(f)).unwrap().len();
    assert!(size("delta.ferry.tar") < size("full.ferry.tar"));

    // From a lock, the same files stay home; the base is the lock file's digest.
    bundle(
        d,
        &index,
        Some(&hub),
        NEW,
        "delta2.ferry.tar",
        &["--have", "base.lock"],
    );
    let m2 = json(&untar(d, "delta2.ferry.tar", "ext-delta2").join("ferry.json"));
    assert_eq!(m2["delta"]["base_kind"], "lock");
    assert_eq!(m2["delta"]["base"], sha256sum(&d.join("base.lock")));
    assert_eq!(m2["delta"]["omitted"], delta["omitted"]);

    // The delta alone: refused before anything changes, naming what is missing.
    std::fs::create_dir_all(d.join("lonely-hf")).unwrap();
    let before = fingerprint(&d.join("lonely-hf"));
    let err = fails(
        ferry(d).args([
            "install",
            "delta.ferry.tar",
            "-p",
            "k.pub",
            "--venv",
            "lonely",
            "--hf-home",
            "lonely-hf",
        ]),
        1,
    );
    assert!(err.contains("install the base bundle first"), "{err}");
    assert!(err.contains("app 1.0"), "{err}");
    assert!(err.contains("model org/tiny file README.md"), "{err}");
    assert!(err.contains("config.json"), "{err}");
    assert!(
        !d.join("lonely").exists(),
        "venv created by a refused install"
    );
    assert_eq!(fingerprint(&d.join("lonely-hf")), before);

    // Base installed, but its venv then lost app: the delta names exactly that.
    install(d, "base.ferry.tar", "partial", "partial-hf");
    ok(std::process::Command::new(support::test_python())
        .args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(d.join("partial/bin/python"))
        .args(["uninstall", "-y", "app"]));
    let venv_before = fingerprint(&d.join("partial"));
    let hf_before = fingerprint(&d.join("partial-hf"));
    let err = fails(
        ferry(d).args([
            "install",
            "delta.ferry.tar",
            "-p",
            "k.pub",
            "--venv",
            "partial",
            "--hf-home",
            "partial-hf",
        ]),
        1,
    );
    assert!(err.contains("app 1.0 in venv"), "{err}");
    assert!(!err.contains("model org/tiny"), "{err}");
    assert_eq!(fingerprint(&d.join("partial")), venv_before);
    assert_eq!(fingerprint(&d.join("partial-hf")), hf_before);

    // Base, then delta, equals the full bundle: same pip freeze, same Hugging Face cache tree.
    install(d, "base.ferry.tar", "venv-a", "hf-a");
    assert_eq!(
        freeze_ours(&d.join("venv-a")),
        ["app==1.0", "dropme==1.0", "helper==1.0"]
    );
    let out = install(d, "delta.ferry.tar", "venv-a", "hf-a");
    assert!(out.contains("helper"), "{out}");
    install(d, "full.ferry.tar", "venv-b", "hf-b");
    let expected = ["app==1.0", "helper==1.1", "newpkg==1.0"];
    assert_eq!(freeze_ours(&d.join("venv-b")), expected);
    assert_eq!(
        support::review_world::freeze(&d.join("venv-a")),
        support::review_world::freeze(&d.join("venv-b"))
    );
    assert_eq!(
        fingerprint(&d.join("hf-a/hub")),
        fingerprint(&d.join("hf-b/hub"))
    );
    let refs = std::fs::read_to_string(d.join("hf-a/hub/models--org--tiny/refs/main")).unwrap();
    assert_eq!(refs, new_commit);
    // And it loads offline with huggingface_hub.
    let mut py = std::process::Command::new(support::test_python());
    py.args([
        "-c",
        "from huggingface_hub import snapshot_download; import os; p = snapshot_download('org/tiny'); print(sorted(os.listdir(p)))",
    ])
    .env("HF_HUB_CACHE", d.join("hf-a/hub"))
    .env("HF_HUB_OFFLINE", "1")
    .env_remove("HF_TOKEN");
    let listed = ok(&mut py);
    assert!(listed.contains("model.safetensors"), "{listed}");
}
