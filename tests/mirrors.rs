//! Story: several local mirrors of the test index, each with its own trouble (far away, a slow link, a
//! missing version, a listed file that answers 404, failing mid-run). `--mirror auto` measures them, picks
//! the fastest fresh one, fails over when it breaks, and the bundle is the same bytes as one made from a
//! single good mirror.
mod support;

use std::path::Path;

use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{ferry, ok};

const TARGET: [&str; 4] = [
    "--python-version",
    "3.11",
    "--platform",
    "manylinux_2_28_x86_64",
];

/// Bytes that do not compress, so a wheel is as big on the wire as its payload.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// (project, filename, bytes): app 1.0 and 2.0 (both need lib-a and lib-b), lib-a, lib-b.
fn wheels() -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let specs: [(&str, &str, &[&str]); 4] = [
        ("mirror-app", "1.0", &["lib-a>=1", "lib-b>=1"]),
        ("mirror-app", "2.0", &["lib-a>=1", "lib-b>=1"]),
        ("lib-a", "1.0", &[]),
        ("lib-b", "1.0", &[]),
    ];
    for (i, (name, version, requires)) in specs.into_iter().enumerate() {
        let mut w = WheelSpec::new(name, version).requires(requires);
        w.files = vec![(
            format!("{}/blob.bin", w.module()),
            noise(i as u64 + 1, 96 * 1024),
        )];
        out.push((name.to_string(), w.filename(), w.build()));
    }
    out
}

/// A mirror holding the wheels `keep` accepts.
fn mirror(all: &[(String, String, Vec<u8>)], keep: impl Fn(&str) -> bool) -> IndexServer {
    let s = IndexServer::start(Mode::Json);
    for (project, filename, bytes) in all.iter().filter(|w| keep(&w.1)) {
        s.add(project, filename, bytes.clone());
    }
    s
}

fn mirrors_file(d: &Path, mirrors: &[(&str, &IndexServer)]) -> std::path::PathBuf {
    let mut toml = String::from("presets = false\n");
    for (name, m) in mirrors {
        toml.push_str(&format!(
            "[[index]]\nname = \"{name}\"\nurl = \"{}\"\n",
            m.url
        ));
    }
    let path = d.join("mirrors.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// Keys, requirements, a lock made on `home`, and a bundle of it from `home` alone (the reference).
fn locked_world(d: &Path, home: &IndexServer) -> Vec<u8> {
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    std::fs::write(d.join("req.txt"), "mirror-app==1.0\n").unwrap();
    ok(ferry(d)
        .args(["lock", "-r", "req.txt", "-o", "ferry.lock", "-i", &home.url])
        .args(TARGET)
        .env("FERRY_MIRROR_PRESETS", "0"));
    ok(ferry(d)
        .args([
            "bundle",
            "--locked",
            "ferry.lock",
            "-s",
            "k",
            "-o",
            "ref.tar",
        ])
        .env("FERRY_CACHE_DIR", d.join("ref-cache"))
        .env("FERRY_MIRROR_PRESETS", "0"));
    std::fs::read(d.join("ref.tar")).unwrap()
}

/// `ferry bundle --locked ferry.lock --mirror auto -s k -o auto.tar` (plus `extra`), with its own cache,
/// measuring the mirrors in `file` only.
fn bundle_auto(d: &Path, file: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = ferry(d);
    cmd.args(["bundle", "--locked", "ferry.lock", "--mirror", "auto"])
        .args(extra)
        .args(["-s", "k", "-o", "auto.tar"])
        .env("FERRY_CACHE_DIR", d.join("auto-cache"))
        .env("FERRY_MIRRORS", file)
        .env("FERRY_MIRROR_PRESETS", "0");
    cmd
}

/// `ferry lock -r req.txt -o ferry.lock --mirror auto` for TARGET, measuring the mirrors in `file` only.
fn lock_auto(d: &Path, file: &Path) -> std::process::Command {
    let mut cmd = ferry(d);
    cmd.args([
        "lock",
        "-r",
        "req.txt",
        "-o",
        "ferry.lock",
        "--mirror",
        "auto",
    ])
    .args(TARGET)
    .env("FERRY_MIRRORS", file)
    .env("FERRY_MIRROR_PRESETS", "0");
    cmd
}

fn line_of<'a>(table: &'a str, url: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.contains(url))
        .unwrap_or_else(|| panic!("{url} not in:\n{table}"))
}

fn app_files() -> [&'static str; 3] {
    [
        "mirror_app-1.0-py3-none-any.whl",
        "lib_a-1.0-py3-none-any.whl",
        "lib_b-1.0-py3-none-any.whl",
    ]
}

fn size_of(all: &[(String, String, Vec<u8>)], names: &[&str]) -> u64 {
    all.iter()
        .filter(|w| names.contains(&w.1.as_str()))
        .map(|w| w.2.len() as u64)
        .sum()
}

#[test]
fn fastest_fresh_mirror_is_chosen_and_the_bundle_is_the_same_bytes() {
    let all = wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = mirror(&all, |_| true);
    let reference = locked_world(d, &home);
    let home_bytes = home.full_bytes();
    // The home index is far away now; five mirrors, one of them good and fast.
    home.set_delay_ms(700);
    let far = mirror(&all, |_| true);
    far.set_delay_ms(300);
    let narrow = mirror(&all, |_| true);
    narrow.set_rate(48 * 1024);
    // Behind: lists lib-b 0.9 but not the 1.0 the lock needs.
    let stale = mirror(&all, |f| !f.starts_with("lib_b"));
    let old = WheelSpec::new("lib-b", "0.9");
    stale.add("lib-b", &old.filename(), old.build());
    let broken = mirror(&all, |_| true);
    // Lists the file the probe times (the lock's first) but answers 404 for it.
    broken.gone("lib_a-1.0-py3-none-any.whl");
    let fast = mirror(&all, |_| true);
    let file = mirrors_file(
        d,
        &[
            ("far", &far),
            ("narrow", &narrow),
            ("stale", &stale),
            ("broken", &broken),
            ("fast", &fast),
        ],
    );
    let mut cmd = bundle_auto(d, &file, &[]);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}", support::describe(&cmd, &out));
    assert!(line_of(&stderr, &fast.url).contains("fresh  *"), "{stderr}");
    for slow in [&far, &narrow, &home] {
        let l = line_of(&stderr, &slow.url);
        assert!(l.contains("fresh") && !l.contains('*'), "{stderr}");
    }
    assert!(
        line_of(&stderr, &stale.url).contains("does not list lib_b-1.0"),
        "{stderr}"
    );
    let b = line_of(&stderr, &broken.url);
    assert!(b.contains("stale") && b.contains("404"), "{stderr}");
    // Every file came whole from the chosen mirror, once; nobody else served a whole file.
    assert_eq!(fast.full_bytes(), size_of(&all, &app_files()));
    for other in [&far, &narrow, &stale, &broken] {
        assert_eq!(other.full_bytes(), 0);
    }
    assert_eq!(home.full_bytes(), home_bytes);
    assert!(
        std::fs::read(d.join("auto.tar")).unwrap() == reference,
        "a bundle made through the chosen mirror differs from the reference"
    );
    // The choice is not in the bundle's ferry.json: it is the lock's, untouched.
    let tar = std::fs::read(d.join("auto.tar")).unwrap();
    assert!(!String::from_utf8_lossy(&tar).contains(&fast.url));
}

#[test]
fn a_mirror_failing_mid_run_is_dropped_and_the_next_completes_the_bundle() {
    let all = wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = mirror(&all, |_| true);
    let reference = locked_world(d, &home);
    home.set_delay_ms(700);
    // Fastest at first: answers the probe and one download, then 500 for every file.
    let flaky = mirror(&all, |_| true);
    flaky.fail_files_after(2);
    let backup = mirror(&all, |_| true);
    backup.set_delay_ms(120);
    let file = mirrors_file(d, &[("backup", &backup), ("flaky", &flaky)]);
    let mut cmd = bundle_auto(d, &file, &["--jobs", "1"]);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}", support::describe(&cmd, &out));
    assert!(
        line_of(&stderr, &flaky.url).contains("fresh  *"),
        "{stderr}"
    );
    assert!(stderr.contains("dropped mirror"), "{stderr}");
    // Dropped after its first failure: the probe, one file, one 500, then nothing more.
    let flaky_files = flaky
        .log()
        .iter()
        .filter(|(p, _)| p.starts_with("/files/"))
        .count();
    assert_eq!(flaky_files, 3, "{:?}", flaky.log());
    // Nothing downloaded twice: the two mirrors together sent each file whole exactly once.
    assert_eq!(
        flaky.full_bytes() + backup.full_bytes(),
        size_of(&all, &app_files())
    );
    assert!(flaky.full_bytes() > 0 && backup.full_bytes() > 0);
    assert!(
        std::fs::read(d.join("auto.tar")).unwrap() == reference,
        "a bundle completed by fail-over differs from the reference"
    );
}

#[test]
fn lock_resolves_on_the_fastest_mirror_listing_the_newest_version_and_records_the_choice() {
    let all = wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The quickest mirror lags behind: it lacks mirror-app 2.0.
    let behind = mirror(&all, |f| !f.starts_with("mirror_app-2.0"));
    let slow = mirror(&all, |_| true);
    slow.set_delay_ms(250);
    let good = mirror(&all, |_| true);
    good.set_delay_ms(20);
    let file = mirrors_file(d, &[("behind", &behind), ("slow", &slow), ("good", &good)]);
    std::fs::write(d.join("req.txt"), "mirror-app\n").unwrap();
    ok(&mut lock_auto(d, &file));
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("ferry.lock")).unwrap()).unwrap();
    let app = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "mirror-app")
        .unwrap();
    assert_eq!(app["version"], "2.0", "{lock:#}");
    assert!(
        app["url"].as_str().unwrap().contains(&good.base()),
        "{lock:#}"
    );
    let recorded = lock["mirrors"].as_array().expect("mirrors recorded");
    let chosen: Vec<&serde_json::Value> = recorded.iter().filter(|m| m["chosen"] == true).collect();
    assert_eq!(chosen.len(), 1, "{lock:#}");
    assert_eq!(chosen[0]["url"], good.url.as_str());
    let b = recorded
        .iter()
        .find(|m| m["url"] == behind.url.as_str())
        .unwrap();
    assert_eq!(b["fresh"], false);
    assert!(b["note"].as_str().unwrap().contains("2.0"), "{b:#}");

    // `ferry mirrors --json` measures the same candidates against the lock.
    let json: serde_json::Value = serde_json::from_str(&ok(ferry(d)
        .args(["mirrors", "--json", "--locked", "ferry.lock"])
        .env("FERRY_MIRRORS", &file)
        .env("FERRY_MIRROR_PRESETS", "0")))
    .unwrap();
    let rows = json["mirrors"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{json:#}");
    for r in rows {
        assert!(r["latency_ms"].as_f64().unwrap() > 0.0, "{json:#}");
        assert!(r["throughput"].as_f64().unwrap() > 0.0, "{json:#}");
    }
    let chosen = rows.iter().find(|r| r["chosen"] == true).unwrap();
    assert_eq!(chosen["url"], good.url.as_str(), "{json:#}");
    let b = rows
        .iter()
        .find(|r| r["url"] == behind.url.as_str())
        .unwrap();
    assert_eq!(b["fresh"], false, "{json:#}");
    // The table form names every candidate.
    let table = ok(ferry(d)
        .args(["mirrors", "--locked", "ferry.lock"])
        .env("FERRY_MIRRORS", &file)
        .env("FERRY_MIRROR_PRESETS", "0"));
    assert!(line_of(&table, &good.url).contains('*'), "{table}");
    assert!(line_of(&table, &behind.url).contains("stale"), "{table}");
}

/// A model repo with two LFS files big enough to time.
fn model_repo() -> support::hub_server::Repo {
    support::hub_server::Repo::new()
        .file("config.json", b"{\"model_type\": \"demo\"}\n".to_vec())
        .file("big.safetensors", noise(11, 300 * 1024))
        .file("second.safetensors", noise(12, 200 * 1024))
}

#[test]
fn hub_mirrors_stale_commit_skipped_cut_body_resumed_on_the_next() {
    use support::hub_server::{sha256_hex, FaultKind, HubServer};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = HubServer::start();
    home.add_model("org/demo", model_repo());
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    ok(ferry(d)
        .args([
            "lock",
            "--model",
            "org/demo",
            "--hf-endpoint",
            &home.url,
            "-o",
            "ferry.lock",
        ])
        .env("FERRY_MIRROR_PRESETS", "0"));
    ok(ferry(d)
        .args([
            "bundle",
            "--locked",
            "ferry.lock",
            "-s",
            "k",
            "-o",
            "ref.tar",
        ])
        .env("FERRY_CACHE_DIR", d.join("ref-cache"))
        .env("FERRY_MIRROR_PRESETS", "0"));
    let reference = std::fs::read(d.join("ref.tar")).unwrap();
    home.set_delay_ms(600);
    // Another commit of the repo: stale for this lock.
    let stale = HubServer::start();
    stale.add_model("org/demo", model_repo().file("extra.txt", b"x".to_vec()));
    // The fastest: cuts the second file's body short, once.
    let fast = HubServer::start();
    fast.add_model("org/demo", model_repo());
    let second = noise(12, 200 * 1024);
    fast.fault(
        &format!("/blobs/{}", sha256_hex(&second)),
        FaultKind::CutShort,
        1,
    );
    let backup = HubServer::start();
    backup.add_model("org/demo", model_repo());
    backup.set_delay_ms(150);
    let mut toml = String::from("presets = false\n");
    for (name, h) in [("stale", &stale), ("fast", &fast), ("backup", &backup)] {
        toml.push_str(&format!(
            "[[hub]]\nname = \"{name}\"\nurl = \"{}\"\n",
            h.url
        ));
    }
    std::fs::write(d.join("mirrors.toml"), toml).unwrap();
    let mut cmd = bundle_auto(d, &d.join("mirrors.toml"), &["--jobs", "1"]);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}", support::describe(&cmd, &out));
    assert!(line_of(&stderr, &fast.url).contains("fresh  *"), "{stderr}");
    let s = line_of(&stderr, &stale.url);
    assert!(s.contains("stale") && !s.contains('*'), "{stderr}");
    assert!(stderr.contains("dropped mirror"), "{stderr}");
    // The backup continued the cut file from the bytes already received.
    let resumed: Vec<_> = backup
        .log()
        .into_iter()
        .filter(|l| l.path.contains(&sha256_hex(&second)))
        .collect();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    let range = resumed[0].header("range").expect("a ranged request");
    assert!(
        range.starts_with("bytes=") && !range.starts_with("bytes=0-"),
        "{range}"
    );
    assert!(
        std::fs::read(d.join("auto.tar")).unwrap() == reference,
        "a bundle made through hub mirrors differs from the reference"
    );
}

/// During resolution, a project page the chosen mirror starts failing on (5xx past the client's retries)
/// comes from the next fresh mirror; the failing mirror is dropped and named.
#[test]
fn an_index_page_failing_on_the_chosen_mirror_comes_from_the_next() {
    let all = wheels();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = mirror(&all, |_| true);
    let second = mirror(&all, |_| true);
    second.set_delay_ms(150);
    // Fresh and fastest when measured (the probe reads mirror-app's page), then lib-a's page fails.
    good.fail("/simple/lib-a/", 1000);
    let file = mirrors_file(d, &[("good", &good), ("second", &second)]);
    std::fs::write(d.join("req.txt"), "mirror-app==1.0\n").unwrap();
    let mut cmd = lock_auto(d, &file);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", support::describe(&cmd, &out));
    assert!(
        stderr.contains("dropped mirror")
            && stderr.contains(&good.base().trim_end_matches('/').to_string()),
        "{stderr}"
    );
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("ferry.lock")).unwrap()).unwrap();
    let url_of = |name: &str| {
        lock["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {lock:#}"))["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(url_of("mirror-app").starts_with(&good.base()), "{lock:#}");
    assert!(url_of("lib-a").starts_with(&second.base()), "{lock:#}");
    assert!(second.requested("/simple/lib-a/") >= 1);
}
