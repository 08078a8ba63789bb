//! Story: a hub that fails every 3rd request and cuts every 4th short still gives a complete, verified
//! bundle of dozens of files, every time (a retry that received bytes does not use up the retry budget);
//! and a lock keeps the hashes the hub did not give unknown instead of writing a made-up one.
mod support;

use support::hub_server::{FaultKind, HubServer, Repo};
use support::{describe, ferry, ok};

const FILES: usize = 40;

/// Half large LFS files (bodies worth resuming), half small git files whose sha256 the hub never lists.
fn many_files_repo() -> Repo {
    let mut repo = Repo::new();
    for i in 0..FILES / 2 {
        let size = 20_000 + i * 1_500;
        let body: Vec<u8> = (0..size).map(|j| ((j * 31 + i * 7) % 251) as u8).collect();
        repo = repo.file(&format!("shard-{i:02}.safetensors"), body);
        repo = repo.file(
            &format!("conf-{i:02}.json"),
            format!("{{\"shard\": {i}, \"pad\": \"{}\"}}", "x".repeat(i * 40)),
        );
    }
    repo
}

#[test]
fn flaky_hub_bundle_completes_every_time() {
    let hub = HubServer::start();
    hub.add_model("org/many", many_files_repo());
    hub.fail_every(3, FaultKind::Status(503));
    hub.fail_every(4, FaultKind::CutShort);
    for run in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
        let before = hub.log().len();
        let mut cmd = ferry(d);
        cmd.args([
            "bundle",
            "--model",
            "org/many",
            "--include",
            "*",
            "--hf-endpoint",
            &hub.url,
            "-s",
            "k",
            "-o",
            "m.ferry.tar",
        ])
        .env("FERRY_RETRY_BASE_MS", "5");
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "run {run}: {}", describe(&cmd, &out));
        ok(ferry(d).args(["verify", "m.ferry.tar", "-p", "k.pub"]));
        let listing = ok(std::process::Command::new("tar")
            .args(["tf", "m.ferry.tar"])
            .current_dir(d));
        let blobs = listing
            .lines()
            .filter(|l| l.contains("models--org--many/blobs/") && !l.ends_with('/'))
            .count();
        assert_eq!(blobs, FILES, "run {run}: {listing}");
        // The faults really happened in this run: failures answered, cut bodies resumed with Range.
        let log: Vec<_> = hub.log().into_iter().skip(before).collect();
        let failed = log.iter().filter(|l| l.status == 503).count();
        let resumed = log.iter().filter(|l| l.header("range").is_some()).count();
        assert!(
            failed >= 5 && resumed >= 3,
            "run {run}: {failed} failures, {resumed} resumes"
        );
    }
}

#[test]
fn unknown_hash_stays_unknown_in_the_lock() {
    let hub = HubServer::start();
    hub.add_model("org/many", many_files_repo());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(ferry(d).args([
        "lock",
        "--model",
        "org/many",
        "--include",
        "*",
        "--hf-endpoint",
        &hub.url,
        "-o",
        "m.lock",
    ]));
    let text = std::fs::read_to_string(d.join("m.lock")).unwrap();
    assert!(!text.contains(&"0".repeat(64)), "{text}");
    let lock: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files = lock["models"][0]["files"].as_array().unwrap();
    assert_eq!(files.len(), FILES);
    for f in files {
        let lfs = f["lfs"].as_bool().unwrap();
        let sha = f.get("sha256");
        if lfs {
            assert_eq!(sha.and_then(|s| s.as_str()).map(str::len), Some(64), "{f}");
        } else {
            assert!(
                sha.is_none(),
                "a git file's sha256 is unknown before download: {f}"
            );
        }
    }
    // A bundle from that lock learns every hash and records it in the signed manifest.
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(d).args([
        "bundle",
        "--locked",
        "m.lock",
        "-s",
        "k",
        "-o",
        "m.ferry.tar",
        "--hf-endpoint",
        &hub.url,
    ]));
    ok(ferry(d).args(["verify", "m.ferry.tar", "-p", "k.pub"]));
}
