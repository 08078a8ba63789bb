//! Story: "packing copies each file once, by the kernel, and what lands in the bundle is still proven to be
//! what the lock says." Real hub server on 127.0.0.1, the real binary, `tar` and `ferry verify` as judges.
mod support;

use std::path::{Path, PathBuf};

use support::hub_server::{HubServer, Repo};
use support::{ferry, ok};

const REPO: &str = "org/packed";
const BIG: &str = "model.safetensors";

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 13) as u8)
        .collect()
}

/// A model with a 9 MiB weights file (more than one copy round), a small LFS file and a plain one; a key
/// pair and a lock of it.
fn setup() -> (HubServer, tempfile::TempDir) {
    let hub = HubServer::start();
    hub.add_model(
        REPO,
        Repo::new()
            .file("config.json", "{\"hidden\": 8}\n")
            .file(BIG, bytes(1, 9 << 20 | 5))
            .file("sub/extra.safetensors", bytes(2, 3000)),
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(d).args([
        "lock",
        "--model",
        REPO,
        "--hf-endpoint",
        &hub.url,
        "--python-version",
        "3.10",
        "--platform",
        "manylinux_2_28_x86_64",
        "-o",
        "m.lock",
    ]));
    (hub, dir)
}

fn bundle(d: &Path, out: &str, extra: &[&str], env: Option<(&str, &str)>) {
    let mut cmd = ferry(d);
    cmd.args(["bundle", "--locked", "m.lock", "-s", "k", "-o", out])
        .args(extra);
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    ok(&mut cmd);
}

/// The blob of the big file in the download cache.
fn cached_blob(d: &Path) -> PathBuf {
    let blobs = d.join(".ferry-cache/models/models--org--packed/blobs");
    let expected = (9 << 20 | 5) as u64;
    std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::metadata(p).unwrap().len() == expected)
        .expect("the big blob is cached")
}

#[test]
fn cold_warm_read_write_and_split_packs_are_the_same_bytes() {
    let (_hub, dir) = setup();
    let d = dir.path();
    // Downloaded in this run (hashed while written, not hashed again), then from the warm cache by new
    // processes: kernel copy, the read/write fallback, and FAT32-style volumes that a member spans.
    bundle(d, "cold.ferry.tar", &[], None);
    bundle(d, "warm.ferry.tar", &[], None);
    bundle(
        d,
        "rw.ferry.tar",
        &[],
        Some(("FERRY_TEST_NO_COPY_RANGE", "1")),
    );
    bundle(d, "split.ferry.tar", &["--split", "1M"], None);
    bundle(
        d,
        "split-rw.ferry.tar",
        &["--split", "1M"],
        Some(("FERRY_TEST_NO_COPY_RANGE", "1")),
    );
    let cold = std::fs::read(d.join("cold.ferry.tar")).unwrap();
    for name in ["warm.ferry.tar", "rw.ferry.tar"] {
        assert!(
            std::fs::read(d.join(name)).unwrap() == cold,
            "{name} differs from the bundle packed while downloading"
        );
    }
    for base in ["split.ferry.tar", "split-rw.ferry.tar"] {
        let mut joined = Vec::new();
        let mut i = 0;
        while let Ok(part) = std::fs::read(d.join(format!("{base}.{i:03}"))) {
            assert!(part.len() <= 1 << 20);
            joined.extend(part);
            i += 1;
        }
        assert!(i > 9, "{base}: {i} volumes");
        assert!(
            joined == cold,
            "{base}: volumes do not concatenate to the bundle"
        );
    }
    ok(ferry(d).args(["verify", "cold.ferry.tar", "-p", "k.pub"]));
    ok(ferry(d).args(["verify", "split-rw.ferry.tar.000", "-p", "k.pub"]));
    let x = d.join("x");
    std::fs::create_dir(&x).unwrap();
    ok(std::process::Command::new("tar")
        .args(["xf", "../cold.ferry.tar"])
        .current_dir(&x));
    let blob = cached_blob(d);
    let packed = x
        .join("models/hub/models--org--packed/blobs")
        .join(blob.file_name().unwrap());
    assert!(std::fs::read(packed).unwrap() == bytes(1, 9 << 20 | 5));
}

#[test]
fn a_cache_file_changed_behind_ferrys_back_never_reaches_a_bundle() {
    let (hub, dir) = setup();
    let d = dir.path();
    bundle(d, "first.ferry.tar", &[], None);
    let fetched = hub.requests_to(BIG).len();
    // Same size, same mtime, other bytes: a new process must not trust the cache by its looks.
    let blob = cached_blob(d);
    let mtime = std::fs::metadata(&blob).unwrap().modified().unwrap();
    let mut tampered = std::fs::read(&blob).unwrap();
    tampered[4 << 20] ^= 0xff;
    std::fs::write(&blob, &tampered).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&blob).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let meta = std::fs::metadata(&blob).unwrap();
    assert_eq!((meta.len(), meta.modified().unwrap()), (9 << 20 | 5, mtime));

    bundle(d, "second.ferry.tar", &[], None);
    // Caught by hashing the cache file, fetched again, and the bundle is the right one.
    assert_eq!(hub.requests_to(BIG).len(), fetched + 1);
    assert!(
        std::fs::read(d.join("second.ferry.tar")).unwrap()
            == std::fs::read(d.join("first.ferry.tar")).unwrap()
    );
    assert!(std::fs::read(&blob).unwrap() == bytes(1, 9 << 20 | 5));
    ok(ferry(d).args(["verify", "second.ferry.tar", "-p", "k.pub"]));
}
