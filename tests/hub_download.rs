//! Story: "the mirror is flaky and the link drops" — downloads retry, resume, fail over and never keep a
//! wrong file.
#[path = "support/hub_server.rs"]
mod hub_server;

use std::path::Path;
use std::sync::Once;
use std::time::Instant;

use ferry::fetch::download::{
    download_all, incomplete_path, DownloadRequest, Progress, SilentProgress,
};
use ferry::types::Sha256;
use hub_server::{safetensors, sha256_hex, FaultKind, HubServer, Repo, Role};
use url::Url;

const BIG: usize = 4_000_000;

fn setup() -> (HubServer, Vec<u8>) {
    static ENV: Once = Once::new();
    ENV.call_once(|| {
        // Short backoff and read timeout so fault tests run in seconds.
        std::env::set_var("FERRY_RETRY_BASE_MS", "20");
        std::env::set_var("FERRY_READ_TIMEOUT", "2");
    });
    let big = safetensors(&[("w", &[BIG / 4 - 40])], 7);
    let server = HubServer::start();
    server.add_model(
        "org/dl",
        Repo::new()
            .file("big.safetensors", big.clone())
            .file("config.json", "{\"a\": 1}\n"),
    );
    (server, big)
}

fn url(server: &HubServer, path: &str) -> Url {
    Url::parse(&format!("{}/org/dl/resolve/main/{path}", server.url)).unwrap()
}

fn req(server: &HubServer, dir: &Path, content: &[u8]) -> DownloadRequest {
    DownloadRequest {
        urls: vec![url(server, "big.safetensors")],
        dest: dir.join("big.safetensors"),
        sha256: Some(sha256_hex(content).parse().unwrap()),
        size: Some(content.len() as u64),
        auth: None,
        label: "big.safetensors".into(),
    }
}

fn storage_bytes(server: &HubServer) -> u64 {
    server
        .log()
        .iter()
        .filter(|l| l.role == Role::Storage)
        .map(|l| l.body_bytes)
        .sum()
}

#[test]
fn plain_download_through_a_redirect() {
    let (server, big) = setup();
    let dir = tempfile::tempdir().unwrap();
    let mut r = req(&server, dir.path(), &big);
    r.auth = Some("hf_tok".into());
    let got = download_all(vec![r.clone()], 2, &SilentProgress).unwrap();
    assert_eq!(got[0].size, big.len() as u64);
    assert_eq!(got[0].url, r.urls[0]);
    assert_eq!((got[0].retries, got[0].resumed_bytes), (0, 0));
    assert_eq!(std::fs::read(&r.dest).unwrap(), big);
    assert!(!incomplete_path(&r.dest).exists());
    assert!(!server.storage_saw_authorization());
    assert_eq!(
        server.requests_to("/resolve/")[0].header("authorization"),
        Some("Bearer hf_tok")
    );
    // Cache hit: nothing requested the second time.
    let before = server.log().len();
    download_all(vec![r], 2, &SilentProgress).unwrap();
    assert_eq!(server.log().len(), before);
}

#[test]
fn server_errors_and_429_are_retried() {
    let (server, big) = setup();
    server.fault("/org/dl/resolve/", FaultKind::Status(500), 2);
    server.fault("/blobs/", FaultKind::TooMany { retry_after: 1 }, 1);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let got = download_all(vec![req(&server, dir.path(), &big)], 1, &SilentProgress).unwrap();
    assert_eq!(got[0].retries, 3);
    assert!(
        started.elapsed().as_secs_f64() >= 1.0,
        "Retry-After honoured"
    );
}

#[test]
fn truncated_body_resumes_with_range() {
    let (server, big) = setup();
    server.fault("/blobs/", FaultKind::Truncate(1_000_000), 1);
    let dir = tempfile::tempdir().unwrap();
    let got = download_all(vec![req(&server, dir.path(), &big)], 1, &SilentProgress).unwrap();
    assert_eq!(got[0].retries, 1);
    let storage: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.role == Role::Storage)
        .collect();
    assert_eq!(storage.len(), 2);
    assert_eq!(storage[1].header("range"), Some("bytes=1000000-"));
    assert_eq!(storage_bytes(&server), big.len() as u64);
}

#[test]
fn stalled_read_times_out_and_resumes() {
    let (server, big) = setup();
    server.fault(
        "/blobs/",
        FaultKind::Stall {
            after: 500_000,
            secs: 6,
        },
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let got = download_all(vec![req(&server, dir.path(), &big)], 1, &SilentProgress).unwrap();
    assert_eq!(got[0].retries, 1);
    assert!(
        started.elapsed().as_secs() < 6,
        "gave up on the stalled read"
    );
    assert_eq!(
        std::fs::read(dir.path().join("big.safetensors")).unwrap(),
        big
    );
}

#[test]
fn incomplete_file_on_disk_is_resumed() {
    let (server, big) = setup();
    let dir = tempfile::tempdir().unwrap();
    let r = req(&server, dir.path(), &big);
    let prefix = 3_000_000;
    std::fs::write(incomplete_path(&r.dest), &big[..prefix]).unwrap();
    let got = download_all(vec![r.clone()], 1, &SilentProgress).unwrap();
    assert_eq!(got[0].resumed_bytes, prefix as u64);
    let storage: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.role == Role::Storage)
        .collect();
    assert_eq!(storage.len(), 1);
    assert_eq!(storage[0].header("range"), Some("bytes=3000000-"));
    let rest = (big.len() - prefix) as f64;
    assert!((storage_bytes(&server) as f64) < rest * 1.1);
    assert_eq!(std::fs::read(&r.dest).unwrap(), big);
}

#[test]
fn server_ignoring_range_restarts_cleanly() {
    let (server, big) = setup();
    server.fault("/blobs/", FaultKind::IgnoreRange, 1);
    let dir = tempfile::tempdir().unwrap();
    let r = req(&server, dir.path(), &big);
    std::fs::write(incomplete_path(&r.dest), &big[..1000]).unwrap();
    download_all(vec![r.clone()], 1, &SilentProgress).unwrap();
    assert_eq!(std::fs::read(&r.dest).unwrap(), big);
}

#[test]
fn hash_mismatch_keeps_nothing_and_names_the_url() {
    let (server, big) = setup();
    let dir = tempfile::tempdir().unwrap();
    let mut r = req(&server, dir.path(), &big);
    r.sha256 = Some(Sha256::digest(b"something else"));
    let err = download_all(vec![r.clone()], 1, &SilentProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("big.safetensors: download failed"), "{err}");
    assert!(err.contains(r.urls[0].as_str()), "{err}");
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert!(!r.dest.exists());
    assert!(!incomplete_path(&r.dest).exists());
    // A mismatch is not retried on the same URL.
    assert_eq!(server.requests_to("/resolve/").len(), 1);
}

#[test]
fn corrupt_mirror_fails_over_to_the_next_url() {
    let (server, big) = setup();
    server.fault("/blobs/", FaultKind::Corrupt, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut r = req(&server, dir.path(), &big);
    let second = Url::parse(&format!(
        "{}/org/dl/resolve/main/big.safetensors?m=2",
        server.url
    ))
    .unwrap();
    r.urls.push(second.clone());
    let got = download_all(vec![r.clone()], 1, &SilentProgress).unwrap();
    assert_eq!(got[0].url, second);
    assert_eq!(std::fs::read(&r.dest).unwrap(), big);
}

#[test]
fn not_found_is_not_retried_and_names_every_url() {
    let (server, big) = setup();
    let dir = tempfile::tempdir().unwrap();
    let mut r = req(&server, dir.path(), &big);
    r.urls = vec![
        url(&server, "missing.bin"),
        url(&server, "also-missing.bin"),
    ];
    let err = download_all(vec![r.clone()], 1, &SilentProgress)
        .unwrap_err()
        .to_string();
    assert_eq!(server.log().len(), 2, "one request per URL");
    for u in &r.urls {
        assert!(err.contains(u.as_str()), "{err}");
    }
    assert!(err.contains("HTTP 404 (EntryNotFound)"), "{err}");
}

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl Progress for Recorder {
    fn start(&self, label: &str, total: Option<u64>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {label} {total:?}"));
    }
    fn advance(&self, _: &str, _: u64) {}
    fn finish(&self, label: &str) {
        self.0.lock().unwrap().push(format!("finish {label}"));
    }
    fn message(&self, _: &str) {}
}

#[test]
fn many_files_in_parallel_keep_their_order() {
    let (server, _) = setup();
    let mut repo = Repo::new();
    for i in 0..8 {
        repo = repo.file(&format!("f{i}.safetensors"), vec![i as u8; 10_000 + i]);
    }
    server.add_model("org/many", repo);
    let dir = tempfile::tempdir().unwrap();
    let reqs: Vec<DownloadRequest> = (0..8)
        .map(|i| {
            let content = vec![i as u8; 10_000 + i];
            DownloadRequest {
                urls: vec![Url::parse(&format!(
                    "{}/org/many/resolve/main/f{i}.safetensors",
                    server.url
                ))
                .unwrap()],
                dest: dir.path().join(format!("sub/f{i}")),
                sha256: Some(sha256_hex(&content).parse().unwrap()),
                size: None,
                auth: None,
                label: format!("f{i}"),
            }
        })
        .collect();
    let progress = Recorder::default();
    let got = download_all(reqs, 3, &progress).unwrap();
    let sizes: Vec<u64> = got.iter().map(|d| d.size).collect();
    assert_eq!(sizes, (0..8).map(|i| 10_000 + i).collect::<Vec<u64>>());
    let events = progress.0.lock().unwrap();
    assert_eq!(events.iter().filter(|e| e.starts_with("finish")).count(), 8);
}

#[test]
fn finished_incomplete_file_needs_no_request_and_a_bad_cache_is_replaced() {
    let (server, big) = setup();
    let dir = tempfile::tempdir().unwrap();
    let r = req(&server, dir.path(), &big);
    std::fs::write(incomplete_path(&r.dest), &big).unwrap();
    let got = download_all(vec![r.clone()], 1, &SilentProgress).unwrap();
    assert_eq!(got[0].resumed_bytes, big.len() as u64);
    assert!(server.log().is_empty());
    assert!(!incomplete_path(&r.dest).exists());

    // A damaged file under the final name is not a cache hit.
    let mut damaged = big.clone();
    damaged[100] ^= 1;
    std::fs::write(&r.dest, &damaged).unwrap();
    download_all(vec![r.clone()], 1, &SilentProgress).unwrap();
    assert_eq!(std::fs::read(&r.dest).unwrap(), big);
    assert_eq!(server.requests_to("/resolve/").len(), 1);
}

#[test]
fn url_credentials_stay_with_their_host() {
    let (server, big) = setup();
    let dir = tempfile::tempdir().unwrap();
    let mut r = req(&server, dir.path(), &big);
    r.urls[0].set_username("user").unwrap();
    r.urls[0].set_password(Some("pw")).unwrap();
    download_all(vec![r], 1, &SilentProgress).unwrap();
    let hub = server.requests_to("/resolve/");
    assert!(hub[0]
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    assert!(!server.storage_saw_authorization());
}
