//! Story: bundle Python requirements for another host, then install them offline with stock pip.
mod support;

use std::path::Path;

use support::index_server::{IndexServer, Mode};
use support::wheels::{sdist, WheelSpec};
use support::{fails, ferry, ok, test_python};

fn host_python_version() -> String {
    let out = std::process::Command::new(test_python())
        .args([
            "-c",
            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Serve the real setuptools/wheel wheels that scripts/setup-test-env.sh downloaded, so pip's build
/// isolation can build an sdist from the local index.
fn serve_build_backend(s: &IndexServer) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/wheels");
    for e in std::fs::read_dir(&dir)
        .expect("run scripts/setup-test-env.sh")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let project = name.split('-').next().unwrap().to_string();
        s.add(&project, &name, std::fs::read(e.path()).unwrap());
    }
}

fn add(s: &IndexServer, spec: WheelSpec) {
    s.add(spec.name, &spec.filename(), spec.build());
}

fn world() -> (IndexServer, IndexServer) {
    let s = IndexServer::start(Mode::Json);
    let mut app = WheelSpec::new("chara-app", "1.2.0").requires(&[
        "helper>=1.0",
        "srconly",
        "winonly; sys_platform == 'win32'",
    ]);
    app.entry_points = Some("[console_scripts]\nchara-app = chara_app:main\n");
    app.files = vec![(
        "chara_app/__init__.py".into(),
        b"def main():\n    print('chara ok')\n".to_vec(),
    )];
    add(&s, app);
    add(&s, WheelSpec::new("helper", "1.0"));
    add(&s, WheelSpec::new("helper", "1.1"));
    s.set_yanked("helper-1.1-py3-none-any.whl");
    add(&s, WheelSpec::new("winonly", "1.0"));
    let (name, bytes) = sdist("srconly", "0.3", &[]);
    s.add("srconly", &name, bytes);
    serve_build_backend(&s);
    // A second index (a mirror) with the same helper wheel: fail-over target.
    let mirror = IndexServer::start(Mode::Html);
    add(&mirror, WheelSpec::new("helper", "1.0"));
    (s, mirror)
}

#[test]
fn bundle_verify_inspect_and_pip_installs_offline() {
    let (index, mirror) = world();
    index.fail("/files/chara_app-1.2.0-py3-none-any.whl", 1);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("requirements.txt"),
        "# the app\nchara-app==1.2.0 \\\n    ; python_version >= '3.8'\n",
    )
    .unwrap();
    let py = host_python_version();
    let target = [
        "--python-version",
        &py,
        "--platform",
        "manylinux_2_28_x86_64",
    ];
    ok(ferry(d).args([
        "keygen",
        "-s",
        "ferry.key",
        "-p",
        "ferry.pub",
        "--unencrypted",
    ]));
    ok(ferry(d)
        .args([
            "lock",
            "-r",
            "requirements.txt",
            "-o",
            "ferry.lock",
            "--index-url",
            &index.url,
            "--extra-index-url",
            &mirror.url,
        ])
        .args(target));
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("ferry.lock")).unwrap()).unwrap();
    let files: Vec<&str> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "chara_app-1.2.0-py3-none-any.whl",
            "helper-1.0-py3-none-any.whl",
            "srconly-0.3.tar.gz"
        ],
        "{lock:#}"
    );
    for p in lock["packages"].as_array().unwrap() {
        assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
        assert!(p["size"].as_u64().unwrap() > 0);
    }
    // The lock builds nothing: it names the pure-Python sdist; `bundle` builds its wheel.
    let srconly = &lock["packages"][2];
    assert_eq!(srconly["kind"], "sdist", "{srconly:#}");
    assert!(srconly.get("needs_compiler").is_none(), "{srconly:#}");

    // From the lock and an empty cache: files downloaded, the pure wheel rebuilt from its sdist.
    ok(ferry(d)
        .args([
            "bundle",
            "--locked",
            "ferry.lock",
            "-s",
            "ferry.key",
            "-o",
            "fresh.ferry.tar",
        ])
        .env("FERRY_CACHE_DIR", d.join("fresh-cache")));
    // Now the primary serves helper's bytes corrupted: the mirror must serve it instead.
    index.corrupt("helper-1.0-py3-none-any.whl");
    ok(ferry(d)
        .args([
            "bundle",
            "-r",
            "requirements.txt",
            "-s",
            "ferry.key",
            "-o",
            "app.ferry.tar",
            "--index-url",
            &index.url,
            "--extra-index-url",
            &mirror.url,
        ])
        .args(target));
    assert!(
        mirror.requested("/files/helper-1.0-py3-none-any.whl") >= 1,
        "fail-over to the mirror: {:?}",
        mirror.log()
    );
    assert!(
        std::fs::read(d.join("app.ferry.tar")).unwrap()
            == std::fs::read(d.join("fresh.ferry.tar")).unwrap(),
        "locked bundle from a fresh cache differs"
    );
    // --locked gives the same bytes, signature included.
    ok(ferry(d).args([
        "bundle",
        "--locked",
        "ferry.lock",
        "-s",
        "ferry.key",
        "-o",
        "again.ferry.tar",
    ]));
    assert!(
        std::fs::read(d.join("app.ferry.tar")).unwrap()
            == std::fs::read(d.join("again.ferry.tar")).unwrap(),
        "locked bundle differs"
    );

    let out = ok(ferry(d).args(["verify", "app.ferry.tar", "-p", "ferry.pub"]));
    assert!(out.starts_with("OK:"), "{out}");
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(ferry(d).args(["inspect", "app.ferry.tar", "--json"]))).unwrap();
    assert_eq!(
        inspect["packages"].as_array().unwrap().len(),
        3,
        "{inspect:#}"
    );
    let built = inspect["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "srconly")
        .unwrap();
    assert_eq!(
        built["filename"], "srconly-0.3-py3-none-any.whl",
        "{inspect:#}"
    );
    assert_eq!(built["built_from"], "srconly-0.3.tar.gz", "{inspect:#}");

    // Stock tools are enough: GNU tar, sha256sum, minisign, pip.
    let x = d.join("x");
    std::fs::create_dir(&x).unwrap();
    ok(std::process::Command::new("tar")
        .args(["xf", "../app.ferry.tar"])
        .current_dir(&x));
    ok(std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&x));
    ok(std::process::Command::new("minisign")
        .args(["-Vm", "SHA256SUMS", "-p", "../ferry.pub"])
        .current_dir(&x));
    ok(std::process::Command::new(test_python())
        .args(["-m", "venv", "venv"])
        .current_dir(d));
    ok(std::process::Command::new(d.join("venv/bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            "x/wheels",
            "-r",
            "requirements.txt",
        ])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_FIND_LINKS")
        .current_dir(d));
    let out = ok(&mut std::process::Command::new(
        d.join("venv/bin/chara-app"),
    ));
    assert_eq!(out.trim(), "chara ok");
    ok(std::process::Command::new(d.join("venv/bin/python"))
        .args(["-c", "import srconly, helper"]));
}

#[test]
fn tampering_and_wrong_keys_exit_3() {
    let (index, _mirror) = world();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "helper\n").unwrap();
    ok(ferry(d).args([
        "keygen",
        "-s",
        "ferry.key",
        "-p",
        "ferry.pub",
        "--unencrypted",
    ]));
    ok(ferry(d).args([
        "keygen",
        "-s",
        "other.key",
        "-p",
        "other.pub",
        "--unencrypted",
    ]));
    ok(ferry(d).args([
        "bundle",
        "-r",
        "requirements.txt",
        "-s",
        "ferry.key",
        "-o",
        "b.ferry.tar",
        "--index-url",
        &index.url,
        "--python-version",
        "3.10",
        "--platform",
        "win_amd64",
    ]));
    ok(ferry(d).args(["verify", "b.ferry.tar", "-p", "ferry.pub"]));
    let err = fails(
        ferry(d).args(["verify", "b.ferry.tar", "-p", "other.pub"]),
        3,
    );
    assert!(err.to_lowercase().contains("key"), "{err}");
    let bytes = std::fs::read(d.join("b.ferry.tar")).unwrap();
    // One changed byte inside each of: ferry.json, SHA256SUMS, the signature, the wheel.
    for needle in [
        &b"\"format\""[..],
        b"  ferry.json",
        b"trusted comment",
        b"PK\x03\x04",
    ] {
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or_else(|| panic!("{needle:?}"));
        let mut t = bytes.clone();
        t[at + needle.len() / 2] ^= 0x01;
        std::fs::write(d.join("t.ferry.tar"), &t).unwrap();
        let err = fails(
            ferry(d).args(["verify", "t.ferry.tar", "-p", "ferry.pub"]),
            3,
        );
        assert!(!err.is_empty());
    }
}

#[test]
fn unknown_packages_and_bad_lines_name_the_place() {
    let (index, _mirror) = world();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "helper\n\ntransformrs>=4\n").unwrap();
    let err = fails(
        ferry(d).args([
            "lock",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "--python-version",
            "3.10",
            "--platform",
            "win_amd64",
        ]),
        1,
    );
    assert!(
        err.contains("requirements.txt:3") && err.contains("transformrs"),
        "{err}"
    );
    assert!(!d.join("ferry.lock").exists());
    std::fs::write(d.join("requirements.txt"), "helper\nfoo[bar\n").unwrap();
    let err = fails(
        ferry(d).args([
            "lock",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "--python-version",
            "3.10",
            "--platform",
            "win_amd64",
        ]),
        2,
    );
    assert!(err.contains("requirements.txt:2"), "{err}");
}

#[test]
fn compiled_sdists_travel_with_their_build_requirements() {
    let index = IndexServer::start(Mode::Json);
    let (name, bytes) = support::wheels::sdist_with_c_extension("fastthing", "1.0");
    index.add("fastthing", &name, bytes);
    serve_build_backend(&index);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "fastthing\n").unwrap();
    let py = host_python_version();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(d).args([
        "bundle",
        "-r",
        "requirements.txt",
        "-s",
        "k",
        "-o",
        "c.ferry.tar",
        "--index-url",
        &index.url,
        "--python-version",
        &py,
        "--platform",
        "manylinux_2_28_x86_64",
    ]));
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(ferry(d).args(["inspect", "c.ferry.tar", "--json"]))).unwrap();
    let pkgs = inspect["packages"].as_array().unwrap();
    let fast = pkgs.iter().find(|p| p["name"] == "fastthing").unwrap();
    assert_eq!(fast["filename"], "fastthing-1.0.tar.gz", "{inspect:#}");
    assert_eq!(fast["needs_compiler"], true, "{inspect:#}");
    let setuptools = pkgs
        .iter()
        .find(|p| p["name"] == "setuptools")
        .expect("build requirement bundled");
    assert!(
        setuptools["reason"]
            .as_str()
            .unwrap()
            .contains("build requirement of fastthing"),
        "{inspect:#}"
    );
    let text = ok(ferry(d).args(["inspect", "c.ferry.tar"]));
    assert!(text.contains("needs a compiler"), "{text}");
    // Offline: pip builds it from wheels/ alone (setuptools comes from the bundle).
    let x = d.join("x");
    std::fs::create_dir(&x).unwrap();
    ok(std::process::Command::new("tar")
        .args(["xf", "../c.ferry.tar"])
        .current_dir(&x));
    ok(std::process::Command::new(test_python())
        .args(["-m", "venv", "venv"])
        .current_dir(d));
    ok(std::process::Command::new(d.join("venv/bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            "x/wheels",
            "-r",
            "requirements.txt",
        ])
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_FIND_LINKS")
        .current_dir(d));
    let out = ok(std::process::Command::new(d.join("venv/bin/python"))
        .args(["-c", "import fastthing; print(fastthing.answer())"]));
    assert_eq!(out.trim(), "42");
}

#[test]
fn find_links_folders_and_direct_urls() {
    let index = IndexServer::start(Mode::Json);
    let direct = WheelSpec::new("direct", "2.0");
    index.add("direct", &direct.filename(), direct.build());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("local-wheels")).unwrap();
    let local = WheelSpec::new("localonly", "1.0");
    std::fs::write(d.join("local-wheels").join(local.filename()), local.build()).unwrap();
    std::fs::write(
        d.join("requirements.txt"),
        format!(
            "-f ./local-wheels\nlocalonly\ndirect @ {}files/{}\n",
            index.base(),
            direct.filename()
        ),
    )
    .unwrap();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(d).args([
        "bundle",
        "-r",
        "requirements.txt",
        "-s",
        "k",
        "-o",
        "f.ferry.tar",
        "--index-url",
        &index.url,
        "--python-version",
        "3.10",
        "--platform",
        "win_amd64",
    ]));
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(ferry(d).args(["inspect", "f.ferry.tar", "--json"]))).unwrap();
    let files: Vec<&str> = inspect["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "direct-2.0-py3-none-any.whl",
            "localonly-1.0-py3-none-any.whl"
        ],
        "{inspect:#}"
    );
    ok(ferry(d).args(["verify", "f.ferry.tar", "-p", "k.pub"]));
}
