//! Install tests' fixtures: real wheels built with the zip crate, an extracted-bundle staging folder with its
//! ferry.json, venvs made by the machine's python3, and a whole-tree fingerprint to prove "nothing changed".
#![allow(dead_code)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha2::Digest;

use ferry::lock::{DistKind, Lock, LockedModel, LockedModelFile, LockedPackage};
use ferry::target::Target;

fn record_hash(data: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(data))
    )
}

/// A wheel under construction. RECORD is computed from the members unless told to lie.
pub struct WheelBuilder {
    pub name: String,
    pub version: String,
    files: Vec<(String, Vec<u8>, u32)>,
    requires: Vec<String>,
    requires_python: Option<String>,
    extras: Vec<String>,
    tag: String,
    entry_points: Option<String>,
    lie_about: Option<String>,
    unlisted: Vec<(String, Vec<u8>)>,
    meta: Vec<String>,
}

impl WheelBuilder {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            files: Vec::new(),
            requires: Vec::new(),
            requires_python: None,
            extras: Vec::new(),
            tag: "py3-none-any".into(),
            entry_points: None,
            lie_about: None,
            unlisted: Vec::new(),
            meta: Vec::new(),
        }
    }
    /// An extra METADATA header line, e.g. `License-Expression: MIT`.
    pub fn meta(mut self, line: &str) -> Self {
        self.meta.push(line.into());
        self
    }
    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files
            .push((path.into(), content.as_bytes().to_vec(), 0o644));
        self
    }
    /// `{name}-{ver}.data/scripts/<name>`.
    pub fn data_script(mut self, name: &str, content: &str) -> Self {
        let p = format!("{}/scripts/{name}", self.data_dir());
        self.files.push((p, content.as_bytes().to_vec(), 0o755));
        self
    }
    /// `{name}-{ver}.data/data/<path>`.
    pub fn data_file(mut self, path: &str, content: &str) -> Self {
        let p = format!("{}/data/{path}", self.data_dir());
        self.files.push((p, content.as_bytes().to_vec(), 0o644));
        self
    }
    pub fn file_bytes(mut self, path: &str, content: &[u8]) -> Self {
        self.files.push((path.into(), content.to_vec(), 0o644));
        self
    }
    /// The wheel's tag triple(s), e.g. `cp310-cp310-win_amd64`.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.into();
        self
    }
    pub fn requires_python(mut self, spec: &str) -> Self {
        self.requires_python = Some(spec.into());
        self
    }
    pub fn extra(mut self, name: &str) -> Self {
        self.extras.push(name.into());
        self
    }
    pub fn requires(mut self, req: &str) -> Self {
        self.requires.push(req.into());
        self
    }
    pub fn entry_points(mut self, text: &str) -> Self {
        self.entry_points = Some(text.into());
        self
    }
    /// RECORD carries a wrong hash for this member.
    pub fn lie_about(mut self, member: &str) -> Self {
        self.lie_about = Some(member.into());
        self
    }
    /// A member written with this exact name (e.g. `../evil`), listed in RECORD.
    pub fn raw_member(mut self, name: &str, content: &str) -> Self {
        self.unlisted
            .push((name.into(), content.as_bytes().to_vec()));
        self
    }

    fn dist(&self) -> String {
        self.name.replace('-', "_")
    }
    pub fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.dist(), self.version)
    }
    fn data_dir(&self) -> String {
        format!("{}-{}.data", self.dist(), self.version)
    }
    pub fn filename(&self) -> String {
        format!("{}-{}-{}.whl", self.dist(), self.version, self.tag)
    }

    /// Write the wheel into `dir`; returns its path.
    pub fn build(&self, dir: &Path) -> PathBuf {
        let path = dir.join(self.filename());
        std::fs::write(&path, self.bytes()).unwrap();
        path
    }

    /// The wheel's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let di = self.dist_info();
        let mut members: Vec<(String, Vec<u8>, u32)> = self.files.clone();
        let mut metadata = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if let Some(rp) = &self.requires_python {
            metadata.push_str(&format!("Requires-Python: {rp}\n"));
        }
        for line in &self.meta {
            metadata.push_str(line);
            metadata.push('\n');
        }
        for e in &self.extras {
            metadata.push_str(&format!("Provides-Extra: {e}\n"));
        }
        for r in &self.requires {
            metadata.push_str(&format!("Requires-Dist: {r}\n"));
        }
        members.push((format!("{di}/METADATA"), metadata.into_bytes(), 0o644));
        members.push((
            format!("{di}/WHEEL"),
            format!(
                "Wheel-Version: 1.0\nGenerator: ferry-tests\nRoot-Is-Purelib: {}\nTag: {}\n",
                self.tag.ends_with("-none-any"),
                self.tag
            )
            .into_bytes(),
            0o644,
        ));
        if let Some(ep) = &self.entry_points {
            members.push((
                format!("{di}/entry_points.txt"),
                ep.clone().into_bytes(),
                0o644,
            ));
        }
        for (n, c) in &self.unlisted {
            members.push((n.clone(), c.clone(), 0o644));
        }
        let mut record = String::new();
        for (path, content, _) in &members {
            let hash = if self.lie_about.as_deref() == Some(path.as_str()) {
                record_hash(b"something else")
            } else {
                record_hash(content)
            };
            let quoted = if path.contains(',') {
                format!("\"{path}\"")
            } else {
                path.clone()
            };
            record.push_str(&format!("{quoted},{hash},{}\n", content.len()));
        }
        record.push_str(&format!("{di}/RECORD,,\n"));
        members.push((format!("{di}/RECORD"), record.into_bytes(), 0o644));

        let mut buf = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buf);
        for (name, content, mode) in members {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(mode);
            zip.start_file(name, opts).unwrap();
            zip.write_all(&content).unwrap();
        }
        zip.finish().unwrap();
        buf.into_inner()
    }
}

/// An extracted bundle: `ferry.json`, `wheels/`, `models/hub/`.
pub struct Staging {
    pub dir: PathBuf,
    pub lock: Lock,
}

pub fn host_target() -> Target {
    ferry::host::detect(None).expect("python3 runs")
}

impl Staging {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("wheels")).unwrap();
        std::fs::create_dir_all(dir.join("models/hub")).unwrap();
        Self {
            dir: dir.to_path_buf(),
            lock: Lock {
                format: 1,
                tool: "ferry tests".into(),
                name: "test".into(),
                created: 0,
                targets: vec![host_target()],
                inputs: vec![],
                requirements: vec![],
                indexes: vec![],
                hf_endpoint: None,
                packages: vec![],
                models: vec![],
                files: vec![],
                local_paths: vec![],
                skipped: vec![],
                torch: vec![],
                delta: None,
            },
        }
    }

    /// Build a wheel into `wheels/` and list it in the lock.
    pub fn add_wheel(&mut self, w: &WheelBuilder, requested: bool) {
        let path = w.build(&self.dir.join("wheels"));
        let bytes = std::fs::read(&path).unwrap();
        self.lock.packages.push(LockedPackage {
            name: w.name.parse().unwrap(),
            version: w.version.clone(),
            filename: w.filename(),
            kind: DistKind::Wheel,
            url: format!("file:///{}", w.filename()),
            sha256: ferry::types::Sha256::digest(&bytes),
            size: bytes.len() as u64,
            targets: self.lock.targets.iter().map(Target::id).collect(),
            requested,
            reason: None,
            needs_compiler: false,
            built_from: None,
        });
        self.save();
    }

    /// Add a model repo laid out as the bundle carries it: blobs, snapshot symlinks, refs/<revision>.
    /// `files`: (path, content, lfs).
    pub fn add_model(
        &mut self,
        repo: &str,
        revision: &str,
        commit: &str,
        files: &[(&str, &[u8], bool)],
    ) {
        let folder = self
            .dir
            .join("models/hub")
            .join(format!("models--{}", repo.replace('/', "--")));
        let mut locked = Vec::new();
        for (path, content, lfs) in files {
            let sha = ferry::types::Sha256::digest(content);
            let blob = if *lfs {
                sha.to_string()
            } else {
                git_blob_sha1(content)
            };
            std::fs::create_dir_all(folder.join("blobs")).unwrap();
            std::fs::write(folder.join("blobs").join(&blob), content).unwrap();
            let link = folder.join("snapshots").join(commit).join(path);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            let up = "../".repeat(2 + path.matches('/').count());
            let _ = std::os::unix::fs::symlink(format!("{up}blobs/{blob}"), &link);
            locked.push(LockedModelFile {
                path: path.to_string(),
                blob,
                sha256: Some(sha),
                size: content.len() as u64,
                lfs: *lfs,
            });
        }
        std::fs::create_dir_all(folder.join("refs")).unwrap();
        std::fs::write(folder.join("refs").join(revision), commit).unwrap();
        self.lock.models.push(LockedModel {
            repo: repo.parse().unwrap(),
            kind: Default::default(),
            revision: revision.into(),
            commit: commit.parse().unwrap(),
            source_repo: None,
            reason: None,
            origins: vec![],
            files: locked,
        });
        self.save();
    }

    pub fn save(&self) {
        std::fs::write(self.dir.join("ferry.json"), self.lock.to_json()).unwrap();
    }
}

pub fn git_blob_sha1(content: &[u8]) -> String {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

/// A venv made by the machine's python3 (no pip: ferry needs none).
pub fn make_venv(dir: &Path) -> PathBuf {
    run(Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(dir));
    dir.to_path_buf()
}

/// Run a command; panic with its output when it fails. Returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "command failed: {cmd:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The host's pip driving the venv's interpreter (`pip --python`, pip ≥ 22.3).
pub fn pip(venv: &Path, args: &[&str]) -> String {
    run(Command::new("python3")
        .args(["-m", "pip", "--disable-pip-version-check", "--python"])
        .arg(venv.join("bin/python"))
        .args(args)
        .env("PIP_NO_INDEX", "1"))
}

/// Every entry under `root` with its kind, mode and content (or link target), sorted: equal strings mean
/// byte-identical trees.
pub fn fingerprint(root: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mut lines = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                lines.push(format!(
                    "L {rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if meta.is_dir() {
                lines.push(format!("D {rel} {mode:o}"));
                stack.push(p);
            } else {
                let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&p).unwrap()));
                lines.push(format!("F {rel} {mode:o} {sha}"));
            }
        }
    }
    lines.sort();
    lines.join("\n")
}
