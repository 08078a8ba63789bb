//! Story: the intranet already runs a registry. `ferry push team.ferry.tar oci://REGISTRY/ml/team:TAG` stores
//! one layer per bundle file; `ferry pull` on another host rebuilds the byte-identical signed bundle. Judged by
//! Debian's docker-registry (the CNCF distribution registry), skopeo and `ferry verify`.
#[path = "support/hub_server.rs"]
mod hub_server;
#[path = "support/intranet.rs"]
mod intranet;
#[path = "support/wheelbuilder.rs"]
mod wheelbuilder;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use intranet::{free_port, require_tool, sha256_file, team_bundle};

/// A docker-registry on 127.0.0.1 with its own storage; its log is kept to count requests.
struct Registry {
    child: Child,
    host: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(htpasswd: Option<&str>) -> Registry {
        Registry::start_with(htpasswd, None)
    }

    /// `token`: the `auth: token` section's lines (realm, service, issuer, rootcertbundle).
    fn start_with(htpasswd: Option<&str>, token: Option<&str>) -> Registry {
        let bin = require_tool("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: ferry-test-secret\n",
            dir.path().join("store").display()
        );
        if let Some(line) = htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: ferry-test\n    path: {}\n",
                file.display()
            ));
        }
        if let Some(section) = token {
            config.push_str(&format!("auth:\n  token:\n{section}"));
        }
        let conf = dir.path().join("config.yml");
        std::fs::write(&conf, config).unwrap();
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        intranet::wait_port(port, "docker-registry");
        Registry {
            child,
            host: format!("127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// Requests in the registry's log whose line has `method` and `path_part`.
    fn count(&self, method: &str, path_part: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .lines()
            .filter(|l| {
                l.contains(&format!("http.request.method={method}")) && l.contains(path_part)
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ferry(args: &[&dyn AsRef<std::ffi::OsStr>], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    for a in args {
        cmd.arg(a);
    }
    cmd.env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .env_remove("XDG_RUNTIME_DIR")
        // Small chunks, so the 1 MiB weights go up in several PATCHes.
        .env("FERRY_OCI_CHUNK_SIZE", "256K");
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo_raw(reference: &str, creds: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(require_tool("skopeo", "skopeo"));
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--creds", c]);
    }
    let out = cmd.arg(format!("docker://{reference}")).output().unwrap();
    serde_json::from_slice(ok(&out, "skopeo inspect --raw").as_bytes()).unwrap()
}

#[test]
fn push_then_pull_rebuilds_the_identical_bundle_and_a_second_push_uploads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    let registry = Registry::start(None);
    let reference = format!("oci://{}/ml/team:2026-12", registry.host);

    let out = ferry(
        &[
            &"push",
            &bundle,
            &reference,
            &"--plain-http",
            &"-p",
            &public,
        ],
        &[],
    );
    let printed = ok(&out, "ferry push");
    assert!(printed.contains("0 already there"), "{printed}");
    assert!(
        registry.count("PATCH", "/v2/ml/team/blobs/uploads/") > 4,
        "big layers go up in chunks:\n{}",
        registry.log.lock().unwrap()
    );

    // The manifest as a stock tool sees it.
    let manifest = skopeo_raw(&format!("{}/ml/team:2026-12", registry.host), None);
    assert_eq!(
        manifest["artifactType"], "application/vnd.ferry.bundle.v1+json",
        "{manifest}"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.ferry.bundle.config.v1+json"
    );
    let titles: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(titles.contains(&"SHA256SUMS.minisig"), "{titles:?}");
    assert!(
        titles.contains(&"wheels/ferry_alpha-1.0-py3-none-any.whl"),
        "{titles:?}"
    );
    let weights = ferry::types::Sha256::digest(&intranet::model_files()[3].1);
    assert!(
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["digest"] == format!("sha256:{weights}")),
        "a layer's digest is the file's sha256: {manifest}"
    );

    // A second push: every blob is already there.
    let posts = registry.count("POST", "/blobs/uploads/");
    let printed = ok(
        &ferry(&[&"push", &bundle, &reference, &"--plain-http"], &[]),
        "second push",
    );
    assert!(printed.contains(", 0 uploaded"), "{printed}");
    assert_eq!(
        registry.count("POST", "/blobs/uploads/"),
        posts,
        "the second push started an upload"
    );

    // Pull on "another host": byte-identical, and it verifies.
    let pulled = tmp.path().join("pulled/team.ferry.tar");
    std::fs::create_dir_all(pulled.parent().unwrap()).unwrap();
    ok(
        &ferry(
            &[
                &"pull",
                &reference,
                &"-o",
                &pulled,
                &"--plain-http",
                &"-p",
                &public,
            ],
            &[],
        ),
        "ferry pull",
    );
    assert_eq!(sha256_file(&pulled), sha256_file(&bundle));
    ok(
        &ferry(&[&"verify", &pulled, &"-p", &public], &[]),
        "ferry verify",
    );
    // The output is never replaced without --force.
    let again = ferry(&[&"pull", &reference, &"-o", &pulled, &"--plain-http"], &[]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn split_bundles_round_trip_volume_by_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, public) = team_bundle(tmp.path());
    let (secret, _) = intranet::keys(tmp.path());
    let mut staging = wheelbuilder::Staging::new(&tmp.path().join("team-layout"));
    staging.lock = ferry::lock::Lock::from_json(
        &std::fs::read_to_string(tmp.path().join("team-layout/ferry.json")).unwrap(),
    )
    .unwrap();
    let split: PathBuf = tmp.path().join("split/team.ferry.tar");
    std::fs::create_dir_all(split.parent().unwrap()).unwrap();
    let volumes = intranet::write_bundle(&staging, &secret, &split, Some(500 << 10));
    assert!(volumes.len() >= 3, "{volumes:?}");
    let registry = Registry::start(None);
    let reference = format!("oci://{}/ml/team-split:v1", registry.host);
    ok(
        &ferry(&[&"push", &volumes[0], &reference, &"--plain-http"], &[]),
        "push split",
    );
    let out = tmp.path().join("pulled/team.ferry.tar");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    ok(
        &ferry(
            &[
                &"pull",
                &reference,
                &"-o",
                &out,
                &"--plain-http",
                &"-p",
                &public,
            ],
            &[],
        ),
        "pull split",
    );
    for (i, v) in volumes.iter().enumerate() {
        let got = PathBuf::from(format!("{}.{i:03}", out.display()));
        assert_eq!(sha256_file(&got), sha256_file(v), "{}", got.display());
    }
}

#[test]
fn credentials_come_from_the_auth_file() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    let hash = Command::new(&python)
        .args([
            "-c",
            "import bcrypt; print(bcrypt.hashpw(b's3cret-pw', bcrypt.gensalt(rounds=5, prefix=b'2a')).decode())",
        ])
        .output()
        .unwrap();
    let hash = ok(
        &hash,
        "bcrypt from .venv-test (run scripts/setup-test-env.sh)",
    );
    let registry = Registry::start(Some(&format!("ferry:{}", hash.trim())));
    let tmp = tempfile::tempdir().unwrap();
    let (bundle, public) = team_bundle(tmp.path());
    let reference = format!("oci://{}/ml/private:1", registry.host);

    // No credentials stored: a clear error, nothing pushed.
    let out = ferry(&[&"push", &bundle, &reference, &"--plain-http"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&registry.host) && err.contains("login"),
        "{err}"
    );

    // docker's auth file format, named by REGISTRY_AUTH_FILE (as podman and skopeo read it).
    let auth = tmp.path().join("auth.json");
    let token = base64_encode(b"ferry:s3cret-pw");
    std::fs::write(
        &auth,
        serde_json::json!({ "auths": { registry.host.clone(): { "auth": token } } }).to_string(),
    )
    .unwrap();
    let out = ferry(
        &[&"push", &bundle, &reference, &"--plain-http"],
        &[("REGISTRY_AUTH_FILE", &auth)],
    );
    ok(&out, "push with credentials");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("s3cret"),
        "a secret reached the output"
    );
    let manifest = skopeo_raw(
        &format!("{}/ml/private:1", registry.host),
        Some("ferry:s3cret-pw"),
    );
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.ferry.bundle.v1+json"
    );
    let pulled = tmp.path().join("pulled.ferry.tar");
    // docker's own location works too.
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::copy(&auth, docker.join("config.json")).unwrap();
    ok(
        &ferry(
            &[
                &"pull",
                &reference,
                &"-o",
                &pulled,
                &"--plain-http",
                &"-p",
                &public,
            ],
            &[("DOCKER_CONFIG", &docker)],
        ),
        "pull with credentials",
    );
    assert_eq!(sha256_file(&pulled), sha256_file(&bundle));

    // A docker credential helper (`credHelpers` for this registry, the docker-credential-* protocol): the
    // helper gets the registry on stdin and prints the secret; one that knows nothing leaves ferry without
    // credentials, with the same clear error as before.
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-ferrytest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\necho \"$server\" >> {asked}\n\
             if [ \"$server\" = \"{host}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"ferry\",\"Secret\":\"s3cret-pw\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n",
            asked = tmp.path().join("asked").display(),
            host = registry.host
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let path = Path::new(&path);
    let helpers = tmp.path().join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    std::fs::write(
        helpers.join("config.json"),
        serde_json::json!({ "auths": {}, "credHelpers": { registry.host.clone(): "ferrytest" } })
            .to_string(),
    )
    .unwrap();
    let reference2 = format!("oci://{}/ml/private:2", registry.host);
    let out = ferry(
        &[&"push", &bundle, &reference2, &"--plain-http"],
        &[("DOCKER_CONFIG", &helpers), ("PATH", path)],
    );
    ok(&out, "push with a credential helper");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cret"));
    let asked = std::fs::read_to_string(tmp.path().join("asked")).unwrap();
    assert!(asked.lines().all(|l| l == registry.host), "{asked}");
    // `credsStore` (the default store) for a registry the helper has nothing for: no credentials.
    std::fs::write(
        helpers.join("config.json"),
        serde_json::json!({ "auths": {}, "credsStore": "ferrytest" }).to_string(),
    )
    .unwrap();
    let other = format!(
        "oci://localhost:{}/ml/private:3",
        registry.host.rsplit(':').next().unwrap()
    );
    let out = ferry(
        &[&"push", &bundle, &other, &"--plain-http"],
        &[("DOCKER_CONFIG", &helpers), ("PATH", path)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("login"), "{err}");
    assert!(
        std::fs::read_to_string(tmp.path().join("asked"))
            .unwrap()
            .contains("localhost:"),
        "the default store was asked"
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_registry_that_asks_for_a_token_is_handled() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/python");
    let tmp = tempfile::tempdir().unwrap();
    let cert = tmp.path().join("token-cert.pem");
    // The token service: it hands out ES256 tokens only for ferry:tok-pw.
    let mut service = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/token_server.py"))
        .arg(&cert)
        .args(["ferry", "tok-pw", "ferry-test-issuer"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(service.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let Ok(port) = line.trim().parse::<u16>() else {
        let _ = service.kill();
        let out = service.wait_with_output().unwrap();
        panic!(
            "the token service did not start (needs cryptography in .venv-test: run scripts/setup-test-env.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _service = Kill(service);
    let registry = Registry::start_with(
        None,
        Some(&format!(
            "    realm: http://127.0.0.1:{port}/token\n    service: ferry-registry\n    issuer: ferry-test-issuer\n    rootcertbundle: {}\n",
            cert.display()
        )),
    );
    let (bundle, public) = team_bundle(tmp.path());
    let reference = format!("oci://{}/ml/tokened:1", registry.host);
    let auth = tmp.path().join("auth.json");
    std::fs::write(
        &auth,
        serde_json::json!({ "auths": { registry.host.clone(): { "username": "ferry", "password": "tok-pw" } } })
            .to_string(),
    )
    .unwrap();
    ok(
        &ferry(
            &[&"push", &bundle, &reference, &"--plain-http"],
            &[("REGISTRY_AUTH_FILE", &auth)],
        ),
        "push with a token",
    );
    let pulled = tmp.path().join("pulled.ferry.tar");
    ok(
        &ferry(
            &[
                &"pull",
                &reference,
                &"-o",
                &pulled,
                &"--plain-http",
                &"-p",
                &public,
            ],
            &[("REGISTRY_AUTH_FILE", &auth)],
        ),
        "pull with a token",
    );
    assert_eq!(sha256_file(&pulled), sha256_file(&bundle));
    // Wrong credentials: the token service refuses, and ferry says so.
    std::fs::write(
        &auth,
        serde_json::json!({ "auths": { registry.host.clone(): { "username": "ferry", "password": "wrong" } } })
            .to_string(),
    )
    .unwrap();
    let out = ferry(
        &[
            &"pull",
            &reference,
            &"-o",
            &tmp.path().join("x.tar"),
            &"--plain-http",
        ],
        &[("REGISTRY_AUTH_FILE", &auth)],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("token service") && !err.contains("wrong"),
        "{err}"
    );
}
