//! Story: a private index behind basic auth. The password given in the index URL (or in netrc) reaches that
//! host only: not a storage host the index redirects to, not the lock, not the bundle, not a log line or an
//! error. A `--locked` rebuild gets it from netrc.
mod support;

use std::path::Path;

use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{describe, fails, ferry, ok};

const USER: &str = "alice";
const SECRET: &str = "s3cr3t-Pw-7Qx";

fn target() -> [&'static str; 4] {
    [
        "--python-version",
        "3.10",
        "--platform",
        "manylinux_2_28_x86_64",
    ]
}

/// Every file under `dir`, none of whose bytes may contain `needle`.
fn assert_nowhere(dir: &Path, needle: &str) {
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{} contains the secret",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(walk(&e.path()));
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn index_password_stays_with_its_host() {
    // The index demands the password and sends file downloads to a storage host with another name.
    let index = IndexServer::start(Mode::Json);
    let storage = IndexServer::start(Mode::Json);
    for s in [&index, &storage] {
        let spec = WheelSpec::new("demo", "1.0").requires(&["helper"]);
        s.add("demo", &spec.filename(), spec.build());
        let spec = WheelSpec::new("helper", "2.0");
        s.add("helper", &spec.filename(), spec.build());
    }
    index.require_basic_auth(USER, SECRET);
    index.redirect_files_to(&storage.base().replace("127.0.0.1", "localhost"));
    let with_password = index
        .url
        .replace("http://", &format!("http://{USER}:{SECRET}@"));

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "demo==1.0\n").unwrap();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));

    // Lock and bundle with the password in the index URL, with debug logging on.
    let mut all_output = String::new();
    for args in [
        vec![
            "-vv",
            "lock",
            "-r",
            "requirements.txt",
            "-o",
            "app.lock",
            "--index-url",
            &with_password,
        ],
        vec![
            "-vv",
            "bundle",
            "-r",
            "requirements.txt",
            "-s",
            "k",
            "-o",
            "app.ferry.tar",
            "--index-url",
            &with_password,
        ],
    ] {
        let mut cmd = ferry(d);
        cmd.args(&args).args(target());
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", describe(&cmd, &out));
        all_output.push_str(&String::from_utf8_lossy(&out.stdout));
        all_output.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(!all_output.contains(SECRET), "{all_output}");
    let lock = std::fs::read_to_string(d.join("app.lock")).unwrap();
    assert!(
        !lock.contains(SECRET) && !lock.contains(&format!("{USER}:")),
        "{lock}"
    );
    assert!(lock.contains("demo-1.0-py3-none-any.whl"), "{lock}");

    // The index got the credentials; the storage host it redirected to never did.
    let sent = index.authorization_seen();
    assert!(
        sent.iter().any(|(p, _)| p.starts_with("/simple/demo")),
        "{sent:?}"
    );
    assert!(
        sent.iter().all(|(_, v)| v.starts_with("Basic ")),
        "{sent:?}"
    );
    assert!(storage.log().iter().any(|(p, _)| p.starts_with("/files/")));
    assert_eq!(storage.authorization_seen(), Vec::new());

    // No member of the bundle (ferry.json included) carries the secret.
    let unpacked = d.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    ok(std::process::Command::new("tar")
        .args(["xf", "../app.ferry.tar"])
        .current_dir(&unpacked));
    assert!(unpacked.join("ferry.json").exists());
    assert_nowhere(&unpacked, SECRET);

    // `--locked` with a cold cache and no credentials: refused by the index, and the error says where.
    let cold = |name: &str| d.join(name).to_string_lossy().into_owned();
    let err = fails(
        ferry(d)
            .args([
                "bundle",
                "--locked",
                "app.lock",
                "-s",
                "k",
                "-o",
                "again.ferry.tar",
            ])
            .env("FERRY_CACHE_DIR", cold("cache2"))
            .env("NETRC", "/dev/null"),
        1,
    );
    assert!(err.contains("401"), "{err}");
    // With netrc: the rebuild succeeds and gives the same lock inside.
    std::fs::write(
        d.join("netrc"),
        format!("machine 127.0.0.1\n  login {USER}\n  password {SECRET}\n"),
    )
    .unwrap();
    let mut cmd = ferry(d);
    cmd.args([
        "-vv",
        "bundle",
        "--locked",
        "app.lock",
        "-s",
        "k",
        "-o",
        "again.ferry.tar",
    ])
    .env("FERRY_CACHE_DIR", cold("cache3"))
    .env("NETRC", d.join("netrc"));
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(SECRET));
    ok(ferry(d).args(["verify", "again.ferry.tar", "-p", "k.pub"]));

    // A wrong password: an error that names the URL and shows no password.
    let wrong = index
        .url
        .replace("http://", &format!("http://{USER}:wrong-{SECRET}@"));
    let err = fails(
        ferry(d)
            .args([
                "lock",
                "-r",
                "requirements.txt",
                "-o",
                "x.lock",
                "--index-url",
                &wrong,
            ])
            .args(target())
            .env("FERRY_CACHE_DIR", cold("cache4")),
        1,
    );
    assert!(
        err.contains("401") && err.contains("/simple/demo/"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    assert!(!d.join("x.lock").exists());
}

#[test]
fn a_missing_netrc_named_by_netrc_is_an_error_naming_it() {
    let index = IndexServer::start(Mode::Json);
    let spec = WheelSpec::new("demo", "1.0");
    index.add("demo", &spec.filename(), spec.build());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "demo==1.0\n").unwrap();
    let missing = d.join("no-such-netrc");
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
            .env("NETRC", &missing),
        1,
    );
    assert!(err.contains(&missing.display().to_string()), "{err}");
}
