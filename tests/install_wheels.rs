//! Story: on the air-gapped host, ferry installs the bundle's wheels into a venv natively (no pip), and the
//! result is what Python and pip expect; bad wheels are refused with the venv untouched.
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::Path;
use std::process::Command;

use ferry::install::{install_extracted, Options, Silent};
use wheelbuilder::{fingerprint, make_venv, pip, run, Staging, WheelBuilder};

fn alpha(version: &str) -> WheelBuilder {
    WheelBuilder::new("ferry-alpha", version)
        .file(
            "ferry_alpha/__init__.py",
            &format!(
                "VERSION = '{version}'\ndef main():\n    print('hello from alpha', VERSION)\n"
            ),
        )
        .file("ferry_alpha/data.txt", "payload\n")
        .entry_points("[console_scripts]\nalpha-hello = ferry_alpha:main\n")
        .data_script(
            "alpha-tool",
            "#!python\nimport ferry_alpha\nprint('tool ok', ferry_alpha.VERSION)\n",
        )
        .data_file("share/ferry-alpha/readme.txt", "read me\n")
}

fn beta() -> WheelBuilder {
    WheelBuilder::new("ferry-beta", "2.0")
        .file(
            "ferry_beta/__init__.py",
            "import ferry_alpha\ndef greet():\n    return 'beta uses alpha ' + ferry_alpha.VERSION\n",
        )
        .requires("ferry-alpha>=1.0")
}

fn opts(venv: &Path) -> Options {
    Options {
        venv: Some(venv.to_path_buf()),
        ..Options::default()
    }
}

fn py(venv: &Path, code: &str) -> String {
    run(Command::new(venv.join("bin/python")).args(["-c", code]))
}

#[test]
fn installed_wheels_work_with_python_and_pip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    staging.add_wheel(&alpha("1.0"), false);
    staging.add_wheel(&beta(), true);
    // ferry creates the venv itself (no pip inside).
    let venv = tmp.path().join("venv");
    let summary = install_extracted(&staging.dir, &staging.lock, &opts(&venv), &Silent).unwrap();
    assert_eq!(summary.installed.len(), 2, "{summary:?}");
    assert!(!venv.join("bin/pip").exists());

    assert_eq!(
        py(&venv, "import ferry_beta; print(ferry_beta.greet())").trim(),
        "beta uses alpha 1.0"
    );
    let hello = run(&mut Command::new(venv.join("bin/alpha-hello")));
    assert_eq!(hello.trim(), "hello from alpha 1.0");
    let tool = run(&mut Command::new(venv.join("bin/alpha-tool")));
    assert_eq!(tool.trim(), "tool ok 1.0");
    let tool_text = std::fs::read_to_string(venv.join("bin/alpha-tool")).unwrap();
    assert!(tool_text.starts_with(&format!("#!{}", venv.join("bin/python").display())));
    assert_eq!(
        std::fs::read_to_string(venv.join("share/ferry-alpha/readme.txt")).unwrap(),
        "read me\n"
    );

    let site = py(
        &venv,
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    let site = Path::new(site.trim());
    let di = site.join("ferry_beta-2.0.dist-info");
    assert_eq!(
        std::fs::read_to_string(di.join("INSTALLER")).unwrap(),
        "ferry\n"
    );
    assert!(di.join("REQUESTED").exists());
    assert!(!site.join("ferry_alpha-1.0.dist-info/REQUESTED").exists());
    let record = std::fs::read_to_string(site.join("ferry_alpha-1.0.dist-info/RECORD")).unwrap();
    assert!(
        record.contains("../../../bin/alpha-hello,sha256="),
        "{record}"
    );
    assert!(
        record.contains("ferry_alpha-1.0.dist-info/RECORD,,\n"),
        "{record}"
    );

    // pip, the judge.
    let list = pip(&venv, &["list", "--format=freeze"]);
    assert!(
        list.contains("ferry-alpha==1.0") || list.contains("ferry_alpha==1.0"),
        "{list}"
    );
    assert!(
        list.contains("ferry-beta==2.0") || list.contains("ferry_beta==2.0"),
        "{list}"
    );
    let check = pip(&venv, &["check"]);
    assert!(check.contains("No broken requirements"), "{check}");
    let show = pip(&venv, &["show", "-f", "ferry-alpha"]);
    assert!(show.contains("alpha-hello"), "{show}");

    // A second install of the same bundle changes nothing.
    let before = fingerprint(&venv);
    let again = install_extracted(&staging.dir, &staging.lock, &opts(&venv), &Silent).unwrap();
    assert!(again.installed.is_empty(), "{again:?}");
    assert_eq!(again.unchanged.len(), 2);
    assert_eq!(before, fingerprint(&venv));

    // pip uninstall removes everything ferry put there.
    pip(&venv, &["uninstall", "-y", "ferry-alpha", "ferry-beta"]);
    assert!(!site.join("ferry_alpha").exists());
    assert!(!site.join("ferry_alpha-1.0.dist-info").exists());
    assert!(!site.join("ferry_beta-2.0.dist-info").exists());
    assert!(!venv.join("bin/alpha-hello").exists());
    assert!(!venv.join("bin/alpha-tool").exists());
    assert!(!venv.join("share/ferry-alpha/readme.txt").exists());
}

#[test]
fn upgrade_replaces_the_old_version() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let mut old = Staging::new(&tmp.path().join("old"));
    old.add_wheel(
        &alpha("1.0").file("ferry_alpha/old_only.py", "X = 1\n"),
        true,
    );
    install_extracted(&old.dir, &old.lock, &opts(&venv), &Silent).unwrap();
    let site = py(
        &venv,
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    let site = Path::new(site.trim()).to_path_buf();
    assert!(site.join("ferry_alpha/old_only.py").exists());

    let mut new = Staging::new(&tmp.path().join("new"));
    new.add_wheel(&alpha("1.1"), true);
    // The same venv reached through a symlinked folder: the old version is still found and removed.
    std::os::unix::fs::symlink(tmp.path(), tmp.path().join("link")).unwrap();
    let venv = tmp.path().join("link/venv");
    let s = install_extracted(
        &new.dir,
        &new.lock,
        &Options {
            compile_bytecode: true,
            ..opts(&venv)
        },
        &Silent,
    )
    .unwrap();
    assert_eq!(s.installed[0].replaced.as_deref(), Some("1.0"));
    assert!(!site.join("ferry_alpha/old_only.py").exists());
    assert!(!site.join("ferry_alpha-1.0.dist-info").exists());
    assert!(site.join("ferry_alpha-1.1.dist-info/RECORD").exists());
    assert!(
        site.join("ferry_alpha/__pycache__").exists(),
        "--compile-bytecode wrote no .pyc"
    );
    let hello = run(&mut Command::new(venv.join("bin/alpha-hello")));
    assert_eq!(hello.trim(), "hello from alpha 1.1");
    pip(&venv, &["uninstall", "-y", "ferry-alpha"]);
    assert!(
        !site.join("ferry_alpha").exists(),
        "pip left byte-code behind"
    );
}

fn refused(tmp: &Path, label: &str, bad: WheelBuilder, expect: &[&str]) {
    let venv = make_venv(&tmp.join(format!("venv-{label}")));
    // Something installed first, so the venv is not trivial.
    let mut first = Staging::new(&tmp.join(format!("first-{label}")));
    first.add_wheel(&alpha("1.0"), true);
    install_extracted(&first.dir, &first.lock, &opts(&venv), &Silent).unwrap();
    let mut staging = Staging::new(&tmp.join(format!("bundle-{label}")));
    staging.add_wheel(&beta(), true);
    staging.add_wheel(&bad, true);
    let before = fingerprint(&venv);
    let outside = fingerprint(tmp);
    let err = install_extracted(&staging.dir, &staging.lock, &opts(&venv), &Silent).unwrap_err();
    let msg = err.to_string();
    assert!(
        err.is_verification(),
        "{label}: not a verification error: {msg}"
    );
    for e in expect {
        assert!(msg.contains(e), "{label}: '{msg}' lacks '{e}'");
    }
    assert_eq!(before, fingerprint(&venv), "{label}: venv changed");
    assert_eq!(
        outside,
        fingerprint(tmp),
        "{label}: something was written outside"
    );
}

#[test]
fn unsafe_paths_and_lying_records_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    refused(
        tmp,
        "dotdot",
        WheelBuilder::new("evil", "1.0").raw_member("../../../../evil.txt", "x"),
        &["evil-1.0-py3-none-any.whl", "../../../../evil.txt"],
    );
    refused(
        tmp,
        "absolute",
        WheelBuilder::new("evil", "1.0").raw_member("/tmp/ferry-evil.txt", "x"),
        &["evil-1.0-py3-none-any.whl", "/tmp/ferry-evil.txt"],
    );
    refused(
        tmp,
        "drive",
        WheelBuilder::new("evil", "1.0").raw_member("C:/evil.txt", "x"),
        &["C:/evil.txt"],
    );
    refused(
        tmp,
        "liar",
        WheelBuilder::new("liar", "1.0")
            .file("liar/__init__.py", "print('hi')\n")
            .file("liar/other.py", "Y = 2\n")
            .lie_about("liar/other.py"),
        &["liar-1.0-py3-none-any.whl", "liar/other.py", "RECORD"],
    );
}

#[test]
fn a_refused_bundle_leaves_no_new_venv_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    staging.add_wheel(
        &WheelBuilder::new("liar", "1.0")
            .file("liar/__init__.py", "")
            .lie_about("liar/__init__.py"),
        true,
    );
    let venv = tmp.path().join("venv");
    let err = install_extracted(&staging.dir, &staging.lock, &opts(&venv), &Silent).unwrap_err();
    assert!(err.is_verification(), "{err}");
    assert!(
        !venv.exists(),
        "the venv ferry created for a failed install is still there"
    );
    // Lock file tampered after the bundle was verified: the wheel's hash no longer matches.
    let mut staging = Staging::new(&tmp.path().join("bundle2"));
    staging.add_wheel(&alpha("1.0"), true);
    staging.lock.packages[0].sha256 = ferry::types::Sha256::digest(b"other");
    let err = install_extracted(&staging.dir, &staging.lock, &opts(&venv), &Silent).unwrap_err();
    assert!(err.is_verification(), "{err}");
    assert!(
        err.to_string().contains("ferry_alpha-1.0-py3-none-any.whl"),
        "{err}"
    );
}

/// Real-world wheels: the pip and setuptools wheels bundled with the host's ensurepip.
#[test]
fn real_pip_and_setuptools_wheels_install_and_run() {
    let dir = run(Command::new("python3").args([
        "-c",
        "import ensurepip, os; print(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled'))",
    ]));
    let entries = std::fs::read_dir(dir.trim()).expect("python3 ships ensurepip wheels");
    let tmp = tempfile::tempdir().unwrap();
    let mut staging = Staging::new(&tmp.path().join("bundle"));
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(w) = name.parse::<ferry::dist::WheelFilename>() else {
            continue;
        };
        std::fs::copy(e.path(), staging.dir.join("wheels").join(&name)).unwrap();
        let bytes = std::fs::read(e.path()).unwrap();
        staging.lock.packages.push(ferry::lock::LockedPackage {
            name: w.name.clone(),
            version: w.version.to_string(),
            filename: name,
            kind: ferry::lock::DistKind::Wheel,
            url: String::new(),
            sha256: ferry::types::Sha256::digest(&bytes),
            size: bytes.len() as u64,
            targets: vec![],
            requested: true,
            reason: None,
            needs_compiler: false,
            built_from: None,
        });
    }
    let venv = tmp.path().join("venv");
    let s = install_extracted(&staging.dir, &staging.lock, &opts(&venv), &Silent).unwrap();
    assert!(s.installed.iter().any(|p| p.name == "pip"), "{s:?}");
    let version = run(Command::new(venv.join("bin/pip")).args(["--version"]));
    assert!(version.contains(&venv.display().to_string()), "{version}");
    let check = run(Command::new(venv.join("bin/python")).args(["-m", "pip", "check"]));
    assert!(check.contains("No broken requirements"), "{check}");
    run(Command::new(venv.join("bin/python")).args(["-c", "import setuptools"]));
    // The installed pip uninstalls what ferry installed.
    run(Command::new(venv.join("bin/python")).args(["-m", "pip", "uninstall", "-y", "setuptools"]));
    let left = run(Command::new(venv.join("bin/python")).args([
        "-c",
        "import importlib.util; print(importlib.util.find_spec('setuptools'))",
    ]));
    assert_eq!(left.trim(), "None");
}
