//! Story: a reader copies the commands from the README and docs/ and they run as written. Every
//! ```` ```sh runnable ```` block of the files below runs with bash (`-euo pipefail`), in order, in one fresh
//! folder per file holding a requirements.txt and the repo's manifests/, against a local package index
//! (`PIP_INDEX_URL`, `FERRY_TORCH_INDEX_BASE`) and a local hub (`HF_ENDPOINT`) that serve the projects and
//! models the docs name.
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::hub_server::{diffusers_repo, safetensors, text_model_repo, HubServer, Repo};
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{describe, test_python};

/// Files whose runnable blocks are checked. Another document joins by being added here.
const DOCS: &[&str] = &[
    "README.md",
    "docs/guide.md",
    "docs/bundle-format.md",
    "docs/lock-format.md",
];

const REQUIREMENTS: &str = "requests>=2.31\ntqdm>=4.66\n";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ```` ```sh runnable ```` blocks of a Markdown file, with the line each starts on.
fn runnable_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match current.take() {
            None if line.trim_start().starts_with("```sh runnable") => {
                current = Some((i + 1, String::new()));
            }
            None => {}
            Some(block) if fence => out.push(block),
            Some((start, mut body)) => {
                body.push_str(line);
                body.push('\n');
                current = Some((start, body));
            }
        }
    }
    assert!(current.is_none(), "unclosed ```sh runnable block");
    out
}

/// The projects the docs and manifests/ name (small real wheels), and pip.
fn index() -> IndexServer {
    let s = IndexServer::start(Mode::Json);
    let specs = [
        WheelSpec::new("requests", "2.32.3")
            .requires(&["idna>=2.5", "PySocks>=1.5.6; extra == \"socks\""])
            .extras(&["socks"]),
        WheelSpec::new("idna", "3.7"),
        WheelSpec::new("PySocks", "1.7.1"),
        WheelSpec::new("tqdm", "4.66.4"),
        WheelSpec::new("packaging", "24.1"),
        WheelSpec::new("PyYAML", "6.0.2"),
        WheelSpec::new("colorama", "0.4.6"),
    ];
    for spec in specs {
        s.add(spec.name, &spec.filename(), spec.build());
    }
    let out = Command::new(test_python())
        .args([
            "-c",
            "import ensurepip, glob, os; print(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))[0])",
        ])
        .output()
        .unwrap();
    let pip = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    s.add(
        "pip",
        &pip.file_name().unwrap().to_string_lossy(),
        std::fs::read(&pip).unwrap(),
    );
    s
}

fn hub() -> HubServer {
    let hub = HubServer::start();
    hub.add_model("openai/clip-vit-large-patch14", text_model_repo());
    hub.add_model("runwayml/stable-diffusion-v1-5", diffusers_repo());
    hub.add_model(
        "stabilityai/sd-vae-ft-mse",
        Repo::new()
            .file(
                "config.json",
                br#"{"_class_name": "AutoencoderKL"}"#.to_vec(),
            )
            .file(
                "diffusion_pytorch_model.safetensors",
                safetensors(&[("w", &[4, 4])], 3),
            ),
    );
    hub
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn run_doc(doc: &str, index: &IndexServer, hub: &HubServer) {
    let text = std::fs::read_to_string(repo_root().join(doc)).unwrap();
    let blocks = runnable_blocks(&text);
    assert!(!blocks.is_empty(), "{doc} has no runnable block");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_dir(&repo_root().join("manifests"), &d.join("manifests"));
    std::fs::write(d.join("requirements.txt"), REQUIREMENTS).unwrap();
    let ferry_dir = Path::new(env!("CARGO_BIN_EXE_ferry")).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        ferry_dir.display(),
        test_python().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (line, block) in blocks {
        let mut c = Command::new("bash");
        c.args(["-euo", "pipefail", "-c", &block])
            .current_dir(d)
            .env("PATH", &path)
            .env("PIP_INDEX_URL", &index.url)
            .env("HF_ENDPOINT", &hub.url)
            .env("FERRY_TORCH_INDEX_BASE", format!("{}torch", index.base()))
            .env("FERRY_KEY_PASSWORD", "correct horse battery staple")
            .env("FERRY_CACHE_DIR", d.join(".ferry-cache"))
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env_remove("PIP_EXTRA_INDEX_URL")
            .env_remove("HF_TOKEN")
            .env_remove("HF_HOME")
            .env_remove("HF_HUB_CACHE")
            .env_remove("COLUMNS");
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{doc}:{line}: this block failed:\n{block}\n{}",
            describe(&c, &out)
        );
    }
}

#[test]
fn every_runnable_block_in_the_readme_and_docs_runs_as_written() {
    let index = index();
    let hub = hub();
    for doc in DOCS {
        run_doc(doc, &index, &hub);
    }
}

#[test]
fn the_readme_links_nothing_outside_the_repository() {
    let root = repo_root();
    let mut docs: Vec<PathBuf> = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            docs.push(e.path());
        }
    }
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        assert!(
            !text.contains("../shared"),
            "{} links ../shared",
            doc.display()
        );
        // Relative links point at files in the repository (other helpers' documents may still be on their way;
        // a link leaving the repository never is).
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap_or(rest.len())];
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let resolved = doc.parent().unwrap().join(file);
            let normal = std::path::absolute(&resolved).unwrap();
            let mut parts = Vec::new();
            for c in normal.components() {
                match c {
                    std::path::Component::ParentDir => {
                        parts.pop();
                    }
                    other => parts.push(other),
                }
            }
            let normal: PathBuf = parts.iter().collect();
            assert!(
                normal.starts_with(&root),
                "{}: link {target} leaves the repository",
                doc.display()
            );
        }
    }
}
