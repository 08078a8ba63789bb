//! Story: the security office's import rules want a standard lock. The bundle carries a PEP 751
//! `pylock.toml` (signed through SHA256SUMS) that stock uv and pip install from, offline, after a plain
//! `tar x`; `ferry lock --format pylock` writes one, and `ferry bundle --locked` takes a pylock.toml
//! written by uv or by pip and carries exactly its files.
mod support;

use std::process::Command;

use support::review_world::{
    bundle, freeze, host_python, index, json, keygen, offline, sha256sum, target_args, untar, venv,
};
use support::{describe, ferry, ok, test_python};

fn uv() -> std::path::PathBuf {
    test_python().parent().unwrap().join("uv")
}

#[test]
fn stock_uv_and_pip_install_from_the_bundled_pylock_offline() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d);
    bundle(d, &index, None, "app==1.0\n", "app.ferry.tar", &[]);
    let ext = untar(d, "app.ferry.tar", "ext");

    // The lock itself: relative paths, sizes and hashes that match the files, markers per target.
    let text = std::fs::read_to_string(ext.join("pylock.toml")).unwrap();
    let lock: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(lock["lock-version"].as_str(), Some("1.0"), "{text}");
    assert_eq!(
        lock["requires-python"].as_str().unwrap(),
        format!(">={}", host_python())
    );
    let envs = lock["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1, "{text}");
    assert!(envs[0]
        .as_str()
        .unwrap()
        .contains(&format!("python_version == '{}'", host_python())));
    let packages = lock["packages"].as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "helper"], "{text}");
    for p in packages {
        assert_eq!(p["index"].as_str(), Some(index.url.as_str()), "{text}");
        let wheel = &p["wheels"][0];
        let path = wheel["path"].as_str().unwrap();
        assert!(path.starts_with("wheels/"), "{text}");
        let file = ext.join(path);
        assert_eq!(
            wheel["size"].as_integer().unwrap() as u64,
            std::fs::metadata(&file).unwrap().len()
        );
        assert_eq!(
            wheel["hashes"]["sha256"].as_str().unwrap(),
            sha256sum(&file)
        );
    }
    // Signed like everything else: listed in SHA256SUMS, which minisign accepts.
    let sums = std::fs::read_to_string(ext.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  pylock.toml\n"), "{sums}");
    ok(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&ext));
    ok(Command::new("minisign")
        .args(["-Vm", "SHA256SUMS", "-p"])
        .arg(d.join("k.pub"))
        .current_dir(&ext));

    // unshare -n must work here, and really cut the network: the index is unreachable inside it.
    let mut probe = offline(&test_python());
    probe.args([
        "-c",
        &format!(
            "import urllib.request,sys\ntry:\n urllib.request.urlopen('{}', timeout=3)\nexcept Exception:\n sys.exit(7)\n",
            index.url
        ),
    ]);
    let out = probe.output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", describe(&probe, &out));

    // uv, offline, from the extracted bundle.
    let uv_venv = venv(&d.join("uv-venv"));
    let mut cmd = offline(&uv());
    cmd.args([
        "pip",
        "install",
        "--offline",
        "-r",
        "pylock.toml",
        "--python",
    ])
    .arg(uv_venv.join("bin/python"))
    .env("UV_CACHE_DIR", d.join("uv-cache"))
    .env_remove("UV_INDEX_URL")
    .env_remove("UV_DEFAULT_INDEX")
    .current_dir(&ext);
    ok(&mut cmd);

    // pip 26.x, offline, from the extracted bundle.
    let pip_venv = venv(&d.join("pip-venv"));
    let mut cmd = offline(&test_python());
    cmd.args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(pip_venv.join("bin/python"))
        .args(["install", "--no-index", "-r", "pylock.toml"])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .current_dir(&ext);
    ok(&mut cmd);

    let expected = ["app==1.0", "helper==1.1"];
    assert_eq!(freeze(&uv_venv), expected);
    assert_eq!(freeze(&pip_venv), expected);
    let v = ok(Command::new(pip_venv.join("bin/python")).args([
        "-c",
        "import app, helper; print(app.__version__, helper.__version__)",
    ]));
    assert_eq!(v.trim(), "1.0 1.1");
}

#[test]
fn pylock_from_ferry_uv_and_pip_bundles_exactly_its_files() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d);
    std::fs::write(d.join("reqs.in"), "app==1.0\nhelper==1.0\n").unwrap();

    // ferry's own: URLs (no bundle paths outside a bundle), loadable by the same reader.
    ok(ferry(d)
        .args([
            "lock",
            "-r",
            "reqs.in",
            "--format",
            "pylock",
            "--index-url",
            &index.url,
        ])
        .args(target_args()));
    let text = std::fs::read_to_string(d.join("pylock.toml")).unwrap();
    assert!(!text.contains("path ="), "{text}");
    assert!(
        text.contains(&format!(
            "url = \"{}",
            index.url.trim_end_matches("simple/")
        )),
        "{text}"
    );

    // uv's pylock.toml, resolved against the same local index.
    std::fs::create_dir_all(d.join("uv")).unwrap();
    let mut cmd = Command::new(uv());
    cmd.args([
        "pip",
        "compile",
        "reqs.in",
        "--format",
        "pylock.toml",
        "-o",
        "uv/pylock.toml",
    ])
    .args([
        "--index-url",
        &index.url,
        "--python-version",
        &host_python(),
    ])
    .args(["--python-platform", "x86_64-manylinux_2_17"])
    .env("UV_CACHE_DIR", d.join("uv-cache"))
    .current_dir(d);
    ok(&mut cmd);
    // pip's pylock.toml (`pip lock`, no sizes).
    std::fs::create_dir_all(d.join("pip")).unwrap();
    let mut cmd = Command::new(test_python());
    cmd.args([
        "-m",
        "pip",
        "--disable-pip-version-check",
        "lock",
        "-r",
        "reqs.in",
    ])
    .args(["--index-url", &index.url, "-o", "pip/pylock.toml"])
    .env("PIP_CONFIG_FILE", "/dev/null")
    .current_dir(d);
    ok(&mut cmd);

    for (who, lock) in [
        ("ferry", "pylock.toml"),
        ("uv", "uv/pylock.toml"),
        ("pip", "pip/pylock.toml"),
    ] {
        let out = format!("{who}.ferry.tar");
        ok(ferry(d)
            .args(["bundle", "--locked", lock, "-s", "k", "-o", &out])
            .args(target_args())
            .env("FERRY_CACHE_DIR", d.join(format!("cache-{who}"))));
        ok(ferry(d).args(["verify", &out, "-p", "k.pub"]));
        let ext = untar(d, &out, &format!("ext-{who}"));
        let manifest = json(&ext.join("ferry.json"));
        let files: Vec<&str> = manifest["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["filename"].as_str().unwrap())
            .collect();
        assert_eq!(
            files,
            ["app-1.0-py3-none-any.whl", "helper-1.0-py3-none-any.whl"],
            "{who}: {manifest:#}"
        );
        // The input lock's hashes are the bundled files' hashes.
        let input: toml::Value =
            toml::from_str(&std::fs::read_to_string(d.join(lock)).unwrap()).unwrap();
        for p in input["packages"].as_array().unwrap() {
            let w = &p["wheels"][0];
            let name = w
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    w["url"]
                        .as_str()
                        .unwrap()
                        .rsplit('/')
                        .next()
                        .unwrap()
                        .to_string()
                });
            assert_eq!(
                sha256sum(&ext.join("wheels").join(&name)),
                w["hashes"]["sha256"].as_str().unwrap(),
                "{who}: {name}"
            );
        }
        for p in manifest["packages"].as_array().unwrap() {
            assert!(p["size"].as_u64().unwrap() > 0, "{who}: {p:#}");
        }
    }
}

#[test]
fn a_pylock_that_names_no_file_for_the_target_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d);
    std::fs::write(
        d.join("pylock.toml"),
        "lock-version = \"1.0\"\ncreated-by = \"hand\"\n\n[[packages]]\nname = \"winonly\"\nversion = \"1.0\"\n\
         wheels = [{ url = \"http://127.0.0.1:9/winonly-1.0-cp311-cp311-win_amd64.whl\", hashes = { sha256 = \"0000000000000000000000000000000000000000000000000000000000000001\" } }]\n",
    )
    .unwrap();
    let mut cmd = ferry(d);
    cmd.args([
        "bundle",
        "--locked",
        "pylock.toml",
        "-s",
        "k",
        "-o",
        "x.ferry.tar",
    ])
    .args(target_args());
    let err = support::fails(&mut cmd, 2);
    assert!(
        err.contains("pylock.toml") && err.contains("winonly") && err.contains("no wheel"),
        "{err}"
    );
    assert!(!d.join("x.ferry.tar").exists());
}
