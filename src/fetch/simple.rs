//! Simple repository API pages: PEP 691 JSON and PEP 503 HTML, both into [`DistFile`]s.
use std::str::FromStr;

use pep440_rs::VersionSpecifiers;
use serde::Deserialize;
use url::Url;

use crate::types::Sha256;

/// One file listed on a project page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    /// Absolute URL, fragment removed.
    pub url: Url,
    pub sha256: Option<Sha256>,
    pub requires_python: Option<VersionSpecifiers>,
    pub yanked: bool,
    /// PEP 658/714: `Some(None)` metadata available without hash, `Some(Some(h))` with its sha256.
    pub core_metadata: Option<Option<Sha256>>,
    pub size: Option<u64>,
}

/// Content types a project page may come back as.
pub const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<serde_json::Value>,
    #[serde(default, rename = "core-metadata")]
    core_metadata: Option<serde_json::Value>,
    #[serde(default, rename = "dist-info-metadata")]
    dist_info_metadata: Option<serde_json::Value>,
    #[serde(default)]
    size: Option<u64>,
}

/// Parse a PEP 691 JSON page fetched from `base`.
pub fn parse_json(body: &[u8], base: &Url) -> Result<Vec<DistFile>, String> {
    let page: JsonPage =
        serde_json::from_slice(body).map_err(|e| format!("invalid PEP 691 JSON: {e}"))?;
    let mut out = Vec::with_capacity(page.files.len());
    for f in page.files {
        let Ok(url) = base.join(&f.url) else { continue };
        let sha256 = f
            .hashes
            .get("sha256")
            .and_then(|h| Sha256::from_str(h).ok());
        let yanked = match &f.yanked {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(_)) => true,
            _ => false,
        };
        let core_metadata =
            metadata_flag_json(f.core_metadata.as_ref().or(f.dist_info_metadata.as_ref()));
        out.push(DistFile {
            filename: f.filename,
            url: strip_fragment(url),
            sha256,
            requires_python: parse_requires_python(f.requires_python.as_deref()),
            yanked,
            core_metadata,
            size: f.size,
        });
    }
    Ok(out)
}

fn metadata_flag_json(v: Option<&serde_json::Value>) -> Option<Option<Sha256>> {
    match v? {
        serde_json::Value::Bool(true) => Some(None),
        serde_json::Value::Object(m) => Some(
            m.get("sha256")
                .and_then(|h| h.as_str())
                .and_then(|h| Sha256::from_str(h).ok()),
        ),
        _ => None,
    }
}

/// An unparseable `requires-python` is treated as absent (pip ignores it with a warning too).
fn parse_requires_python(s: Option<&str>) -> Option<VersionSpecifiers> {
    let s = s?.trim();
    if s.is_empty() {
        return None;
    }
    VersionSpecifiers::from_str(s).ok()
}

/// The URL without its fragment and without credentials (remembered for their host by the auth layer,
/// so they never reach a lock or a bundle).
fn strip_fragment(url: Url) -> Url {
    let mut url = crate::fetch::http::auth::take_credentials(&url);
    url.set_fragment(None);
    url
}

/// Parse a PEP 503 HTML page fetched from `base` (honouring a `<base href>`).
pub fn parse_html(body: &str, base: &Url) -> Result<Vec<DistFile>, String> {
    let dom =
        tl::parse(body, tl::ParserOptions::default()).map_err(|e| format!("invalid HTML: {e}"))?;
    let parser = dom.parser();
    let mut base = base.clone();
    if let Some(b) = dom.query_selector("base").and_then(|mut it| it.next()) {
        if let Some(href) = b
            .get(parser)
            .and_then(|n| n.as_tag())
            .and_then(|t| attr(t, "href"))
        {
            if let Ok(u) = base.join(&href) {
                base = u;
            }
        }
    }
    let mut out = Vec::new();
    for handle in dom.query_selector("a").into_iter().flatten() {
        let Some(tag) = handle.get(parser).and_then(|n| n.as_tag()) else {
            continue;
        };
        let Some(href) = attr(tag, "href") else {
            continue;
        };
        let Ok(url) = base.join(&href) else { continue };
        let filename = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(crate::types::percent_decode)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                html_escape::decode_html_entities(&tag.inner_text(parser))
                    .trim()
                    .to_string()
            });
        let sha256 = url
            .fragment()
            .and_then(|f| f.strip_prefix("sha256="))
            .and_then(|h| Sha256::from_str(h).ok());
        let yanked = tag.attributes().contains("data-yanked");
        let meta_attr =
            attr(tag, "data-core-metadata").or_else(|| attr(tag, "data-dist-info-metadata"));
        let core_metadata = meta_attr.map(|v| match v.strip_prefix("sha256=") {
            Some(h) => Sha256::from_str(h).ok(),
            None => None,
        });
        let core_metadata = match (meta_attr_is_false(tag), core_metadata) {
            (true, _) => None,
            (false, m) => m,
        };
        out.push(DistFile {
            filename,
            url: strip_fragment(url),
            sha256,
            requires_python: parse_requires_python(attr(tag, "data-requires-python").as_deref()),
            yanked,
            core_metadata,
            size: None,
        });
    }
    Ok(out)
}

fn meta_attr_is_false(tag: &tl::HTMLTag) -> bool {
    matches!(
        attr(tag, "data-core-metadata")
            .or_else(|| attr(tag, "data-dist-info-metadata"))
            .as_deref(),
        Some("false")
    )
}

/// Attribute value, HTML entities decoded (`&gt;=3.8` → `>=3.8`).
fn attr(tag: &tl::HTMLTag, name: &str) -> Option<String> {
    let raw = tag.attributes().get(name)?;
    let value = raw
        .map(|b| b.as_utf8_str().into_owned())
        .unwrap_or_default();
    Some(html_escape::decode_html_entities(&value).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0000000000000000000000000000000000000000000000000000000000000abc";

    #[test]
    fn json_page() {
        let base = Url::parse("http://127.0.0.1:1/simple/demo/").unwrap();
        let body = format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","files":[
            {{"filename":"demo-1.0-py3-none-any.whl","url":"../../files/demo-1.0-py3-none-any.whl","hashes":{{"sha256":"{H}"}},
              "requires-python":">=3.8","core-metadata":{{"sha256":"{H}"}},"size":12,"upload-time":"x","unknown":1}},
            {{"filename":"demo-0.9.tar.gz","url":"http://other.invalid/demo-0.9.tar.gz","hashes":{{}},"yanked":"broken","dist-info-metadata":true}}
            ]}}"#
        );
        let files = parse_json(body.as_bytes(), &base).unwrap();
        assert_eq!(
            files[0].url.as_str(),
            "http://127.0.0.1:1/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_ref().unwrap().as_str(), H);
        assert!(files[0].requires_python.is_some());
        assert_eq!(files[0].core_metadata, Some(Some(H.parse().unwrap())));
        assert_eq!(files[0].size, Some(12));
        assert!(files[1].yanked);
        assert_eq!(files[1].core_metadata, Some(None));
        assert!(files[1].sha256.is_none());
    }

    #[test]
    fn html_page() {
        let base = Url::parse("http://127.0.0.1:1/simple/demo/").unwrap();
        let body = format!(
            r#"<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.0"></head><body>
            <a href="/files/demo-1.0-py3-none-any.whl#sha256={H}" data-requires-python="&gt;=3.8" data-core-metadata="sha256={H}">demo-1.0-py3-none-any.whl</a><br/>
            <a href="demo-0.9.tar.gz" data-yanked="">demo-0.9.tar.gz</a>
            <a href="demo-0.8.tar.gz" data-dist-info-metadata="true">demo-0.8.tar.gz</a>
            </body></html>"#
        );
        let files = parse_html(&body, &base).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0].url.as_str(),
            "http://127.0.0.1:1/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(
            files[0].requires_python.as_ref().unwrap().to_string(),
            ">=3.8"
        );
        assert_eq!(files[0].core_metadata, Some(Some(H.parse().unwrap())));
        assert_eq!(
            files[1].url.as_str(),
            "http://127.0.0.1:1/simple/demo/demo-0.9.tar.gz"
        );
        assert!(files[1].yanked);
        assert!(!files[0].yanked);
        assert_eq!(files[2].core_metadata, Some(None));
    }
}
