//! Where packages come from: index URLs and find-links, from flags, requirements files, the
//! environment and pip's configuration, in that order. No registry host is written here.
use std::path::{Path, PathBuf};

use url::Url;

use crate::accel::TorchMode;
use crate::inputs::{IndexOptions, IndexStrategy};
use crate::types::PackageName;

#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// Indexes in priority order: a project found on an earlier one is never taken from a later one.
    pub indexes: Vec<Url>,
    /// Local folders or URLs of HTML pages whose files are candidates too.
    pub find_links: Vec<String>,
    /// Where each index setting came from, for messages.
    pub origin: String,
    /// The order projects are looked up in (uv's): named indexes, extra indexes, then the default index.
    /// Explicit indexes and PyTorch indexes set aside for `--torch-backend` are not in it.
    pub search: Vec<Url>,
    /// `search` was set by [`configure`]; a `Sources` built by hand searches `indexes` in order.
    pub arranged: bool,
    pub strategy: IndexStrategy,
    /// Packages served by one index only (manifest `package_indexes:`).
    pub pinned: Vec<(PackageName, Url)>,
    /// `--torch-backend` and the root of the PyTorch indexes.
    pub torch: Option<TorchSources>,
    /// Lines for the user about how the indexes were arranged.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct TorchSources {
    pub mode: TorchMode,
    pub base: Url,
}

impl TorchSources {
    /// `BASE/<backend>/`.
    pub fn index(&self, backend: &crate::accel::TorchBackend) -> Url {
        self.base
            .join(&format!("{backend}/"))
            .expect("a backend name is a valid path segment")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid index URL '{url}' ({origin}): {reason}")]
    BadUrl {
        url: String,
        origin: String,
        reason: String,
    },
    #[error("--trusted-host {host}: ferry keeps TLS verification on for {url}; give the host's CA bundle with SSL_CERT_FILE or PIP_CERT instead")]
    TrustedHttps { host: String, url: String },
    #[error("no package index configured and `python3 -m pip` could not tell its default: pass --index-url or set PIP_INDEX_URL")]
    NoIndex,
    #[error("torch backend '{backend}' (--torch-backend or a manifest's torch_backend) needs the PyTorch wheel index root: set --torch-index-base or FERRY_TORCH_INDEX_BASE to your PyTorch wheel index root (or a mirror of it)")]
    NoTorchBase { backend: String },
    #[error("package_indexes: {package} names index '{index}', which is not defined")]
    UnknownIndex { package: String, index: String },
}

/// Settings read from pip.conf files (later files override earlier ones, as pip reads them).
#[derive(Debug, Default)]
struct PipConf {
    index_url: Option<(String, PathBuf)>,
    extra_index_urls: Vec<String>,
}

fn pip_conf_files() -> Vec<PathBuf> {
    if let Some(f) = std::env::var_os("PIP_CONFIG_FILE") {
        return vec![PathBuf::from(f)];
    }
    // pip's order: global, user, site; the Windows names (pip.ini under %PROGRAMDATA% and %APPDATA%) are
    // read wherever those variables are set, so the same code serves both kinds of host.
    let env_dir = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut files = vec![
        PathBuf::from("/etc/xdg/pip/pip.conf"),
        PathBuf::from("/etc/pip.conf"),
    ];
    if let Some(data) = env_dir("PROGRAMDATA") {
        files.push(data.join("pip").join("pip.ini"));
    }
    if let Some(home) = dirs::home_dir() {
        files.push(home.join(".pip/pip.conf"));
        files.push(home.join("pip").join("pip.ini"));
    }
    if let Some(cfg) = dirs::config_dir() {
        files.push(cfg.join("pip/pip.conf"));
    }
    if let Some(appdata) = env_dir("APPDATA") {
        files.push(appdata.join("pip").join("pip.ini"));
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        files.push(Path::new(&venv).join("pip.conf"));
        files.push(Path::new(&venv).join("pip.ini"));
    }
    files
}

/// Minimal INI reading of pip.conf: `[global]`, `[download]` and `[install]` sections,
/// `index-url` and `extra-index-url` (multi-line values allowed).
fn read_pip_conf() -> PipConf {
    let mut conf = PipConf::default();
    for file in pip_conf_files() {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut section = String::new();
        let mut key = String::new();
        for raw in text.lines() {
            let line = raw.trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with(['#', ';']) {
                continue;
            }
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']', ' ']).to_ascii_lowercase();
                key.clear();
                continue;
            }
            let relevant = matches!(section.as_str(), "global" | "download" | "install");
            let (k, v) = if raw.starts_with([' ', '\t']) && !key.is_empty() {
                (key.clone(), line.trim().to_string())
            } else if let Some((k, v)) = line.split_once(['=', ':']) {
                key = k.trim().to_ascii_lowercase().replace('_', "-");
                (key.clone(), v.trim().to_string())
            } else {
                continue;
            };
            if !relevant || v.is_empty() {
                continue;
            }
            match k.as_str() {
                "index-url" => conf.index_url = Some((v, file.clone())),
                "extra-index-url" => conf
                    .extra_index_urls
                    .extend(v.split_whitespace().map(str::to_string)),
                _ => {}
            }
        }
    }
    conf
}

/// The index URLs pip.conf names (`index-url` then `extra-index-url`), with the file they came from.
pub fn pip_conf_index_urls() -> Vec<(String, String)> {
    let conf = read_pip_conf();
    let mut out: Vec<(String, String)> = conf
        .index_url
        .into_iter()
        .map(|(u, f)| (u, f.display().to_string()))
        .collect();
    out.extend(
        conf.extra_index_urls
            .into_iter()
            .map(|u| (u, "pip.conf extra-index-url".to_string())),
    );
    out
}

/// Ask the local pip for its built-in default index, once.
fn pip_default_index() -> Option<String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
        ])
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn parse_index(url: &str, origin: &str) -> Result<Url, SourceError> {
    let bad = |reason: String| SourceError::BadUrl {
        url: url.into(),
        origin: origin.into(),
        reason,
    };
    let mut u = Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https" | "file") {
        return Err(bad("only http, https and file URLs are supported".into()));
    }
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    // `user:password@` stays with the auth layer, for this host only; the URL kept (and recorded in the
    // lock, shown in messages) has none.
    Ok(crate::fetch::http::auth::take_credentials(&u))
}

/// Combine the run's options (flags over requirements files) with the user's environment.
pub fn configure(opts: &IndexOptions) -> Result<Sources, SourceError> {
    let mut origin = "--index-url / requirements file".to_string();
    let conf = read_pip_conf();
    let primary = if opts.no_index {
        None
    } else if let Some(u) = &opts.index_url {
        Some(u.clone())
    } else if let Some(u) = env("PIP_INDEX_URL") {
        origin = "PIP_INDEX_URL".into();
        Some(u)
    } else if let Some((u, file)) = &conf.index_url {
        origin = file.display().to_string();
        Some(u.clone())
    } else if let Some(u) = env("UV_DEFAULT_INDEX").or_else(|| env("UV_INDEX_URL")) {
        origin = "UV_DEFAULT_INDEX".into();
        Some(u)
    } else {
        origin = "pip's default index".into();
        Some(pip_default_index().ok_or(SourceError::NoIndex)?)
    };
    let mut indexes = Vec::new();
    if let Some(p) = primary {
        indexes.push(parse_index(&p, &origin)?);
    }
    if !opts.no_index {
        let mut extras: Vec<(String, &str)> = opts
            .extra_index_urls
            .iter()
            .map(|u| (u.clone(), "--extra-index-url"))
            .collect();
        extras.extend(
            env("PIP_EXTRA_INDEX_URL")
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(|u| (u.to_string(), "PIP_EXTRA_INDEX_URL")),
        );
        extras.extend(
            conf.extra_index_urls
                .iter()
                .map(|u| (u.clone(), "pip.conf")),
        );
        for (u, o) in extras {
            let url = parse_index(&u, o)?;
            if !indexes.contains(&url) {
                indexes.push(url);
            }
        }
    }
    for host in &opts.trusted_hosts {
        let bare = host.split(':').next().unwrap_or(host);
        if let Some(u) = indexes
            .iter()
            .find(|u| u.scheme() == "https" && u.host_str() == Some(bare))
        {
            return Err(SourceError::TrustedHttps {
                host: host.clone(),
                url: redact(u),
            });
        }
    }
    arrange(
        Sources {
            indexes,
            find_links: opts.find_links.clone(),
            origin,
            ..Sources::default()
        },
        opts,
        env("FERRY_TORCH_INDEX_BASE"),
    )
}

/// Whether an index URL names a PyTorch backend root (`…/cu121/`, `…/cpu/`, `…/rocm6.2/`, `…/xpu/`).
fn is_backend_root(url: &Url) -> bool {
    url.path_segments()
        .and_then(|mut s| s.rfind(|p| !p.is_empty()))
        .is_some_and(|last| last.parse::<crate::accel::TorchBackend>().is_ok())
}

/// Search order, named and explicit indexes, pins and the torch base. `torch_base_env` is
/// `FERRY_TORCH_INDEX_BASE`.
fn arrange(
    mut s: Sources,
    opts: &IndexOptions,
    torch_base_env: Option<String>,
) -> Result<Sources, SourceError> {
    s.strategy = opts.index_strategy;
    let mut named = Vec::new();
    let mut explicit = Vec::new();
    for ix in &opts.named {
        let url = parse_index(&ix.url, &format!("index '{}'", ix.name))?;
        if ix.explicit {
            explicit.push(url.clone());
        }
        named.push((ix.name.clone(), url));
    }
    for (package, index) in &opts.pins {
        let url = named
            .iter()
            .find(|(n, _)| n == index)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| SourceError::UnknownIndex {
                package: package.to_string(),
                index: index.clone(),
            })?;
        s.pinned.push((package.clone(), url));
    }
    if opts.torch_backend != TorchMode::None {
        let base = opts
            .torch_index_base
            .clone()
            .or(torch_base_env)
            .ok_or_else(|| SourceError::NoTorchBase {
                backend: match &opts.torch_backend {
                    TorchMode::Fixed(b) => b.to_string(),
                    _ => "auto".into(),
                },
            })?;
        s.torch = Some(TorchSources {
            mode: opts.torch_backend.clone(),
            base: parse_index(&base, "--torch-index-base")?,
        });
    }
    // Named (non-explicit) indexes, then extras, then the default index.
    let mut order: Vec<Url> = named
        .iter()
        .map(|(_, u)| u.clone())
        .filter(|u| !explicit.contains(u))
        .collect();
    let (default, extras) = match opts.no_index {
        true => (None, &s.indexes[..]),
        false => (s.indexes.first(), s.indexes.get(1..).unwrap_or(&[])),
    };
    order.extend(extras.iter().cloned());
    order.extend(default.cloned());
    let mut search = Vec::new();
    for u in order {
        if search.contains(&u) || explicit.contains(&u) {
            continue;
        }
        if let Some(t) = &s.torch {
            if u.as_str().starts_with(t.base.as_str()) || is_backend_root(&u) {
                s.notes.push(format!(
                    "{} is a PyTorch index: with --torch-backend only the PyTorch family comes from {}",
                    redact(&u),
                    redact(&t.base)
                ));
                continue;
            }
        }
        search.push(u);
    }
    s.search = search;
    s.arranged = true;
    for (_, u) in named {
        if !s.indexes.contains(&u) {
            s.indexes.push(u);
        }
    }
    Ok(s)
}

impl Sources {
    /// The indexes a project is looked up on, in order.
    pub fn search_order(&self) -> &[Url] {
        match self.arranged {
            true => &self.search,
            false => &self.indexes,
        }
    }

    /// The PyTorch backend of a target, why, and its index (None without `--torch-backend`).
    /// `FERRY_CUDA_DRIVER_VERSION` where the lock runs overrides the driver the target's probe recorded.
    pub fn torch_for(&self, target: &crate::target::Target) -> Option<(crate::accel::Choice, Url)> {
        let t = self.torch.as_ref()?;
        let env_driver = env("FERRY_CUDA_DRIVER_VERSION");
        let choice = crate::accel::choose(&t.mode, target, env_driver.as_deref())?;
        let url = t.index(&choice.backend);
        Some((choice, url))
    }
}

/// Remember the credentials in the index URLs a `--locked` run is given (flags and the pip/uv
/// environment variables), without asking pip for its default: the lock already names every file.
pub fn remember_credentials(settings: &crate::inputs::InputSettings) {
    let from_env = [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "UV_DEFAULT_INDEX",
        "UV_INDEX_URL",
    ]
    .into_iter()
    .filter_map(env)
    .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>());
    let urls = settings
        .index_url
        .iter()
        .chain(&settings.extra_index_urls)
        .cloned()
        .chain(from_env);
    for u in urls {
        if let Ok(url) = Url::parse(&u) {
            crate::fetch::http::auth::take_credentials(&url);
        }
    }
}

/// A URL safe to print or record: user and password removed.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_and_urls_get_a_slash() {
        let opts = IndexOptions {
            index_url: Some("http://127.0.0.1:9/simple".into()),
            extra_index_urls: vec![
                "http://127.0.0.1:9/extra/".into(),
                "http://127.0.0.1:9/simple/".into(),
            ],
            ..Default::default()
        };
        let s = configure(&opts).unwrap();
        assert_eq!(s.indexes.len(), 2);
        assert_eq!(s.indexes[0].as_str(), "http://127.0.0.1:9/simple/");
        assert!(configure(&IndexOptions {
            index_url: Some("ftp://x/".into()),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn extras_before_the_default_explicit_and_pytorch_indexes_aside() {
        let opts = IndexOptions {
            index_url: Some("http://127.0.0.1:9/simple".into()),
            extra_index_urls: vec![
                "http://127.0.0.1:9/extra".into(),
                "http://127.0.0.1:8/whl/cu121".into(),
            ],
            named: vec![
                crate::inputs::NamedIndex {
                    name: "corp".into(),
                    url: "http://127.0.0.1:7/corp".into(),
                    explicit: false,
                },
                crate::inputs::NamedIndex {
                    name: "pt".into(),
                    url: "http://127.0.0.1:6/pt".into(),
                    explicit: true,
                },
            ],
            pins: vec![("torch".parse().unwrap(), "pt".into())],
            ..Default::default()
        };
        let s = configure(&opts).unwrap();
        let order: Vec<&str> = s.search_order().iter().map(Url::as_str).collect();
        assert_eq!(
            order,
            [
                "http://127.0.0.1:7/corp/",
                "http://127.0.0.1:9/extra/",
                "http://127.0.0.1:8/whl/cu121/",
                "http://127.0.0.1:9/simple/"
            ]
        );
        assert_eq!(s.pinned[0].1.as_str(), "http://127.0.0.1:6/pt/");
        assert!(s.notes.is_empty());

        let torch = IndexOptions {
            torch_backend: TorchMode::Auto,
            ..opts.clone()
        };
        let e = arrange(Sources::default(), &torch, None).unwrap_err();
        assert!(e.to_string().contains("FERRY_TORCH_INDEX_BASE"), "{e}");
        let s = arrange(
            configure(&opts).unwrap(),
            &torch,
            Some("http://127.0.0.1:5/whl".into()),
        )
        .unwrap();
        assert!(
            !s.search.iter().any(|u| u.as_str().contains("cu121")),
            "{:?}",
            s.search
        );
        assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
        assert_eq!(
            s.torch.unwrap().index(&"cu124".parse().unwrap()).as_str(),
            "http://127.0.0.1:5/whl/cu124/"
        );
    }

    #[test]
    fn redacts_credentials() {
        let u = Url::parse("https://user:secret@mirror.example.invalid/simple/").unwrap();
        assert_eq!(redact(&u), "https://mirror.example.invalid/simple/");
    }
}
