//! What a config value names: a hub repo (`org/name`, `org/name@rev`), a file in one
//! (`org/name/path/in/repo.safetensors`, a `/resolve/` or `/blob/` URL on the hub or a mirror), a plain URL
//! on any other host, or a local file looked up as the trainer would (working directory, then the config's
//! folder).
use std::path::{Component, Path, PathBuf};

use crate::types::{RepoId, RepoKind};

/// A hub reference: `org/name`, `org/name@rev`, or a hub URL to a repo or a file in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubRef {
    pub repo: RepoId,
    pub kind: RepoKind,
    pub revision: Option<String>,
    pub file: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Hub(HubRef),
    /// An http(s) URL that is not a hub file URL.
    Url(url::Url),
    /// A local file or folder that exists: where it is, and the safe relative name it gets in the bundle.
    Local {
        path: PathBuf,
        name: String,
    },
    /// A local path that does not exist (as written).
    Missing(String),
    /// Not a model reference (a bare word such as an open_clip model name).
    Ignored,
    Bad(String),
}

/// Weight file endings: a value ending so is a file, never a repo id.
pub const WEIGHT_EXTENSIONS: &[&str] = &[
    ".safetensors",
    ".sft",
    ".ckpt",
    ".pt",
    ".pth",
    ".bin",
    ".onnx",
    ".gguf",
];

/// Host names of the hub itself (any other host is a mirror when its URL has the hub's shape).
const HUB_HOSTS: &[&str] = &["huggingface.co", "hf.co"];

/// Classify one value of a model key; `config_dir` is the config's folder.
pub fn classify(value: &str, config_dir: &Path) -> Reference {
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return classify_url(value);
    }
    let local = value.strip_prefix("file://").unwrap_or(value);
    if let Some(found) = find_local(local, config_dir) {
        return Reference::Local {
            name: bundle_name(local, &found),
            path: found,
        };
    }
    let bytes = value.as_bytes();
    let drive = bytes.len() > 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    let is_weight = WEIGHT_EXTENSIONS.iter().any(|e| lower.ends_with(e));
    let segments = value.split('/').count();
    if value.starts_with(['/', '~', '\\', '.'])
        || drive
        || lower.starts_with("file:")
        || (is_weight && segments <= 2)
    {
        return Reference::Missing(value.to_string());
    }
    if !value.contains('/') {
        // A bare word (`sdxl`, an open_clip model name, a legacy canonical id): not a hub org/name.
        return Reference::Ignored;
    }
    if segments >= 3 && !value.contains('@') {
        let last = value.rsplit('/').next().unwrap_or_default();
        if last.contains('.') {
            // `org/name/path/in/repo.safetensors`
            let mut parts = value.splitn(3, '/');
            let (org, name, file) = (parts.next(), parts.next(), parts.next());
            if let (Some(org), Some(name), Some(file)) = (org, name, file) {
                return match format!("{org}/{name}").parse::<RepoId>() {
                    Ok(repo) if safe_relative(file) => Reference::Hub(HubRef {
                        repo,
                        kind: RepoKind::Model,
                        revision: None,
                        file: Some(file.to_string()),
                    }),
                    Ok(_) => Reference::Bad(format!("unsafe path '{file}' in '{value}'")),
                    Err(e) => Reference::Bad(format!("{e} (and no such local path exists)")),
                };
            }
        }
    }
    match parse_repo_ref(value) {
        Ok(r) => Reference::Hub(r),
        Err(why) => Reference::Bad(format!("{why} (and no such local path exists)")),
    }
}

/// `value` as the trainer opens it: relative to the working directory, else to the config's folder.
fn find_local(value: &str, config_dir: &Path) -> Option<PathBuf> {
    if value.is_empty() {
        return None;
    }
    let expanded = match value.strip_prefix("~/") {
        Some(rest) => dirs::home_dir()?.join(rest),
        None => PathBuf::from(value),
    };
    if expanded.is_absolute() {
        return expanded.exists().then_some(expanded);
    }
    let cwd = std::env::current_dir().ok()?;
    [cwd.join(&expanded), config_dir.join(&expanded)]
        .into_iter()
        .find(|p| p.exists())
        .map(|p| std::path::absolute(&p).unwrap_or(p))
}

/// The path a local file gets under `files/` (and under `install --files-dir`): the value as written
/// when it is a plain relative path, else its file name.
fn bundle_name(value: &str, found: &Path) -> String {
    let rel: Vec<String> = Path::new(value)
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    let joined = rel.join("/");
    if !rel.is_empty() && !value.starts_with('~') && safe_relative(&joined) {
        joined
    } else {
        found
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into())
    }
}

/// A `/`-separated relative path with no empty, `.` or `..` segment and no backslash.
pub fn safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// `org/name`, `org/name@revision`, `org/name/path/to/file.ext` or a hub URL (as `--model` takes it).
pub fn parse_hub_ref(value: &str) -> Result<HubRef, String> {
    let file_form = value.split('/').count() >= 3
        && !value.contains(['@', ':'])
        && value.rsplit('/').next().is_some_and(|l| l.contains('.'));
    if file_form {
        if let Reference::Hub(r) = classify(value, Path::new("/nonexistent/ferry")) {
            return Ok(r);
        }
    }
    if value.starts_with("http://") || value.starts_with("https://") {
        match classify_url(value) {
            Reference::Hub(r) => Ok(r),
            Reference::Bad(why) => Err(why),
            _ => Err(format!(
                "'{value}' is not a Hugging Face hub URL (expected https://HOST/org/name/resolve/REV/file)"
            )),
        }
    } else {
        parse_repo_ref(value)
    }
}

pub fn parse_repo_ref(value: &str) -> Result<HubRef, String> {
    let (repo, revision) = match value.split_once('@') {
        Some((repo, rev)) => {
            if rev.is_empty() || rev.contains(char::is_whitespace) {
                return Err(format!("invalid revision '{rev}' in '{value}'"));
            }
            (repo, Some(rev.to_string()))
        }
        None => (value, None),
    };
    let (kind, repo) = match repo.strip_prefix("datasets/") {
        Some(rest) => (RepoKind::Dataset, rest),
        None => (RepoKind::Model, repo),
    };
    if !repo.contains('/') {
        return Err(format!(
            "'{value}' is not a hub repo id (expected org/name)"
        ));
    }
    let repo = repo.parse::<RepoId>()?;
    Ok(HubRef {
        repo,
        kind,
        revision,
        file: None,
    })
}

/// A hub URL (`https://HOST/[datasets/]org/name[/(blob|resolve|tree)/REV[/path…]]` on the hub, or that shape
/// on any mirror host), else a plain URL.
fn classify_url(value: &str) -> Reference {
    let url = match url::Url::parse(value) {
        Ok(u) => u,
        Err(e) => return Reference::Bad(format!("invalid URL '{value}': {e}")),
    };
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let on_hub = HUB_HOSTS
        .iter()
        .any(|h| host == *h || host.ends_with(&format!(".{h}")));
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| {
            s.filter(|s| !s.is_empty())
                .map(crate::types::percent_decode)
                .collect()
        })
        .unwrap_or_default();
    let kind = if segments.first().map(String::as_str) == Some("datasets") {
        segments.remove(0);
        RepoKind::Dataset
    } else {
        RepoKind::Model
    };
    let marker = segments.get(2).map(String::as_str);
    let hub_shaped = match marker {
        Some("tree") => segments.len() >= 4,
        Some("blob" | "resolve") => segments.len() >= 5,
        None => on_hub && segments.len() == 2,
        Some(_) => false,
    };
    if !hub_shaped {
        if on_hub {
            return Reference::Bad(format!(
                "'{value}' is not a hub repo or file URL (expected https://HOST/org/name/resolve/REV/file)"
            ));
        }
        return Reference::Url(url);
    }
    let repo = match format!("{}/{}", segments[0], segments[1]).parse::<RepoId>() {
        Ok(r) => r,
        Err(e) if on_hub => return Reference::Bad(format!("{e} in URL '{value}'")),
        Err(_) => return Reference::Url(url),
    };
    let (revision, file) = match marker {
        Some("tree") => (Some(segments[3].clone()), None),
        Some(_) => (Some(segments[3].clone()), Some(segments[4..].join("/"))),
        None => (None, None),
    };
    if let Some(f) = &file {
        if !safe_relative(f) {
            return Reference::Bad(format!("unsafe path '{f}' in URL '{value}'"));
        }
    }
    Reference::Hub(HubRef {
        repo,
        kind,
        revision,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(v: &str) -> HubRef {
        match classify(v, Path::new("/nonexistent")) {
            Reference::Hub(r) => r,
            other => panic!("{v}: {other:?}"),
        }
    }

    #[test]
    fn every_form() {
        let r = hub("org/name");
        assert_eq!((r.repo.as_str(), r.file.as_deref()), ("org/name", None));
        assert_eq!(hub("org/name@v1").revision.as_deref(), Some("v1"));
        let r = hub("org/name/sub/dir/m.safetensors");
        assert_eq!(r.file.as_deref(), Some("sub/dir/m.safetensors"));
        let r = hub("https://huggingface.co/org/name/blob/main/flux1-dev.safetensors");
        assert_eq!(
            (r.revision.as_deref(), r.file.as_deref()),
            (Some("main"), Some("flux1-dev.safetensors"))
        );
        let r = hub("https://mirror.example/org/name/resolve/refs%2Fpr%2F1/a/b.sft?download=true");
        assert_eq!(r.revision.as_deref(), Some("refs/pr/1"));
        assert_eq!(r.file.as_deref(), Some("a/b.sft"));
        assert_eq!(hub("https://hf.co/org/name").file, None);
        let r = parse_hub_ref("org/name/sub/f.safetensors").unwrap();
        assert_eq!(r.file.as_deref(), Some("sub/f.safetensors"));
        assert!(parse_hub_ref("not/a/valid/repo").is_err());
        let d = Path::new("/nonexistent");
        assert!(matches!(
            classify("https://models.example/api/download/models/12345", d),
            Reference::Url(_)
        ));
        assert!(matches!(
            classify("https://huggingface.co/api/whatever/x/y", d),
            Reference::Bad(_)
        ));
        assert!(matches!(
            classify("./sd-models/model.safetensors", d),
            Reference::Missing(_)
        ));
        assert!(matches!(
            classify("models/x.safetensors", d),
            Reference::Missing(_)
        ));
        assert!(matches!(classify("ViT-L-14", d), Reference::Ignored));
        assert!(matches!(
            classify("org/name/extra/more", d),
            Reference::Bad(_)
        ));
        assert!(matches!(
            classify("org/name/../x.safetensors", d),
            Reference::Bad(_)
        ));
    }

    #[test]
    fn local_files_from_the_config_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sd-models")).unwrap();
        std::fs::write(dir.path().join("sd-models/model.safetensors"), b"x").unwrap();
        match classify("./sd-models/model.safetensors", dir.path()) {
            Reference::Local { path, name } => {
                assert!(path.ends_with("sd-models/model.safetensors"));
                assert_eq!(name, "sd-models/model.safetensors");
            }
            other => panic!("{other:?}"),
        }
        let abs = dir.path().join("sd-models/model.safetensors");
        match classify(abs.to_str().unwrap(), Path::new("/")) {
            Reference::Local { name, .. } => assert_eq!(name, "model.safetensors"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            bundle_name("../up/m.ckpt", Path::new("/x/up/m.ckpt")),
            "m.ckpt"
        );
    }
}
