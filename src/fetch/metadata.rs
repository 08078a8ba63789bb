//! Core metadata (METADATA / PKG-INFO / PEP 658 `.metadata`): the fields resolution needs.
use std::io::Read;
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{PackageName, Requirement};

#[derive(Clone, Debug)]
pub struct Metadata {
    pub name: PackageName,
    pub version: Version,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    /// `Metadata-Version` as written (e.g. "2.2").
    pub metadata_version: Option<String>,
    /// PEP 643 `Dynamic` fields, lower-cased: their values in an sdist's PKG-INFO are not authoritative.
    pub dynamic: Vec<String>,
}

impl Metadata {
    /// PEP 643: an sdist's PKG-INFO at Metadata-Version 2.2 or later whose dependency fields are not marked
    /// Dynamic gives the same Requires-Dist and Requires-Python as any wheel built from it.
    pub fn is_static_for_resolution(&self) -> bool {
        let Some(v) = &self.metadata_version else {
            return false;
        };
        let mut it = v.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
        if (major, minor) < (2, 2) {
            return false;
        }
        !self.dynamic.iter().any(|d| {
            matches!(
                d.as_str(),
                "requires-dist" | "requires-python" | "provides-extra"
            )
        })
    }
}

/// Parse RFC 822-style headers up to the first blank line (the body is the description).
pub fn parse(bytes: &[u8]) -> Result<Metadata, String> {
    let text = String::from_utf8_lossy(bytes);
    let headers = crate::dist::metadata_headers(&text);
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.as_str())
    };
    let name = get("name").ok_or("metadata has no Name")?;
    let name = PackageName::from_str(name).map_err(|e| format!("metadata Name '{name}': {e}"))?;
    let version = get("version").ok_or("metadata has no Version")?;
    let version =
        Version::from_str(version).map_err(|e| format!("metadata Version '{version}': {e}"))?;
    let mut requires_dist = Vec::new();
    for (_, v) in headers.iter().filter(|(h, _)| h == "requires-dist") {
        let req = crate::inputs::pep508::parse_requirement(v)
            .map_err(|e| format!("metadata Requires-Dist '{v}': {e}"))?;
        requires_dist.push(req);
    }
    let requires_python = get("requires-python").and_then(|v| VersionSpecifiers::from_str(v).ok());
    let dynamic = headers
        .iter()
        .filter(|(h, _)| h == "dynamic")
        .map(|(_, v)| v.trim().to_ascii_lowercase())
        .collect();
    Ok(Metadata {
        name,
        version,
        requires_dist,
        requires_python,
        metadata_version: get("metadata-version").map(str::to_string),
        dynamic,
    })
}

/// Read `*.dist-info/METADATA` out of a wheel on disk.
pub fn from_wheel(path: &std::path::Path) -> Result<Metadata, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    from_reader(file).map_err(|e| format!("{}: {e}", path.display()))
}

/// Read `*.dist-info/METADATA` out of a wheel (any seekable reader).
pub fn from_reader(reader: impl std::io::Read + std::io::Seek) -> Result<Metadata, String> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("not a wheel: {e}"))?;
    let name = (0..zip.len())
        .filter_map(|i| zip.name_for_index(i).and_then(Result::ok).map(|n| n.into_owned()))
        .find(|n| {
            let mut parts = n.split('/');
            matches!((parts.next(), parts.next(), parts.next()), (Some(d), Some("METADATA"), None) if d.ends_with(".dist-info"))
        })
        .ok_or("wheel has no .dist-info/METADATA")?;
    let mut buf = Vec::new();
    zip.by_name(&name)
        .map_err(|e| e.to_string())?
        .take(16 << 20)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    parse(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression found by fuzz/ (metadata target): a Requires-Dist with non-ASCII after a marker made
    /// pep508_rs panic ("not a char boundary"); a name ending in '.' did too.
    #[test]
    fn hostile_requires_dist_is_an_error() {
        let e = parse(
            b"Name: demo\nVersion: 1.0\nRequires-Dist: numpy>=1.20; python_version >= \"3.9\" and\xef\xbf\xbd\xef\xbf\xbd extra == \"fast\"\n",
        )
        .unwrap_err();
        assert!(
            e.contains("Requires-Dist") && e.contains("non-ASCII"),
            "{e}"
        );
        let e = parse(b"Name: demo\nVersion: 1.0\nRequires-Dist: idna. (>=2.5)\n").unwrap_err();
        assert!(e.contains("must end with a letter or digit"), "{e}");
    }

    #[test]
    fn parses_headers_not_body() {
        let m = parse(
            b"Metadata-Version: 2.1\nName: Demo_Pkg\nVersion: 1.0.post1\nRequires-Python: >=3.8\n\
Requires-Dist: idna (>=2.5)\nRequires-Dist: colorama ; sys_platform == \"win32\"\nRequires-Dist: pysocks ; extra == 'socks'\n\
Description-Content-Type: text/markdown\n\nRequires-Dist: not-a-header\n",
        )
        .unwrap();
        assert_eq!(m.name.as_ref(), "demo-pkg");
        assert_eq!(m.version.to_string(), "1.0.post1");
        assert_eq!(m.requires_dist.len(), 3);
        assert_eq!(m.requires_python.unwrap().to_string(), ">=3.8");
    }

    #[test]
    fn pep643_static_metadata() {
        let m = |text: &str| parse(text.as_bytes()).unwrap().is_static_for_resolution();
        assert!(m(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nRequires-Dist: b\n"
        ));
        assert!(m(
            "Metadata-Version: 2.4\nName: a\nVersion: 1\nDynamic: Description\n"
        ));
        assert!(!m("Metadata-Version: 2.1\nName: a\nVersion: 1\n"));
        assert!(!m("Name: a\nVersion: 1\n"));
        assert!(!m(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: Requires-Dist\n"
        ));
        assert!(!m(
            "Metadata-Version: 2.3\nName: a\nVersion: 1\nDynamic: requires-python\n"
        ));
    }
}
