//! Story: what ferry cannot read, it says so, naming the file: a CA bundle, a find-links folder, an installed
//! package's RECORD. Nothing is silently treated as empty.
mod support;

#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use ferry::install::{install_extracted, Options, Silent};
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{fails, ferry};
use wheelbuilder::{Staging, WheelBuilder};

fn target() -> [&'static str; 4] {
    [
        "--python-version",
        "3.10",
        "--platform",
        "manylinux_2_28_x86_64",
    ]
}

#[test]
fn unreadable_ca_bundle_is_an_error_naming_it() {
    let index = IndexServer::start(Mode::Json);
    let spec = WheelSpec::new("demo", "1.0");
    index.add("demo", &spec.filename(), spec.build());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "demo==1.0\n").unwrap();
    let missing = d.join("corp-ca.pem");
    for var in ["SSL_CERT_FILE", "PIP_CERT"] {
        let err = fails(
            ferry(d)
                .args([
                    "lock",
                    "-r",
                    "requirements.txt",
                    "-o",
                    "x.lock",
                    "--index-url",
                    &index.url,
                ])
                .args(target())
                .env(var, &missing),
            1,
        );
        assert!(
            err.contains(&missing.display().to_string()) && err.contains(var),
            "{err}"
        );
    }
    // A file that is there but holds no certificate is refused too.
    std::fs::write(&missing, "not a certificate\n").unwrap();
    let err = fails(
        ferry(d)
            .args([
                "lock",
                "-r",
                "requirements.txt",
                "-o",
                "x.lock",
                "--index-url",
                &index.url,
            ])
            .args(target())
            .env("SSL_CERT_FILE", &missing),
        1,
    );
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(!d.join("x.lock").exists());
}

#[test]
fn missing_find_links_folder_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("no-such-wheels");
    std::fs::write(
        d.join("requirements.txt"),
        format!(
            "--no-index\n--find-links {}\ndemo==1.0\n",
            missing.display()
        ),
    )
    .unwrap();
    let err = fails(
        ferry(d)
            .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
            .args(target()),
        1,
    );
    assert!(err.contains(&missing.display().to_string()), "{err}");
}

#[test]
fn unreadable_installed_record_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let opts = Options {
        venv: Some(venv.clone()),
        ..Options::default()
    };
    let mut one = Staging::new(&tmp.path().join("b1"));
    one.add_wheel(
        &WheelBuilder::new("ferry-rec", "1.0").file("ferry_rec/__init__.py", "V = 1\n"),
        true,
    );
    install_extracted(&one.dir, &one.lock, &opts, &Silent).unwrap();
    // Replace the installed RECORD by something that cannot be read as a file.
    let record = walk_find(&venv, "ferry_rec-1.0.dist-info").join("RECORD");
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    let mut two = Staging::new(&tmp.path().join("b2"));
    two.add_wheel(
        &WheelBuilder::new("ferry-rec", "2.0").file("ferry_rec/__init__.py", "V = 2\n"),
        true,
    );
    let err = install_extracted(&two.dir, &two.lock, &opts, &Silent)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&record.display().to_string()), "{err}");
    // Nothing changed: version 1 is still the one installed.
    let init = walk_find(&venv, "ferry_rec").join("__init__.py");
    assert_eq!(std::fs::read_to_string(init).unwrap(), "V = 1\n");
}

fn walk_find(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    find(dir, name).unwrap_or_else(|| panic!("{name} not under {}", dir.display()))
}

fn find(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if e.file_name() == name {
            return Some(e.path());
        }
        if e.file_type().ok()?.is_dir() {
            if let Some(p) = find(&e.path(), name) {
                return Some(p);
            }
        }
    }
    None
}
