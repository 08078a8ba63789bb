//! Story: "I hit kill -9 in the middle of a large model download" — the rerun resumes from what the first
//! run had written and fetches again only what was in flight when it died: the kernel's socket buffers
//! and ferry's own bounded queue between the socket and the disk, a few MiB at most.
//!
//! Counted by the server: a local hub sends a 256 MiB LFS file at a steady pace and counts the body bytes
//! the kernel accepted for each request. The real binary is stopped (SIGSTOP) past 60% so the split of
//! what is in flight can be read while nothing moves (file length, both sockets' kernel queues from
//! /proc/net/tcp, the rest is ferry's memory), then killed with SIGKILL, then run again to the end.
//!
//! For measurements by hand: `FERRY_KILL_TEST_BIN` runs another ferry binary (e.g. a release build) and
//! `FERRY_KILL_TEST_RATE_MIB` changes the pace (a large value: as fast as the server can send).
#[path = "support/paced_hub.rs"]
mod paced_hub;
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::fetch::download::FILE_QUEUE_BYTES;
use paced_hub::{tcp_queues, PacedHub};
use sha2::Digest;
use support::{ferry, ok};

const SIZE: u64 = 256 << 20;
/// Well below what even a debug build on a busy machine writes and hashes, so ferry keeps up.
const RATE_MIB: u64 = 96;
const MIB: f64 = (1 << 20) as f64;

/// Kills the child if the test ends early.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `support::ferry`, or the same command line for the binary `FERRY_KILL_TEST_BIN` names.
fn ferry_cmd(d: &Path) -> Command {
    let base = ferry(d);
    let Some(bin) = std::env::var_os("FERRY_KILL_TEST_BIN") else {
        return base;
    };
    let mut c = Command::new(bin);
    c.current_dir(d);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({}, {sig})", child.id());
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

#[test]
fn kill_9_mid_download_fetches_again_only_what_was_in_flight() {
    let rate = std::env::var("FERRY_KILL_TEST_RATE_MIB")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(RATE_MIB);
    let hub = PacedHub::start("org/big", "model.safetensors", SIZE, rate << 20);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
    let args = [
        "bundle",
        "--model",
        "org/big",
        "--hf-endpoint",
        &hub.url,
        "--python-version",
        "3.11",
        "--platform",
        "manylinux_2_17_x86_64",
        "-s",
        "k",
        "-o",
        "big.ferry.tar",
    ];
    let blob = d
        .join(".ferry-cache/models/models--org--big/blobs")
        .join(&hub.sha256);
    let incomplete = blob.with_file_name(format!("{}.incomplete", hub.sha256));

    // Run 1: past 60% of the file, freeze it, read where every byte sent so far is, kill -9.
    let log1 = std::fs::File::create(d.join("run1.log")).unwrap();
    let mut run1 = Running(
        ferry_cmd(d)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log1)
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    wait_until("60% of the file sent", Duration::from_secs(60), || {
        if let Some(status) = run1.0.try_wait().unwrap() {
            panic!(
                "ferry ended before the kill ({status}):\n{}",
                std::fs::read_to_string(d.join("run1.log")).unwrap_or_default()
            );
        }
        hub.file_bytes_sent() * 10 >= SIZE * 6
    });
    signal(&run1.0, libc::SIGSTOP);
    // Frozen: the server fills the socket buffers, then blocks.
    let mut last = (hub.file_bytes_sent(), Instant::now());
    wait_until("the server to block", Duration::from_secs(10), || {
        let now = hub.file_bytes_sent();
        if now != last.0 {
            last = (now, Instant::now());
        }
        last.1.elapsed() > Duration::from_millis(150)
    });
    let reqs1 = hub.file_requests();
    let conn = reqs1.last().unwrap();
    let sent_frozen = hub.file_bytes_sent();
    let on_disk = std::fs::metadata(&incomplete).unwrap().len();
    let (server_kernel, _) = tcp_queues(conn.local_port, conn.peer_port).unwrap_or_default();
    let (_, client_kernel) = tcp_queues(conn.peer_port, conn.local_port).unwrap_or_default();
    let in_memory = sent_frozen as i64 - (on_disk + server_kernel + client_kernel) as i64;
    signal(&run1.0, libc::SIGKILL);
    let status = run1.0.wait().unwrap();
    assert!(!status.success(), "run 1 was killed: {status}");
    let run1_secs = started.elapsed().as_secs_f64();
    wait_until("the server to notice", Duration::from_secs(10), || {
        reqs1
            .iter()
            .all(|r| r.done.load(std::sync::atomic::Ordering::SeqCst))
    });
    let sent1 = hub.file_bytes_sent();
    assert!(
        incomplete.exists() && !blob.exists(),
        "the .incomplete file survives kill -9"
    );
    assert_eq!(
        std::fs::metadata(&incomplete).unwrap().len(),
        on_disk,
        "nothing moved while frozen"
    );
    assert!(
        on_disk > 0 && hub.content_at(on_disk - 4096, 4096) == read_tail(&incomplete, 4096),
        "the .incomplete file holds the file's bytes up to its length"
    );

    // Run 2: to the end.
    let n1 = reqs1.len();
    let started = Instant::now();
    ok(ferry_cmd(d).args(args));
    let run2_secs = started.elapsed().as_secs_f64();
    let reqs = hub.file_requests();
    let reqs2 = &reqs[n1..];
    let sent2: u64 = reqs2.iter().map(|r| r.sent()).sum();
    let refetched = sent1 + sent2 - SIZE;

    eprintln!(
        "kill -9 at {:.1} MiB sent of {:.0} MiB ({:.1} s): on disk {:.2} MiB; in flight {:.2} MiB = \
         kernel {:.2} MiB (server send queue {:.2}, client receive queue {:.2}) + ferry's memory {:.2} MiB",
        sent1 as f64 / MIB,
        SIZE as f64 / MIB,
        run1_secs,
        on_disk as f64 / MIB,
        (sent1 - on_disk) as f64 / MIB,
        (server_kernel + client_kernel) as f64 / MIB,
        server_kernel as f64 / MIB,
        client_kernel as f64 / MIB,
        in_memory as f64 / MIB,
    );
    eprintln!(
        "rerun ({:.1} s): {} request(s), first Range {:?}, sent {:.2} MiB; fetched again {:.2} MiB = {:.2}% \
         of the {:.1} MiB run 1 received",
        run2_secs,
        reqs2.len(),
        reqs2.first().and_then(|r| r.range.clone()),
        sent2 as f64 / MIB,
        refetched as f64 / MIB,
        refetched as f64 * 100.0 / sent1 as f64,
        sent1 as f64 / MIB,
    );

    // The rerun asked for exactly what was missing, once.
    assert_eq!(reqs2.len(), 1, "one request for the rest of the file");
    assert_eq!(reqs2[0].status, 206);
    assert_eq!(
        reqs2[0].range_start(),
        Some(on_disk),
        "resumes from the .incomplete file's length"
    );
    assert_eq!(sent2, SIZE - on_disk);
    // What was fetched again is what was in flight: the kernel's buffers and ferry's bounded queue.
    assert!(
        refetched * 20 < sent1,
        "fetched again {refetched} bytes, not under 5% of {sent1}"
    );
    assert!(
        in_memory <= (FILE_QUEUE_BYTES + (1 << 20)) as i64,
        "{in_memory} bytes in ferry's memory: more than its queue and one socket read"
    );

    // The result verifies: the blob's sha256, then the signed bundle.
    assert!(!incomplete.exists());
    assert_eq!(sha256_file(&blob), hub.sha256);
    ok(ferry(d).args(["verify", "big.ferry.tar", "-p", "k.pub"]));
}

fn read_tail(path: &Path, n: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::End(-(n as i64))).unwrap();
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).unwrap();
    buf
}
