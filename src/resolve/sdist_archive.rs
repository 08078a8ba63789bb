//! What an sdist on disk holds, in one pass: PKG-INFO, pyproject.toml, setup.py, egg-info requires.txt,
//! and whether building it needs a compiler (native sources, a native build backend, ext_modules).
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use pep508_rs::Requirement;

use crate::fetch::metadata::{self, Metadata};

/// Members read into memory are small text files; larger ones are skipped.
const MAX_MEMBER: u64 = 4 << 20;

#[derive(Debug, Default)]
pub struct Scan {
    pub pkg_info: Option<Vec<u8>>,
    pub pyproject: Option<Vec<u8>>,
    pub setup_py: Option<Vec<u8>>,
    pub requires_txt: Option<Vec<u8>>,
    /// The first sign that a build needs a compiler ("contains src/_speed.c").
    pub native: Option<String>,
}

/// Source files that only a compiler turns into something importable.
const NATIVE_EXT: &[&str] = &[
    ".c", ".cc", ".cpp", ".cxx", ".c++", ".pyx", ".cu", ".f", ".f90", ".f95", ".rs", ".go", ".m",
    ".mm", ".swift", ".zig",
];
const NATIVE_FILES: &[&str] = &["CMakeLists.txt", "Cargo.toml", "meson.build", "configure"];
const NATIVE_BACKENDS: &[&str] = &[
    "maturin",
    "scikit_build",
    "mesonpy",
    "cmake_build_extension",
    "setuptools_rust",
    "pybind11",
    "cffi",
    "cython",
];

pub fn scan(sdist: &Path) -> Result<Scan, String> {
    let name = sdist.to_string_lossy().into_owned();
    let mut out = Scan::default();
    let mut visit = |path: &str, read: &mut dyn FnMut() -> Result<Vec<u8>, String>| {
        let path = path.trim_start_matches("./");
        let mut parts = path.split('/');
        let _root = parts.next();
        let rest: Vec<&str> = parts.collect();
        let file = rest.last().copied().unwrap_or("");
        let top = rest.len() == 1;
        if top && file == "PKG-INFO" {
            out.pkg_info = Some(read()?);
        } else if top && file == "pyproject.toml" {
            out.pyproject = Some(read()?);
        } else if top && file == "setup.py" {
            out.setup_py = Some(read()?);
        } else if rest.len() == 2 && rest[0].ends_with(".egg-info") && file == "requires.txt" {
            out.requires_txt = Some(read()?);
        }
        if out.native.is_none() && !rest.is_empty() {
            let lower = file.to_ascii_lowercase();
            let in_tests = rest
                .iter()
                .any(|p| matches!(*p, "tests" | "test" | "docs" | "examples" | "benchmarks"));
            if !in_tests
                && (NATIVE_EXT.iter().any(|e| lower.ends_with(e))
                    || (NATIVE_FILES.contains(&file) && rest.len() <= 2))
            {
                out.native = Some(format!("contains {}", rest.join("/")));
            }
        }
        Ok::<(), String>(())
    };
    let f = std::fs::File::open(sdist).map_err(|e| format!("{name}: {e}"))?;
    if name.to_ascii_lowercase().ends_with(".zip") {
        let mut z = zip::ZipArchive::new(f).map_err(|e| format!("{name}: {e}"))?;
        for i in 0..z.len() {
            let mut entry = z.by_index(i).map_err(|e| format!("{name}: {e}"))?;
            let Ok(path) = entry.name().map(|n| n.to_string()) else {
                continue;
            };
            if entry.is_dir() {
                continue;
            }
            visit(&path, &mut || read_small(&mut entry))?;
        }
    } else {
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
        for entry in ar.entries().map_err(|e| format!("{name}: {e}"))? {
            let mut entry = entry.map_err(|e| format!("{name}: {e}"))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry
                .path()
                .map_err(|e| format!("{name}: {e}"))?
                .to_string_lossy()
                .into_owned();
            visit(&path, &mut || read_small(&mut entry))?;
        }
    }
    if out.native.is_none() {
        out.native = native_by_config(&out);
    }
    Ok(out)
}

fn read_small(r: &mut dyn Read) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    r.take(MAX_MEMBER)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// A native build backend in pyproject.toml, or extension modules in setup.py.
fn native_by_config(scan: &Scan) -> Option<String> {
    if let Some(doc) = scan
        .pyproject
        .as_ref()
        .and_then(|b| toml::from_str::<toml::Value>(&String::from_utf8_lossy(b)).ok())
    {
        let bs = doc.get("build-system");
        let backend = bs
            .and_then(|b| b.get("build-backend"))
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let requires: Vec<String> = bs
            .and_then(|b| b.get("requires"))
            .and_then(|r| r.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| s.to_ascii_lowercase().replace('-', "_"))
                    .collect()
            })
            .unwrap_or_default();
        for n in NATIVE_BACKENDS {
            if backend.starts_with(n) || requires.iter().any(|r| r.starts_with(n)) {
                return Some(format!("builds with {n}"));
            }
        }
    }
    let setup = String::from_utf8_lossy(scan.setup_py.as_deref()?);
    [
        "ext_modules",
        "Extension(",
        "CUDAExtension",
        "CppExtension",
        "cmake",
    ]
    .iter()
    .find(|k| setup.contains(*k))
    .map(|k| format!("setup.py uses {}", k.trim_end_matches('(')))
}

/// PEP 518 `build-system.requires` (setuptools defaults when absent).
pub fn build_requires(scan: &Scan, sdist: &Path) -> Result<Vec<Requirement>, String> {
    let default = || {
        vec![
            Requirement::from_str("setuptools>=40.8.0").unwrap(),
            Requirement::from_str("wheel").unwrap(),
        ]
    };
    let Some(bytes) = &scan.pyproject else {
        return Ok(default());
    };
    let doc: toml::Value = toml::from_str(&String::from_utf8_lossy(bytes))
        .map_err(|e| format!("{}: pyproject.toml: {e}", sdist.display()))?;
    let Some(reqs) = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
    else {
        return Ok(default());
    };
    reqs.iter()
        .filter_map(|v| v.as_str())
        .map(|s| {
            crate::inputs::pep508::parse_requirement(s)
                .map_err(|e| format!("{}: build-system.requires '{s}': {e}", sdist.display()))
        })
        .collect()
}

/// Metadata as the archive states it, without building: PKG-INFO, and when it lists no dependencies, the
/// setuptools `*.egg-info/requires.txt` next to it.
pub fn stated_metadata(scan: &Scan) -> Result<Option<Metadata>, String> {
    let Some(pkg_info) = &scan.pkg_info else {
        return Ok(None);
    };
    let mut meta = metadata::parse(pkg_info)?;
    if meta.requires_dist.is_empty() {
        if let Some(txt) = &scan.requires_txt {
            meta.requires_dist = parse_requires_txt(&String::from_utf8_lossy(txt))?;
        }
    }
    Ok(Some(meta))
}

/// setuptools' `requires.txt`: plain requirements, then `[extra]`, `[:marker]` or `[extra:marker]` sections.
pub fn parse_requires_txt(text: &str) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    let mut section_marker: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (extra, marker) = inner.split_once(':').unwrap_or((inner, ""));
            let mut parts = Vec::new();
            if !extra.trim().is_empty() {
                parts.push(format!("extra == \"{}\"", extra.trim()));
            }
            if !marker.trim().is_empty() {
                parts.push(format!("({})", marker.trim()));
            }
            section_marker = (!parts.is_empty()).then(|| parts.join(" and "));
            continue;
        }
        let text = match &section_marker {
            Some(m) => format!("{line} ; {m}"),
            None => line.to_string(),
        };
        out.push(
            crate::inputs::pep508::parse_requirement(&text)
                .map_err(|e| format!("requires.txt '{line}': {e}"))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_txt_sections_become_markers() {
        let reqs = parse_requires_txt(
            "numpy>=1.20\n\n[:sys_platform == \"win32\"]\ncolorama\n\n[dev]\npytest\n\n[gpu:python_version >= \"3.9\"]\ncupy\n",
        )
        .unwrap();
        let s: Vec<String> = reqs.iter().map(|r| r.to_string()).collect();
        assert_eq!(s[0], "numpy>=1.20");
        assert!(
            s[1].starts_with("colorama") && s[1].contains("sys_platform == 'win32'"),
            "{s:?}"
        );
        assert!(s[2].contains("extra == 'dev'"), "{s:?}");
        assert!(
            s[3].contains("extra == 'gpu'") && s[3].contains("python_full_version >= '3.9'"),
            "{s:?}"
        );
    }
}
