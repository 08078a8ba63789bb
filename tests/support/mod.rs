//! Shared test context: temp dirs, local servers, running the real binary.
#![allow(dead_code)]
pub mod file_server;
pub mod hub_server;
pub mod index_server;
pub mod review_world;
pub mod torch_index;
pub mod wheelbuilder;
pub mod wheels;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built `ferry` binary with a clean environment (no user index settings leak in).
pub fn ferry(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.current_dir(cwd);
    for var in [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "UV_DEFAULT_INDEX",
        "UV_INDEX_URL",
        "HF_ENDPOINT",
        "HF_TOKEN",
    ] {
        c.env_remove(var);
    }
    c.env("PIP_CONFIG_FILE", "/dev/null");
    c.env("FERRY_CACHE_DIR", cwd.join(".ferry-cache"));
    c.env("SOURCE_DATE_EPOCH", "1700000000");
    c
}

/// Run and describe everything when it fails.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn")
}

pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {:?}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run, assert success, return stdout.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(out.status.success(), "{}", describe(cmd, &out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run, assert the exit code, return stderr.
pub fn fails(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().expect("spawn");
    assert_eq!(out.status.code(), Some(code), "{}", describe(cmd, &out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The test venv made by scripts/setup-test-env.sh (python with pip, uv, huggingface_hub).
pub fn test_python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-test-env.sh first",
        p.display()
    );
    p
}
