//! Story: a user hands ferry broken input. Every case in the table gets one clear message naming the place
//! (file:line, key, flag, URL or member), the contract's exit code (2 input/usage, 1 runtime, 3 verification),
//! no panic, and leaves the working folder exactly as it was: no output, no partial file, no temp file.
//!
//! The cases run the real binary in a fresh folder with a clean environment: no `PIP_*`, `UV_*`, `HF_*`
//! settings, pip.conf switched off, HOME and the cache under a separate folder. Indexes and the hub point at
//! 127.0.0.1:9, where nothing listens: the input errors must come before any network use.
mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::hub_server::{HubServer, Repo};
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;

const INDEX: &str = "http://127.0.0.1:9/simple/";
const HUB: &str = "http://127.0.0.1:9";

/// Exit codes of the contract.
const USAGE: i32 = 2;
const RUNTIME: i32 = 1;
const VERIFY: i32 = 3;

/// Preparation a case needs beyond plain text files (keys, binary files).
type Setup = fn(&Path) -> Result<(), String>;

struct Case {
    name: &'static str,
    files: Vec<(&'static str, &'static [u8])>,
    setup: Option<Setup>,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    code: i32,
    /// Every one of these must appear in stderr.
    stderr: Vec<&'static str>,
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        files: Vec::new(),
        setup: None,
        args: Vec::new(),
        env: Vec::new(),
        code: USAGE,
        stderr: Vec::new(),
    }
}

impl Case {
    fn file(mut self, path: &'static str, text: &'static str) -> Self {
        self.files.push((path, text.as_bytes()));
        self
    }
    fn bytes(mut self, path: &'static str, bytes: &'static [u8]) -> Self {
        self.files.push((path, bytes));
        self
    }
    fn setup(mut self, setup: Setup) -> Self {
        self.setup = Some(setup);
        self
    }
    fn env(mut self, key: &'static str, value: &'static str) -> Self {
        self.env.push((key, value));
        self
    }
    /// `ferry lock` with these inputs, one explicit target and sources on 127.0.0.1:9.
    fn lock(self, inputs: &[&str]) -> Self {
        self.lock_for(
            inputs,
            &[
                "--python-version",
                "3.10",
                "--platform",
                "manylinux_2_28_x86_64",
            ],
        )
    }
    fn lock_for(mut self, inputs: &[&str], targets: &[&str]) -> Self {
        self.args = [
            "lock",
            "-o",
            "out.lock",
            "--index-url",
            INDEX,
            "--hf-endpoint",
            HUB,
        ]
        .iter()
        .chain(inputs)
        .chain(targets)
        .map(|s| s.to_string())
        .collect();
        self
    }
    /// `ferry bundle` of a valid requirements file with this secret key and these extra flags.
    fn bundle(mut self, key: &str, extra: &[&str]) -> Self {
        self.files.push(("ok.txt", b"demo-pkg==1.0\n"));
        self.args = [
            "bundle",
            "-r",
            "ok.txt",
            "-o",
            "out.ferry.tar",
            "-s",
            key,
            "--index-url",
            INDEX,
            "--hf-endpoint",
            HUB,
            "--python-version",
            "3.10",
            "--platform",
            "manylinux_2_28_x86_64",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        self
    }
    fn run(mut self, args: &[&str]) -> Self {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }
    fn args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }
    fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
    fn says(mut self, needles: &[&'static str]) -> Self {
        self.stderr.extend(needles);
        self
    }
}

fn cases() -> Vec<Case> {
    vec![
        // --- requirements files -------------------------------------------------------------------------
        case("requirement: specifier without a version")
            .file("requirements.txt", "# pinned\nrequests>=\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "requests>="]),
        case("requirement: unclosed extras")
            .file("requirements.txt", "numpy==1.26.4\n\nrequests[socks==2.31.0\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:3"]),
        case("requirement: bad marker")
            .file("requirements.txt", "numpy==1.26.4 ; python_version >> '3.8'\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1"]),
        case("requirement: bad name")
            .file("requirements.txt", "numpy==1.26.4\n!!!==1.0\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "!!!"]),
        case("requirement: direct URL that is no URL")
            .file("requirements.txt", "demo-pkg @ http://[::1/demo.whl\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1"]),
        case("requirement: continued line keeps the first line number")
            .file("requirements.txt", "# header\nrequests==2.31.0 \\\n    --frobnicate\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "--frobnicate"]),
        case("requirement: unknown option")
            .file("requirements.txt", "--frobnicate\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "--frobnicate"]),
        case("requirement: option without its value")
            .file("requirements.txt", "requests==2.31.0\n--index-url\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "--index-url"]),
        case("requirement: index URL that is no URL")
            .file("requirements.txt", "--index-url not-a-url\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "not-a-url"]),
        case("requirement: extra index URL with another scheme")
            .file("requirements.txt", "numpy\n--extra-index-url=ftp://127.0.0.1/simple\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "ftp"]),
        case("flag: index URL that is no URL")
            .file("requirements.txt", "numpy\n")
            .run(&[
                "lock", "-o", "out.lock", "-r", "requirements.txt", "--index-url", "not-a-url",
                "--python-version", "3.10", "--platform", "manylinux_2_28_x86_64",
            ])
            .says(&["not-a-url"]),
        case("manifest: index URL that is no URL")
            .file("requirements.txt", "numpy\n")
            .file("ferry.yaml", "name: demo\nrequirements: [requirements.txt]\nindex_url: not-a-url\n")
            .run(&[
                "lock", "ferry.yaml", "-o", "out.lock",
                "--python-version", "3.10", "--platform", "manylinux_2_28_x86_64",
            ])
            .says(&["ferry.yaml", "not-a-url"]),
        case("requirement: two words after an option")
            .file("requirements.txt", "--index-url not a url\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1"]),
        case("requirement: editable install")
            .file("requirements.txt", "numpy==1.26.4\n-e .\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "-e"]),
        case("requirement: VCS line")
            .file("requirements.txt", "git+http://127.0.0.1:9/org/repo.git@v1#egg=repo\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "git+"]),
        case("requirement: VCS direct reference")
            .file("requirements.txt", "repo @ git+http://127.0.0.1:9/org/repo.git\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "git+"]),
        case("requirement: local path")
            .file("requirements.txt", "./vendor/pkg\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "./vendor/pkg"]),
        case("requirement: missing -r include")
            .file("requirements.txt", "numpy==1.26.4\n-r more.txt\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:2", "more.txt"]),
        case("requirement: missing -c include")
            .file("requirements.txt", "-c pins.txt\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "pins.txt"]),
        case("requirement: bad line in a nested include")
            .file("requirements.txt", "-r sub/more.txt\n")
            .file("sub/more.txt", "numpy==1.26.4\nrequests>=\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["more.txt:2"]),
        case("requirement: include cycle")
            .file("requirements.txt", "-r b.txt\n")
            .file("b.txt", "numpy==1.26.4\n-r requirements.txt\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["b.txt:2"]),
        case("requirement: --hash that is not hex")
            .file("requirements.txt", "requests==2.31.0 --hash=sha256:nothex\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "nothex"]),
        case("requirement: --hash of the wrong length")
            .file("requirements.txt", "requests==2.31.0 \\\n  --hash=sha256:0123abcd\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "0123abcd"]),
        case("requirement: --hash without an algorithm")
            .file("requirements.txt", "requests==2.31.0 --hash=0123abcd\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt:1", "--hash"]),
        case("requirement: not UTF-8")
            .bytes("requirements.txt", b"requests==2.31.0\n\xff\xfe\x00bad\n")
            .lock(&["-r", "requirements.txt"])
            .says(&["requirements.txt"]),
        case("requirement: file missing")
            .lock(&["-r", "nope.txt"])
            .says(&["nope.txt"]),
        case("requirement: a folder instead of a file")
            .file("reqs/keep.txt", "")
            .lock(&["-r", "reqs"])
            .says(&["reqs"]),
        case("constraint: bad line")
            .file("requirements.txt", "numpy\n")
            .file("constraints.txt", "numpy<<2\n")
            .lock(&["-r", "requirements.txt", "-c", "constraints.txt"])
            .says(&["constraints.txt:1"]),
        // --- targets ------------------------------------------------------------------------------------
        case("target: unknown platform")
            .file("requirements.txt", "numpy==1.26.4\n")
            .lock_for(
                &["-r", "requirements.txt"],
                &["--python-version", "3.10", "--platform", "manylinux_2_28_sparc"],
            )
            .says(&["manylinux_2_28_sparc"]),
        case("target: bad python version")
            .file("requirements.txt", "numpy==1.26.4\n")
            .lock_for(
                &["-r", "requirements.txt"],
                &["--python-version", "three", "--platform", "manylinux_2_28_x86_64"],
            )
            .says(&["three"]),
        case("target: target.json that is no JSON")
            .file("requirements.txt", "numpy==1.26.4\n")
            .file("target.json", "{\"python\": \"3.10\",\n")
            .lock_for(&["-r", "requirements.txt"], &["--target", "target.json"])
            .says(&["target.json"]),
        // --- LoRA configs -------------------------------------------------------------------------------
        case("config: bad YAML")
            .file("lora.yaml", "output_dir: ./out\nbase_model: [unclosed\nnetwork_dim: 8\n")
            .lock(&["--config", "lora.yaml"])
            .says(&["lora.yaml:"]),
        case("config: bad TOML")
            .file("lora.toml", "[model_arguments]\npretrained_model_name_or_path = \n")
            .lock(&["--config", "lora.toml"])
            .says(&["lora.toml:2"]),
        case("config: bad JSON")
            .file("lora.json", "{\n  \"base_model\": ,\n  \"rank\": 4\n}\n")
            .lock(&["--config", "lora.json"])
            .says(&["lora.json:2"]),
        case("config: malformed repo id")
            .file("lora.yaml", "output_dir: ./out\nbase_model: org/name/extra/more\n")
            .lock(&["--config", "lora.yaml"])
            .says(&["lora.yaml:2", "base_model"]),
        case("config: malformed repo id in TOML")
            .file(
                "lora.toml",
                "[model_arguments]\nv2 = false\npretrained_model_name_or_path = \"a/b/c/d\"\n",
            )
            .lock(&["--config", "lora.toml"])
            .says(&["lora.toml:3", "pretrained_model_name_or_path"]),
        case("config: unknown format")
            .file("lora.ini", "[model]\nbase_model = org/name\n")
            .lock(&["--config", "lora.ini"])
            .says(&["lora.ini"]),
        case("config: file missing")
            .lock(&["--config", "missing.yaml"])
            .says(&["missing.yaml"]),
        case("model flag: malformed repo id")
            .lock(&["--model", "not/a/valid/repo"])
            .says(&["not/a/valid/repo"]),
        // --- manifests ----------------------------------------------------------------------------------
        case("manifest: unknown key")
            .file("requirements.txt", "numpy==1.26.4\n")
            .file("ferry.yaml", "name: demo\nrequirments: [requirements.txt]\n")
            .lock(&["ferry.yaml"])
            .says(&["ferry.yaml:2", "requirments"]),
        case("manifest: unknown platform")
            .file(
                "ferry.yaml",
                "name: demo\ntargets:\n  - python: \"3.10\"\n    platforms: [manylinux_2_28_sparc]\n",
            )
            .lock(&["ferry.yaml"])
            .says(&["ferry.yaml:4", "manylinux_2_28_sparc"]),
        case("manifest: not a mapping")
            .file("ferry.yaml", "- requirements.txt\n- lora.yaml\n")
            .lock(&["ferry.yaml"])
            .says(&["ferry.yaml"]),
        case("manifest: names a requirements file that is missing")
            .file("ferry.yaml", "name: demo\nrequirements: [missing.txt]\n")
            .lock(&["ferry.yaml"])
            .says(&["missing.txt"]),
        case("manifest: malformed model repo")
            .file("ferry.yaml", "name: demo\nmodels:\n  - repo: \"bad repo\"\n")
            .lock(&["ferry.yaml"])
            .says(&["ferry.yaml:3", "bad repo"]),
        // --- keys ---------------------------------------------------------------------------------------
        case("bundle: secret key missing")
            .bundle("missing.key", &[])
            .code(RUNTIME)
            .says(&["missing.key"]),
        case("bundle: secret key that is not a key")
            .file("garbage.key", "hello, not a key\n")
            .bundle("garbage.key", &[])
            .code(RUNTIME)
            .says(&["garbage.key"]),
        case("bundle: wrong key password")
            .setup(encrypted_key)
            .env("FERRY_KEY_PASSWORD", "not the password")
            .bundle("enc.key", &[])
            .code(RUNTIME)
            .says(&["enc.key", "password"]),
        case("bundle: encrypted key, no password and no terminal")
            .setup(encrypted_key)
            .bundle("enc.key", &[])
            .code(RUNTIME)
            .says(&["enc.key", "FERRY_KEY_PASSWORD"]),
        case("bundle: bad --split size")
            .setup(plain_key)
            .bundle("plain.key", &["--split", "12Q"])
            .says(&["12Q"]),
        // --- bundles ------------------------------------------------------------------------------------
        case("verify: public key missing")
            .file("junk.ferry.tar", "not a tar\n")
            .run(&["verify", "junk.ferry.tar", "-p", "missing.pub"])
            .code(RUNTIME)
            .says(&["missing.pub"]),
        case("verify: public key that is not a key")
            .file("junk.ferry.tar", "not a tar\n")
            .file("bad.pub", "untrusted comment: x\nAAAA\n")
            .run(&["verify", "junk.ferry.tar", "-p", "bad.pub"])
            .code(RUNTIME)
            .says(&["bad.pub"]),
        case("verify: bundle that is not a tar")
            .setup(plain_key)
            .file("junk.ferry.tar", "this is not a tar archive, just text\n")
            .run(&["verify", "junk.ferry.tar", "-p", "plain.pub"])
            .code(VERIFY)
            .says(&["junk.ferry.tar"]),
        case("verify: empty bundle")
            .setup(plain_key)
            .file("empty.ferry.tar", "")
            .run(&["verify", "empty.ferry.tar", "-p", "plain.pub"])
            .code(VERIFY)
            .says(&["empty.ferry.tar"]),
        case("verify: bundle of zero blocks")
            .setup(plain_key)
            .bytes("zeros.ferry.tar", &[0; 10240])
            .run(&["verify", "zeros.ferry.tar", "-p", "plain.pub"])
            .code(VERIFY)
            .says(&["zeros.ferry.tar"]),
        case("verify: bundle missing")
            .setup(plain_key)
            .run(&["verify", "gone.ferry.tar", "-p", "plain.pub"])
            .code(RUNTIME)
            .says(&["gone.ferry.tar"]),
        case("inspect: bundle that is not a tar")
            .file("junk.ferry.tar", "this is not a tar archive, just text\n")
            .run(&["inspect", "junk.ferry.tar"])
            .code(VERIFY)
            .says(&["junk.ferry.tar"]),
        case("install: bundle that is not a tar")
            .setup(plain_key)
            .file("junk.ferry.tar", "this is not a tar archive, just text\n")
            .run(&["install", "junk.ferry.tar", "-p", "plain.pub", "--venv", "venv"])
            .code(VERIFY)
            .says(&["junk.ferry.tar"]),
    ]
}

/// An unencrypted key pair plain.key / plain.pub, made through the library.
fn plain_key(dir: &Path) -> Result<(), String> {
    ferry::bundle::sign::generate(&dir.join("plain.key"), &dir.join("plain.pub"), false, false)
        .map(|_| ())
        .map_err(|e| format!("generate plain key: {e}"))
}

/// A password-protected key pair enc.key / enc.pub, made by `ferry keygen`.
fn encrypted_key(dir: &Path) -> Result<(), String> {
    let out = ferry(dir, &[("FERRY_KEY_PASSWORD", "the password")])
        .args(["keygen", "-s", "enc.key", "-p", "enc.pub"])
        .output()
        .map_err(|e| format!("run ferry keygen: {e}"))?;
    if !out.status.success() || !dir.join("enc.key").exists() {
        return Err(format!("ferry keygen failed:\n{}", describe(&out)));
    }
    Ok(())
}

/// The real binary, run in `cwd` with none of the user's index, hub or key settings.
fn ferry(cwd: &Path, env: &[(&str, &str)]) -> Command {
    let home = cwd.parent().expect("case folder has a parent").join("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.current_dir(cwd).stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if ["PIP_", "UV_", "HF_", "FERRY_"]
            .iter()
            .any(|p| key.starts_with(p))
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("PIP_CONFIG_FILE", "/dev/null")
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("FERRY_CACHE_DIR", home.join("ferry-cache"))
        .env("HF_HUB_OFFLINE", "1")
        .env("NO_COLOR", "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Every path under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.insert(path.strip_prefix(dir).unwrap().to_path_buf());
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
            }
        }
    }
    out
}

fn describe(out: &Output) -> String {
    format!(
        "exit: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run one case; `Err` describes everything that went wrong.
fn check(case: &Case) -> Result<(), String> {
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = root.path().join("work");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for (path, bytes) in &case.files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    }
    if let Some(setup) = case.setup {
        setup(&dir)?;
    }
    let before = tree(&dir);
    let out = ferry(&dir, &case.env)
        .args(&case.args)
        .output()
        .map_err(|e| format!("run ferry: {e}"))?;
    let after = tree(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown with --nocapture, for reading the messages.
    println!(
        "[{}] exit {:?}: {}",
        case.name,
        out.status.code(),
        stderr.trim_end()
    );

    let mut problems = Vec::new();
    if out.status.code() != Some(case.code) {
        problems.push(format!(
            "exit {:?}, expected {}",
            out.status.code(),
            case.code
        ));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("panicked".to_string());
    }
    if !stderr.contains("error") {
        problems.push("stderr has no 'error'".to_string());
    }
    for needle in &case.stderr {
        if !stderr.contains(needle) {
            problems.push(format!("stderr does not name '{needle}'"));
        }
    }
    let new: Vec<_> = after.difference(&before).collect();
    if !new.is_empty() {
        problems.push(format!("left files behind: {new:?}"));
    }
    let gone: Vec<_> = before.difference(&after).collect();
    if !gone.is_empty() {
        problems.push(format!("removed input files: {gone:?}"));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}\ncommand: ferry {}\n{}",
        problems.join("; "),
        case.args.join(" "),
        describe(&out)
    ))
}

/// Cases that need an answer from an index or a hub (local servers): runtime errors, exit 1, naming the
/// package or the URL.
fn server_cases(index: &IndexServer, hub: &HubServer) -> Vec<Case> {
    let lock = |inputs: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["lock", "-o", "out.lock", "--index-url", index.url.as_str()]
            .iter()
            .chain(["--hf-endpoint", hub.url.as_str()].iter())
            .chain(inputs)
            .map(|s| s.to_string())
            .collect();
        args.extend(
            [
                "--python-version",
                "3.10",
                "--platform",
                "manylinux_2_28_x86_64",
            ]
            .map(String::from),
        );
        args
    };
    vec![
        case("index: unknown package")
            .file("requirements.txt", "demo-pkg==1.0\ntransformrs==4.0\n")
            .args(lock(&["-r", "requirements.txt"]))
            .code(RUNTIME)
            .says(&["transformrs", "127.0.0.1"]),
        case("index: impossible pin")
            .file("requirements.txt", "demo-pkg==9.9\n")
            .args(lock(&["-r", "requirements.txt"]))
            .code(RUNTIME)
            .says(&["demo-pkg", "9.9"]),
        case("index: conflicting pins")
            .file("requirements.txt", "demo-pkg==1.0\ndemo-pkg>=2\n")
            .args(lock(&["-r", "requirements.txt"]))
            .code(RUNTIME)
            .says(&["demo-pkg"]),
        case("hub: model repo that does not exist")
            .args(lock(&["--model", "org/does-not-exist"]))
            .code(RUNTIME)
            .says(&["org/does-not-exist"]),
        case("hub: gated repo without a token")
            .setup(plain_key)
            .args({
                let mut a = lock(&["--model", "org/gated"]);
                a[0] = "bundle".into();
                a[2] = "out.ferry.tar".into();
                a.extend(["-s", "plain.key"].map(String::from));
                a
            })
            .code(RUNTIME)
            .says(&["org/gated", "HF_TOKEN"]),
    ]
}

#[test]
fn broken_input_against_servers() {
    let index = IndexServer::start(Mode::Json);
    let wheel = WheelSpec::new("demo-pkg", "1.0");
    index.add("demo-pkg", &wheel.filename(), wheel.build());
    let hub = HubServer::start();
    hub.add_model(
        "org/gated",
        Repo::new().file("config.json", "{}").gated("hf_right"),
    );
    run_table(server_cases(&index, &hub));
}

/// A bundle signed by plain.key whose global (trusted-comment) signature is cut to 33 bytes, as found by
/// `fuzz/` (bundle target). The signature of SHA256SUMS itself is intact.
fn truncated_global_signature(dir: &Path) -> Result<(), String> {
    plain_key(dir)?;
    let key = ferry::bundle::sign::load_secret_key_with(&dir.join("plain.key"), None)
        .map_err(|e| e.to_string())?;
    let manifest = b"{}\n";
    let sums = format!("{}  ferry.json\n", ferry::types::Sha256::digest(manifest));
    let signature = key
        .sign(sums.as_bytes(), "ferry bundle demo")
        .map_err(|e| e.to_string())?;
    let mut lines: Vec<String> = signature.lines().map(String::from).collect();
    lines[3] = "FNmckHeRfxTpGBLTrfJNveMiwWbdooT8+csNbbWbYT6A".into();
    let signature = lines.join("\n") + "\n";
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("ferry.json", &manifest[..]),
        ("SHA256SUMS", sums.as_bytes()),
        ("SHA256SUMS.minisig", signature.as_bytes()),
    ] {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
            .map_err(|e| e.to_string())?;
    }
    let bytes = tar.into_inner().map_err(|e| e.to_string())?;
    std::fs::write(dir.join("cut.ferry.tar"), bytes).map_err(|e| e.to_string())
}

/// Found by `fuzz/` (bundle target): minisign 0.10 indexes `signature[32..64]` without a length check, so a
/// short global signature panicked (exit 101) instead of being refused.
#[test]
fn truncated_global_signature_is_refused() {
    run_table(vec![
        case("verify: global signature cut short")
            .setup(truncated_global_signature)
            .run(&["verify", "cut.ferry.tar", "-p", "plain.pub"])
            .code(VERIFY)
            .says(&["cut.ferry.tar", "SHA256SUMS"]),
        case("install: global signature cut short")
            .setup(truncated_global_signature)
            .run(&[
                "install",
                "cut.ferry.tar",
                "-p",
                "plain.pub",
                "--venv",
                "venv",
            ])
            .code(VERIFY)
            .says(&["cut.ferry.tar"]),
    ]);
}

#[test]
fn broken_input_table() {
    run_table(cases());
}

fn run_table(cases: Vec<Case>) {
    let mut report = String::new();
    let mut failed = 0;
    for case in &cases {
        if let Err(why) = check(case) {
            failed += 1;
            writeln!(report, "--- {}: {why}", case.name).unwrap();
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} broken-input cases failed:\n{report}",
        cases.len()
    );
}
