//! Where mirror candidates come from: the user's own settings (flags, pip.conf, `PIP_*`, `UV_*`,
//! `HF_ENDPOINT`, `FERRY_TORCH_INDEX_BASE`), the user's mirrors file (`FERRY_MIRRORS`, default
//! `~/.config/ferry/mirrors.toml`) and the presets shipped with ferry (`presets.toml`).
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

/// The presets shipped with ferry (third-party public mirrors only).
pub const PRESETS: &str = include_str!("presets.toml");

/// What a mirror mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A Python package index (simple API root).
    Index,
    /// A model hub endpoint.
    Hub,
    /// A PyTorch wheel index root.
    Torch,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Index => "index",
            Kind::Hub => "hub",
            Kind::Torch => "torch",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place files of a kind can come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub kind: Kind,
    /// Without credentials (those stay with the auth layer).
    pub url: Url,
    pub name: String,
    /// Where it was configured ("PIP_INDEX_URL", a file path, "preset", …).
    pub origin: String,
}

/// The user's own settings, as given to this run.
#[derive(Clone, Debug, Default)]
pub struct Given {
    pub index_urls: Vec<(String, String)>,
    pub hub: Vec<(String, String)>,
    pub torch: Vec<(String, String)>,
    /// Named lists (a manifest's `mirrors:`): kind, URL, name, origin.
    pub listed: Vec<(Kind, String, Option<String>, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    #[error("mirror URL '{url}' ({origin}): {message}")]
    BadUrl {
        url: String,
        origin: String,
        message: String,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MirrorsFile {
    #[serde(default)]
    presets: Option<bool>,
    #[serde(default)]
    index: Vec<Entry>,
    #[serde(default)]
    hub: Vec<Entry>,
    #[serde(default)]
    torch: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    url: String,
    #[serde(default)]
    name: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `FERRY_MIRRORS`, else `~/.config/ferry/mirrors.toml`.
pub fn mirrors_file() -> Option<PathBuf> {
    env("FERRY_MIRRORS")
        .map(PathBuf::from)
        .or_else(|| dirs::config_dir().map(|d| d.join("ferry/mirrors.toml")))
}

fn parse_file(text: &str, file: &std::path::Path) -> Result<MirrorsFile, Error> {
    toml::from_str(text).map_err(|e| Error::File {
        file: file.to_path_buf(),
        message: e.to_string(),
    })
}

/// The index URLs of the user's environment and pip.conf (flags come in through [`Given`]).
pub fn from_environment() -> Given {
    let mut g = Given::default();
    for var in ["PIP_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX_URL"] {
        if let Some(v) = env(var) {
            g.index_urls.push((v, var.into()));
        }
    }
    for var in ["PIP_EXTRA_INDEX_URL", "UV_EXTRA_INDEX_URL"] {
        for v in env(var).iter().flat_map(|s| s.split_whitespace()) {
            g.index_urls.push((v.to_string(), var.into()));
        }
    }
    g.index_urls
        .extend(crate::fetch::sources::pip_conf_index_urls());
    if let Some(v) = env("HF_ENDPOINT") {
        g.hub.push((v, "HF_ENDPOINT".into()));
    }
    if let Some(v) = env("FERRY_TORCH_INDEX_BASE") {
        g.torch.push((v, "FERRY_TORCH_INDEX_BASE".into()));
    }
    g
}

/// Every candidate, the user's own first, then the mirrors file, then the presets (unless switched off).
pub fn collect(given: &Given) -> Result<Vec<Candidate>, Error> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut add = |kind: Kind, url: &str, name: Option<String>, origin: &str| {
        let mut u = Url::parse(url).map_err(|e| Error::BadUrl {
            url: url.into(),
            origin: origin.into(),
            message: e.to_string(),
        })?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(Error::BadUrl {
                url: url.into(),
                origin: origin.into(),
                message: "only http and https mirrors can be measured".into(),
            });
        }
        if !u.path().ends_with('/') {
            let p = format!("{}/", u.path());
            u.set_path(&p);
        }
        let u = crate::fetch::http::auth::take_credentials(&u);
        if !out.iter().any(|c| c.kind == kind && c.url == u) {
            let name = name.unwrap_or_else(|| u.host_str().unwrap_or("").to_string());
            out.push(Candidate {
                kind,
                url: u,
                name,
                origin: origin.into(),
            });
        }
        Ok(())
    };
    for (u, o) in &given.index_urls {
        add(Kind::Index, u, None, o)?;
    }
    for (u, o) in &given.hub {
        add(Kind::Hub, u, None, o)?;
    }
    for (u, o) in &given.torch {
        add(Kind::Torch, u, None, o)?;
    }
    for (kind, u, name, o) in &given.listed {
        add(*kind, u, name.clone(), o)?;
    }
    let mut presets = env("FERRY_MIRROR_PRESETS").is_none_or(|v| v != "0" && v != "false");
    if let Some(file) = mirrors_file() {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let f = parse_file(&text, &file)?;
            presets = presets && f.presets.unwrap_or(true);
            let origin = file.display().to_string();
            for (kind, list) in [
                (Kind::Index, &f.index),
                (Kind::Hub, &f.hub),
                (Kind::Torch, &f.torch),
            ] {
                for e in list {
                    add(kind, &e.url, e.name.clone(), &origin)?;
                }
            }
        }
    }
    if presets {
        let f = parse_file(PRESETS, std::path::Path::new("presets.toml"))?;
        for (kind, list) in [
            (Kind::Index, &f.index),
            (Kind::Hub, &f.hub),
            (Kind::Torch, &f.torch),
        ] {
            for e in list {
                add(kind, &e.url, e.name.clone(), "preset")?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_name_only_mirrors() {
        let f = parse_file(PRESETS, std::path::Path::new("presets.toml")).unwrap();
        assert!(!f.index.is_empty() && !f.hub.is_empty());
        for e in f.index.iter().chain(&f.hub).chain(&f.torch) {
            let u = Url::parse(&e.url).unwrap();
            let host = u.host_str().unwrap();
            // A mirror's host is never the registry's own: the presets are third-party mirrors.
            assert!(host.contains("mirror") || host.contains('.'), "{host}");
            assert_eq!(u.scheme(), "https");
        }
    }

    #[test]
    fn user_file_extends_and_switches_presets_off() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mirrors.toml");
        std::fs::write(
            &file,
            "presets = false\n[[index]]\nurl = \"http://127.0.0.1:9/simple\"\nname = \"lab\"\n",
        )
        .unwrap();
        let f = parse_file(&std::fs::read_to_string(&file).unwrap(), &file).unwrap();
        assert_eq!(f.presets, Some(false));
        assert_eq!(f.index[0].name.as_deref(), Some("lab"));
        assert!(parse_file("[[index]]\nurl = 1\n", &file).is_err());
    }
}
