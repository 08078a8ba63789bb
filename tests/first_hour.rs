//! Story: a new user's first hour. Nothing is replaced, refused or chosen silently; messages say what to
//! do next; sizes are human; a Windows-target bundle installs in the Windows layout (tested on this host).
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::hub_server::{text_model_repo, HubServer};
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{describe, fails, ferry, ok, test_python};

const LONG: &str = "a-package-with-a-really-quite-remarkably-long-name-for-tables";

/// An index with a small app (a console script and a dependency), a long-named package and the real pip
/// wheel that ships with the test Python (ensurepip's).
fn index() -> IndexServer {
    let s = IndexServer::start(Mode::Json);
    let mut app = WheelSpec::new("hello-app", "1.0.0").requires(&["tinydep>=1"]);
    app.entry_points = Some("[console_scripts]\nhello-app = hello_app:main\n");
    app.files = vec![(
        "hello_app/__init__.py".into(),
        b"import tinydep\ndef main():\n    print('hello', tinydep.__version__)\n".to_vec(),
    )];
    s.add("hello-app", &app.filename(), app.build());
    for spec in [
        WheelSpec::new("tinydep", "1.5"),
        WheelSpec::new(LONG, "2.0"),
    ] {
        s.add(spec.name, &spec.filename(), spec.build());
    }
    let (name, bytes) = pip_wheel();
    s.add("pip", &name, bytes);
    s
}

fn pip_wheel() -> (String, Vec<u8>) {
    let out = ok(Command::new(test_python()).args([
        "-c",
        "import ensurepip, glob, os; print(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))[0])",
    ]));
    let path = PathBuf::from(out.trim());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read(&path).unwrap())
}

fn host() -> (String, String) {
    let t = ferry::host::detect(Some(&test_python())).unwrap();
    (t.python.clone(), t.platforms[0].clone())
}

fn keys(d: &Path) {
    ok(ferry(d).args(["keygen", "-s", "k", "-p", "k.pub", "--unencrypted"]));
}

fn stderr_of(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(cmd, &out));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ferry bundle -r requirements.txt` for this host's Python and platform.
fn bundle_cmd(d: &Path, index: &IndexServer, out: &str) -> Command {
    let (py, plat) = host();
    let mut c = ferry(d);
    c.args([
        "bundle",
        "-r",
        "requirements.txt",
        "--index-url",
        &index.url,
    ])
    .args(["--python-version", &py, "--platform", &plat])
    .args(["-s", "k", "-o", out]);
    c
}

#[test]
fn outputs_are_replaced_only_with_force_and_bundles_are_0644() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), "tinydep\n").unwrap();
    // Under umask 077 the bundle is still readable by others.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "umask 077; exec \"$0\" \"$@\" --index-url {} -o b.ferry.tar",
            index.url
        ))
        .arg(env!("CARGO_BIN_EXE_ferry"))
        .args(["bundle", "-r", "requirements.txt", "-s", "k"])
        .args([
            "--python-version",
            "3.11",
            "--platform",
            "manylinux_2_28_x86_64",
        ])
        .current_dir(d)
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("FERRY_CACHE_DIR", d.join(".ferry-cache"));
    ok(&mut c);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("b.ferry.tar"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "bundle mode {mode:o}");

    let before = std::fs::read(d.join("b.ferry.tar")).unwrap();
    let err = fails(&mut bundle_cmd(d, &index, "b.ferry.tar"), 2);
    assert!(
        err.contains("b.ferry.tar") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(before, std::fs::read(d.join("b.ferry.tar")).unwrap());
    ok(bundle_cmd(d, &index, "b.ferry.tar").arg("--force"));

    // Split volumes count as the output too.
    ok(bundle_cmd(d, &index, "s.ferry.tar").args(["--split", "8K"]));
    let err = fails(
        bundle_cmd(d, &index, "s.ferry.tar").args(["--split", "8K"]),
        2,
    );
    assert!(
        err.contains("s.ferry.tar.000") && err.contains("--force"),
        "{err}"
    );

    let lock = |force: bool| {
        let mut c = ferry(d);
        c.args(["lock", "-r", "requirements.txt", "--index-url", &index.url])
            .args([
                "--python-version",
                "3.11",
                "--platform",
                "manylinux_2_28_x86_64",
            ]);
        if force {
            c.arg("--force");
        }
        c
    };
    ok(&mut lock(false));
    let err = fails(&mut lock(false), 2);
    assert!(
        err.contains("ferry.lock") && err.contains("--force"),
        "{err}"
    );
    ok(&mut lock(true));
}

#[test]
fn install_refuses_a_folder_that_is_not_a_venv() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), "tinydep\n").unwrap();
    ok(&mut bundle_cmd(d, &index, "b.ferry.tar"));
    std::fs::create_dir(d.join("project")).unwrap();
    std::fs::write(d.join("project/notes.txt"), "mine").unwrap();
    let err = fails(
        ferry(d).args(["install", "b.ferry.tar", "-p", "k.pub", "--venv", "project"]),
        2,
    );
    assert!(
        err.contains("project") && err.contains("not a virtual environment"),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(d.join("project"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(names.len(), 1, "the folder was left as it was");
}

#[test]
fn truncated_bundles_are_refused_by_inspect_and_verify_saying_truncated() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), "hello-app\n").unwrap();
    ok(&mut bundle_cmd(d, &index, "b.ferry.tar"));
    let bytes = std::fs::read(d.join("b.ferry.tar")).unwrap();
    std::fs::write(d.join("cut.ferry.tar"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    for args in [
        vec!["inspect", "cut.ferry.tar"],
        vec!["verify", "cut.ferry.tar", "-p", "k.pub"],
    ] {
        let err = fails(ferry(d).args(&args), 3);
        assert!(err.contains("truncated"), "{err}");
    }
}

#[test]
fn the_default_target_is_printed_and_dry_run_says_what_is_cached() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), "hello-app\n").unwrap();
    // No target flags: this machine's Python (the test venv first on PATH) is the target, and it says so.
    let path = format!(
        "{}:{}",
        test_python().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dry = || {
        let mut c = ferry(d);
        c.args([
            "bundle",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "--dry-run",
        ])
        .env("PATH", &path);
        c
    };
    let (out, err) = stderr_of(&mut dry());
    let (py, plat) = host();
    let id = format!("cp{}-{plat}", py.replace('.', ""));
    assert!(
        err.contains(&format!("target {id} (this machine; see --target)")),
        "{err}"
    );
    // hello-app, tinydep and pip; none downloaded yet.
    assert!(out.contains("total: 3 packages, 0 models"), "{out}");
    assert!(out.contains("already cached: 0 of 3 files (0 B)"), "{out}");
    // After a bundle, all of it is in the cache.
    ok(ferry(d)
        .args([
            "bundle",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "-s",
            "k",
        ])
        .args(["-o", "b.ferry.tar"])
        .env("PATH", &path));
    let (out, _) = stderr_of(&mut dry());
    assert!(out.contains("already cached: 3 of 3 files"), "{out}");
    assert!(out.contains("to download: 0 B"), "{out}");
}

#[test]
fn help_lists_defaults_env_vars_and_examples_with_global_flags_apart() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(ferry(dir.path()).args(["bundle", "--help"]));
    for needle in [
        "[default: ferry.key]",
        "FERRY_KEY_PASSWORD",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "FERRY_CACHE_DIR",
        "PIP_INDEX_URL",
        "[default: 8]",
        "Examples:",
        "Targets:",
        "Global options:",
        "--with-ferry",
        "--python-platform",
    ] {
        assert!(
            help.contains(needle),
            "bundle --help lacks {needle}:\n{help}"
        );
    }
    let targets = help.find("Targets:").unwrap();
    let global = help.find("Global options:").unwrap();
    let quiet = help.find("--quiet").unwrap();
    assert!(quiet > global && global > targets, "{help}");
    // Every flag line has a description (on the same line, or the next, further indented).
    let lines: Vec<&str> = help.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if t.starts_with('-') && indent <= 6 {
            let words: Vec<&str> = t.split("  ").filter(|w| !w.trim().is_empty()).collect();
            let next_indent = lines
                .get(i + 1)
                .map(|n| n.len() - n.trim_start().len())
                .unwrap_or(0);
            assert!(
                words.len() >= 2 || next_indent > indent,
                "no description: {line}\n{help}"
            );
        }
    }
    for cmd in [
        "keygen", "lock", "verify", "inspect", "install", "probe", "diff", "serve",
    ] {
        let help = ok(ferry(dir.path()).args([cmd, "--help"]));
        assert!(
            help.contains("Examples:\n  ferry "),
            "{cmd} --help:\n{help}"
        );
    }
    let help = ok(ferry(dir.path()).args(["install", "--help"]));
    assert!(
        help.contains("HF_HOME") && help.contains("[default: ferry.pub]"),
        "{help}"
    );
}

#[test]
fn pip_and_uv_flags_are_taken_or_answered() {
    let index = index();
    // An sdist only: --only-binary :all: must refuse it, as pip would.
    let (name, bytes) = support::wheels::sdist("onlysrc", "1.0", &[]);
    index.add("onlysrc", &name, bytes);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("requirements.txt"), "tinydep\n").unwrap();
    let lock = |extra: &[&str]| {
        let mut c = ferry(d);
        c.args([
            "lock",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "--force",
        ])
        .args(["--python-version", "3.11"])
        .args(extra);
        c
    };
    ok(&mut lock(&["--python-platform", "x86_64-manylinux_2_28"]));
    let text = std::fs::read_to_string(d.join("ferry.lock")).unwrap();
    assert!(text.contains("manylinux_2_28_x86_64"), "{text}");
    ok(&mut lock(&[
        "--platform",
        "win_amd64",
        "--only-binary",
        ":all:",
        "--pre",
    ]));
    let err = fails(&mut lock(&["--platform", "win_amd64", "--no-deps"]), 2);
    assert!(
        err.contains("--no-deps") && err.contains("complete"),
        "{err}"
    );
    // --require-hashes: tinydep has no --hash line, so it is refused (as pip refuses it).
    let out = lock(&["--platform", "win_amd64", "--require-hashes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hash"));
    std::fs::write(d.join("requirements.txt"), "onlysrc\n").unwrap();
    let out = lock(&["--platform", "win_amd64", "--only-binary", ":all:"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn keys_missing_or_without_a_terminal_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let err = fails(
        ferry(d)
            .args(["keygen", "-s", "k", "-p", "k.pub"])
            .env_remove("FERRY_KEY_PASSWORD")
            .stdin(std::process::Stdio::null()),
        1,
    );
    assert!(err.contains("--unencrypted"), "{err}");
    assert!(!d.join("k").exists());
    std::fs::write(d.join("x.ferry.tar"), b"").unwrap();
    let err = fails(
        ferry(d).args(["verify", "x.ferry.tar", "-p", "missing.pub"]),
        1,
    );
    assert!(
        err.contains("missing.pub") && err.contains("ferry keygen") && err.contains("-p"),
        "{err}"
    );
}

#[test]
fn install_prints_what_to_paste_and_a_new_venv_gets_pip() {
    let index = index();
    let hub = HubServer::start();
    hub.add_model("org/tiny-clip", text_model_repo());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), "hello-app\n").unwrap();
    let (out, err) = stderr_of(
        bundle_cmd(d, &index, "b.ferry.tar")
            .args(["--model", "org/tiny-clip", "--include", "*.json"])
            .args(["--hf-endpoint", &hub.url, "--with-ferry"]),
    );
    // A closing summary with human sizes and counts.
    assert!(out.contains("3 packages, 1 model,"), "{out}");
    assert!(
        err.contains("downloaded ") && err.contains("from the cache") && err.contains("; bundle "),
        "{err}"
    );
    assert!(err.contains("KiB") || err.contains("MiB"), "{err}");
    assert!(
        !err.contains("ferry::"),
        "no module paths in log lines:\n{err}"
    );
    // Not a terminal: one line per downloaded file with its full name and the count, and packing progress.
    let (pip_name, _) = pip_wheel();
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("downloaded {pip_name} (")) && l.ends_with(']')),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("downloading ") && l.contains(" files (")),
        "{err}"
    );
    assert!(err.lines().any(|l| l.starts_with("packing ")), "{err}");

    // --with-ferry: the binary is a signed member; extracted with tar it runs.
    let member = format!(
        "ferry/ferry-{}-{}-linux",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    );
    let list = ok(Command::new("tar")
        .args(["tf", "b.ferry.tar"])
        .current_dir(d));
    assert!(list.lines().any(|l| l == member), "{list}");
    ok(Command::new("tar")
        .args(["xf", "b.ferry.tar", "SHA256SUMS", &member])
        .current_dir(d));
    let sums = std::fs::read_to_string(d.join("SHA256SUMS")).unwrap();
    assert!(sums.contains(&member), "{sums}");
    let version = ok(Command::new(d.join(&member)).arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");

    let install = ok(ferry(d)
        .args([
            "install",
            "b.ferry.tar",
            "-p",
            "k.pub",
            "--venv",
            "venv",
            "--python",
        ])
        .arg(test_python())
        .args(["--hf-home", "hf"]));
    let hf = std::path::absolute(d.join("hf")).unwrap();
    assert!(
        install.contains(&format!("export HF_HOME={} HF_HUB_OFFLINE=1", hf.display())),
        "{install}"
    );
    assert!(
        install.contains("source ") && install.contains("venv/bin/activate"),
        "{install}"
    );
    assert!(
        install.contains("1 model") || install.contains("files"),
        "{install}"
    );
    assert!(!install.contains("bytes copied"), "{install}");
    // The pasted lines work: the venv's own pip runs, its app runs, the model loads offline.
    let pasted: Vec<&str> = install
        .lines()
        .skip_while(|l| !l.starts_with("to use it"))
        .skip(1)
        .map(str::trim)
        .collect();
    let script = format!(
        "{}\npython -m pip --version && hello-app && python -c \"from huggingface_hub import hf_hub_download; print(open(hf_hub_download('org/tiny-clip', 'config.json')).read())\"",
        pasted.join("\n")
    );
    // huggingface_hub comes from the test venv (the bundle does not carry it).
    let site = ok(Command::new(test_python())
        .args(["-c", "import huggingface_hub, os; print(os.path.dirname(os.path.dirname(huggingface_hub.__file__)))"]));
    let out = ok(Command::new("bash")
        .args(["-c", &script])
        .current_dir(d)
        .env("PYTHONPATH", site.trim())
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HOME"));
    assert!(
        out.contains("pip 2") && out.contains("hello 1.5") && out.contains("clip"),
        "{out}"
    );

    // --no-pip leaves it out.
    ok(ferry(d)
        .args([
            "lock",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
            "--no-pip",
        ])
        .args([
            "--python-version",
            "3.11",
            "--platform",
            "manylinux_2_28_x86_64",
        ]));
    let lock = std::fs::read_to_string(d.join("ferry.lock")).unwrap();
    assert!(!lock.contains("\"pip\""), "{lock}");
    assert!(lock.contains("tinydep"), "{lock}");
}

#[test]
fn tables_fit_columns_and_a_bundle_for_another_host_suggests_probe() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), format!("{LONG}\n")).unwrap();
    let mut win = ferry(d);
    win.args([
        "bundle",
        "-r",
        "requirements.txt",
        "--index-url",
        &index.url,
    ])
    .args([
        "--python-version",
        "3.10",
        "--platform",
        "win_amd64",
        "--no-pip",
    ])
    .args(["-s", "k", "-o", "w.ferry.tar"]);
    ok(&mut win);
    let wide = ok(ferry(d)
        .args(["inspect", "w.ferry.tar"])
        .env_remove("COLUMNS"));
    assert!(wide.contains(&LONG.replace('-', "_")), "{wide}");
    let narrow = ok(ferry(d)
        .args(["inspect", "w.ferry.tar"])
        .env("COLUMNS", "70"));
    let table: Vec<&str> = narrow.lines().filter(|l| l.starts_with("  ")).collect();
    assert!(!table.is_empty(), "{narrow}");
    for l in &table {
        assert!(
            l.chars().count() <= 70,
            "wider than COLUMNS=70: {l}\n{narrow}"
        );
    }
    assert!(narrow.contains('…'), "{narrow}");
    assert!(narrow.contains("1 package,"), "{narrow}");

    let err = fails(
        ferry(d)
            .args([
                "install",
                "w.ferry.tar",
                "-p",
                "k.pub",
                "--venv",
                "venv",
                "--python",
            ])
            .arg(test_python()),
        1,
    );
    assert!(err.contains("ferry probe"), "{err}");
}

#[test]
fn pip_ini_under_appdata_is_read() {
    let index = index();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("appdata/pip")).unwrap();
    std::fs::write(
        d.join("appdata/pip/pip.ini"),
        format!("[global]\nindex-url = {}\n", index.url),
    )
    .unwrap();
    std::fs::write(d.join("requirements.txt"), "tinydep\n").unwrap();
    ok(ferry(d)
        .args(["lock", "-r", "requirements.txt", "--no-pip"])
        .args(["--python-version", "3.11", "--platform", "win_amd64"])
        .env_remove("PIP_CONFIG_FILE")
        .env("HOME", d.join("home"))
        .env("XDG_CONFIG_HOME", d.join("home/.config"))
        .env("APPDATA", d.join("appdata")));
    let lock = std::fs::read_to_string(d.join("ferry.lock")).unwrap();
    assert!(lock.contains(&index.base()), "{lock}");
    assert!(index.requested("/simple/tinydep/") > 0);
}

/// Every path under `root`, with what it is.
fn walk(root: &Path) -> Vec<(PathBuf, std::fs::FileType)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            }
            out.push((e.path(), ft));
        }
    }
    out
}

#[test]
fn a_windows_bundle_installs_into_a_windows_layout_venv_and_a_symlink_free_cache() {
    let index = index();
    let hub = HubServer::start();
    hub.add_model("org/tiny-clip", text_model_repo());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keys(d);
    std::fs::write(d.join("requirements.txt"), "hello-app\n").unwrap();
    ok(ferry(d)
        .args([
            "bundle",
            "-r",
            "requirements.txt",
            "--index-url",
            &index.url,
        ])
        .args([
            "--model",
            "org/tiny-clip",
            "--include",
            "*.json",
            "--include",
            "*.safetensors",
        ])
        .args(["--hf-endpoint", &hub.url])
        .args(["--python-version", "3.11", "--platform", "win_amd64"])
        .args(["-s", "k", "-o", "w.ferry.tar"]));
    // The folder `py -m venv` makes on Windows; its python.exe does not run here and is not asked.
    let venv = d.join("winvenv");
    std::fs::create_dir_all(venv.join("Scripts")).unwrap();
    std::fs::create_dir_all(venv.join("Lib/site-packages")).unwrap();
    std::fs::write(venv.join("Scripts/python.exe"), b"MZ").unwrap();
    std::fs::write(
        venv.join("pyvenv.cfg"),
        "home = C:\\Python311\r\ninclude-system-site-packages = false\r\nversion = 3.11.9\r\n",
    )
    .unwrap();
    let out = ok(ferry(d).args([
        "install",
        "w.ferry.tar",
        "-p",
        "k.pub",
        "--venv",
        "winvenv",
        "--hf-home",
        "hf",
    ]));
    assert!(
        out.contains("set HF_HOME=") && out.contains("Scripts\\activate"),
        "{out}"
    );
    let site = venv.join("Lib/site-packages");
    assert!(site.join("hello_app/__init__.py").is_file());
    assert!(site.join("tinydep").exists() || site.join("tinydep.py").exists());
    assert!(!venv.join("bin").exists() && !venv.join("lib").exists());
    // Console scripts: NAME.cmd + NAME-script.py, recorded in RECORD with paths relative to site-packages.
    let cmd = std::fs::read_to_string(venv.join("Scripts/hello-app.cmd")).unwrap();
    assert!(
        cmd.contains("%~dp0python.exe") && cmd.contains("hello-app-script.py"),
        "{cmd}"
    );
    let record = std::fs::read_dir(&site)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("hello_app-"))
        .map(|e| std::fs::read_to_string(e.path().join("RECORD")).unwrap())
        .unwrap();
    assert!(record.contains("../../Scripts/hello-app.cmd"), "{record}");

    // The models: real files in snapshots/COMMIT/, no symlinks, no blobs.
    let repo = d.join("hf/hub/models--org--tiny-clip");
    let entries = walk(&repo);
    assert!(
        entries.iter().all(|(_, ft)| !ft.is_symlink()),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|(p, ft)| !(ft.is_file() && p.starts_with(repo.join("blobs")))),
        "{entries:?}"
    );
    let commit = std::fs::read_to_string(repo.join("refs/main")).unwrap();
    assert!(repo
        .join("snapshots")
        .join(&commit)
        .join("config.json")
        .is_file());

    // The judges: the installed code runs (pure Python runs on this host too) and huggingface_hub loads the
    // model from that cache offline.
    let out = ok(Command::new(test_python())
        .arg(venv.join("Scripts/hello-app-script.py"))
        .env("PYTHONPATH", &site));
    assert_eq!(out.trim(), "hello 1.5");
    let out = ok(Command::new(test_python())
        .args([
            "-c",
            "from huggingface_hub import hf_hub_download, snapshot_download; import os\n\
             p = snapshot_download('org/tiny-clip'); print(sorted(os.listdir(p)))\n\
             print(open(hf_hub_download('org/tiny-clip', 'config.json')).read())",
        ])
        .env("HF_HUB_CACHE", d.join("hf/hub"))
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HOME"));
    assert!(
        out.contains("config.json") && out.contains("model.safetensors") && out.contains("clip"),
        "{out}"
    );
}
