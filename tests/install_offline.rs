//! Story: on the air-gapped host (no network namespace), install a bundle made online: wheels into a
//! fresh venv, models into the HF cache; real python, pip and huggingface_hub are the judges.
mod support;

use std::path::Path;

use support::hub_server::{text_model_repo, HubServer};
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{fails, ferry, ok, test_python};

fn host_target() -> (String, String) {
    let t = ferry::host::detect(Some(&test_python())).unwrap();
    (t.python.clone(), t.platforms[0].clone())
}

/// `ferry …` inside a network namespace with no network at all.
fn offline_ferry(d: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("unshare");
    c.args(["-n", env!("CARGO_BIN_EXE_ferry")]).current_dir(d);
    for var in [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_HOME",
        "HF_HUB_CACHE",
    ] {
        c.env_remove(var);
    }
    c
}

fn tree_hash(root: &Path) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("find . -printf '%p %y %s %m %l\\n' | sort; find . -type f -print0 | sort -z | xargs -0 -r sha256sum")
        .current_dir(root)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn world() -> IndexServer {
    let s = IndexServer::start(Mode::Json);
    let mut app = WheelSpec::new("lora-tool", "0.4.0")
        .requires(&["tinydep>=1", "wintool; sys_platform == 'win32'"]);
    app.entry_points = Some("[console_scripts]\nlora-tool = lora_tool:main\n");
    app.files = vec![(
        "lora_tool/__init__.py".into(),
        b"import tinydep\ndef main():\n    print('lora', tinydep.__version__)\n".to_vec(),
    )];
    s.add("lora-tool", &app.filename(), app.build());
    for spec in [
        WheelSpec::new("tinydep", "1.5"),
        WheelSpec::new("wintool", "2.0"),
    ] {
        s.add(spec.name, &spec.filename(), spec.build());
    }
    s
}

#[test]
fn install_offline_into_fresh_venv_and_hf_cache() {
    let index = world();
    let hub = HubServer::start();
    hub.add_model("org/tiny-clip", text_model_repo());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "lora-tool\n").unwrap();
    let (py, plat) = host_target();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    // Two targets: this host and Windows.
    ok(ferry(d)
        .args([
            "bundle",
            "-r",
            "requirements.txt",
            "--model",
            "org/tiny-clip",
            "--include",
            "*.json",
            "--include",
            "*.txt",
            "--hf-endpoint",
            &hub.url,
            "--index-url",
            &index.url,
        ])
        .args([
            "--python-version",
            &py,
            "--platform",
            &plat,
            "--platform",
            "win_amd64",
            "-s",
            "k",
            "-o",
            "b.ferry.tar",
        ]));

    let venv = d.join("venv");
    let hf = d.join("hf");
    let out = ok(offline_ferry(d)
        .args([
            "install",
            "b.ferry.tar",
            "-p",
            "k.pub",
            "--venv",
            "venv",
            "--python",
        ])
        .arg(test_python())
        .args(["--hf-home", "hf", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = summary["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"lora-tool") && names.contains(&"tinydep") && !names.contains(&"wintool"),
        "{summary:#}"
    );

    let run = ok(&mut std::process::Command::new(venv.join("bin/lora-tool")));
    assert_eq!(run.trim(), "lora 1.5");
    let pip = |args: &[&str]| {
        let mut c = std::process::Command::new(test_python());
        c.args(["-m", "pip", "--python"])
            .arg(venv.join("bin/python"))
            .args(args)
            .env("PIP_CONFIG_FILE", "/dev/null");
        c
    };
    ok(&mut pip(&["check"]));
    let show = ok(&mut pip(&["show", "lora-tool"]));
    assert!(show.contains("Version: 0.4.0"), "{show}");
    let out = ok(std::process::Command::new(test_python())
        .args(["-c", "from huggingface_hub import snapshot_download; import os; p = snapshot_download('org/tiny-clip'); print(sorted(os.listdir(p)))"])
        .env("HF_HOME", &hf)
        .env("HF_HUB_OFFLINE", "1"));
    assert!(
        out.contains("config.json") && out.contains("vocab.json"),
        "{out}"
    );

    // A second install of the same bundle changes nothing.
    let before = tree_hash(d);
    let out = ok(offline_ferry(d).args([
        "install",
        "b.ferry.tar",
        "-p",
        "k.pub",
        "--venv",
        "venv",
        "--hf-home",
        "hf",
        "--json",
    ]));
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        again["installed"].as_array().unwrap().is_empty(),
        "{again:#}"
    );
    assert_eq!(before, tree_hash(d));

    // pip can uninstall what ferry installed.
    ok(&mut pip(&["uninstall", "-y", "-q", "lora-tool"]));
    assert!(!venv.join("bin/lora-tool").exists());

    // A tampered bundle leaves venv and cache exactly as they were.
    let mut bytes = std::fs::read(d.join("b.ferry.tar")).unwrap();
    let at = bytes.windows(4).rposition(|w| w == b"PK\x03\x04").unwrap();
    bytes[at + 40] ^= 0x20;
    std::fs::write(d.join("t.ferry.tar"), &bytes).unwrap();
    let before = tree_hash(d);
    let err = fails(
        offline_ferry(d).args([
            "install",
            "t.ferry.tar",
            "-p",
            "k.pub",
            "--venv",
            "venv",
            "--hf-home",
            "hf",
        ]),
        3,
    );
    assert!(err.contains("wheels/"), "{err}");
    let after = tree_hash(d);
    assert_eq!(
        before
            .lines()
            .filter(|l| !l.contains("t.ferry.tar"))
            .collect::<Vec<_>>(),
        after
            .lines()
            .filter(|l| !l.contains("t.ferry.tar"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_bundle_for_another_host_is_refused_with_both_targets_shown() {
    let index = world();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "lora-tool\n").unwrap();
    let mut spec = WheelSpec::new("winnative", "1.0").tag("cp310-cp310-win_amd64");
    spec.files = vec![];
    index.add("winnative", &spec.filename(), spec.build());
    std::fs::write(d.join("requirements.txt"), "winnative\n").unwrap();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(d).args([
        "bundle",
        "-r",
        "requirements.txt",
        "--index-url",
        &index.url,
        "--python-version",
        "3.10",
        "--platform",
        "win_amd64",
        "-s",
        "k",
        "-o",
        "w.ferry.tar",
    ]));
    let out = offline_ferry(d)
        .args([
            "install",
            "w.ferry.tar",
            "-p",
            "k.pub",
            "--venv",
            "venv",
            "--python",
        ])
        .arg(test_python())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("win_amd64") && err.contains("manylinux") && err.contains("3.10"),
        "{err}"
    );
    assert!(
        !d.join("venv").exists(),
        "a venv created for a failed install is removed again"
    );
}
