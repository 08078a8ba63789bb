//! `sbom.cdx.json`: a CycloneDX 1.6 SBOM of the bundle. Every wheel (one component per file) with its
//! `pkg:pypi` purl, sha256 and licence read from the wheel's METADATA (`License-Expression`, else `License`,
//! else the `License ::` classifiers); every model with its `pkg:huggingface` purl at the locked commit, the
//! sha256 of each file, and the licence from its model card's front matter; the dependency graph from the
//! wheels' `Requires-Dist` evaluated for the bundle's targets. Deterministic: the serial number is a UUID
//! (v5) of `ferry.json`'s digest and the timestamp is the lock's time, so equal locks give equal bytes.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{json, Value};

use crate::lock::{Lock, LockedModel, LockedPackage};
use crate::target::Target;
use crate::types::{PackageName, Sha256};

/// The member name.
pub const SBOM: &str = "sbom.cdx.json";

/// Where the SBOM reads licences and dependencies from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// Wheel file name → the file on disk.
    pub wheels: BTreeMap<String, PathBuf>,
    /// Bundle member (`models/hub/…/blobs/…`) → the file on disk.
    pub blobs: BTreeMap<String, PathBuf>,
    /// Components already described elsewhere (a base bundle's SBOM), by bom-ref: used for files this
    /// bundle leaves out.
    pub known: BTreeMap<String, Value>,
}

/// What a wheel's METADATA says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WheelMeta {
    pub license: Option<License>,
    pub requires: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum License {
    /// An SPDX expression (`License-Expression`).
    Expression(String),
    /// Free-text names (`License`, classifiers, a model card's `license:`).
    Names(Vec<String>),
}

impl License {
    fn to_json(&self) -> Value {
        match self {
            License::Expression(e) => json!([{ "expression": e }]),
            License::Names(names) => Value::Array(
                names
                    .iter()
                    .map(|n| json!({ "license": { "name": n } }))
                    .collect(),
            ),
        }
    }

    /// The licence names in a component's `licenses` (for `diff`).
    pub fn names_of(component: &Value) -> Vec<String> {
        component["licenses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|l| {
                        l["expression"]
                            .as_str()
                            .or_else(|| l["license"]["id"].as_str())
                            .or_else(|| l["license"]["name"].as_str())
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The METADATA headers of a wheel (`*.dist-info/METADATA`), read from the zip.
pub fn wheel_meta(path: &Path) -> Result<WheelMeta, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| format!("{}: not a wheel: {e}", path.display()))?;
    let name = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .find(|n| {
            n.split('/').count() == 2 && n.ends_with("/METADATA") && n.contains(".dist-info/")
        })
        .ok_or_else(|| format!("{}: no .dist-info/METADATA", path.display()))?;
    let mut text = String::new();
    zip.by_name(&name)
        .map_err(|e| format!("{}: {name}: {e}", path.display()))?
        .take(16 << 20)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {name}: {e}", path.display()))?;
    Ok(parse_metadata(&text))
}

/// Core metadata headers (RFC 822 style, continuation lines folded in).
pub fn parse_metadata(text: &str) -> WheelMeta {
    let headers = crate::dist::metadata_headers(text);
    fn get<'a>(headers: &'a [(String, String)], k: &'a str) -> impl Iterator<Item = &'a str> {
        headers
            .iter()
            .filter(move |(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    let classifiers: Vec<String> = get(&headers, "classifier")
        .filter_map(|c| c.strip_prefix("License ::"))
        .filter_map(|c| c.rsplit("::").next())
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let license = if let Some(e) = get(&headers, "license-expression").find(|e| !e.is_empty()) {
        Some(License::Expression(e.to_string()))
    } else if let Some(l) = get(&headers, "license").find(|l| usable_license_text(l)) {
        Some(License::Names(vec![l.trim().to_string()]))
    } else if !classifiers.is_empty() {
        Some(License::Names(classifiers))
    } else {
        None
    };
    WheelMeta {
        license,
        requires: get(&headers, "requires-dist").map(str::to_string).collect(),
    }
}

/// A `License` header that names a licence (not empty, not UNKNOWN, not a whole licence text).
fn usable_license_text(l: &str) -> bool {
    let l = l.trim();
    !l.is_empty() && !l.eq_ignore_ascii_case("unknown") && !l.contains('\n') && l.len() <= 200
}

/// `license:` from a model card's YAML front matter (a string or a list).
pub fn model_card_license(text: &str) -> Option<License> {
    let rest = text.trim_start_matches('\u{feff}').strip_prefix("---")?;
    let rest = rest
        .strip_prefix('\n')
        .or_else(|| rest.strip_prefix("\r\n"))?;
    let end = rest
        .find("\n---")
        .or_else(|| rest.starts_with("---").then_some(0))?;
    let front: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rest[..end]).ok()?;
    let value = front.get("license")?;
    let names: Vec<String> = match value {
        serde_yaml_ng::Value::String(s) => vec![s.clone()],
        serde_yaml_ng::Value::Sequence(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let mut names: Vec<String> = names.into_iter().filter(|n| !n.is_empty()).collect();
    if names == ["other"] {
        if let Some(other) = front.get("license_name").and_then(|v| v.as_str()) {
            names = vec![other.to_string()];
        }
    }
    (!names.is_empty()).then_some(License::Names(names))
}

/// `pkg:pypi/NAME@VERSION?file_name=FILE` (the name normalized, as the purl spec asks).
pub fn pypi_purl(p: &LockedPackage) -> String {
    format!(
        "pkg:pypi/{}@{}?file_name={}",
        p.name,
        purl_escape(&p.version),
        purl_escape(&p.filename)
    )
}

/// `pkg:huggingface/ORG/NAME@COMMIT` (datasets: `?repository_type=dataset`).
pub fn hf_purl(m: &LockedModel) -> String {
    let repo: Vec<String> = m.repo.as_str().split('/').map(purl_escape).collect();
    let mut purl = format!("pkg:huggingface/{}@{}", repo.join("/"), m.commit);
    if m.kind != crate::types::RepoKind::default() {
        purl.push_str("?repository_type=dataset");
    }
    purl
}

fn purl_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// RFC 4122 UUID v5 (SHA-1, URL namespace) of `name`.
fn uuid_v5(name: &str) -> String {
    use sha1::Digest;
    const URL_NAMESPACE: [u8; 16] = [
        0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30,
        0xc8,
    ];
    let mut h = sha1::Sha1::new();
    h.update(URL_NAMESPACE);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(secs: u64) -> String {
    let (year, month, day, h, m, sec) = crate::types::civil_utc(secs);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}Z")
}

/// The SBOM of `lock`; `manifest` is the exact `ferry.json` text (its digest seeds the serial number).
pub fn render(lock: &Lock, manifest: &str, sources: &Sources) -> Result<String, String> {
    let mut components = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut metas: BTreeMap<&str, WheelMeta> = BTreeMap::new();
    for p in &lock.packages {
        if let Some(path) = sources.wheels.get(&p.filename) {
            if p.filename.ends_with(".whl") {
                metas.insert(&p.filename, wheel_meta(path)?);
            }
        }
    }
    let targets: BTreeMap<String, &Target> = lock.targets.iter().map(|t| (t.id(), t)).collect();
    let mut by_name: BTreeMap<&PackageName, Vec<&LockedPackage>> = BTreeMap::new();
    for p in &lock.packages {
        by_name.entry(&p.name).or_default().push(p);
    }
    for p in &lock.packages {
        let bom_ref = pypi_purl(p);
        let mut c = json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": p.name.to_string(),
            "version": p.version,
            "purl": bom_ref,
            "hashes": [{ "alg": "SHA-256", "content": p.sha256.as_str() }],
        });
        let meta = metas.get(p.filename.as_str());
        match meta.and_then(|m| m.license.as_ref()) {
            Some(l) => c["licenses"] = l.to_json(),
            None => {
                if let Some(known) = sources.known.get(&bom_ref) {
                    if let Some(l) = known.get("licenses") {
                        c["licenses"] = l.clone();
                    }
                }
            }
        }
        if p.built_from.is_none() && !p.url.is_empty() {
            c["externalReferences"] = json!([{
                "type": "distribution",
                "url": super::pylock::without_credentials(&p.url),
            }]);
        }
        let mut props = vec![
            json!({"name": "ferry:member", "value": format!("wheels/{}", p.filename)}),
            json!({"name": "ferry:targets", "value": p.targets.join(" ")}),
        ];
        if lock.omits(&format!("wheels/{}", p.filename)) {
            props.push(json!({"name": "ferry:in-base", "value": "true"}));
        }
        if let Some(from) = &p.built_from {
            props.push(json!({"name": "ferry:built-from", "value": from}));
        }
        c["properties"] = Value::Array(props);
        components.push(c);
        // Dependencies: each Requires-Dist that holds on a target this file serves, to the files of that
        // project serving the same target.
        let deps = graph.entry(bom_ref).or_default();
        let Some(meta) = meta else { continue };
        let served: Vec<&Target> = if p.targets.is_empty() {
            lock.targets.iter().collect()
        } else {
            p.targets
                .iter()
                .filter_map(|id| targets.get(id).copied())
                .collect()
        };
        for req in &meta.requires {
            let Ok(req) = pep508_rs::Requirement::<url::Url>::from_str(req) else {
                continue;
            };
            let Some(files) = by_name.get(&req.name) else {
                continue;
            };
            for t in &served {
                if !req.marker.evaluate(&t.marker_env(), &[]) {
                    continue;
                }
                for f in files {
                    if f.targets.is_empty() || f.targets.contains(&t.id()) {
                        deps.insert(pypi_purl(f));
                    }
                }
            }
        }
    }
    for m in &lock.models {
        let bom_ref = hf_purl(m);
        let folder = super::model_folder(m);
        let card = m
            .files
            .iter()
            .find(|f| f.path.eq_ignore_ascii_case("README.md"))
            .and_then(|f| sources.blobs.get(&format!("{folder}/blobs/{}", f.blob)));
        let license = match card {
            Some(path) => {
                let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                model_card_license(&String::from_utf8_lossy(&text))
            }
            None => None,
        };
        let files: Vec<Value> = m
            .files
            .iter()
            .map(|f| {
                json!({
                    "type": "file",
                    "bom-ref": format!("{bom_ref}#{}", f.path),
                    "name": f.path,
                    "hashes": [{ "alg": "SHA-256", "content": f.sha256_hex() }],
                    "properties": [
                        {"name": "ferry:member", "value": format!("{folder}/blobs/{}", f.blob)},
                        {"name": "ferry:size", "value": f.size.to_string()},
                    ],
                })
            })
            .collect();
        let mut c = json!({
            "type": if m.kind == crate::types::RepoKind::default() { "machine-learning-model" } else { "data" },
            "bom-ref": bom_ref,
            "name": m.repo.to_string(),
            "version": m.commit.to_string(),
            "purl": bom_ref,
        });
        match license {
            Some(l) => c["licenses"] = l.to_json(),
            None => {
                if let Some(l) = sources.known.get(&bom_ref).and_then(|k| k.get("licenses")) {
                    c["licenses"] = l.clone();
                }
            }
        }
        let mut props = vec![json!({"name": "ferry:revision", "value": m.revision})];
        if let Some(source) = &m.source_repo {
            props.push(json!({"name": "ferry:fetched-from", "value": source.to_string()}));
        }
        c["properties"] = Value::Array(props);
        if !files.is_empty() {
            c["components"] = Value::Array(files);
        }
        components.push(c);
        graph.entry(bom_ref).or_default();
    }
    // Model files that are not on a hub (`files/`): plain-URL downloads and local files named by configs.
    for f in &lock.files {
        let bom_ref = format!("ferry-file:{}", f.name);
        components.push(json!({
            "type": "file",
            "bom-ref": bom_ref,
            "name": f.name,
            "hashes": [{ "alg": "SHA-256", "content": f.sha256.as_str() }],
            "properties": [
                {"name": "ferry:member", "value": format!("files/{}", f.name)},
                {"name": "ferry:source", "value": f.source},
                {"name": "ferry:size", "value": f.size.to_string()},
            ],
        }));
        graph.entry(bom_ref).or_default();
    }
    let root = format!("ferry-bundle:{}", lock.name);
    let mut top: BTreeSet<String> = lock
        .packages
        .iter()
        .filter(|p| p.requested)
        .map(pypi_purl)
        .collect();
    top.extend(lock.models.iter().map(hf_purl));
    top.extend(lock.files.iter().map(|f| format!("ferry-file:{}", f.name)));
    let mut dependencies = vec![json!({"ref": root, "dependsOn": top})];
    for (r, deps) in &graph {
        dependencies.push(json!({"ref": r, "dependsOn": deps}));
    }
    let mut props = vec![
        json!({"name": "ferry:targets", "value": lock.targets.iter().map(Target::id).collect::<Vec<_>>().join(" ")}),
    ];
    if let Some(d) = &lock.delta {
        props.push(json!({"name": "ferry:delta-base", "value": d.base.as_str()}));
    }
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_v5(&format!("ferry-bundle:{}", Sha256::digest(manifest.as_bytes())))),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(lock.created),
            "tools": { "components": [{
                "type": "application",
                "name": "ferry",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "application",
                "bom-ref": root,
                "name": lock.name,
            },
            "properties": props,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("sbom serializes");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licence_precedence() {
        let m = parse_metadata(
            "Metadata-Version: 2.4\nName: a\nLicense-Expression: MIT OR Apache-2.0\nLicense: BSD\n\
             Classifier: License :: OSI Approved :: MIT License\nRequires-Dist: b>=1\n\nbody: x\n",
        );
        assert_eq!(
            m.license,
            Some(License::Expression("MIT OR Apache-2.0".into()))
        );
        assert_eq!(m.requires, ["b>=1"]);
        let m = parse_metadata(
            "Name: a\nLicense: BSD-3-Clause\nClassifier: License :: OSI Approved :: MIT License\n",
        );
        assert_eq!(m.license, Some(License::Names(vec!["BSD-3-Clause".into()])));
        let m = parse_metadata(
            "Name: a\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n",
        );
        assert_eq!(m.license, Some(License::Names(vec!["MIT License".into()])));
        let m = parse_metadata("Name: a\nLicense: line one\n        line two\n");
        assert_eq!(m.license, None, "a whole licence text is not a name");
    }

    #[test]
    fn model_cards() {
        let card = "---\nlanguage: en\nlicense: apache-2.0\ntags: [x]\n---\n# Model\n";
        assert_eq!(
            model_card_license(card),
            Some(License::Names(vec!["apache-2.0".into()]))
        );
        let other = "---\nlicense: other\nlicense_name: tongyi-qianwen\n---\n";
        assert_eq!(
            model_card_license(other),
            Some(License::Names(vec!["tongyi-qianwen".into()]))
        );
        assert_eq!(model_card_license("# no front matter\n"), None);
    }

    #[test]
    fn uuid_and_time() {
        // The same as Python's uuid.uuid5(uuid.NAMESPACE_URL, "x").
        assert_eq!(uuid_v5("x"), "4cd605e7-afa2-5360-b5b9-c5e9fb5c76f4");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
