//! Manifests (`manifests/*.yaml`): everything the flags say, saved. Paths inside are relative to the
//! manifest's folder; unknown keys are errors so that typos never pass silently.
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::Error;
use crate::target::Target;
use crate::types::{RepoId, RepoKind};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The manifest file itself (not a key).
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "targets")]
    raw_targets: Vec<ManifestTarget>,
    /// Validated targets (from `targets:`).
    #[serde(skip)]
    pub targets: Vec<Target>,
    /// Requirements files, resolved against the manifest's folder.
    #[serde(default)]
    pub requirements: Vec<PathBuf>,
    #[serde(default)]
    pub constraints: Vec<PathBuf>,
    #[serde(default)]
    pub configs: Vec<PathBuf>,
    #[serde(default)]
    pub models: Vec<ManifestModel>,
    #[serde(default)]
    pub index_url: Option<String>,
    #[serde(default)]
    pub extra_index_urls: Vec<String>,
    /// Local folders (resolved against the manifest's folder) or URLs.
    #[serde(default)]
    pub find_links: Vec<String>,
    #[serde(default)]
    pub hf_endpoint: Option<String>,
    #[serde(default)]
    pub pre: bool,
    /// Named indexes; `explicit: true` ones serve only the packages pinned to them.
    #[serde(default)]
    pub indexes: Vec<super::NamedIndex>,
    /// Package → name of the index that alone serves it.
    #[serde(default)]
    pub package_indexes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub index_strategy: Option<String>,
    /// `auto`, `cpu`, `cu121`, … (as `--torch-backend`).
    #[serde(default)]
    pub torch_backend: Option<String>,
    #[serde(default)]
    pub torch_index_base: Option<String>,
    /// Mirror candidates for `--mirror auto`, measured with the user's own settings.
    #[serde(default)]
    pub mirrors: super::MirrorLists,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestTarget {
    #[serde(deserialize_with = "python_version")]
    python: String,
    #[serde(default)]
    platforms: Vec<String>,
}

/// One `models:` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestModel {
    pub repo: RepoId,
    #[serde(default)]
    pub kind: RepoKind,
    #[serde(default)]
    pub revision: Option<String>,
    /// A single file of the repo instead of the (filtered) repo.
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub variant: Option<String>,
}

/// Read and validate a manifest.
pub fn read(path: &Path) -> Result<Manifest, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::File {
        file: path.to_path_buf(),
        message: format!("cannot read manifest: {e}"),
    })?;
    let mut m: Manifest = serde_yaml_ng::from_str(&text).map_err(|e| {
        let message = format!("invalid manifest: {e}");
        match e.location() {
            Some(loc) => Error::at(path, loc.line(), message),
            None => Error::File {
                file: path.to_path_buf(),
                message,
            },
        }
    })?;
    m.path = path.to_path_buf();
    let dir = path.parent().unwrap_or(Path::new(""));
    let relative = |p: &PathBuf| {
        if p.is_relative() {
            dir.join(p)
        } else {
            p.clone()
        }
    };
    m.requirements = m.requirements.iter().map(relative).collect();
    m.constraints = m.constraints.iter().map(relative).collect();
    m.configs = m.configs.iter().map(relative).collect();
    m.find_links = m
        .find_links
        .iter()
        .map(|f| {
            if f.contains("://") {
                f.clone()
            } else {
                relative(&PathBuf::from(f)).display().to_string()
            }
        })
        .collect();
    for (i, t) in m.raw_targets.iter().enumerate() {
        if t.platforms.is_empty() {
            return Err(located(
                path,
                &text,
                &t.python,
                format!("targets[{i}]: give at least one platform (e.g. platforms: [manylinux_2_28_x86_64])"),
            ));
        }
        let target = Target::new(&t.python, t.platforms.clone()).map_err(|e| {
            let needle = t
                .platforms
                .iter()
                .find(|p| Target::new("3.10", vec![p.to_string()]).is_err())
                .unwrap_or(&t.python);
            located(path, &text, needle, format!("targets[{i}]: {e}"))
        })?;
        m.targets.push(target);
    }
    if let Some(name) = &m.name {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !ok {
            return Err(located(
                path,
                &text,
                "name:",
                format!("name '{name}' must be letters, digits, '.', '_' or '-' (it names the bundle file)"),
            ));
        }
    }
    let urls = m.index_url.iter().map(|u| ("index_url", u));
    for (key, url) in urls.chain(m.extra_index_urls.iter().map(|u| ("extra_index_urls", u))) {
        super::check_index_url(key, url).map_err(|e| located(path, &text, url, e))?;
    }
    for ix in &m.indexes {
        super::check_index_url("indexes", &ix.url).map_err(|e| located(path, &text, &ix.url, e))?;
        if m.indexes.iter().filter(|o| o.name == ix.name).count() > 1 {
            return Err(located(
                path,
                &text,
                &ix.name,
                format!("indexes: the name '{}' is used twice", ix.name),
            ));
        }
    }
    for (package, index) in &m.package_indexes {
        if package.parse::<pep508_rs::PackageName>().is_err() {
            return Err(located(
                path,
                &text,
                package,
                format!("package_indexes: '{package}' is not a package name"),
            ));
        }
        if !m.indexes.iter().any(|i| &i.name == index) {
            let names: Vec<&str> = m.indexes.iter().map(|i| i.name.as_str()).collect();
            return Err(located(
                path,
                &text,
                &format!("{package}:"),
                format!(
                    "package_indexes: {package} names index '{index}', which is not under indexes: ({})",
                    if names.is_empty() { "none defined".to_string() } else { names.join(", ") }
                ),
            ));
        }
    }
    if let Some(s) = &m.index_strategy {
        s.parse::<super::IndexStrategy>().map_err(|e| {
            located(
                path,
                &text,
                "index_strategy",
                format!("index_strategy: {e}"),
            )
        })?;
    }
    if let Some(b) = &m.torch_backend {
        b.parse::<crate::accel::TorchMode>()
            .map_err(|e| located(path, &text, "torch_backend", format!("torch_backend: {e}")))?;
    }
    if let Some(u) = &m.torch_index_base {
        super::check_index_url("torch_index_base", u).map_err(|e| located(path, &text, u, e))?;
    }
    for (kind, list) in m.mirrors.kinds() {
        for e in list {
            let option = format!("mirrors.{kind}");
            super::check_index_url(&option, &e.url)
                .and_then(|()| match e.url.starts_with("file:") {
                    true => Err(format!(
                        "{option} '{}': only http and https mirrors can be measured",
                        e.url
                    )),
                    false => Ok(()),
                })
                .map_err(|err| located(path, &text, &e.url, err))?;
        }
    }
    for (i, model) in m.models.iter().enumerate() {
        if model.revision.as_deref().is_some_and(str::is_empty) {
            return Err(located(
                path,
                &text,
                model.repo.as_str(),
                format!("models[{i}]: empty revision"),
            ));
        }
    }
    Ok(m)
}

/// An error at the first line holding `needle`, or at the file when none does.
fn located(path: &Path, text: &str, needle: &str, message: String) -> Error {
    match text.lines().position(|l| l.contains(needle)) {
        Some(i) => Error::at(path, i + 1, message),
        None => Error::File {
            file: path.to_path_buf(),
            message,
        },
    }
}

/// Python versions must be strings: YAML reads `3.10` as the number 3.1.
fn python_version<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a Python version as a string, e.g. \"3.10\"")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            Err(E::custom(format!(
                "python: {v} is a number; quote the version (python: \"3.10\"), YAML reads 3.10 as 3.1"
            )))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            self.visit_f64(v as f64)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            self.visit_f64(v as f64)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> (tempfile::TempDir, Result<Manifest, Error>) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("m")).unwrap();
        let p = d.path().join("m/x.yaml");
        fs::write(&p, text).unwrap();
        let r = read(&p);
        (d, r)
    }

    /// Found by the broken-input table: an index URL that is no URL reached the fetcher unlocated.
    #[test]
    fn index_urls_must_be_urls() {
        let (_d, r) = manifest("name: demo\nindex_url: not-a-url\n");
        let e = r.unwrap_err().to_string();
        assert!(e.contains("x.yaml:2") && e.contains("not-a-url"), "{e}");
        let (_d, r) =
            manifest("extra_index_urls:\n  - http://127.0.0.1:1/simple\n  - ftp://127.0.0.1/x\n");
        let e = r.unwrap_err().to_string();
        assert!(e.contains("x.yaml:3") && e.contains("ftp"), "{e}");
    }

    #[test]
    fn full_manifest() {
        let (d, m) = manifest(
            r#"name: chara-lora
targets:
  - {python: "3.10", platforms: [manylinux_2_28_x86_64, manylinux_2_17_x86_64]}
  - python: "3.11"
    platforms: [win_amd64]
requirements: [requirements.txt, /abs/r.txt]
constraints: [pins.txt]
configs: [configs/chara_lora.yaml]
models:
  - repo: openai/clip-vit-large-patch14
    include: ["*.json", "*.txt"]
  - repo: org/model
    revision: v1
    exclude: ["*.ckpt"]
    variant: fp16
index_url: http://127.0.0.1:1/simple
extra_index_urls: [http://127.0.0.1:2/simple]
find_links: [wheels, http://127.0.0.1:3/links]
hf_endpoint: http://127.0.0.1:4
pre: true
"#,
        );
        let m = m.unwrap();
        let dir = d.path().join("m");
        assert_eq!(m.name.as_deref(), Some("chara-lora"));
        assert_eq!(m.targets.len(), 2);
        assert_eq!(m.targets[0].platforms.len(), 2);
        assert_eq!(m.targets[1].python, "3.11");
        assert_eq!(
            m.requirements,
            [dir.join("requirements.txt"), "/abs/r.txt".into()]
        );
        assert_eq!(m.constraints, [dir.join("pins.txt")]);
        assert_eq!(m.configs, [dir.join("configs/chara_lora.yaml")]);
        assert_eq!(m.models[0].include, ["*.json", "*.txt"]);
        assert_eq!(m.models[1].revision.as_deref(), Some("v1"));
        assert_eq!(m.models[1].variant.as_deref(), Some("fp16"));
        assert_eq!(m.find_links[0], dir.join("wheels").display().to_string());
        assert_eq!(m.find_links[1], "http://127.0.0.1:3/links");
        assert!(m.pre);
    }

    #[test]
    fn unknown_keys_are_errors_with_lines() {
        let (_d, m) = manifest("name: x\nrequirement: [r.txt]\n");
        let e = m.unwrap_err().to_string();
        assert!(e.contains("x.yaml:2:") && e.contains("requirement"), "{e}");
        let (_d, m) = manifest("models:\n  - repo: a/b\n    includes: ['*.json']\n");
        let e = m.unwrap_err().to_string();
        assert!(e.contains("x.yaml:3:") && e.contains("includes"), "{e}");
    }

    #[test]
    fn bad_values() {
        let (_d, m) = manifest("targets:\n  - python: 3.10\n    platforms: [win_amd64]\n");
        let e = m.unwrap_err().to_string();
        assert!(e.contains("x.yaml:2:") && e.contains("quote"), "{e}");
        let (_d, m) = manifest("targets:\n  - python: \"3.10\"\n    platforms: [amiga_68k]\n");
        let e = m.unwrap_err().to_string();
        assert!(e.contains("x.yaml:3:") && e.contains("amiga_68k"), "{e}");
        let (_d, m) = manifest("models:\n  - repo: org//name\n");
        let e = m.unwrap_err().to_string();
        assert!(e.contains("x.yaml:2:") && e.contains("org//name"), "{e}");
        let (_d, m) = manifest("pre: false\nname: ../evil\n");
        let e = m.unwrap_err().to_string();
        assert!(e.contains("x.yaml:2:") && e.contains("../evil"), "{e}");
        let (_d, m) = manifest("name: [unclosed\n");
        assert!(m.unwrap_err().to_string().contains("x.yaml:"));
    }
}
