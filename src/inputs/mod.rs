//! Inputs → one [`Plan`]: requirements files, LoRA training configs, manifests and flags.
//! Nothing here touches the network.
use std::fmt;
use std::path::PathBuf;

use crate::target::Target;
use crate::types::{RepoId, RepoKind, Sha256};

pub mod config;
pub mod manifest;
pub mod pep508;
pub mod plan;
pub mod reference;
pub mod requirements;
pub mod settings;

pub use settings::InputSettings;
pub mod trainers;

/// An index URL from an input file: http, https or file.
pub(crate) fn check_index_url(option: &str, value: &str) -> Result<(), String> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https" | "file") => Ok(()),
        Ok(u) => Err(format!(
            "{option} '{value}': unsupported URL scheme '{}' (expected http, https or file)",
            u.scheme()
        )),
        Err(e) => Err(format!(
            "{option} '{value}' is not a URL ({e}); expected e.g. http://HOST/simple/"
        )),
    }
}

/// Where an input item came from, for error messages (`file:line`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One requirement with where it came from and the hashes pinned for it (`--hash`).
#[derive(Clone, Debug)]
pub struct Requirement {
    pub req: pep508_rs::Requirement,
    pub hashes: Vec<Sha256>,
    pub origin: Option<Origin>,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(o) => write!(f, "{o}: {}", self.req),
            None => write!(f, "{}", self.req),
        }
    }
}

/// `--only-binary` / `--no-binary` as pip reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BinaryRule {
    #[default]
    None,
    All,
    Packages(Vec<pep508_rs::PackageName>),
}

impl BinaryRule {
    pub fn applies(&self, name: &pep508_rs::PackageName) -> bool {
        match self {
            BinaryRule::None => false,
            BinaryRule::All => true,
            BinaryRule::Packages(v) => v.contains(name),
        }
    }
}

/// Index options collected from requirements files and flags.
#[derive(Clone, Debug, Default)]
pub struct IndexOptions {
    /// Last `-i/--index-url` seen (applies to the whole run).
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub find_links: Vec<String>,
    pub no_index: bool,
    pub pre: bool,
    pub only_binary: BinaryRule,
    pub no_binary: BinaryRule,
    pub prefer_binary: bool,
    pub require_hashes: bool,
    /// `--trusted-host` values: fine for plain-http indexes; an https index on one is refused (ferry does
    /// not switch TLS verification off; give the host's CA with `SSL_CERT_FILE` or `PIP_CERT`).
    pub trusted_hosts: Vec<String>,
    /// How a project listed on several indexes is chosen (`--index-strategy`).
    pub index_strategy: IndexStrategy,
    /// Named indexes from a manifest (`indexes:`), in order.
    pub named: Vec<NamedIndex>,
    /// Packages pinned to a named index (`package_indexes:`): only that index serves them.
    pub pins: Vec<(pep508_rs::PackageName, String)>,
    /// `--torch-backend`.
    pub torch_backend: crate::accel::TorchMode,
    /// `--torch-index-base` (else `FERRY_TORCH_INDEX_BASE`).
    pub torch_index_base: Option<String>,
}

/// `--index-strategy`: which index a project found on several comes from (see docs/pytorch-cuda.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IndexStrategy {
    /// ferry's default: versions from the first index that lists the project first; a version that index
    /// lacks, or has no file for the target, from the next index that has one.
    #[default]
    FirstMatch,
    /// uv: only the first index that lists the project.
    FirstIndex,
    /// uv: every index, all versions of the first before any of the next; a version listed on an earlier
    /// index is never taken from a later one.
    UnsafeFirstMatch,
    /// uv: every index, the best version wherever it is (the first index's entry for a version on several).
    UnsafeBestMatch,
}

impl std::str::FromStr for IndexStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "first-match" => Ok(IndexStrategy::FirstMatch),
            "first-index" => Ok(IndexStrategy::FirstIndex),
            "unsafe-first-match" => Ok(IndexStrategy::UnsafeFirstMatch),
            "unsafe-best-match" => Ok(IndexStrategy::UnsafeBestMatch),
            _ => Err(format!(
                "unknown index strategy '{s}' (expected first-match, first-index, unsafe-first-match or unsafe-best-match)"
            )),
        }
    }
}

/// An index with a name, from a manifest. An explicit index serves only the packages pinned to it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedIndex {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub explicit: bool,
}

/// A model the bundle must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRequest {
    pub repo: RepoId,
    pub kind: RepoKind,
    /// Branch, tag or commit; `main` when absent.
    pub revision: Option<String>,
    /// A single file to fetch (from a hub file URL or config value); otherwise the repo (filtered).
    pub file: Option<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Precision variant for diffusers pipelines (e.g. fp16).
    pub variant: Option<String>,
    /// Why it was added when the user did not name it ("added because …").
    pub reason: Option<String>,
    /// Where it was named (config file and key, or flag).
    pub origin: String,
    /// Which files of the repo, when neither `file` nor `include` says.
    pub pick: Pick,
}

/// Which files of a repo a request means, besides the user's include/exclude globs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Pick {
    /// A diffusers pipeline: what `from_pretrained` loads; any other repo: everything but duplicate weights.
    #[default]
    Default,
    /// The model a training config trains: as `Default`, without what training never opens (the safety
    /// checker of a pipeline).
    Training,
    /// A checkpoint the trainer loads from one file (Flux, SD3, … in sd-scripts) named as a repo: the weight
    /// files at the repo's root.
    RootWeights,
    /// A VAE: the `vae/` folder of a pipeline repo, else as `Default`.
    Vae,
    /// Tokenizer files only (in `folder` when given).
    Tokenizer { folder: Option<String> },
    /// One folder of the repo, as `Default` picks inside it.
    Folder(String),
    /// The files sd-scripts' WD14 tagger downloads (ONNX or Keras model, tag list).
    Tagger,
}

/// Where a file that is not on a hub comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileSource {
    /// An existing local file (absolute path).
    Local(PathBuf),
    /// A plain http(s) URL on a host that is not a hub.
    Url(url::Url),
}

/// A file that is not on a hub, carried under `files/` in the bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRequest {
    pub source: FileSource,
    /// The relative path under `files/` (the config-relative path of a local file); for a URL, decided when
    /// it is fetched (Content-Disposition, else the URL's last segment).
    pub name: Option<String>,
    /// Where it was named (config file:line and key).
    pub origin: String,
}

/// A manifest's `mirrors:` lists: candidates for `--mirror auto` of each kind, as URLs or `{url, name}`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorLists {
    #[serde(default)]
    pub index: Vec<MirrorEntry>,
    #[serde(default)]
    pub hub: Vec<MirrorEntry>,
    #[serde(default)]
    pub torch: Vec<MirrorEntry>,
}

impl MirrorLists {
    /// Each kind's name (as in the mirrors file) with its list.
    pub fn kinds(&self) -> [(&'static str, &[MirrorEntry]); 3] {
        [
            ("index", &self.index),
            ("hub", &self.hub),
            ("torch", &self.torch),
        ]
    }
}

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(from = "MirrorForm")]
pub struct MirrorEntry {
    pub url: String,
    pub name: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum MirrorForm {
    Url(String),
    Table {
        url: String,
        #[serde(default)]
        name: Option<String>,
    },
}

impl From<MirrorForm> for MirrorEntry {
    fn from(f: MirrorForm) -> Self {
        match f {
            MirrorForm::Url(url) => MirrorEntry { url, name: None },
            MirrorForm::Table { url, name } => MirrorEntry { url, name },
        }
    }
}

/// Everything a run must carry, before resolution.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub name: String,
    pub targets: Vec<Target>,
    pub requirements: Vec<Requirement>,
    pub constraints: Vec<Requirement>,
    pub index: IndexOptions,
    /// Hub endpoint from the flag or the manifest (`HF_ENDPOINT` and the default are the fetcher's).
    pub hf_endpoint: Option<String>,
    pub models: Vec<ModelRequest>,
    /// Files that are not on a hub (local files, plain URLs), carried under `files/`.
    pub files: Vec<FileRequest>,
    /// Local paths named by configs: reported, not fetched.
    pub local_paths: Vec<String>,
    /// Warnings from reading the inputs (`file:line: …`), shown by `lock` and `bundle`.
    pub warnings: Vec<String>,
    /// Lines skipped under `--skip-unbundlable`, with the reason.
    pub skipped: Vec<String>,
    /// Input files and flags, for the lock's record.
    pub inputs: Vec<String>,
    /// No target was given: the one target is this machine's.
    pub target_is_host: bool,
    /// The manifest's `mirrors:` lists and the manifest they come from.
    pub mirrors: MirrorLists,
    pub mirrors_origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A problem at a known place in an input file.
    #[error("{origin}: {message}")]
    At { origin: Origin, message: String },
    /// A problem with a whole file (cannot read, bad YAML/TOML/JSON without a line).
    #[error("{}: {message}", file.display())]
    File { file: PathBuf, message: String },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn at(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Error::At {
            origin: Origin {
                file: file.into(),
                line,
            },
            message: message.into(),
        }
    }
}
