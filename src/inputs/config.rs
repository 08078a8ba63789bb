//! LoRA training configs (kohya sd-scripts TOML/JSON, lora-scripts TOML, kohya_ss GUI JSON, ai-toolkit YAML,
//! seed-style YAML) → everything a run opens: the models the config names (hub repos, hub files, plain URLs,
//! local files), plus what the trainer fetches at run time for the family it trains (tokenizers, the WD14
//! tagger). Keys that look like model references but that no trainer reads are warned about.
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::reference::{self, HubRef, Reference};
use super::trainers::family::{Evidence, Family};
use super::trainers::keys::{self, Role};
use super::trainers::runtime::{runtime_repos, WD14_DEFAULT};
use super::trainers::Trainer;
use super::{Error, FileRequest, FileSource, ModelRequest, Pick};
use crate::types::RepoKind;

pub use super::reference::parse_hub_ref;

/// Everything found in one config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigModels {
    pub models: Vec<ModelRequest>,
    /// Files that are not on a hub: local files the config names, plain URLs.
    pub files: Vec<FileRequest>,
    /// Local paths named by the config that are not carried (tokenizer cache, missing with `--skip-missing`).
    pub local_paths: Vec<String>,
    /// `file:line: …` lines for keys that look like model references but that no trainer reads.
    pub warnings: Vec<String>,
}

/// How to read configs.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// A local file that does not exist is a warning, not an error.
    pub skip_missing: bool,
}

/// Read one config (format by extension: .yaml/.yml, .toml, .json).
pub fn read(path: &Path) -> Result<ConfigModels, Error> {
    read_with(path, ReadOptions::default())
}

pub fn read_with(path: &Path, opts: ReadOptions) -> Result<ConfigModels, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::File {
        file: path.to_path_buf(),
        message: format!("cannot read config: {e}"),
    })?;
    let tree = parse(path, &text)?;
    let mut reader = Reader {
        path,
        dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        text: &text,
        opts,
        trainer: Trainer::detect(&tree),
        out: ConfigModels::default(),
        evidence: Evidence::default(),
        named: Vec::new(),
        wd14_enabled: false,
        tagger_named: false,
    };
    reader.walk(&tree, &mut Vec::new())?;
    reader.finish();
    let mut out = reader.out;
    dedup(&mut out.models);
    let mut seen = std::collections::HashSet::new();
    out.files.retain(|f| seen.insert(f.source.clone()));
    out.local_paths.dedup();
    Ok(out)
}

fn parse(path: &Path, text: &str) -> Result<Value, Error> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "yaml" | "yml" => serde_yaml_ng::from_str::<Value>(text).map_err(|e| match e.location() {
            Some(loc) => Error::at(path, loc.line(), format!("invalid YAML: {e}")),
            None => Error::File {
                file: path.to_path_buf(),
                message: format!("invalid YAML: {e}"),
            },
        }),
        "toml" => {
            let table = toml::from_str::<toml::Table>(text).map_err(|e| {
                let message = format!("invalid TOML: {}", e.message().trim());
                match e.span() {
                    Some(span) => Error::at(path, line_of(text, span.start), message),
                    None => Error::File {
                        file: path.to_path_buf(),
                        message,
                    },
                }
            })?;
            serde_json::to_value(table).map_err(|e| Error::File {
                file: path.to_path_buf(),
                message: format!("unsupported TOML value: {e}"),
            })
        }
        "json" => serde_json::from_str::<Value>(text)
            .map_err(|e| Error::at(path, e.line(), format!("invalid JSON: {e}"))),
        _ => Err(Error::File {
            file: path.to_path_buf(),
            message: "unknown config format (expected a .yaml, .yml, .toml or .json file)".into(),
        }),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Reader<'a> {
    path: &'a Path,
    dir: PathBuf,
    text: &'a str,
    opts: ReadOptions,
    trainer: Trainer,
    out: ConfigModels,
    evidence: Evidence,
    /// Hub models the config names, with the role of their key (the pick waits for the family).
    named: Vec<(Role, ModelRequest)>,
    wd14_enabled: bool,
    tagger_named: bool,
}

impl Reader<'_> {
    fn walk(&mut self, value: &Value, keys: &mut Vec<String>) -> Result<(), Error> {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    keys.push(key.clone());
                    self.entry(key, child, keys)?;
                    self.walk(child, keys)?;
                    keys.pop();
                }
            }
            Value::Array(items) => {
                for item in items.iter().filter(|i| i.is_object() || i.is_array()) {
                    self.walk(item, keys)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn entry(&mut self, key: &str, value: &Value, keys: &[String]) -> Result<(), Error> {
        let key = key.to_ascii_lowercase();
        let key_path = keys.join(".").to_ascii_lowercase();
        let in_tagger = key_path.contains("tagger") || key_path.contains("wd14");
        self.evidence.note(&key, value);
        self.note_wd14(&key, value, &key_path);
        if key == "tokenizer_cache_dir" {
            if let Some(s) = value.as_str().filter(|s| !s.trim().is_empty()) {
                self.out.local_paths.push(s.trim().to_string());
            }
            return Ok(());
        }
        let strings: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let strings: Vec<&str> = strings
            .into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let Some(role) = keys::role(&key) else {
            for s in strings {
                self.check_unknown(&key, s, keys);
            }
            return Ok(());
        };
        for s in strings {
            if role == Role::Checkpoint {
                self.evidence.training = true;
                self.evidence.base_names.push(s.to_string());
            }
            let origin = self.origin(keys, s);
            match reference::classify(s, &self.dir) {
                Reference::Ignored => {}
                Reference::Hub(r) => {
                    if in_tagger || role == Role::Tagger {
                        self.tagger_named = true;
                    }
                    self.named.push((role, request(r, None, origin)));
                }
                Reference::Url(url) => self.out.files.push(FileRequest {
                    source: FileSource::Url(url),
                    name: None,
                    origin,
                }),
                Reference::Local { path, name } => self.local(&path, &name, &origin)?,
                Reference::Missing(value) => {
                    let message = format!(
                        "key '{}': local file '{value}' not found (looked in the working directory and in {})",
                        keys.join("."),
                        self.dir.display()
                    );
                    if !self.opts.skip_missing {
                        return Err(self.error(
                            keys,
                            s,
                            format!("{message}; pass --skip-missing to bundle without it"),
                        ));
                    }
                    self.out.warnings.push(format!(
                        "{}: {message}; not carried (--skip-missing)",
                        self.place(keys, s)
                    ));
                    self.out.local_paths.push(value);
                }
                Reference::Bad(why) => {
                    return Err(self.error(keys, s, format!("key '{}': {why}", keys.join("."))));
                }
            }
        }
        Ok(())
    }

    /// A local file, or every file under a local folder, carried under `files/NAME`.
    fn local(&mut self, path: &Path, name: &str, origin: &str) -> Result<(), Error> {
        let mut stack = vec![(path.to_path_buf(), name.to_string())];
        while let Some((p, n)) = stack.pop() {
            if p.is_dir() {
                let entries = fs::read_dir(&p).map_err(|e| Error::File {
                    file: p.clone(),
                    message: format!("cannot list folder named by {origin}: {e}"),
                })?;
                for e in entries.flatten() {
                    let child = e.file_name().to_string_lossy().into_owned();
                    stack.push((e.path(), format!("{n}/{child}")));
                }
            } else {
                self.out.files.push(FileRequest {
                    source: FileSource::Local(p),
                    name: Some(n),
                    origin: origin.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Warn about a key no trainer reads whose value looks like a model reference.
    fn check_unknown(&mut self, key: &str, value: &str, keys: &[String]) {
        let lower = value.to_ascii_lowercase();
        let model_like = lower.starts_with("http://")
            || lower.starts_with("https://")
            || reference::WEIGHT_EXTENSIONS
                .iter()
                .any(|e| lower.ends_with(e))
            || (reference::parse_repo_ref(value).is_ok()
                && !Path::new(value).exists()
                && !self.dir.join(value).exists());
        let Some(closest) = keys::unknown_model_key(key, model_like) else {
            return;
        };
        let hint = match closest {
            Some(k) => format!(" (did you mean {k}?)"),
            None => String::new(),
        };
        self.out.warnings.push(format!(
            "{}: key '{}' looks like a model reference but no trainer reads it{hint}; '{value}' is not bundled",
            self.place(keys, value),
            keys.join(".")
        ));
    }

    fn note_wd14(&mut self, key: &str, value: &Value, key_path: &str) {
        let wd14_word = |s: &str| s.contains("wd14") || s.contains("tagger");
        let enabled = match value {
            Value::Bool(b) => *b && wd14_word(key_path),
            Value::String(s) => {
                (key.contains("caption") || key.contains("tagger"))
                    && s.to_ascii_lowercase().contains("wd14")
            }
            Value::Object(map) => {
                matches!(key, "tagger" | "wd14" | "wd14_tagger" | "wd14_caption")
                    && !map.is_empty()
                    && !map
                        .iter()
                        .any(|(k, v)| k.starts_with("enable") && v.as_bool() == Some(false))
            }
            _ => false,
        };
        if enabled {
            self.wd14_enabled = true;
        }
    }

    /// `file:line` of a key (just the file when the line cannot be found).
    fn place(&self, keys: &[String], value: &str) -> String {
        match self.key_line(keys, value) {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    fn error(&self, keys: &[String], value: &str, message: String) -> Error {
        match self.key_line(keys, value) {
            Some(line) => Error::at(self.path, line, message),
            None => Error::File {
                file: self.path.to_path_buf(),
                message,
            },
        }
    }

    fn origin(&self, keys: &[String], value: &str) -> String {
        format!("{} ({})", self.place(keys, value), keys.join("."))
    }

    /// The line of `key` in the raw text, preferring one that also holds `value`.
    fn key_line(&self, keys: &[String], value: &str) -> Option<usize> {
        let key = keys.last()?;
        let mut first = None;
        for (i, line) in self.text.lines().enumerate() {
            if !line_has_key(line, key) {
                continue;
            }
            if line.contains(value) {
                return Some(i + 1);
            }
            first.get_or_insert(i + 1);
        }
        first
    }

    /// Settle the family: picks for the named models, then what the trainer downloads at run time.
    fn finish(&mut self) {
        let family = self.evidence.decide();
        let file = self.path.display().to_string();
        for (role, mut m) in std::mem::take(&mut self.named) {
            m.pick = match role {
                Role::Checkpoint
                    if self.trainer.runs_sd_scripts()
                        && family.as_ref().is_some_and(Family::single_file_checkpoint) =>
                {
                    Pick::RootWeights
                }
                Role::Checkpoint => Pick::Training,
                Role::Vae => Pick::Vae,
                Role::Tagger => Pick::Tagger,
                _ => Pick::Default,
            };
            self.out.models.push(m);
        }
        if let Some(family) = &family {
            for rt in runtime_repos(self.trainer, family) {
                let r = HubRef {
                    repo: rt.repo.parse().expect("built-in repo id is valid"),
                    kind: RepoKind::Model,
                    revision: None,
                    file: None,
                };
                let reason = format!(
                    "added because it is the run-time {} of {} in {} ({})",
                    rt.what,
                    family.name(),
                    self.trainer.name(),
                    rt.source
                );
                let mut m = request(
                    r,
                    Some(reason),
                    format!("{file} (trains {})", family.name()),
                );
                let folder = rt.folder.map(str::to_string);
                m.pick = match (rt.tokenizer_only, folder) {
                    (true, folder) => Pick::Tokenizer { folder },
                    (false, Some(f)) => Pick::Folder(f),
                    (false, None) => Pick::Default,
                };
                self.out.models.push(m);
            }
        }
        if self.wd14_enabled && !self.tagger_named {
            let r = HubRef {
                repo: WD14_DEFAULT.parse().expect("built-in repo id is valid"),
                kind: RepoKind::Model,
                revision: None,
                file: None,
            };
            let why = format!(
                "added because {file} enables WD14 captioning without naming a tagger (the default of \
                 finetune/tag_images_by_wd14_tagger.py in kohya sd-scripts)"
            );
            let mut m = request(r, Some(why), format!("{file} (WD14 tagger)"));
            m.pick = Pick::Tagger;
            self.out.models.push(m);
        }
    }
}

/// `key` at a key position on this line: `key:`, `key =`, `"key":`, `'key':`.
fn line_has_key(line: &str, key: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = line[from..].find(key) {
        let start = from + pos;
        let end = start + key.len();
        let before = line[..start].chars().next_back();
        let before_ok = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'));
        let after = line[end..].trim_start_matches(['"', '\'']).trim_start();
        if before_ok && (after.starts_with(':') || after.starts_with('=')) {
            return true;
        }
        from = end;
    }
    false
}

fn request(r: HubRef, reason: Option<String>, origin: String) -> ModelRequest {
    ModelRequest {
        repo: r.repo,
        kind: r.kind,
        revision: r.revision,
        file: r.file,
        include: Vec::new(),
        exclude: Vec::new(),
        variant: None,
        reason,
        origin,
        pick: Pick::Default,
    }
}

/// Keep the first request for each (repo, revision, file).
pub(super) fn dedup(models: &mut Vec<ModelRequest>) {
    let mut seen = std::collections::HashSet::new();
    models.retain(|m| seen.insert((m.repo.clone(), m.revision.clone(), m.file.clone())));
}

#[cfg(test)]
mod tests;
