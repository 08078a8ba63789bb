//! Story: a package the bundle carries only as an sdist is built offline on the host (pip wheel --no-index
//! from the bundled files); when it cannot be built, nothing is changed and the package is named.
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::Path;
use std::process::Command;

use ferry::install::{install_extracted, Options, Silent};
use ferry::lock::{DistKind, LockedPackage};
use wheelbuilder::{fingerprint, make_venv, run, Staging, WheelBuilder};

/// A PEP 517 in-tree backend (no build requirements) that writes a pure wheel, or fails with `fail`.
fn backend(name: &str, fail: bool) -> String {
    format!(
        r#"import base64, hashlib, os, zipfile
NAME, VER = "{name}", "0.1"
def get_requires_for_build_wheel(config_settings=None):
    return []
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if {fail}:
        raise RuntimeError("this package needs a compiler that is not here")
    di = NAME + "-" + VER + ".dist-info"
    files = {{
        NAME + "/__init__.py": open(os.path.join(NAME, "__init__.py"), "rb").read(),
        di + "/METADATA": ("Metadata-Version: 2.1\nName: " + NAME + "\nVersion: " + VER + "\n").encode(),
        di + "/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }}
    def h(d):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
    record = "".join("%s,%s,%d\n" % (p, h(d), len(d)) for p, d in files.items()) + di + "/RECORD,,\n"
    fn = NAME + "-" + VER + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, fn), "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
        z.writestr(di + "/RECORD", record)
    return fn
"#,
        fail = if fail { "True" } else { "False" }
    )
}

/// Write `name-0.1.tar.gz` into the staging wheels folder and list it in the lock.
fn add_sdist(staging: &mut Staging, name: &str, fail: bool) {
    let src = staging.dir.join("src").join(format!("{name}-0.1"));
    std::fs::create_dir_all(src.join("backend")).unwrap();
    std::fs::create_dir_all(src.join(name)).unwrap();
    std::fs::write(
        src.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"ferry_backend\"\nbackend-path = [\"backend\"]\n",
    )
    .unwrap();
    std::fs::write(
        src.join("PKG-INFO"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n"),
    )
    .unwrap();
    std::fs::write(src.join("backend/ferry_backend.py"), backend(name, fail)).unwrap();
    std::fs::write(
        src.join(name).join("__init__.py"),
        "BUILT = 'from source'\n",
    )
    .unwrap();
    let filename = format!("{name}-0.1.tar.gz");
    let out = staging.dir.join("wheels").join(&filename);
    run(Command::new("tar")
        .arg("-czf")
        .arg(&out)
        .arg("-C")
        .arg(src.parent().unwrap())
        .arg(format!("{name}-0.1")));
    let bytes = std::fs::read(&out).unwrap();
    staging.lock.packages.push(LockedPackage {
        name: name.parse().unwrap(),
        version: "0.1".into(),
        filename,
        kind: DistKind::Sdist,
        url: String::new(),
        sha256: ferry::types::Sha256::digest(&bytes),
        size: bytes.len() as u64,
        targets: staging.lock.targets.iter().map(|t| t.id()).collect(),
        requested: true,
        reason: None,
        needs_compiler: false,
        built_from: None,
    });
    staging.save();
}

fn host_pip_works() -> bool {
    Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn sdists_are_built_offline_or_refused_before_any_change() {
    assert!(
        host_pip_works(),
        "python3 -m pip is needed for this test (scripts/setup-test-env.sh)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let opts = Options {
        venv: Some(venv.clone()),
        ..Options::default()
    };
    let mut good = Staging::new(&tmp.path().join("good"));
    add_sdist(&mut good, "ferry_gamma", false);
    let s = install_extracted(&good.dir, &good.lock, &opts, &Silent).unwrap();
    assert_eq!(s.installed[0].name, "ferry-gamma");
    let out = run(Command::new(venv.join("bin/python"))
        .args(["-c", "import ferry_gamma; print(ferry_gamma.BUILT)"]));
    assert_eq!(out.trim(), "from source");

    let mut bad = Staging::new(&tmp.path().join("bad"));
    bad.add_wheel(
        &WheelBuilder::new("ferry-ok", "1.0").file("ferry_ok/__init__.py", ""),
        true,
    );
    add_sdist(&mut bad, "ferry_delta", true);
    let before = fingerprint(&venv);
    let err = install_extracted(&bad.dir, &bad.lock, &opts, &Silent).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("ferry-delta") && msg.contains("ferry_delta-0.1.tar.gz"),
        "{msg}"
    );
    assert!(msg.contains("needs a compiler"), "{msg}");
    assert_eq!(before, fingerprint(&venv));
    assert!(!Path::new(&venv).join("lib").read_dir().unwrap().any(|e| e
        .unwrap()
        .path()
        .join("site-packages/ferry_ok")
        .exists()));
}

/// The same build, installing straight from a signed bundle (nothing extracted): the sdist and the bundled
/// wheels are copied out for `pip wheel --find-links` only because a build needs them as files.
#[test]
fn an_sdist_builds_when_installing_straight_from_the_bundle() {
    assert!(
        host_pip_works(),
        "python3 -m pip is needed for this test (scripts/setup-test-env.sh)"
    );
    use ferry::bundle::{self, sign, Entry, WriteOptions};
    let tmp = tempfile::tempdir().unwrap();
    let venv = make_venv(&tmp.path().join("venv"));
    let mut good = Staging::new(&tmp.path().join("good"));
    add_sdist(&mut good, "ferry_gamma", false);
    let entries: Vec<Entry> = std::fs::read_dir(good.dir.join("wheels"))
        .unwrap()
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            Entry::File {
                member: format!("wheels/{}", e.file_name().to_string_lossy()),
                sha256: ferry::types::Sha256::digest(&bytes),
                size: bytes.len() as u64,
                path: e.path(),
            }
        })
        .collect();
    let (secret, public) = (tmp.path().join("k.key"), tmp.path().join("k.pub"));
    sign::generate(&secret, &public, false, false).unwrap();
    let key = sign::load_secret_key_with(&secret, None).unwrap();
    let out = tmp.path().join("s.ferry.tar");
    let opts = WriteOptions {
        mtime: 1_700_000_000,
        split: None,
        trusted_comment: bundle::default_trusted_comment("s", 1_700_000_000),
    };
    bundle::write(&good.lock, entries, &key, &out, &opts).unwrap();
    std::fs::remove_dir_all(&good.dir).unwrap();
    let stream = bundle::TarStream::open(&out).unwrap();
    let stamp = ferry::install::source::stamp_volumes(&stream.volumes());
    let verified = bundle::verify(&out, &public).unwrap();
    let source = ferry::install::Source::bundle(&out, stream, &verified.members, stamp);
    let opts = Options {
        venv: Some(venv.clone()),
        ..Options::default()
    };
    let s = ferry::install::install_from(&source, &verified.lock, &opts, &Silent).unwrap();
    assert_eq!(s.installed[0].name, "ferry-gamma");
    let out = run(Command::new(venv.join("bin/python"))
        .args(["-c", "import ferry_gamma; print(ferry_gamma.BUILT)"]));
    assert_eq!(out.trim(), "from source");
}
