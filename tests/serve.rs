//! Story: one host runs `ferry serve team.ferry.tar -p ferry.pub`; every host of the intranet installs with
//! `pip`/`uv --index-url http://HOST/simple/` and downloads models with `HF_ENDPOINT=http://HOST` through
//! huggingface_hub and transformers. Judged by those real clients; a tampered bundle is refused at start.
#[path = "support/hub_server.rs"]
mod hub_server;
#[path = "support/intranet.rs"]
mod intranet;
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::Path;
use std::process::Command;

use intranet::{team_bundle, Serve, COMMIT, MODEL};

fn python() -> std::path::PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-test-env.sh first",
        p.display()
    );
    p
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A clean environment for Python clients: no user index settings, a private HF home, no Xet.
fn py(dir: &Path) -> Command {
    let mut c = Command::new(python());
    for var in [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "UV_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "HF_TOKEN",
    ] {
        c.env_remove(var);
    }
    c.env("PIP_CONFIG_FILE", "/dev/null")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("HF_HOME", dir.join("hf-home"))
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("UV_CACHE_DIR", dir.join("uv-cache"))
        .env("UV_PYTHON", python());
    c
}

#[test]
fn pip_and_uv_install_from_the_served_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    let mut serve = Serve::start(&[&bundle, &"-p", &public], &[]);
    let index = format!("{}/simple/", serve.url);

    // PEP 691 JSON with hashes, requires-python and PEP 658 metadata.
    let client = reqwest::blocking::Client::new();
    let page: serde_json::Value = client
        .get(format!("{index}ferry-alpha/"))
        .header("accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let file = &page["files"][0];
    assert_eq!(
        file["filename"], "ferry_alpha-1.0-py3-none-any.whl",
        "{page}"
    );
    assert_eq!(file["requires-python"], ">=3.8", "{page}");
    assert_eq!(
        file["hashes"]["sha256"].as_str().unwrap().len(),
        64,
        "{page}"
    );
    let meta_sha = file["core-metadata"]["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let metadata = client
        .get(format!(
            "{}/files/ferry_alpha-1.0-py3-none-any.whl.metadata",
            serve.url
        ))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(
        ferry::types::Sha256::digest(&metadata).to_string(),
        meta_sha
    );
    assert!(String::from_utf8_lossy(&metadata).contains("Requires-Dist: ferry_beta>=1"));
    // PEP 503 HTML for clients that ask for it; a non-normalized name redirects.
    let html = client
        .get(format!("{index}Ferry_Alpha/"))
        .header("accept", "text/html")
        .send()
        .unwrap();
    assert!(
        html.url().path().ends_with("/simple/ferry-alpha/"),
        "{}",
        html.url()
    );
    let html = html.text().unwrap();
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
    assert!(html.contains("#sha256="), "{html}");

    // pip installs with --index-url, and takes the dependency from the same index.
    let pip_target = tmp.path().join("pip-target");
    run_ok(
        py(tmp.path())
            .args([
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                "--index-url",
                &index,
                "--target",
            ])
            .arg(&pip_target)
            .arg("ferry-alpha"),
    );
    assert!(pip_target.join("ferry_alpha/__init__.py").is_file());
    assert!(pip_target.join("ferry_beta/__init__.py").is_file());
    // uv too.
    let uv_target = tmp.path().join("uv-target");
    run_ok(
        py(tmp.path())
            .args([
                "-m",
                "uv",
                "pip",
                "install",
                "--index-url",
                &index,
                "--target",
            ])
            .arg(&uv_target)
            .arg("ferry-alpha==1.0"),
    );
    assert!(uv_target.join("ferry_alpha/__init__.py").is_file());
    assert!(uv_target.join("ferry_beta/__init__.py").is_file());

    let status = serve.stop();
    assert!(
        status.success(),
        "SIGTERM must stop serve cleanly: {status:?}\n{}",
        serve.log()
    );
    let log = serve.log();
    // The access log names each request; the clients read PEP 658 metadata instead of whole wheels.
    assert!(log.contains("\"GET /simple/ferry-alpha/"), "{log}");
    assert!(log.contains(".whl.metadata\" 200"), "{log}");
    assert!(log.contains("ferry serve: stopped"), "{log}");
}

#[test]
fn huggingface_hub_and_transformers_download_from_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    // Two entries per tree page: snapshot_download must follow `Link` pagination.
    let serve = Serve::start(
        &[&bundle, &"-p", &public],
        &[("FERRY_SERVE_PAGE_SIZE", "2")],
    );
    let script = format!(
        r#"
import hashlib, os, sys, json
from huggingface_hub import snapshot_download, hf_hub_download, HfApi
from huggingface_hub.errors import RepositoryNotFoundError, EntryNotFoundError, RevisionNotFoundError
expected = json.loads(sys.argv[1])
path = snapshot_download("{MODEL}")
assert path.endswith("{COMMIT}"), path
for name, sha in expected.items():
    with open(os.path.join(path, name), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha, name
one = hf_hub_download("{MODEL}", "sub/notes.txt", revision="{COMMIT}", cache_dir=os.environ["HF_HOME"] + "/other")
assert open(one).read() == "a file in a folder\n"
api = HfApi()
info = api.model_info("{MODEL}", files_metadata=True)
assert info.sha == "{COMMIT}", info.sha
sizes = {{s.rfilename: s.size for s in info.siblings}}
assert sizes["model.safetensors"] > 1000000, sizes
tree = [f.path for f in api.list_repo_tree("{MODEL}", recursive=True)]
assert "sub/notes.txt" in tree and "sub" in tree, tree
paths = api.get_paths_info("{MODEL}", ["config.json", "sub", "missing.bin"])
assert sorted(p.path for p in paths) == ["config.json", "sub"], paths
for call, exc in [
    (lambda: hf_hub_download("ferry-org/not-bundled", "config.json"), RepositoryNotFoundError),
    (lambda: api.model_info("ferry-org/not-bundled"), RepositoryNotFoundError),
    (lambda: hf_hub_download("{MODEL}", "nope.json"), EntryNotFoundError),
    (lambda: hf_hub_download("{MODEL}", "config.json", revision="v9"), RevisionNotFoundError),
]:
    try:
        call()
    except exc:
        pass
    else:
        raise AssertionError(f"expected {{exc.__name__}}")
from transformers import AutoConfig, AutoTokenizer
config = AutoConfig.from_pretrained("{MODEL}", cache_dir=os.environ["HF_HOME"] + "/tf")
assert config.model_type == "bert" and config.hidden_size == 8
tok = AutoTokenizer.from_pretrained("{MODEL}", cache_dir=os.environ["HF_HOME"] + "/tf")
assert tok("hello world")["input_ids"] == [1, 2], tok("hello world")
print("ok")
"#
    );
    let expected: serde_json::Map<String, serde_json::Value> = intranet::model_files()
        .into_iter()
        .map(|(p, c, _)| {
            (
                p.to_string(),
                ferry::types::Sha256::digest(&c).to_string().into(),
            )
        })
        .collect();
    let out = run_ok(
        py(tmp.path())
            .env("HF_ENDPOINT", &serve.url)
            .args(["-c", &script])
            .arg(serde_json::Value::Object(expected).to_string()),
    );
    assert!(out.contains("ok"), "{out}");
    let log = serve.log();
    assert!(
        log.contains("cursor="),
        "tree pagination was not followed:\n{log}"
    );

    // resolve answers HEAD with the headers huggingface_hub reads, and honours Range.
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}/{MODEL}/resolve/main/model.safetensors", serve.url);
    let head = client.head(&url).send().unwrap();
    let weights = &intranet::model_files()[3].1;
    let sha = ferry::types::Sha256::digest(weights).to_string();
    assert_eq!(head.status(), 200);
    let h = |n: &str| {
        head.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(h("x-repo-commit").as_deref(), Some(COMMIT));
    assert_eq!(h("x-linked-etag"), Some(format!("\"{sha}\"")));
    assert_eq!(h("x-linked-size"), Some(weights.len().to_string()));
    assert_eq!(h("content-length"), Some(weights.len().to_string()));
    let part = client
        .get(&url)
        .header("range", "bytes=100-199")
        .send()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().unwrap().as_ref(), &weights[100..200]);
    let missing = client
        .get(format!(
            "{}/ferry-org/other/resolve/main/config.json",
            serve.url
        ))
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-error-code"], "RepoNotFound");
}

#[test]
fn twenty_clients_download_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    let serve = Serve::start(&[&bundle, &"-p", &public], &[]);
    let weights = intranet::model_files()[3].1.clone();
    let want = ferry::types::Sha256::digest(&weights);
    let started = std::time::Instant::now();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(20));
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let barrier = barrier.clone();
            let url = if i % 2 == 0 {
                format!("{}/{MODEL}/resolve/main/model.safetensors", serve.url)
            } else {
                format!("{}/bundles/team.ferry.tar", serve.url)
            };
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                barrier.wait();
                let body = client
                    .get(&url)
                    .send()
                    .unwrap()
                    .error_for_status()
                    .unwrap()
                    .bytes()
                    .unwrap();
                (i, ferry::types::Sha256::digest(&body), body.len())
            })
        })
        .collect();
    let bundle_sha = ferry::types::Sha256::digest(&std::fs::read(&bundle).unwrap());
    for h in handles {
        let (i, sha, len) = h.join().unwrap();
        let expected = if i % 2 == 0 { &want } else { &bundle_sha };
        assert_eq!(
            &sha, expected,
            "client {i} got {len} bytes that do not match"
        );
    }
    eprintln!("20 clients done in {:?}", started.elapsed());
}

#[test]
fn a_tampered_bundle_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    // One byte of the model weights changes inside the tar (the data is stored as is).
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes
        .windows(19)
        .position(|w| w == b"\"embeddings.weight\"")
        .expect("the safetensors header is in the tar");
    bytes[at + 4000] ^= 0x20;
    std::fs::write(&bundle, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--listen", "127.0.0.1:0", "-p"])
        .arg(&public)
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    let err = String::from_utf8_lossy(&out.stderr);
    let weights = ferry::types::Sha256::digest(&intranet::model_files()[3].1);
    assert!(err.contains(&format!("blobs/{weights}")), "{err}");
}

#[test]
fn several_bundles_merge_and_conflicts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (team, public) = team_bundle(tmp.path());
    let (secret, _) = intranet::keys(tmp.path());
    // A second bundle carrying the same beta wheel (one file, served once) and a gamma wheel.
    let mut base = wheelbuilder::Staging::new(&tmp.path().join("base-layout"));
    base.lock.name = "base".into();
    base.add_wheel(&intranet::beta(), true);
    base.add_wheel(
        &wheelbuilder::WheelBuilder::new("ferry-gamma", "3.0").file("ferry_gamma/__init__.py", ""),
        true,
    );
    let base_bundle = tmp.path().join("base.ferry.tar");
    intranet::write_bundle(&base, &secret, &base_bundle, None);
    let serve = Serve::start(&[&team, &base_bundle, &"-p", &public], &[]);
    let client = reqwest::blocking::Client::new();
    let index = client
        .get(format!("{}/simple/", serve.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for p in ["ferry-alpha", "ferry-beta", "ferry-gamma"] {
        assert!(index.contains(&format!("href=\"{p}/\"")), "{index}");
    }
    let beta = client
        .get(format!("{}/simple/ferry-beta/", serve.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(beta.matches("<a href").count(), 1, "{beta}");
    let listing = client
        .get(format!("{}/bundles/", serve.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        listing.contains("team.ferry.tar") && listing.contains("base.ferry.tar"),
        "{listing}"
    );
    drop(serve);

    // Same file name, different bytes: refused before anything is served.
    let mut other = wheelbuilder::Staging::new(&tmp.path().join("other-layout"));
    other.lock.name = "other".into();
    other.add_wheel(
        &wheelbuilder::WheelBuilder::new("ferry_beta", "1.2")
            .file("ferry_beta/__init__.py", "VALUE = 13\n"),
        true,
    );
    let other_bundle = tmp.path().join("other.ferry.tar");
    intranet::write_bundle(&other, &secret, &other_bundle, None);
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--listen", "127.0.0.1:0", "-p"])
        .arg(&public)
        .arg(&team)
        .arg(&other_bundle)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("ferry_beta-1.2-py3-none-any.whl") && err.contains("differs"),
        "{err}"
    );
}

#[test]
fn export_writes_a_static_index_that_nginx_serves_to_pip() {
    let nginx = intranet::require_tool("nginx", "nginx");
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    let export = tmp.path().join("www");
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "-p"])
        .arg(&public)
        .arg(&bundle)
        .arg("--export")
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(export.join("simple/ferry-alpha/index.html").is_file());
    assert!(export
        .join("files/ferry_alpha-1.0-py3-none-any.whl.metadata")
        .is_file());

    let port = intranet::free_port();
    let conf_dir = tmp.path().join("nginx");
    std::fs::create_dir_all(conf_dir.join("logs")).unwrap();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {dir}/logs/access.log;\n  client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n\
           fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n\
           types {{ text/html html; }}\n  default_type application/octet-stream;\n\
           server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    autoindex off;\n  }}\n}}\n",
        dir = conf_dir.display(),
        root = export.display()
    );
    std::fs::write(conf_dir.join("nginx.conf"), conf).unwrap();
    let mut child = Command::new(nginx)
        .arg("-p")
        .arg(&conf_dir)
        .arg("-c")
        .arg(conf_dir.join("nginx.conf"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    intranet::wait_port(port, "nginx");
    let target = tmp.path().join("pip-target");
    let result = py(tmp.path())
        .args(["-m", "pip", "install", "--no-cache-dir", "--index-url"])
        .arg(format!("http://127.0.0.1:{port}/simple/"))
        .arg("--target")
        .arg(&target)
        .arg("ferry-alpha")
        .output()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert!(
        result.status.success(),
        "pip from the nginx export failed:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(target.join("ferry_beta/__init__.py").is_file());
    let access = std::fs::read_to_string(conf_dir.join("logs/access.log")).unwrap();
    assert!(access.contains("GET /simple/ferry-alpha/"), "{access}");
}
