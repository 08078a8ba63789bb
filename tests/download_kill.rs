//! Story: "I hit kill -9 in the middle of a large model download" — the rerun resumes from what the first
//! run had written and fetches again only what was in flight when it died: the kernel's socket buffers
//! and ferry's own bounded queue between the socket and the disk, a few MiB at most.
//!
//! Counted by the server: a local hub sends a 256 MiB LFS file and counts the body bytes the kernel
//! accepted for each request. Past 60%, the real binary is stopped (SIGSTOP) and the server stops sending,
//! so the split of what is in flight can be read while nothing moves (file length, the sockets' kernel
//! queues from /proc/net/tcp, the rest is ferry's memory); then SIGKILL, and a rerun to the end.
//!
//! Two paces: a steady one ferry keeps up with (the kill comes when the kernel holds little, as it does
//! then: what is fetched again must stay under 5%), and as fast as the server can send, where ferry is
//! the bottleneck and its queue is full: what it held in memory must stay within that queue.
//!
//! For measurements by hand, `FERRY_KILL_TEST_BIN` runs another ferry binary (e.g. a release build).
#[path = "support/paced_hub.rs"]
mod paced_hub;
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::fetch::download::FILE_QUEUE_BYTES;
use paced_hub::{tcp_queues, PacedHub, UNPACED};
use sha2::Digest;
use support::{ferry, ok};

const SIZE: u64 = 256 << 20;
/// Well below what even a debug build on a busy machine writes and hashes, so ferry keeps up.
const RATE_MIB: u64 = 64;
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

/// What one kill -9 and rerun came to, in bytes.
struct Figures {
    /// File bytes the server sent to run 1, and to run 2.
    sent1: u64,
    sent2: u64,
    /// What ferry held in memory when it was stopped (sent, less the file and the kernels' queues).
    in_memory: i64,
}

impl Figures {
    fn refetched(&self) -> u64 {
        self.sent1 + self.sent2 - SIZE
    }
}

/// Bundle a 256 MiB model sent at `rate_mib` MiB/s, kill -9 past 60% (once the kernel holds less than
/// 1 MiB when `settle`), rerun to the end; check that the rerun resumed where the file ended and that the
/// result verifies.
fn kill_and_rerun(rate_mib: u64, settle: bool) -> Figures {
    let hub = PacedHub::start("org/big", "model.safetensors", SIZE, rate_mib << 20);
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

    // Run 1: past 60% of the file, at a moment the kernel holds little (the client keeps up), freeze
    // ferry and stop the server; read where every byte sent is while nothing moves; kill -9.
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
    let kernel = |hub: &PacedHub| {
        let conn = hub.file_requests().pop()?;
        let (server, _) = tcp_queues(conn.local_port, conn.peer_port).unwrap_or_default();
        let (_, client) = tcp_queues(conn.peer_port, conn.local_port)?;
        Some((server, client))
    };
    wait_until("60% of the file sent", Duration::from_secs(60), || {
        if let Some(status) = run1.0.try_wait().unwrap() {
            panic!(
                "ferry ended before the kill ({status}):\n{}",
                std::fs::read_to_string(d.join("run1.log")).unwrap_or_default()
            );
        }
        hub.file_bytes_sent() * 10 >= SIZE * 6
            && (!settle || kernel(&hub).is_none_or(|(s, c)| s + c < 1 << 20))
    });
    signal(&run1.0, libc::SIGSTOP);
    hub.cut();
    // What the server's kernel still held reaches the client's (which acknowledges for a stopped process).
    std::thread::sleep(Duration::from_millis(50));
    let reqs1 = hub.file_requests();
    let sent1 = hub.file_bytes_sent();
    let on_disk = std::fs::metadata(&incomplete).unwrap().len();
    let (server_kernel, client_kernel) = kernel(&hub).unwrap_or_default();
    // The receive queue counts the server's FIN as one byte.
    let client_kernel = client_kernel.saturating_sub(1);
    let in_memory = sent1 as i64 - (on_disk + server_kernel + client_kernel) as i64;
    signal(&run1.0, libc::SIGKILL);
    let status = run1.0.wait().unwrap();
    assert!(!status.success(), "run 1 was killed: {status}");
    let run1_secs = started.elapsed().as_secs_f64();
    assert_eq!(hub.file_bytes_sent(), sent1, "nothing sent after the cut");
    assert!(
        incomplete.exists() && !blob.exists(),
        "the .incomplete file survives kill -9"
    );
    assert_eq!(
        std::fs::metadata(&incomplete).unwrap().len(),
        on_disk,
        "nothing written while stopped"
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

    let how = if rate_mib << 20 >= UNPACED {
        "as fast as the server sends".to_string()
    } else {
        format!("{rate_mib} MiB/s")
    };
    eprintln!(
        "{how}: kill -9 at {:.1} MiB sent of {:.0} MiB ({:.1} s): on disk {:.2} MiB; in flight {:.2} MiB = \
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
        "{how}: rerun ({:.1} s): {} request(s), first Range {:?}, sent {:.2} MiB; fetched again {:.2} MiB \
         = {:.2}% of the {:.1} MiB run 1 received",
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
    assert!(
        in_memory >= 0,
        "the counts add up: sent {sent1}, on disk {on_disk}, kernel {server_kernel} + {client_kernel}"
    );

    // The result verifies: the blob's sha256, then the signed bundle.
    assert!(!incomplete.exists());
    assert_eq!(sha256_file(&blob), hub.sha256);
    ok(ferry(d).args(["verify", "big.ferry.tar", "-p", "k.pub"]));
    Figures {
        sent1,
        sent2,
        in_memory,
    }
}

/// The kill -9 row of docs/PERFORMANCE.md: at a pace ferry keeps up with, under 5% is fetched again.
#[test]
fn kill_9_at_a_steady_pace_fetches_again_under_5_percent() {
    let f = kill_and_rerun(RATE_MIB, true);
    assert!(
        f.refetched() * 20 < f.sent1,
        "fetched again {} bytes, not under 5% of {}",
        f.refetched(),
        f.sent1
    );
}

/// With the server faster than ferry writes and hashes, ferry's queue is full when it dies: it loses that
/// queue and what the HTTP client holds (a socket read or three of ~400 KiB), never more.
#[test]
fn kill_9_while_ferry_is_the_bottleneck_loses_at_most_its_queue() {
    let f = kill_and_rerun(UNPACED >> 20, false);
    eprintln!(
        "fetched again {:.2}% (kernel buffers included)",
        f.refetched() as f64 * 100.0 / f.sent1 as f64
    );
    let bound = FILE_QUEUE_BYTES + (3 << 19);
    assert!(
        f.in_memory <= bound as i64,
        "{} bytes in ferry's memory at the kill: more than its queue and the HTTP client's buffers ({bound})",
        f.in_memory
    );
}

fn read_tail(path: &Path, n: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).unwrap();
    f.seek(SeekFrom::End(-(n as i64))).unwrap();
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).unwrap();
    buf
}
