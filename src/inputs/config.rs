//! LoRA training configs (kohya sd-scripts / lora-scripts TOML, seed-style YAML, JSON) → the models a run
//! needs: the ones the config names, plus what the trainer fetches at run time (tokenizers, the WD14 tagger).
use std::fs;
use std::path::Path;

use serde_json::Value;

use super::{Error, ModelRequest};
use crate::types::{RepoId, RepoKind};

/// Models and local paths found in one config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigModels {
    pub models: Vec<ModelRequest>,
    /// Local files and folders the config names: reported, not fetched.
    pub local_paths: Vec<String>,
}

/// A hub reference: `org/name`, `org/name@rev`, or a hub URL to a repo or a file in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubRef {
    pub repo: RepoId,
    pub kind: RepoKind,
    pub revision: Option<String>,
    pub file: Option<String>,
}

const SD1_TOKENIZER: &str = "openai/clip-vit-large-patch14";
const SDXL_TOKENIZER2: &str = "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k";
const SD2_REPO: &str = "stabilityai/stable-diffusion-2";
const WD14_DEFAULT: &str = "SmilingWolf/wd-v1-4-convnext-tagger-v2";

/// Keys whose values name a model, besides those ending in [`MODEL_KEY_SUFFIXES`].
const MODEL_KEYS: &[&str] = &[
    "base_model",
    "pretrained_model_name_or_path",
    "model_name_or_path",
    "vae",
    "tokenizer",
    "tokenizer_name",
    "text_encoder",
    "text_encoder_2",
    "clip_model",
    "tagger_repo",
    "repo_id",
    "wd14_tagger_repo",
    "model_id",
];
const MODEL_KEY_SUFFIXES: &[&str] = &[
    "_model",
    "_repo",
    "_repo_id",
    "_model_id",
    "_model_name_or_path",
    "_vae",
];
/// Keys naming the model being trained (their presence makes the file a training config).
const BASE_KEYS: &[&str] = &["base_model", "pretrained_model_name_or_path"];
const WEIGHT_EXTENSIONS: &[&str] = &[
    ".safetensors",
    ".ckpt",
    ".pt",
    ".pth",
    ".bin",
    ".onnx",
    ".gguf",
];

/// Read one config (format by extension: .yaml/.yml, .toml, .json).
pub fn read(path: &Path) -> Result<ConfigModels, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::File {
        file: path.to_path_buf(),
        message: format!("cannot read config: {e}"),
    })?;
    let tree = parse(path, &text)?;
    let mut reader = Reader {
        path,
        text: &text,
        out: ConfigModels::default(),
        facts: Facts::default(),
    };
    reader.walk(&tree, &mut Vec::new())?;
    reader.add_runtime_models();
    let mut out = reader.out;
    dedup(&mut out.models);
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

/// What the walk learned about the training setup.
#[derive(Default)]
struct Facts {
    v2: bool,
    sdxl: bool,
    /// SD3, Flux, …: trainers whose run-time downloads ferry does not model.
    other_arch: bool,
    /// `model_type`/`model_train_type` said SD1 or SD2 explicitly.
    explicit_type: bool,
    base_names: Vec<String>,
    training: bool,
    wd14_enabled: bool,
    tagger_named: bool,
}

struct Reader<'a> {
    path: &'a Path,
    text: &'a str,
    out: ConfigModels,
    facts: Facts,
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
        self.note_facts(&key, value, &key_path);
        if key == "tokenizer_cache_dir" {
            if let Some(s) = value.as_str().filter(|s| !s.trim().is_empty()) {
                self.out.local_paths.push(s.trim().to_string());
            }
            return Ok(());
        }
        if !is_model_key(&key) {
            return Ok(());
        }
        let strings: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for s in strings.into_iter().map(str::trim).filter(|s| !s.is_empty()) {
            if BASE_KEYS.contains(&key.as_str()) {
                self.facts.training = true;
                self.facts.base_names.push(s.to_string());
            }
            match self.classify(s) {
                Found::Local => self.out.local_paths.push(s.to_string()),
                Found::Ignored => {}
                Found::Hub(r) => {
                    if in_tagger {
                        self.facts.tagger_named = true;
                    }
                    let origin = self.origin(keys, s);
                    self.out.models.push(request(r, None, None, origin));
                }
                Found::Bad(why) => {
                    let message = format!("key '{}': {why}", keys.join("."));
                    return Err(match self.key_line(keys, s) {
                        Some(line) => Error::at(self.path, line, message),
                        None => Error::File {
                            file: self.path.to_path_buf(),
                            message,
                        },
                    });
                }
            }
        }
        Ok(())
    }

    fn note_facts(&mut self, key: &str, value: &Value, key_path: &str) {
        let truthy = value.as_bool() == Some(true);
        match key {
            "v2" | "v2_checkbox" if truthy => self.facts.v2 = true,
            "sdxl" | "sdxl_checkbox" if truthy => self.facts.sdxl = true,
            "sd3" | "flux" | "flux1" | "sd3_checkbox" | "flux1_checkbox" if truthy => {
                self.facts.other_arch = true
            }
            "model_type" | "model_train_type" | "train_type" | "model_arch" => {
                let v = value.as_str().unwrap_or_default().to_ascii_lowercase();
                if v.contains("sdxl") {
                    self.facts.sdxl = true;
                } else if v.contains("sd3") || v.contains("flux") {
                    self.facts.other_arch = true;
                } else if v.contains("sd2") || v.contains("v2") {
                    self.facts.v2 = true;
                } else if v.starts_with("sd") {
                    self.facts.explicit_type = true;
                }
                if !v.is_empty() {
                    self.facts.training = true;
                }
            }
            _ => {}
        }
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
            self.facts.wd14_enabled = true;
        }
    }

    fn classify(&self, value: &str) -> Found {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if value.starts_with("http://") || value.starts_with("https://") {
            return match parse_hub_url(value) {
                Ok(r) => Found::Hub(r),
                Err(why) => Found::Bad(why),
            };
        }
        let lower = value.to_ascii_lowercase();
        let bytes = value.as_bytes();
        let drive = bytes.len() > 2
            && bytes[0].is_ascii_alphabetic()
            && bytes[1] == b':'
            && matches!(bytes[2], b'\\' | b'/');
        if value.starts_with(['/', '~', '\\', '.'])
            || drive
            || lower.starts_with("file:")
            || WEIGHT_EXTENSIONS.iter().any(|e| lower.ends_with(e))
            || Path::new(value).exists()
            || dir.join(value).exists()
        {
            return Found::Local;
        }
        if !value.contains('/') {
            // A bare word (`sdxl`, an open_clip model name, a legacy canonical id): not a hub org/name.
            return Found::Ignored;
        }
        match parse_repo_ref(value) {
            Ok(r) => Found::Hub(r),
            Err(why) => Found::Bad(format!("{why} (and no such local path exists)")),
        }
    }

    fn origin(&self, keys: &[String], value: &str) -> String {
        let key = keys.join(".");
        match self.key_line(keys, value) {
            Some(line) => format!("{}:{line} ({key})", self.path.display()),
            None => format!("{} ({key})", self.path.display()),
        }
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

    /// What the trainer downloads at run time for the detected model type.
    fn add_runtime_models(&mut self) {
        let file = self.path.display().to_string();
        let f = &self.facts;
        let tokenizer = |repo: &str, include: &str, reason: String| {
            let r = HubRef {
                repo: repo.parse().expect("built-in repo id is valid"),
                kind: RepoKind::Model,
                revision: None,
                file: None,
            };
            let mut m = request(r, Some(reason), None, format!("{file} (model type)"));
            m.include = if include.is_empty() {
                vec!["*.json".into(), "*.txt".into()]
            } else {
                vec![include.into()]
            };
            m
        };
        let name_says_xl = || {
            !f.explicit_type
                && f.base_names.iter().any(|n| {
                    let n = n.to_ascii_lowercase();
                    n.contains("xl")
                })
        };
        let mut added = Vec::new();
        if f.other_arch {
            // SD3/Flux trainers load their own text encoders from the base model; nothing to add.
        } else if f.sdxl || (!f.v2 && name_says_xl()) {
            let why = format!(
                "added because {file} trains SDXL (kohya loads its two tokenizers at run time)"
            );
            added.push(tokenizer(SD1_TOKENIZER, "", why.clone()));
            added.push(tokenizer(SDXL_TOKENIZER2, "", why));
        } else if f.v2 {
            let why =
                format!("added because {file} trains SD2 (kohya loads its tokenizer at run time)");
            added.push(tokenizer(SD2_REPO, "tokenizer/*", why));
        } else if f.training {
            let why =
                format!("added because {file} trains SD1 (kohya loads its tokenizer at run time)");
            added.push(tokenizer(SD1_TOKENIZER, "", why));
        }
        if f.wd14_enabled && !f.tagger_named {
            let r = HubRef {
                repo: WD14_DEFAULT.parse().expect("built-in repo id is valid"),
                kind: RepoKind::Model,
                revision: None,
                file: None,
            };
            let why = format!(
                "added because {file} enables WD14 captioning without naming a tagger (kohya's default)"
            );
            added.push(request(r, Some(why), None, format!("{file} (WD14 tagger)")));
        }
        self.out.models.extend(added);
    }
}

enum Found {
    Hub(HubRef),
    Local,
    Ignored,
    Bad(String),
}

fn is_model_key(key: &str) -> bool {
    MODEL_KEYS.contains(&key) || MODEL_KEY_SUFFIXES.iter().any(|s| key.ends_with(s))
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

fn request(
    r: HubRef,
    reason: Option<String>,
    variant: Option<String>,
    origin: String,
) -> ModelRequest {
    ModelRequest {
        repo: r.repo,
        kind: r.kind,
        revision: r.revision,
        file: r.file,
        include: Vec::new(),
        exclude: Vec::new(),
        variant,
        reason,
        origin,
    }
}

/// Keep the first request for each (repo, revision, file).
pub(super) fn dedup(models: &mut Vec<ModelRequest>) {
    let mut seen = std::collections::HashSet::new();
    models.retain(|m| seen.insert((m.repo.clone(), m.revision.clone(), m.file.clone())));
}

/// `org/name`, `org/name@revision` or a hub URL (as `--model` takes it).
pub fn parse_hub_ref(value: &str) -> Result<HubRef, String> {
    if value.starts_with("http://") || value.starts_with("https://") {
        parse_hub_url(value)
    } else {
        parse_repo_ref(value)
    }
}

fn parse_repo_ref(value: &str) -> Result<HubRef, String> {
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

/// `https://HOST/[datasets/]org/name[/(blob|resolve|tree)/REV[/path…]]`, any host (mirrors included).
fn parse_hub_url(value: &str) -> Result<HubRef, String> {
    let not_hub = || {
        format!("'{value}' is not a Hugging Face hub URL (expected https://HOST/org/name/resolve/REV/file)")
    };
    let url = url::Url::parse(value).map_err(|e| format!("invalid URL '{value}': {e}"))?;
    let mut segments: Vec<String> = url
        .path_segments()
        .ok_or_else(not_hub)?
        .filter(|s| !s.is_empty())
        .map(crate::types::percent_decode)
        .collect();
    let kind = if segments.first().map(String::as_str) == Some("datasets") {
        segments.remove(0);
        RepoKind::Dataset
    } else {
        RepoKind::Model
    };
    if segments.len() < 2 {
        return Err(not_hub());
    }
    let repo = format!("{}/{}", segments[0], segments[1])
        .parse::<RepoId>()
        .map_err(|e| format!("{e} in URL '{value}'"))?;
    let (revision, file) = match segments.get(2).map(String::as_str) {
        None => (None, None),
        Some("tree") if segments.len() >= 4 => (Some(segments[3].clone()), None),
        Some("blob" | "resolve") if segments.len() >= 5 => {
            (Some(segments[3].clone()), Some(segments[4..].join("/")))
        }
        Some(_) => return Err(not_hub()),
    };
    Ok(HubRef {
        repo,
        kind,
        revision,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(name);
        fs::write(&p, text).unwrap();
        (d, p)
    }

    fn models(name: &str, text: &str) -> ConfigModels {
        let (_d, p) = config(name, text);
        read(&p).unwrap()
    }

    fn err(name: &str, text: &str) -> String {
        let (_d, p) = config(name, text);
        read(&p).unwrap_err().to_string()
    }

    fn repos(c: &ConfigModels) -> Vec<String> {
        c.models.iter().map(|m| m.repo.to_string()).collect()
    }

    const KOHYA: &str = r#"
[model_arguments]
pretrained_model_name_or_path = "runwayml/stable-diffusion-v1-5"
vae = "stabilityai/sd-vae-ft-mse@main"
v2 = false

[dataset_arguments]
train_data_dir = "./train/chara"
network_weights = ""
"#;

    #[test]
    fn kohya_toml_sd1() {
        let c = models("chara.toml", KOHYA);
        assert_eq!(
            repos(&c),
            [
                "runwayml/stable-diffusion-v1-5",
                "stabilityai/sd-vae-ft-mse",
                SD1_TOKENIZER
            ]
        );
        let base = &c.models[0];
        assert!(
            base.origin
                .contains("chara.toml:3 (model_arguments.pretrained_model_name_or_path)"),
            "{}",
            base.origin
        );
        assert_eq!(c.models[1].revision.as_deref(), Some("main"));
        let tok = &c.models[2];
        assert_eq!(tok.include, ["*.json", "*.txt"]);
        let reason = tok.reason.as_deref().unwrap();
        assert!(reason.contains("chara.toml trains SD1"), "{reason}");
        assert!(c.local_paths.is_empty(), "{:?}", c.local_paths);
    }

    #[test]
    fn seed_yaml_style_with_local_paths() {
        let c = models(
            "lora.yaml",
            "base_model: /models/sd15.safetensors\nmodel_type: sd15\nvae: ./vae.pt\ntrain_data_dir: data\noutput_dir: out\n",
        );
        assert_eq!(repos(&c), [SD1_TOKENIZER]);
        assert_eq!(c.local_paths, ["/models/sd15.safetensors", "./vae.pt"]);
    }

    #[test]
    fn sdxl_detection() {
        for text in [
            "base_model: stabilityai/stable-diffusion-xl-base-1.0\n",
            "base_model: org/model\nmodel_type: sdxl\n",
            "pretrained_model_name_or_path: org/model\nsdxl: true\n",
            "model_train_type: sdxl-lora\npretrained_model_name_or_path: ./m.safetensors\n",
        ] {
            let c = models("x.yml", text);
            let r = repos(&c);
            assert!(r.contains(&SD1_TOKENIZER.to_string()), "{text}: {r:?}");
            assert!(r.contains(&SDXL_TOKENIZER2.to_string()), "{text}: {r:?}");
            assert!(c
                .models
                .last()
                .unwrap()
                .reason
                .as_deref()
                .unwrap()
                .contains("SDXL"));
        }
        let c = models("x.yaml", "base_model: org/xlnet-thing\nmodel_type: sd1\n");
        assert!(
            !repos(&c).contains(&SDXL_TOKENIZER2.to_string()),
            "explicit type wins"
        );
    }

    #[test]
    fn sd2_and_other_architectures() {
        let c = models(
            "x.json",
            r#"{"pretrained_model_name_or_path": "./sd21.ckpt", "v2": true}"#,
        );
        assert_eq!(repos(&c), [SD2_REPO]);
        assert_eq!(c.models[0].include, ["tokenizer/*"]);
        let c = models("x.toml", "model_train_type = \"flux-lora\"\npretrained_model_name_or_path = \"./flux.safetensors\"\n");
        assert!(c.models.is_empty(), "{:?}", c.models);
        let c = models("x.toml", "learning_rate = 1e-4\n");
        assert!(c.models.is_empty(), "not a training config: nothing added");
    }

    #[test]
    fn kohya_gui_json() {
        let c = models(
            "gui.json",
            r#"{"LoRA_type": "Standard", "pretrained_model_name_or_path": "stabilityai/stable-diffusion-xl-base-1.0",
                "sdxl": true, "sdxl_no_half_vae": true, "v2": false, "vae": "", "output_dir": "/out"}"#,
        );
        assert_eq!(
            repos(&c),
            [
                "stabilityai/stable-diffusion-xl-base-1.0",
                SD1_TOKENIZER,
                SDXL_TOKENIZER2
            ]
        );
        let c = models(
            "gui.json",
            r#"{"pretrained_model_name_or_path": "/m/flux1-dev.safetensors", "flux1_checkbox": true}"#,
        );
        assert!(c.models.is_empty());
    }

    #[test]
    fn hub_urls_to_files() {
        let c = models(
            "x.yaml",
            "train:\n  base_model: https://example.invalid/org/model/blob/v1.0/sub/m.safetensors\n  \
             vae: https://example.invalid/org/vae/resolve/refs%2Fpr%2F1/vae.safetensors?download=true\n",
        );
        assert_eq!(c.models[0].file.as_deref(), Some("sub/m.safetensors"));
        assert_eq!(c.models[0].revision.as_deref(), Some("v1.0"));
        assert_eq!(c.models[1].revision.as_deref(), Some("refs/pr/1"));
        assert_eq!(c.models[1].file.as_deref(), Some("vae.safetensors"));
        assert!(
            c.models[1].origin.contains("x.yaml:3 (train.vae)"),
            "{}",
            c.models[1].origin
        );
        let r = parse_hub_ref("https://example.invalid/datasets/org/set").unwrap();
        assert_eq!(r.kind, RepoKind::Dataset);
        assert!(parse_hub_ref("https://example.invalid/api/download/12345").is_err());
    }

    #[test]
    fn malformed_repo_ids_name_file_line_and_key() {
        for bad in ["org//name", "org/na me", "a/b/c/d"] {
            let e = err("c.toml", &format!("[m]\nlr = 1\nbase_model = \"{bad}\"\n"));
            assert!(
                e.contains("c.toml:3:") && e.contains("m.base_model"),
                "{bad}: {e}"
            );
        }
        let e = err("c.json", r#"{"a": {"vae": "x/y@"}}"#);
        assert!(e.contains("a.vae") && e.contains("revision"), "{e}");
    }

    #[test]
    fn parse_errors_carry_lines() {
        let e = err("c.toml", "a = 1\nb = = 2\n");
        assert!(e.contains("c.toml:2:") && e.contains("TOML"), "{e}");
        let e = err("c.yaml", "a: 1\nb: [1, 2\n");
        assert!(e.contains("c.yaml:") && e.contains("YAML"), "{e}");
        let e = err("c.json", "{\n\"a\": }\n");
        assert!(e.contains("c.json:2:") && e.contains("JSON"), "{e}");
        let e = err("c.ini", "a=1\n");
        assert!(e.contains("unknown config format"), "{e}");
    }

    #[test]
    fn wd14_tagger() {
        let c = models("c.toml", "[tagger]\nenable = true\nthresh = 0.35\n");
        assert_eq!(repos(&c), [WD14_DEFAULT]);
        assert!(c.models[0].reason.as_deref().unwrap().contains("WD14"));
        let c = models(
            "c.toml",
            "wd14_tagger_repo = \"SmilingWolf/wd-v1-4-moat-tagger-v2\"\nwd14_caption = true\n",
        );
        assert_eq!(repos(&c), ["SmilingWolf/wd-v1-4-moat-tagger-v2"]);
        assert!(c.models[0].reason.is_none());
        let c = models("c.yaml", "caption_method: wd14\n");
        assert_eq!(repos(&c), [WD14_DEFAULT]);
        let c = models("c.toml", "[tagger]\nenable = false\n");
        assert!(c.models.is_empty());
    }

    #[test]
    fn tokenizer_cache_dir_dedup_and_bare_words() {
        let c = models(
            "c.yaml",
            "base_model: runwayml/stable-diffusion-v1-5\ntokenizer_cache_dir: ./tok\n\
             clip_model: ViT-L-14\nnested:\n  - repo_id: runwayml/stable-diffusion-v1-5\n\
             text_encoder: openai/clip-vit-large-patch14\n",
        );
        assert_eq!(repos(&c), ["runwayml/stable-diffusion-v1-5", SD1_TOKENIZER]);
        assert!(
            c.models[1].reason.is_none(),
            "the named one comes first and wins"
        );
        assert_eq!(c.local_paths, ["./tok"]);
    }

    #[test]
    fn key_lines() {
        assert!(line_has_key("  base_model: x", "base_model"));
        assert!(line_has_key("\"vae\" : \"x\"", "vae"));
        assert!(line_has_key("vae=\"x\"", "vae"));
        assert!(!line_has_key("sdxl_vae = 1", "vae"));
        assert!(!line_has_key("vae_dir = 1", "vae"));
    }
}
