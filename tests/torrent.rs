//! Story: many hosts pull the same big bundle. `ferry torrent` writes a BitTorrent torrent with a BEP 19 web
//! seed pointing at `ferry serve`; Debian's aria2c downloads it from the web seed alone, and from a seeding
//! peer (found through a local opentracker) once the web seed is gone. The result verifies.
#[path = "support/hub_server.rs"]
mod hub_server;
#[path = "support/intranet.rs"]
mod intranet;
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use intranet::{require_tool, team_bundle, Serve};

fn ferry_torrent(bundle: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("torrent")
        .arg(bundle)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ferry torrent failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn aria2c() -> Command {
    let mut c = Command::new(require_tool("aria2c", "aria2"));
    c.args([
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--follow-torrent=mem",
        "--file-allocation=none",
        "--console-log-level=warn",
        "--summary-interval=0",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
    ]);
    c
}

/// Run to completion within `secs`, or fail with everything it printed.
fn run_bounded(cmd: &mut Command, secs: u64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(
                status.success(),
                "{cmd:?} failed: {status}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish within {secs} s\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn verify(bundle: &Path, public: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("verify")
        .arg(bundle)
        .arg("-p")
        .arg(public)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "downloaded bundle does not verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn aria2c_downloads_from_the_web_seed_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    let serve = Serve::start(&[&bundle, &"-p", &public], &[]);
    let torrent = tmp.path().join("team.torrent");
    let seed = format!("{}/bundles/team.ferry.tar", serve.url);
    let printed = ferry_torrent(
        &bundle,
        &["--web-seed", &seed, "-o", torrent.to_str().unwrap()],
    );
    assert!(printed.contains("info hash"), "{printed}");
    let raw = std::fs::read(&torrent).unwrap();
    assert!(
        raw.windows(8).any(|w| w == b"url-list"),
        "no BEP 19 url-list"
    );

    let dl = tmp.path().join("dl");
    run_bounded(
        aria2c()
            .arg(format!("--dir={}", dl.display()))
            .arg("--seed-time=0")
            .arg(&torrent),
        120,
    );
    let got = dl.join("team.ferry.tar");
    assert_eq!(intranet::sha256_file(&got), intranet::sha256_file(&bundle));
    verify(&got, &public);
    let log = serve.log();
    assert!(
        log.contains("/bundles/team.ferry.tar"),
        "web seed not used:\n{log}"
    );
}

#[test]
fn aria2c_downloads_split_volumes_from_a_peer_when_the_web_seed_is_gone() {
    let tracker_bin = require_tool("opentracker", "opentracker");
    let tmp = tempfile::tempdir().unwrap();
    // A split bundle: one torrent per volume.
    let (_, public) = team_bundle(tmp.path());
    let (secret, _) = intranet::keys(tmp.path());
    let mut staging = wheelbuilder::Staging::new(&tmp.path().join("team-layout"));
    staging.lock = ferry::lock::Lock::from_json(
        &std::fs::read_to_string(tmp.path().join("team-layout/ferry.json")).unwrap(),
    )
    .unwrap();
    let split_dir = tmp.path().join("split");
    std::fs::create_dir_all(&split_dir).unwrap();
    let volumes = intranet::write_bundle(
        &staging,
        &secret,
        &split_dir.join("team.ferry.tar"),
        Some(600 << 10),
    );
    assert!(volumes.len() >= 2, "{volumes:?}");

    let port = intranet::free_port();
    // The web seed names a server that is not running: only the peer can deliver.
    let dead = intranet::free_port();
    let torrent = tmp.path().join("team.torrent");
    let printed = ferry_torrent(
        &split_dir.join("team.ferry.tar"),
        &[
            "--web-seed",
            &format!("http://127.0.0.1:{dead}/bundles/team.ferry.tar"),
            "--tracker",
            &format!("http://127.0.0.1:{port}/announce"),
            "-o",
            torrent.to_str().unwrap(),
        ],
    );
    let torrents: Vec<PathBuf> = (0..volumes.len())
        .map(|i| tmp.path().join(format!("team.{i:03}.torrent")))
        .collect();
    for t in &torrents {
        assert!(
            t.is_file(),
            "{} missing; ferry printed:\n{printed}",
            t.display()
        );
    }
    // Debian's opentracker serves only whitelisted torrents: list the info hashes ferry printed.
    let hashes: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.rsplit_once("info hash ").map(|(_, h)| h.trim()))
        .collect();
    assert_eq!(hashes.len(), volumes.len(), "{printed}");
    let tracker_dir = tmp.path().join("tracker");
    std::fs::create_dir_all(&tracker_dir).unwrap();
    std::fs::write(tracker_dir.join("whitelist"), hashes.join("\n") + "\n").unwrap();
    let _tracker = Killed(
        Command::new(tracker_bin)
            .current_dir(&tracker_dir)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &port.to_string(),
                "-w",
                "whitelist",
                "-d",
            ])
            .arg(&tracker_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    intranet::wait_port(port, "opentracker");

    // The seeder has the volumes and checks them against the torrents before seeding.
    let seed_port = intranet::free_port();
    let mut seeder = aria2c();
    seeder
        .arg(format!("--dir={}", split_dir.display()))
        .arg("--check-integrity=true")
        .arg("--seed-ratio=0.0")
        .arg(format!("--listen-port={seed_port}"))
        .args(&torrents);
    let _seeder = Killed(
        seeder
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    intranet::wait_port(seed_port, "the aria2c seeder");

    let dl = tmp.path().join("dl");
    let leech_port = intranet::free_port();
    run_bounded(
        aria2c()
            .arg(format!("--dir={}", dl.display()))
            .arg("--seed-time=0")
            .arg(format!("--listen-port={leech_port}"))
            .arg("--bt-tracker-connect-timeout=5")
            .args(&torrents),
        120,
    );
    for v in &volumes {
        let got = dl.join(v.file_name().unwrap());
        assert_eq!(
            intranet::sha256_file(&got),
            intranet::sha256_file(v),
            "{}",
            got.display()
        );
    }
    verify(&dl.join("team.ferry.tar.000"), &public);
}
