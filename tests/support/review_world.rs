//! The world of the review stories (pylock.toml, SBOM, delta bundles, diff): a local index with wheels that
//! declare their licences three ways, a local hub with a model whose card names its licence, and helpers to
//! bundle, extract with GNU tar and run the stock installers with no network.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

use super::hub_server::{safetensors, HubServer, Repo};
use super::index_server::{IndexServer, Mode};
use super::wheelbuilder::WheelBuilder;
use super::{ferry, ok, test_python};

pub const MODEL: &str = "org/tiny";

pub fn add(s: &IndexServer, w: WheelBuilder) {
    let project = w.name.clone();
    s.add(&project, &w.filename(), w.bytes());
}

fn module(w: WheelBuilder, name: &str, version: &str) -> WheelBuilder {
    w.file(
        &format!("{}/__init__.py", name.replace('-', "_")),
        &format!("__version__ = \"{version}\"\n"),
    )
}

/// app 1.0 (needs helper; MIT by License-Expression), helper 1.0/1.1 (BSD by License), dropme 1.0 (Apache
/// by classifier), newpkg 1.0 (GPL by License-Expression).
pub fn index() -> IndexServer {
    let s = IndexServer::start(Mode::Json);
    add(
        &s,
        module(WheelBuilder::new("app", "1.0"), "app", "1.0")
            .meta("License-Expression: MIT")
            .requires("helper>=1.0"),
    );
    for v in ["1.0", "1.1"] {
        add(
            &s,
            module(WheelBuilder::new("helper", v), "helper", v).meta("License: BSD-3-Clause"),
        );
    }
    add(
        &s,
        module(WheelBuilder::new("dropme", "1.0"), "dropme", "1.0")
            .meta("Classifier: License :: OSI Approved :: Apache Software License"),
    );
    add(
        &s,
        module(WheelBuilder::new("newpkg", "1.0"), "newpkg", "1.0")
            .meta("License-Expression: GPL-3.0-only"),
    );
    s
}

/// The model at version 1 or 2: the card and config stay, the weights change.
pub fn model(version: u8) -> Repo {
    Repo::new()
        .file(
            "README.md",
            "---\nlicense: apache-2.0\nlibrary_name: transformers\n---\n# tiny\n",
        )
        .file("config.json", "{\"hidden_size\": 4}\n")
        .file("model.safetensors", safetensors(&[("w", &[4, 4])], version))
}

pub fn hub() -> HubServer {
    let hub = HubServer::start();
    hub.add_model(MODEL, model(1));
    hub
}

/// `major.minor` of the test venv's Python (the host the stock installers run for).
pub fn host_python() -> String {
    let out = Command::new(test_python())
        .args([
            "-c",
            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Target flags for this host.
pub fn target_args() -> Vec<String> {
    vec![
        "--python-version".into(),
        host_python(),
        "--platform".into(),
        "manylinux_2_17_x86_64".into(),
    ]
}

pub fn keygen(d: &Path) {
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
}

/// `ferry bundle -r REQS [--model org/tiny] -o OUT` plus `extra`.
pub fn bundle(
    d: &Path,
    index: &IndexServer,
    hub: Option<&HubServer>,
    reqs: &str,
    out: &str,
    extra: &[&str],
) -> String {
    std::fs::write(d.join(format!("{out}.txt")), reqs).unwrap();
    let mut cmd = ferry(d);
    cmd.args(["bundle", "-r", &format!("{out}.txt"), "-s", "k", "-o", out])
        .args(["--index-url", &index.url])
        .args(target_args())
        .args(extra);
    if let Some(hub) = hub {
        cmd.args(["--model", MODEL, "--hf-endpoint", &hub.url]);
    }
    ok(&mut cmd)
}

/// Extract a bundle with GNU tar into a fresh folder.
pub fn untar(d: &Path, bundle: &str, into: &str) -> PathBuf {
    let dest = d.join(into);
    std::fs::create_dir_all(&dest).unwrap();
    ok(Command::new("tar")
        .arg("xf")
        .arg(d.join(bundle))
        .arg("-C")
        .arg(&dest));
    dest
}

/// A venv made by the test venv's interpreter, without pip.
pub fn venv(path: &Path) -> PathBuf {
    ok(Command::new(test_python())
        .args(["-m", "venv", "--without-pip"])
        .arg(path));
    path.to_path_buf()
}

/// `pip freeze` of a venv (through the test venv's pip 26.x), sorted lines.
pub fn freeze(venv: &Path) -> Vec<String> {
    let out = ok(Command::new(test_python())
        .args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(venv.join("bin/python"))
        .args(["freeze", "--all"])
        .env("PIP_NO_INDEX", "1"));
    let mut lines: Vec<String> = out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

/// `unshare -n CMD…`: no network at all (a fresh network namespace with only a downed loopback).
pub fn offline(program: &Path) -> Command {
    let mut c = Command::new("unshare");
    c.arg("-n").arg(program);
    c
}

/// `sha256sum` of a file, as the tool prints it.
pub fn sha256sum(path: &Path) -> String {
    let out = ok(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
