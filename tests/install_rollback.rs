//! Story: an install that fails midway (here: injected with FERRY_TEST_FAIL_AFTER) leaves the venv and the
//! HF cache exactly as they were. One test per binary: the hook is a process-wide environment variable.
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use ferry::install::{install_extracted, Error, Options, Silent};
use wheelbuilder::{fingerprint, make_venv, Staging, WheelBuilder};

const C1: &str = "1111111111111111111111111111111111111def";
const C2: &str = "2222222222222222222222222222222222222abc";

fn alpha(version: &str) -> WheelBuilder {
    WheelBuilder::new("ferry-alpha", version)
        .file(
            "ferry_alpha/__init__.py",
            &format!("VERSION = '{version}'\ndef main():\n    print(VERSION)\n"),
        )
        .file(
            &format!("ferry_alpha/only_{}.py", version.replace('.', "_")),
            "X = 1\n",
        )
        .entry_points("[console_scripts]\nalpha-hello = ferry_alpha:main\n")
}

#[test]
fn failure_midway_restores_venv_and_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let hf = tmp.path().join("hf");
    let opts = Options {
        venv: Some(venv.clone()),
        hf_home: Some(hf.clone()),
        ..Options::default()
    };
    let mut first = Staging::new(&tmp.path().join("b1"));
    first.add_wheel(&alpha("1.0"), true);
    first.add_model(
        "ferry-org/tiny",
        "main",
        C1,
        &[("config.json", b"{}", false)],
    );
    install_extracted(&first.dir, &first.lock, &opts, &Silent).unwrap();

    let mut second = Staging::new(&tmp.path().join("b2"));
    second.add_wheel(&alpha("2.0"), true);
    second.add_wheel(
        &WheelBuilder::new("ferry-beta", "1.0")
            .file("ferry_beta/__init__.py", "import ferry_alpha\n"),
        false,
    );
    second.add_model(
        "ferry-org/tiny",
        "main",
        C2,
        &[
            ("config.json", b"{\"v\": 2}", false),
            ("w.bin", b"weights", true),
        ],
    );
    let venv_before = fingerprint(&venv);
    let hf_before = fingerprint(&hf);
    // Fail after every possible step in turn (removing alpha 1.0's files, placing alpha 2.0 and beta, then the
    // model's blobs, links and ref), until the hook lies beyond the last step and the install goes through.
    let mut n = 0;
    let summary = loop {
        std::env::set_var("FERRY_TEST_FAIL_AFTER", n.to_string());
        match install_extracted(&second.dir, &second.lock, &opts, &Silent) {
            Err(Error::Injected(_)) => {}
            Err(other) => panic!("step {n}: {other}"),
            Ok(s) => break s,
        }
        assert_eq!(
            venv_before,
            fingerprint(&venv),
            "venv changed after failing at step {n}"
        );
        assert_eq!(
            hf_before,
            fingerprint(&hf),
            "cache changed after failing at step {n}"
        );
        n += 1;
    };
    std::env::remove_var("FERRY_TEST_FAIL_AFTER");
    // New folders (beta's package, both .dist-info folders) move in with one rename each, so there are fewer
    // steps than files: 7 removals of alpha 1.0, 6 placements for the wheels, 7 for the model.
    assert!(n >= 20, "only {n} steps");
    assert_eq!(summary.installed.len(), 2);
    assert_ne!(venv_before, fingerprint(&venv));
    assert_eq!(
        std::fs::read(hf.join("hub/models--ferry-org--tiny/refs/main")).unwrap(),
        C2.as_bytes()
    );
}
