//! Stories: a download killed with SIGKILL resumes where it stopped; `--locked` bundles are
//! byte-identical whatever the folder, umask and time zone; split volumes install from the first part.
mod support;

use std::time::{Duration, Instant};

use support::hub_server::{safetensors, FaultKind, HubServer, Repo};
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{ferry, ok};

#[test]
fn kill_9_during_a_large_download_then_rerun_resumes() {
    let hub = HubServer::start();
    let big = safetensors(&[("w", &[2048, 2560])], 7); // ~20 MiB
    let total = big.len();
    hub.add_model(
        "org/big",
        Repo::new()
            .file("config.json", "{}")
            .file("model.safetensors", big),
    );
    let stall_at = total * 3 / 4;
    // LFS files come from the storage host at /blobs/<sha256>.
    hub.fault(
        "/blobs/",
        FaultKind::Stall {
            after: stall_at,
            secs: 60,
        },
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    let args = [
        "bundle",
        "--model",
        "org/big",
        "--hf-endpoint",
        &hub.url,
        "-s",
        "k",
        "-o",
        "big.ferry.tar",
    ];
    let mut child = ferry(d)
        .args(args)
        .env("FERRY_READ_TIMEOUT", "120")
        .spawn()
        .unwrap();
    // Wait until the partial file holds what the server sent before stalling, then SIGKILL.
    let started = Instant::now();
    let mut last = (0usize, Instant::now());
    let partial = loop {
        let found = walk(&d.join(".ferry-cache"))
            .into_iter()
            .find(|p| p.to_string_lossy().ends_with(".incomplete"));
        if let Some(p) = &found {
            // The server stalls after `stall_at` bytes: wait until the file stops growing near there.
            let len = std::fs::metadata(p).map(|m| m.len() as usize).unwrap_or(0);
            if len != last.0 {
                last = (len, Instant::now());
            } else if len >= stall_at / 2 && last.1.elapsed() > Duration::from_millis(700) {
                break p.clone();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no partial download appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !d.join("big.ferry.tar").exists(),
        "nothing half-written under the final name"
    );
    let on_disk = std::fs::metadata(&partial).unwrap().len() as usize;

    let before = hub.log().len();
    ok(ferry(d).args(args));
    let all: Vec<_> = hub.log().into_iter().skip(before).collect();
    let rerun: Vec<_> = all
        .into_iter()
        .filter(|l| l.path.contains("/blobs/"))
        .collect();
    let refetched: u64 = rerun.iter().map(|l| l.body_bytes).sum();
    assert!(
        rerun.iter().any(|l| l
            .header("range")
            .is_some_and(|r| r.starts_with(&format!("bytes={on_disk}-")))),
        "{rerun:?}"
    );
    assert!(
        (refetched as usize) < (total - on_disk) + on_disk / 10,
        "re-fetched {refetched} bytes of {total} with {on_disk} on disk"
    );
    ok(ferry(d).args(["verify", "big.ferry.tar", "-p", "k.pub"]));
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn locked_bundles_are_identical_across_folders_umask_and_tz_and_split_installs() {
    let index = IndexServer::start(Mode::Json);
    for spec in [
        WheelSpec::new("alpha", "1.0").requires(&["beta"]),
        WheelSpec::new("beta", "2.0"),
    ] {
        index.add(spec.name, &spec.filename(), spec.build());
    }
    let hub = HubServer::start();
    hub.add_model(
        "org/small",
        Repo::new().file("config.json", "{\"a\": 1}").file(
            "nested/w.safetensors",
            safetensors(&[("w", &[128, 128])], 3),
        ),
    );
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    let b = root.path().join("b/deeper");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(a.join("requirements.txt"), "alpha\n").unwrap();
    ok(ferry(&a).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(&a).args([
        "lock",
        "-r",
        "requirements.txt",
        "--model",
        "org/small",
        "--hf-endpoint",
        &hub.url,
        "--index-url",
        &index.url,
        "--python-version",
        "3.12",
        "--platform",
        "macosx_14_0_arm64",
        "-o",
        "ferry.lock",
    ]));
    for f in ["k", "k.pub", "ferry.lock"] {
        std::fs::copy(a.join(f), b.join(f)).unwrap();
    }
    let bundle = |dir: &std::path::Path, umask: &str, tz: &str| {
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(format!("umask {umask}; exec \"$0\" bundle --locked ferry.lock -s k -o out.ferry.tar --split 16K"))
            .arg(env!("CARGO_BIN_EXE_ferry"))
            .current_dir(dir)
            .env("TZ", tz)
            .env("FERRY_CACHE_DIR", dir.join("cache"))
            .env_remove("SOURCE_DATE_EPOCH")
            .env("PIP_CONFIG_FILE", "/dev/null");
        ok(&mut c);
    };
    bundle(&a, "022", "UTC");
    bundle(&b, "077", "Asia/Tokyo");
    let parts = |dir: &std::path::Path| {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("out.ferry.tar."))
            .collect();
        v.sort();
        v
    };
    let (pa, pb) = (parts(&a), parts(&b));
    assert!(pa.len() >= 2, "{pa:?}");
    assert_eq!(pa, pb);
    for p in &pa {
        let (x, y) = (
            std::fs::read(a.join(p)).unwrap(),
            std::fs::read(b.join(p)).unwrap(),
        );
        assert!(x.len() <= 16 * 1024, "{p} is {} bytes", x.len());
        assert!(x == y, "{p} differs between the two runs");
    }
    // verify and inspect take the first part; a missing part is a clear error.
    ok(ferry(&a).args(["verify", "out.ferry.tar.000", "-p", "k.pub"]));
    ok(ferry(&a).args(["inspect", "out.ferry.tar.000"]));
    let last = a.join(pa.last().unwrap());
    std::fs::remove_file(&last).unwrap();
    let err = support::fails(
        ferry(&a).args(["verify", "out.ferry.tar.000", "-p", "k.pub"]),
        1,
    );
    assert!(
        err.contains(&format!("missing volume {}", pa.last().unwrap())),
        "{err}"
    );
}

/// Run `ferry ARGS` in a private mount namespace where `small` is a tmpfs of `kib` KiB.
fn ferry_on_small_disk(
    cwd: &std::path::Path,
    small: &std::path::Path,
    kib: u64,
    args: &[&str],
) -> std::process::Output {
    std::fs::create_dir_all(small).unwrap();
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "mount -t tmpfs -o size={kib}k tmpfs '{}' && exec '{}' {}",
        small.display(),
        env!("CARGO_BIN_EXE_ferry"),
        quoted.join(" ")
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "sh", "-c", &script])
        .current_dir(cwd)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("SOURCE_DATE_EPOCH", "1700000000");
    c.env("FERRY_CACHE_DIR", cwd.join(".ferry-cache"));
    c.output().unwrap()
}

#[test]
fn a_full_disk_leaves_nothing_half_written() {
    let index = IndexServer::start(Mode::Json);
    let mut big = WheelSpec::new("bulky", "1.0");
    // ~2 MiB of incompressible data inside the wheel.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..2_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    big.files = vec![
        ("bulky/__init__.py".into(), b"".to_vec()),
        ("bulky/blob.bin".into(), noise),
    ];
    index.add("bulky", &big.filename(), big.build());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "bulky\n").unwrap();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    // Bundle onto a disk too small for it: a clear error, no file under the final name, no temp left.
    let small = d.join("usb");
    let out = ferry_on_small_disk(
        d,
        &small,
        512,
        &[
            "bundle",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "--python-version",
            "3.11",
            "--platform",
            "manylinux_2_28_x86_64",
            "-s",
            "k",
            "-o",
            "usb/b.ferry.tar",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("usb") && err.to_lowercase().contains("space"),
        "{err}"
    );
    // (the tmpfs vanished with the namespace; the folder under it must not hold a half bundle)
    assert!(std::fs::read_dir(&small).unwrap().next().is_none());

    // Install into a venv on a disk too small for the wheel: the venv is unchanged afterwards.
    let host = ferry::host::detect(Some(&support::test_python())).unwrap();
    ok(ferry(d).args([
        "bundle",
        "-r",
        "requirements.txt",
        "--index-url",
        &index.url,
        "--python-version",
        &host.python,
        "--platform",
        &host.platforms[0],
        "-s",
        "k",
        "-o",
        "b.ferry.tar",
    ]));
    let script = format!(
        "mount -t tmpfs -o size=1536k tmpfs usb && '{py}' -m venv --without-pip usb/venv && find usb | sort > before.txt && '{ferry}' install b.ferry.tar -p k.pub --venv usb/venv; rc=$?; find usb | sort > after.txt; exit $rc",
        py = support::test_python().display(),
        ferry = env!("CARGO_BIN_EXE_ferry"),
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.to_lowercase().contains("space"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("before.txt")).unwrap(),
        std::fs::read_to_string(d.join("after.txt")).unwrap(),
        "{err}"
    );
}
