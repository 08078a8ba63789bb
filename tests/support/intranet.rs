//! Intranet tests' fixtures: real signed bundles (wheels built with the zip crate, a model repo with real
//! safetensors, config and tokenizer files that transformers loads), a running `ferry serve` child stopped with
//! SIGTERM, free ports, and the Debian tools the tests need (a missing one fails with the setup hint).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry::bundle::{self, sign, Entry, WriteOptions};

use super::hub_server::safetensors;
use super::wheelbuilder::{Staging, WheelBuilder};

pub const COMMIT: &str = "4444444444444444444444444444444444444bbb";
pub const MODEL: &str = "ferry-org/tiny-bert";

/// The tokenizer, config and weights of a tiny BERT-style model that transformers loads.
pub fn model_files() -> Vec<(&'static str, Vec<u8>, bool)> {
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "hello": 1, "world": 2}, "unk_token": "[UNK]"},
    });
    vec![
        (
            "config.json",
            serde_json::to_vec(&serde_json::json!({
                "model_type": "bert", "vocab_size": 3, "hidden_size": 8, "num_hidden_layers": 1,
                "num_attention_heads": 2, "intermediate_size": 16,
            }))
            .unwrap(),
            false,
        ),
        (
            "tokenizer.json",
            serde_json::to_vec(&tokenizer).unwrap(),
            false,
        ),
        (
            "tokenizer_config.json",
            br#"{"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]"}"#.to_vec(),
            false,
        ),
        (
            "model.safetensors",
            safetensors(&[("embeddings.weight", &[3, 8]), ("big", &[256, 1024])], 7),
            true,
        ),
        ("sub/notes.txt", b"a file in a folder\n".to_vec(), false),
    ]
}

/// Every file and symlink of an extracted-bundle folder as bundle entries (ferry.json is written by `write`).
pub fn entries(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let member = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push(Entry::Symlink { member, target });
            } else if meta.is_dir() {
                stack.push(p);
            } else if member != "ferry.json" {
                let bytes = std::fs::read(&p).unwrap();
                out.push(Entry::File {
                    member,
                    sha256: ferry::types::Sha256::digest(&bytes),
                    size: bytes.len() as u64,
                    path: p,
                });
            }
        }
    }
    out
}

/// A key pair in `dir`: (secret, public).
pub fn keys(dir: &Path) -> (PathBuf, PathBuf) {
    let secret = dir.join("ferry.key");
    let public = dir.join("ferry.pub");
    if !public.exists() {
        sign::generate(&secret, &public, false, false).unwrap();
    }
    (secret, public)
}

/// Write a signed bundle of `staging` to `out` (split into volumes of `split` bytes when given).
pub fn write_bundle(
    staging: &Staging,
    secret: &Path,
    out: &Path,
    split: Option<u64>,
) -> Vec<PathBuf> {
    let key = sign::load_secret_key_with(secret, None).unwrap();
    let opts = WriteOptions {
        mtime: 1_700_000_000,
        split,
        trusted_comment: bundle::default_trusted_comment(&staging.lock.name, 1_700_000_000),
    };
    bundle::write(&staging.lock, entries(&staging.dir), &key, out, &opts)
        .unwrap()
        .volumes
}

/// The two wheels of the index tests: `ferry-alpha` (a console script, needs `ferry_beta>=1`) and `ferry-beta`.
pub fn alpha() -> WheelBuilder {
    WheelBuilder::new("ferry-alpha", "1.0")
        .file(
            "ferry_alpha/__init__.py",
            "def main():\n    print('alpha from the intranet')\n",
        )
        .requires("ferry_beta>=1")
        .requires_python(">=3.8")
}

pub fn beta() -> WheelBuilder {
    WheelBuilder::new("ferry_beta", "1.2").file("ferry_beta/__init__.py", "VALUE = 12\n")
}

/// The team bundle: both wheels and the tiny model. Returns (bundle, public key).
pub fn team_bundle(dir: &Path) -> (PathBuf, PathBuf) {
    let (secret, public) = keys(dir);
    let mut staging = Staging::new(&dir.join("team-layout"));
    staging.lock.name = "team".into();
    staging.add_wheel(&alpha(), true);
    staging.add_wheel(&beta(), false);
    let files = model_files();
    let refs: Vec<(&str, &[u8], bool)> = files
        .iter()
        .map(|(p, c, l)| (*p, c.as_slice(), *l))
        .collect();
    staging.add_model(MODEL, "main", COMMIT, &refs);
    let out = dir.join("team.ferry.tar");
    write_bundle(&staging, &secret, &out, None);
    (out, public)
}

/// A running `ferry serve`; stopped with SIGTERM when dropped.
pub struct Serve {
    pub child: Child,
    pub url: String,
    /// Everything the server wrote to stderr (the access log).
    pub log: Arc<Mutex<String>>,
}

impl Serve {
    /// Start `ferry serve ARGS --listen 127.0.0.1:0` and wait until it answers.
    pub fn start(args: &[&dyn AsRef<std::ffi::OsStr>], envs: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.arg("serve");
        for a in args {
            cmd.arg(a);
        }
        cmd.args(["--listen", "127.0.0.1:0"]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn ferry serve");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            line.clear();
            let n = stdout.read_line(&mut line).unwrap_or(0);
            if let Some(url) = line.trim().strip_prefix("ferry serve: listening on ") {
                let url = url.trim_end_matches('/').to_string();
                std::thread::spawn(move || {
                    let mut rest = String::new();
                    let _ = stdout.read_to_string(&mut rest);
                });
                return Serve { child, url, log };
            }
            if n == 0 || Instant::now() > deadline {
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "ferry serve did not start (status {status:?})\nstderr:\n{}",
                    log.lock().unwrap()
                );
            }
        }
    }

    /// SIGTERM, then wait: returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("ferry serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The path of a Debian tool the test needs; its absence fails the test with the setup hint.
pub fn require_tool(name: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    if let Ok(out) = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
    {
        let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !found.is_empty() {
            return PathBuf::from(found);
        }
    }
    panic!(
        "`{name}` (Debian package {package}) is not installed: run scripts/setup-test-env.sh (it installs it) and retry"
    );
}

/// Wait until something accepts connections on `port`.
pub fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn sha256_file(path: &Path) -> String {
    ferry::types::Sha256::of_file(path).unwrap().0.to_string()
}
