//! Distribution file names: wheels (`{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`) and sdists.
use std::str::FromStr;

use crate::target::Tag;
use crate::types::{PackageName, Version};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub build: Option<String>,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelFilename {
    /// Every tag triple this wheel declares.
    pub fn tags(&self) -> impl Iterator<Item = Tag> + '_ {
        self.python.iter().flat_map(move |py| {
            self.abi.iter().flat_map(move |abi| {
                self.platform.iter().map(move |plat| Tag {
                    python: py.clone(),
                    abi: abi.clone(),
                    platform: plat.clone(),
                })
            })
        })
    }

    /// Index of the best matching tag in `priority` (lower is better), or None if incompatible.
    pub fn best_rank(&self, priority: &[Tag]) -> Option<usize> {
        self.tags()
            .filter_map(|t| priority.iter().position(|p| *p == t))
            .min()
    }

    pub fn is_pure(&self) -> bool {
        self.platform.iter().all(|p| p == "any") && self.abi.iter().all(|a| a == "none")
    }
}

impl FromStr for WheelFilename {
    type Err = String;
    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("invalid wheel filename '{filename}': {why}");
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| bad("does not end in .whl"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [n, v, py, abi, plat] => (*n, *v, None, *py, *abi, *plat),
            [n, v, b, py, abi, plat] => (*n, *v, Some(b.to_string()), *py, *abi, *plat),
            _ => return Err(bad("expected 5 or 6 dash-separated parts")),
        };
        let name = PackageName::from_str(name).map_err(|e| bad(&e.to_string()))?;
        let version = Version::from_str(version).map_err(|e| bad(&e.to_string()))?;
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        Ok(Self {
            name,
            version,
            build,
            python: split(py),
            abi: split(abi),
            platform: split(plat),
        })
    }
}

/// Parse an sdist file name (`name-version.tar.gz` / `.zip`) given the project name it belongs to.
pub fn parse_sdist(filename: &str, project: &PackageName) -> Option<Version> {
    let stem = [".tar.gz", ".zip", ".tar.bz2", ".tgz"]
        .iter()
        .find_map(|ext| filename.strip_suffix(ext))?;
    // The name part may itself contain dashes; find the split where the prefix normalizes to the project.
    for (i, _) in stem.match_indices('-') {
        let (name, version) = (&stem[..i], &stem[i + 1..]);
        if PackageName::from_str(name).ok().as_ref() == Some(project) {
            return Version::from_str(version).ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names() {
        let w: WheelFilename = "torch-2.1.2+cu121-cp310-cp310-linux_x86_64.whl"
            .parse()
            .unwrap();
        assert_eq!(w.name.as_ref(), "torch");
        assert_eq!(w.version.to_string(), "2.1.2+cu121");
        let w: WheelFilename =
            "numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
                .parse()
                .unwrap();
        assert_eq!(w.platform.len(), 2);
        let w: WheelFilename = "six-1.16.0-1build-py2.py3-none-any.whl".parse().unwrap();
        assert_eq!(w.build.as_deref(), Some("1build"));
        assert!(w.is_pure());
        assert!("foo.whl".parse::<WheelFilename>().is_err());
    }

    #[test]
    fn sdist_names() {
        let p: PackageName = "my-pkg".parse().unwrap();
        assert_eq!(
            parse_sdist("my_pkg-1.0.tar.gz", &p).unwrap().to_string(),
            "1.0"
        );
        assert_eq!(
            parse_sdist("My.Pkg-2.0rc1.zip", &p).unwrap().to_string(),
            "2.0rc1"
        );
        assert!(parse_sdist("other-1.0.tar.gz", &p).is_none());
    }
}

/// Core metadata (METADATA / PKG-INFO) headers up to the first blank line, names lowercased, continuation
/// lines folded into the previous value.
pub fn metadata_headers(text: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    headers
}
