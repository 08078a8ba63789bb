//! Story: on the air-gapped host, `ferry probe` describes the interpreter as a target for `ferry lock --target`.
use assert_cmd::Command;

#[test]
fn probe_writes_and_prints_the_target() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("target.json");
    let assert = Command::cargo_bin("ferry")
        .unwrap()
        .args(["probe", "--python", "python3", "-o"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(stdout, written);
    let target: ferry::target::Target = serde_json::from_str(&written).unwrap();
    target.validate().unwrap();
    assert_eq!(target, ferry::host::detect(None).unwrap());

    let failed = Command::cargo_bin("ferry")
        .unwrap()
        .args(["probe", "--python", "/nonexistent/python", "-o"])
        .arg(tmp.path().join("x.json"))
        .assert()
        .failure();
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    assert!(stderr.contains("/nonexistent/python"), "{stderr}");
}
