//! Story: a GPU training stack. Requirements written for pip with a PyTorch `--extra-index-url`, the
//! `--torch-backend` flag (fixed or `auto` from the target's probe), explicit indexes in a manifest, uv's
//! index strategies and hash-checking mode — against a local index shaped like the PyTorch ones next to a
//! PyPI-like one, for Linux and Windows targets; then an offline install (inside `unshare -n`) that imports
//! the CUDA build.
mod support;

use std::path::Path;

use serde_json::Value;
use support::index_server::{IndexServer, Mode};
use support::torch_index::TorchIndex;
use support::wheelbuilder::WheelBuilder;
use support::wheels::sha256_hex;
use support::{describe, fails, ferry, ok};

const LINUX: &str = "manylinux_2_28_x86_64";
const WIN: &str = "win_amd64";
const CUDA_DEP: &str =
    "nvidia-cublas-cu12==12.1.3.1; platform_system == \"Linux\" and platform_machine == \"x86_64\"";

fn wheel(name: &str, version: &str, tag: &str, requires: &[&str], note: &str) -> (String, Vec<u8>) {
    let mut w = WheelBuilder::new(name, version).tag(tag).file(
        &format!("{}/__init__.py", name.replace('-', "_")),
        &format!("__version__ = \"{version}\"\nBUILT_BY = \"{note}\"\n"),
    );
    for r in requires {
        w = w.requires(r);
    }
    (w.filename(), w.bytes())
}

fn pypi_add(s: &IndexServer, name: &str, version: &str, tag: &str, requires: &[&str]) {
    let (f, b) = wheel(name, version, tag, requires, "pypi");
    s.add(name, &f, b);
}

fn torch_add(
    t: &TorchIndex,
    backend: &str,
    name: &str,
    version: &str,
    tag: &str,
    requires: &[&str],
) {
    let (f, b) = wheel(name, version, tag, requires, backend);
    t.add(backend, name, &f, b);
}

/// A PyPI-like index and a PyTorch-like one (roots cpu, cu121, cu124) with copies of common packages.
fn world() -> (IndexServer, TorchIndex) {
    let pypi = IndexServer::start(Mode::Json);
    for v in ["2.5.1", "2.6.0"] {
        pypi_add(
            &pypi,
            "torch",
            v,
            "cp310-cp310-manylinux_2_17_x86_64",
            &[CUDA_DEP, "filelock"],
        );
        pypi_add(&pypi, "torch", v, "cp310-cp310-win_amd64", &["filelock"]);
    }
    for (n, v) in [
        ("numpy", "1.26.4"),
        ("numpy", "2.1.2"),
        ("safetensors", "0.4.4"),
        ("safetensors", "0.4.5"),
        ("filelock", "3.13.1"),
        ("filelock", "3.16.1"),
        ("requests", "2.32.3"),
        ("pillow", "10.2.0"),
        ("pillow", "10.4.0"),
        ("six", "1.16.0"),
    ] {
        pypi_add(&pypi, n, v, "py3-none-any", &[]);
    }
    pypi_add(
        &pypi,
        "nvidia-cublas-cu12",
        "12.1.3.1",
        "py3-none-manylinux_2_17_x86_64",
        &[],
    );

    let torch = TorchIndex::start();
    for (backend, versions) in [
        ("cu121", &["2.4.1", "2.5.1"][..]),
        ("cu124", &["2.5.1"][..]),
        ("cpu", &["2.5.1"][..]),
    ] {
        for v in versions {
            let local = format!("{v}+{backend}");
            for tag in ["cp310-cp310-linux_x86_64", "cp310-cp310-win_amd64"] {
                torch_add(
                    &torch,
                    backend,
                    "torch",
                    &local,
                    tag,
                    &[CUDA_DEP, "filelock"],
                );
            }
        }
        let tv = format!("0.20.1+{backend}");
        let pin = format!("torch==2.5.1+{backend}");
        for tag in ["cp310-cp310-linux_x86_64", "cp310-cp310-win_amd64"] {
            torch_add(&torch, backend, "torchvision", &tv, tag, &[&pin, "numpy"]);
        }
        // Copies of common packages at other versions (and other bytes), as the real roots have.
        torch_add(&torch, backend, "numpy", "1.24.1", "py3-none-any", &[]);
        torch_add(&torch, backend, "numpy", "2.1.2", "py3-none-any", &[]);
        torch_add(&torch, backend, "safetensors", "0.4.5", "py3-none-any", &[]);
        torch_add(&torch, backend, "filelock", "3.13.1", "py3-none-any", &[]);
        torch_add(
            &torch,
            backend,
            "nvidia-cublas-cu12",
            "12.1.3.1",
            "py3-none-manylinux_2_17_x86_64",
            &[],
        );
        // A version only for Linux of a common package (index strategies differ on it for Windows).
        torch_add(
            &torch,
            backend,
            "pillow",
            "10.2.0",
            "cp310-cp310-manylinux_2_17_x86_64",
            &[],
        );
        // A name that must never come from a PyTorch index with --torch-backend.
        torch_add(&torch, backend, "requests", "99.0", "py3-none-any", &[]);
    }
    (pypi, torch)
}

struct Run {
    lock: Value,
    stderr: String,
}

impl Run {
    fn package(&self, name: &str) -> &Value {
        self.lock["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not locked: {:#}", self.lock))
    }
    fn has(&self, name: &str) -> bool {
        self.lock["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == name)
    }
    fn version(&self, name: &str) -> String {
        self.package(name)["version"].as_str().unwrap().to_string()
    }
    fn url(&self, name: &str) -> String {
        self.package(name)["url"].as_str().unwrap().to_string()
    }
}

fn lock_in(d: &Path, reqs: &str, args: &[&str]) -> Run {
    std::fs::write(d.join("requirements.txt"), reqs).unwrap();
    let _ = std::fs::remove_file(d.join("ferry.lock"));
    let mut cmd = ferry(d);
    cmd.args(["lock", "-r", "requirements.txt", "-o", "ferry.lock"])
        .args(args);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    Run {
        lock: serde_json::from_slice(&std::fs::read(d.join("ferry.lock")).unwrap()).unwrap(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn target_args(platform: &str) -> Vec<&str> {
    vec!["--python-version", "3.10", "--platform", platform]
}

#[test]
fn requirements_written_for_pip_get_the_cuda_build() {
    let (pypi, torch) = world();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let cu121 = torch.root("cu121");
    for platform in [LINUX, WIN] {
        let mut args = vec!["--index-url", pypi.url.as_str()];
        args.extend(target_args(platform));
        // A pinned local version comes from the index that has it; pinned versions the PyTorch index
        // lacks (numpy 1.26.4, safetensors 0.4.4) still come from the default index.
        let r = lock_in(
            d,
            &format!(
                "--extra-index-url {cu121}\ntorch==2.5.1+cu121\nnumpy==1.26.4\nsafetensors==0.4.4\n"
            ),
            &args,
        );
        assert_eq!(r.version("torch"), "2.5.1+cu121", "{platform}");
        assert!(r.url("torch").starts_with(&cu121), "{}", r.url("torch"));
        assert!(
            r.url("torch").contains("%2Bcu121"),
            "the href's %2B is kept: {}",
            r.url("torch")
        );
        assert_eq!(r.version("numpy"), "1.26.4");
        assert!(
            r.url("numpy").starts_with(&pypi.base()),
            "{}",
            r.url("numpy")
        );
        assert_eq!(r.version("safetensors"), "0.4.4");
        assert!(r.url("safetensors").starts_with(&pypi.base()));
        // The CUDA library behind a Linux-only marker.
        assert_eq!(
            r.has("nvidia-cublas-cu12"),
            platform == LINUX,
            "{:#}",
            r.lock
        );
        // One warning line naming both indexes for numpy (on both, with different files).
        let numpy_warnings: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.starts_with("warning: numpy is on two indexes"))
            .collect();
        assert_eq!(numpy_warnings.len(), 1, "{}", r.stderr);
        assert!(
            numpy_warnings[0].contains(&cu121) && numpy_warnings[0].contains(&pypi.url),
            "{}",
            numpy_warnings[0]
        );

        // Unpinned torch with the CUDA extra index: the CUDA build, not the default index's newer one.
        let r = lock_in(d, &format!("--extra-index-url {cu121}\ntorch\n"), &args);
        assert_eq!(
            r.version("torch"),
            "2.5.1+cu121",
            "{platform}: {:#}",
            r.lock
        );
        let expected_tag = if platform == LINUX {
            "linux_x86_64"
        } else {
            "win_amd64"
        };
        assert!(
            r.package("torch")["filename"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{expected_tag}.whl")),
            "{:#}",
            r.package("torch")
        );
        // torch==2.5.1 matches the local version 2.5.1+cu121 (PEP 440).
        let r = lock_in(
            d,
            &format!("--extra-index-url {cu121}\ntorch==2.5.1\n"),
            &args,
        );
        assert_eq!(r.version("torch"), "2.5.1+cu121");
    }
}

#[test]
fn torch_backend_takes_only_the_family_from_the_pytorch_index() {
    let (pypi, torch) = world();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let cu121 = torch.root("cu121");
    for platform in [LINUX, WIN] {
        for backend in ["cu121", "cu124", "cpu"] {
            let mut args = vec![
                "--index-url",
                pypi.url.as_str(),
                "--torch-backend",
                backend,
                "--torch-index-base",
                torch.base.as_str(),
            ];
            args.extend(target_args(platform));
            // The file's own PyTorch extra index line is set aside: only the family comes from PyTorch.
            let r = lock_in(
                d,
                &format!(
                    "--extra-index-url {cu121}\ntorch\ntorchvision\nnumpy\nrequests\nfilelock\n"
                ),
                &args,
            );
            assert_eq!(r.version("torch"), format!("2.5.1+{backend}"), "{platform}");
            assert_eq!(r.version("torchvision"), format!("0.20.1+{backend}"));
            assert!(r.url("torch").starts_with(&torch.root(backend)));
            for common in ["numpy", "requests", "filelock"] {
                assert!(
                    r.url(common).starts_with(&pypi.base()),
                    "{common} must not come from the PyTorch index: {}",
                    r.url(common)
                );
            }
            assert_eq!(r.version("requests"), "2.32.3");
            assert!(
                r.stderr
                    .contains(&format!("note: {cu121} is a PyTorch index")),
                "{}",
                r.stderr
            );
            let rec = &r.lock["torch"][0];
            assert_eq!(rec["backend"], backend);
            assert_eq!(rec["index"], torch.root(backend));
            assert_eq!(
                rec["reason"],
                format!("{backend}: asked for with --torch-backend {backend}")
            );
            if platform == WIN {
                assert!(!r.has("nvidia-cublas-cu12"));
            }
            // The PyTorch index gives a sha256 and no size: the size comes from a HEAD, the lock downloads
            // no wheel, and the size is the file's.
            assert!(r.package("torch")["size"].as_u64().unwrap() > 0);
        }
    }
    assert_eq!(torch.whole_gets(".whl"), 0, "{:?}", torch.log());
    // The base from the environment works the same; without one, a usage error says what to set.
    let mut args = vec!["--index-url", pypi.url.as_str(), "--torch-backend", "cu121"];
    args.extend(target_args(LINUX));
    std::fs::write(d.join("requirements.txt"), "torch\n").unwrap();
    let err = fails(
        ferry(d)
            .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
            .args(&args),
        2,
    );
    assert!(
        err.contains("--torch-index-base or FERRY_TORCH_INDEX_BASE"),
        "{err}"
    );
    ok(ferry(d)
        .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
        .args(&args)
        .env("FERRY_TORCH_INDEX_BASE", &torch.base));
    let err = fails(
        ferry(d)
            .args([
                "lock",
                "-r",
                "requirements.txt",
                "-o",
                "y.lock",
                "--torch-backend",
                "cuda12",
            ])
            .args(target_args(LINUX)),
        2,
    );
    assert!(err.contains("cuda12"), "{err}");
}

fn target_file(d: &Path, name: &str, platform: &str, driver: Option<&str>) -> String {
    let mut t =
        serde_json::json!({"python": "3.10", "python_full": "3.10.12", "platforms": [platform]});
    if let Some(v) = driver {
        t["nvidia_driver"] = v.into();
    }
    std::fs::write(d.join(name), t.to_string()).unwrap();
    name.to_string()
}

#[test]
fn auto_maps_the_probed_driver_to_a_backend() {
    let (pypi, torch) = world();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    // probe records the driver (FERRY_CUDA_DRIVER_VERSION stands in for the GPU host's).
    ok(ferry(d)
        .args(["probe", "-o", "probed.json"])
        .env("FERRY_CUDA_DRIVER_VERSION", "535.104.05"));
    let probed: Value =
        serde_json::from_slice(&std::fs::read(d.join("probed.json")).unwrap()).unwrap();
    assert_eq!(probed["nvidia_driver"], "535.104.05", "{probed:#}");

    let base = [
        "--index-url",
        pypi.url.as_str(),
        "--torch-backend",
        "auto",
        "--torch-index-base",
        torch.base.as_str(),
    ];
    // (linux driver, windows driver) → backend for both: Windows minimums differ (551.61 for CUDA 12.4).
    for (linux, win, backend) in [
        (Some("535.104.05"), Some("550.60"), "cu121"),
        (Some("550.54.14"), Some("551.61"), "cu124"),
        (None, None, "cpu"),
    ] {
        let lt = target_file(d, "linux.json", LINUX, linux);
        let wt = target_file(d, "win.json", WIN, win);
        let mut args = base.to_vec();
        args.extend(["--target", &lt, "--target", &wt]);
        let r = lock_in(d, "torch\nnumpy\n", &args);
        let files: Vec<&str> = r.lock["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == "torch")
            .map(|p| p["filename"].as_str().unwrap())
            .collect();
        assert_eq!(
            files,
            [
                format!("torch-2.5.1+{backend}-cp310-cp310-linux_x86_64.whl"),
                format!("torch-2.5.1+{backend}-cp310-cp310-win_amd64.whl")
            ],
            "{:#}",
            r.lock["torch"]
        );
        let reasons: Vec<&str> = r.lock["torch"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["reason"].as_str().unwrap())
            .collect();
        match linux {
            Some(v) => assert!(
                reasons.contains(&format!("{backend}: driver {v} on the probed host").as_str()),
                "{reasons:?}"
            ),
            None => assert!(
                reasons
                    .iter()
                    .all(|r| r.starts_with("cpu: no NVIDIA driver")),
                "{reasons:?}"
            ),
        }
    }
    // FERRY_CUDA_DRIVER_VERSION where the lock runs overrides the probe.
    let lt = target_file(d, "linux.json", LINUX, None);
    let mut args = base.to_vec();
    args.extend(["--target", &lt]);
    std::fs::write(d.join("requirements.txt"), "torch\n").unwrap();
    ok(ferry(d)
        .args(["lock", "-r", "requirements.txt", "-o", "env.lock"])
        .args(&args)
        .env("FERRY_CUDA_DRIVER_VERSION", "550.54.15"));
    let lock: Value = serde_json::from_slice(&std::fs::read(d.join("env.lock")).unwrap()).unwrap();
    assert_eq!(lock["torch"][0]["backend"], "cu124", "{:#}", lock["torch"]);
    assert_eq!(
        lock["torch"][0]["reason"],
        "cu124: driver 550.54.15 from FERRY_CUDA_DRIVER_VERSION"
    );
}

#[test]
fn explicit_index_in_a_manifest_serves_only_its_packages() {
    let (pypi, torch) = world();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    std::fs::write(
        d.join("requirements.txt"),
        "torch\ntorchvision\nnumpy\nrequests\n",
    )
    .unwrap();
    let manifest = |pins: &str| {
        format!(
            "name: gpu\ntargets: [{{python: \"3.10\", platforms: [{LINUX}]}}, {{python: \"3.10\", platforms: [{WIN}]}}]\n\
             requirements: [requirements.txt]\nindex_url: {}\n\
             indexes:\n  - name: pytorch\n    url: {}\n    explicit: true\n\
             package_indexes:\n{pins}",
            pypi.url,
            torch.root("cu124")
        )
    };
    std::fs::write(
        d.join("gpu.yaml"),
        manifest("  torch: pytorch\n  torchvision: pytorch\n"),
    )
    .unwrap();
    ok(ferry(d).args(["lock", "gpu.yaml", "-o", "ferry.lock"]));
    let lock: Value =
        serde_json::from_slice(&std::fs::read(d.join("ferry.lock")).unwrap()).unwrap();
    let r = Run {
        lock,
        stderr: String::new(),
    };
    for p in r.lock["packages"].as_array().unwrap() {
        let from_torch = p["url"].as_str().unwrap().starts_with(&torch.base);
        let family = ["torch", "torchvision"].contains(&p["name"].as_str().unwrap());
        assert_eq!(from_torch, family, "{p:#}");
    }
    assert_eq!(r.version("torch"), "2.5.1+cu124");
    assert_eq!(r.version("requests"), "2.32.3");
    // A pin naming an index that is not defined: the manifest's line.
    std::fs::write(d.join("gpu.yaml"), manifest("  torch: pytroch\n")).unwrap();
    let err = fails(ferry(d).args(["lock", "gpu.yaml", "-o", "x.lock"]), 2);
    assert!(
        err.contains("gpu.yaml:") && err.contains("pytroch"),
        "{err}"
    );
}

#[test]
fn index_strategies_follow_uv() {
    let (pypi, torch) = world();
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let cu121 = torch.root("cu121");
    let reqs = |r: &str| format!("--extra-index-url {cu121}\n{r}\n");
    let args = |strategy: &'static str, platform: &'static str| {
        let mut a = vec!["--index-url".to_string(), pypi.url.clone()];
        if !strategy.is_empty() {
            a.extend(["--index-strategy".to_string(), strategy.to_string()]);
        }
        a.extend(target_args(platform).into_iter().map(String::from));
        a
    };
    let lock = |r: &str, a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        lock_in(d, &reqs(r), &a)
    };
    // first-index: numpy is on the PyTorch index, so 1.26.4 (only on the default index) is not found.
    std::fs::write(d.join("requirements.txt"), reqs("numpy==1.26.4")).unwrap();
    let err = fails(
        ferry(d)
            .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
            .args(args("first-index", LINUX)),
        1,
    );
    assert!(err.contains("numpy"), "{err}");
    // unsafe-first-match finds it on the next index.
    assert_eq!(
        lock("numpy==1.26.4", args("unsafe-first-match", LINUX)).version("numpy"),
        "1.26.4"
    );
    // unsafe-best-match: the best version wherever it is (the default index's newer torch).
    assert_eq!(
        lock("torch", args("unsafe-best-match", LINUX)).version("torch"),
        "2.6.0"
    );
    // ferry's first-match vs uv's unsafe-first-match: pillow 10.2.0 is on the PyTorch index for Linux only.
    let r = lock("pillow==10.2.0", args("", WIN));
    assert_eq!(r.version("pillow"), "10.2.0");
    assert!(r.url("pillow").starts_with(&pypi.base()));
    std::fs::write(d.join("requirements.txt"), reqs("pillow==10.2.0")).unwrap();
    fails(
        ferry(d)
            .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
            .args(args("unsafe-first-match", WIN)),
        1,
    );
    let err = fails(
        ferry(d)
            .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
            .args(args("best-effort", LINUX)),
        2,
    );
    assert!(err.contains("best-effort"), "{err}");
}

#[test]
fn hash_checking_mode_checks_files_the_index_gives_no_hash_for() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let (six, bytes) = wheel("six", "1.16.0", "py2.py3-none-any", &[], "local");
    let real = sha256_hex(&bytes);
    let wrong = "0123456789abcdef".repeat(4);
    let links = d.join("links");
    std::fs::create_dir_all(&links).unwrap();
    std::fs::write(links.join(&six), &bytes).unwrap();
    // An HTML index without hash fragments, and one with them.
    let html = IndexServer::start(Mode::Html);
    html.without_hashes();
    html.add("six", &six, bytes.clone());
    let json = IndexServer::start(Mode::Json);
    json.add("six", &six, bytes.clone());
    let sources: [Vec<String>; 3] = [
        vec![
            "--no-index".into(),
            "-f".into(),
            links.display().to_string(),
        ],
        vec!["--index-url".into(), html.url.clone()],
        vec!["--index-url".into(), json.url.clone()],
    ];
    for src in &sources {
        let (opts, rest): (Vec<&String>, Vec<&String>) =
            src.iter().partition(|s| *s == "--no-index");
        let prefix: String = opts.iter().map(|o| format!("{o}\n")).collect();
        std::fs::write(
            d.join("requirements.txt"),
            format!("{prefix}six==1.16.0 \\\n    --hash=sha256:{wrong}\n"),
        )
        .unwrap();
        let err = fails(
            ferry(d)
                .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
                .args(rest.iter().map(|s| s.as_str()))
                .args(target_args(LINUX)),
            3,
        );
        let line = if opts.is_empty() { 1 } else { 2 };
        for needle in [
            format!("requirements.txt:{line}"),
            six.clone(),
            wrong.clone(),
            real.clone(),
        ] {
            assert!(err.contains(&needle), "{needle} missing from: {err}");
        }
        assert!(!d.join("x.lock").exists(), "nothing written on a mismatch");
        std::fs::write(
            d.join("requirements.txt"),
            format!("{prefix}six==1.16.0 --hash=sha256:{wrong} --hash=sha256:{real}\n"),
        )
        .unwrap();
        ok(ferry(d)
            .args(["lock", "-r", "requirements.txt", "-o", "x.lock"])
            .args(rest.iter().map(|s| s.as_str()))
            .args(target_args(LINUX)));
        std::fs::remove_file(d.join("x.lock")).unwrap();
    }
}

/// The host's CPython tag (cp311 for 3.11).
fn host_cp() -> String {
    let t = ferry::host::detect(None).unwrap();
    format!("cp{}", t.python.replace('.', ""))
}

#[test]
fn offline_install_imports_the_cuda_build() {
    if std::env::consts::OS != "linux" || std::env::consts::ARCH != "x86_64" {
        eprintln!("skipped: needs a Linux x86_64 host");
        return;
    }
    let unshare_ok = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(unshare_ok, "`unshare -n true` must work here (run as root)");
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let pypi = IndexServer::start(Mode::Json);
    pypi_add(&pypi, "filelock", "3.13.1", "py3-none-any", &[]);
    let torch = TorchIndex::start();
    let cp = host_cp();
    for backend in ["cpu", "cu121"] {
        let v = format!("2.5.1+{backend}");
        torch_add(
            &torch,
            backend,
            "torch",
            &v,
            &format!("{cp}-{cp}-linux_x86_64"),
            &["filelock"],
        );
    }
    ok(ferry(d)
        .args(["probe", "-o", "target.json"])
        .env("FERRY_CUDA_DRIVER_VERSION", "535.104.05"));
    ok(ferry(d).args(["keygen", "-s", "k.key", "-p", "k.pub", "--unencrypted"]));
    std::fs::write(d.join("requirements.txt"), "torch\n").unwrap();
    ok(ferry(d).args([
        "bundle",
        "-r",
        "requirements.txt",
        "--target",
        "target.json",
        "--torch-backend",
        "auto",
        "--torch-index-base",
        &torch.base,
        "--index-url",
        &pypi.url,
        "-s",
        "k.key",
        "-o",
        "gpu.ferry.tar",
    ]));
    let shown = ok(ferry(d).args(["inspect", "gpu.ferry.tar"]));
    assert!(
        shown.contains("cu121: driver 535.104.05 on the probed host"),
        "{shown}"
    );
    assert!(shown.contains("PyTorch cu121 index"), "{shown}");
    let json: Value =
        serde_json::from_str(&ok(ferry(d).args(["inspect", "gpu.ferry.tar", "--json"]))).unwrap();
    assert_eq!(json["torch"][0]["backend"], "cu121");

    let mut install = std::process::Command::new("unshare");
    install.current_dir(d).args([
        "-n",
        env!("CARGO_BIN_EXE_ferry"),
        "install",
        "gpu.ferry.tar",
        "-p",
        "k.pub",
        "--venv",
        "venv",
    ]);
    ok(&mut install);
    let mut import = std::process::Command::new("unshare");
    import.current_dir(d).args([
        "-n",
        "venv/bin/python",
        "-c",
        "import torch, filelock; print(torch.__version__, torch.BUILT_BY)",
    ]);
    let out = ok(&mut import);
    assert_eq!(out.trim(), "2.5.1+cu121 cu121", "{out}");
}

/// A manifest's `mirrors:` lists are candidates for `--mirror auto`; with a torch backend, the PyTorch
/// mirror that lists the backend's newest torch is chosen and the family comes from it.
#[test]
fn manifest_mirrors_choose_a_fresh_pytorch_mirror() {
    let (pypi, torch) = world();
    // A PyTorch mirror that lags behind: its cu121 root has torch 2.4.1 only.
    let behind = TorchIndex::start();
    for tag in ["cp310-cp310-linux_x86_64", "cp310-cp310-win_amd64"] {
        torch_add(&behind, "cu121", "torch", "2.4.1+cu121", tag, &["filelock"]);
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "torch\nfilelock\n").unwrap();
    std::fs::write(
        d.join("gpu.yaml"),
        format!(
            "name: gpu\ntargets: [{{python: \"3.10\", platforms: [manylinux_2_28_x86_64]}}]\n\
             requirements: [requirements.txt]\nindex_url: {}\ntorch_backend: cu121\n\
             mirrors:\n  torch:\n    - {}\n    - {{url: \"{}\", name: lab-torch}}\n",
            pypi.url, behind.base, torch.base
        ),
    )
    .unwrap();
    let out = ok(ferry(d)
        .args(["lock", "gpu.yaml", "-o", "ferry.lock", "--mirror", "auto"])
        .env("FERRY_MIRROR_PRESETS", "0")
        .env_remove("FERRY_TORCH_INDEX_BASE"));
    let _ = out;
    let lock: Value =
        serde_json::from_slice(&std::fs::read(d.join("ferry.lock")).unwrap()).unwrap();
    let t = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "torch")
        .unwrap();
    assert_eq!(t["version"], "2.5.1+cu121", "{lock:#}");
    assert!(
        t["url"].as_str().unwrap().starts_with(&torch.root("cu121")),
        "{lock:#}"
    );
    let recorded = lock["mirrors"].as_array().expect("mirrors recorded");
    let row = |base: &str| {
        recorded
            .iter()
            .find(|m| m["kind"] == "torch" && m["url"] == base)
            .unwrap_or_else(|| panic!("{base} not measured: {lock:#}"))
    };
    assert_eq!(row(&torch.base)["chosen"], true, "{lock:#}");
    assert_eq!(row(&torch.base)["name"], "lab-torch", "{lock:#}");
    assert!(row(&torch.base)["origin"]
        .as_str()
        .unwrap()
        .contains("gpu.yaml"));
    let b = row(&behind.base);
    assert_eq!(b["fresh"], false, "{lock:#}");
    assert!(b["note"].as_str().unwrap().contains("2.5.1+cu121"), "{b:#}");

    // A mirror entry that is not http(s) is refused at its line.
    std::fs::write(
        d.join("bad.yaml"),
        "requirements: [requirements.txt]\nmirrors:\n  index:\n    - file:///srv/simple/\n",
    )
    .unwrap();
    let err = fails(ferry(d).args(["lock", "bad.yaml", "-o", "x.lock"]), 2);
    assert!(
        err.contains("bad.yaml:4") && err.contains("mirrors.index"),
        "{err}"
    );
}
