//! A target host: its Python and platform tags. Wheel tag priority (PEP 425/600/656) and environment markers
//! are computed for the target, never for the build host.
use std::fmt;

use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};
use serde::{Deserialize, Serialize};

/// The Python/platform a bundle is for. `probe` writes one as target.json.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// `major.minor`, e.g. "3.10".
    pub python: String,
    /// Full version when known (from `probe`), e.g. "3.10.12".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_full: Option<String>,
    /// Platform tags in pip spelling, best first (e.g. `manylinux_2_28_x86_64`). Each expands to the
    /// older compatible tags (see [`Target::platform_tags`]).
    pub platforms: Vec<String>,
    /// NVIDIA driver version of the host (written by `probe`), used by `--torch-backend auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nvidia_driver: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown platform tag '{0}' (expected pip spelling: manylinux_2_28_x86_64, manylinux2014_aarch64, musllinux_1_2_x86_64, macosx_11_0_arm64, win_amd64, win32, win_arm64, linux_x86_64)")]
    UnknownPlatform(String),
    #[error("invalid Python version '{0}' (expected e.g. 3.10, 3.10.12, or 3.13t for free-threaded CPython)")]
    BadPython(String),
    #[error("platform '{0}': {1} wheels install only into an app bundle built for that OS, not into a venv; ferry bundles for Linux, macOS and Windows hosts")]
    MobilePlatform(String, &'static str),
}

/// One wheel compatibility tag triple.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
    MacOs,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Platform {
    Manylinux {
        major: u32,
        minor: u32,
        arch: String,
    },
    Musllinux {
        major: u32,
        minor: u32,
        arch: String,
    },
    Linux {
        arch: String,
    },
    MacOs {
        major: u32,
        minor: u32,
        arch: String,
    },
    Windows {
        tag: String,
    },
}

impl Platform {
    fn parse(tag: &str) -> Result<Self, TargetError> {
        let bad = || TargetError::UnknownPlatform(tag.to_string());
        if tag.starts_with("ios_") {
            return Err(TargetError::MobilePlatform(tag.to_string(), "iOS"));
        }
        if tag.starts_with("android_") {
            return Err(TargetError::MobilePlatform(tag.to_string(), "Android"));
        }
        let nums = |rest: &str| -> Option<(u32, u32, String)> {
            let mut it = rest.splitn(3, '_');
            let major = it.next()?.parse().ok()?;
            let minor = it.next()?.parse().ok()?;
            let arch = it.next()?.to_string();
            Some((major, minor, arch))
        };
        const LINUX_ARCHES: &[&str] = &[
            "x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "ppc64", "riscv64",
        ];
        let linux_arch = |a: &str| LINUX_ARCHES.contains(&a);
        if let Some(arch) = tag.strip_prefix("manylinux2014_") {
            return linux_arch(arch)
                .then(|| Platform::Manylinux {
                    major: 2,
                    minor: 17,
                    arch: arch.into(),
                })
                .ok_or_else(bad);
        }
        if let Some(arch) = tag.strip_prefix("manylinux2010_") {
            return linux_arch(arch)
                .then(|| Platform::Manylinux {
                    major: 2,
                    minor: 12,
                    arch: arch.into(),
                })
                .ok_or_else(bad);
        }
        if let Some(arch) = tag.strip_prefix("manylinux1_") {
            return linux_arch(arch)
                .then(|| Platform::Manylinux {
                    major: 2,
                    minor: 5,
                    arch: arch.into(),
                })
                .ok_or_else(bad);
        }
        if let Some(rest) = tag.strip_prefix("manylinux_") {
            let (major, minor, arch) = nums(rest).ok_or_else(bad)?;
            return (linux_arch(&arch) && major >= 2)
                .then_some(Platform::Manylinux { major, minor, arch })
                .ok_or_else(bad);
        }
        if let Some(rest) = tag.strip_prefix("musllinux_") {
            let (major, minor, arch) = nums(rest).ok_or_else(bad)?;
            return linux_arch(&arch)
                .then_some(Platform::Musllinux { major, minor, arch })
                .ok_or_else(bad);
        }
        if let Some(rest) = tag.strip_prefix("macosx_") {
            let (major, minor, arch) = nums(rest).ok_or_else(bad)?;
            const MAC_ARCHES: &[&str] = &[
                "x86_64",
                "arm64",
                "universal2",
                "intel",
                "fat64",
                "fat32",
                "universal",
            ];
            return (MAC_ARCHES.contains(&arch.as_str()) && major >= 10)
                .then_some(Platform::MacOs { major, minor, arch })
                .ok_or_else(bad);
        }
        if let Some(arch) = tag.strip_prefix("linux_") {
            return linux_arch(arch)
                .then(|| Platform::Linux { arch: arch.into() })
                .ok_or_else(bad);
        }
        match tag {
            "win32" | "win_amd64" | "win_arm64" => Ok(Platform::Windows { tag: tag.into() }),
            _ => Err(bad()),
        }
    }

    fn os(&self) -> Os {
        match self {
            Platform::Manylinux { .. } | Platform::Musllinux { .. } | Platform::Linux { .. } => {
                Os::Linux
            }
            Platform::MacOs { .. } => Os::MacOs,
            Platform::Windows { .. } => Os::Windows,
        }
    }

    /// Python's `platform.machine()` on such a host.
    fn machine(&self) -> &str {
        match self {
            Platform::Manylinux { arch, .. }
            | Platform::Musllinux { arch, .. }
            | Platform::Linux { arch } => arch,
            Platform::MacOs { arch, .. } => match arch.as_str() {
                "arm64" => "arm64",
                _ => "x86_64",
            },
            Platform::Windows { tag } => match tag.as_str() {
                "win32" => "x86",
                "win_arm64" => "ARM64",
                _ => "AMD64",
            },
        }
    }

    /// Every platform tag this one accepts, best first.
    fn expand(&self) -> Vec<String> {
        match self {
            Platform::Manylinux { major, minor, arch } => {
                let oldest = if matches!(arch.as_str(), "x86_64" | "i686") {
                    5
                } else {
                    17
                };
                let mut out = Vec::new();
                // glibc 2.x only; a manylinux_3_* tag would list its own major first.
                for m in (0..=*minor).rev() {
                    if *major == 2 && m < oldest {
                        break;
                    }
                    out.push(format!("manylinux_{major}_{m}_{arch}"));
                    if *major == 2 {
                        match m {
                            17 => out.push(format!("manylinux2014_{arch}")),
                            12 => out.push(format!("manylinux2010_{arch}")),
                            5 => out.push(format!("manylinux1_{arch}")),
                            _ => {}
                        }
                    }
                }
                out
            }
            Platform::Musllinux { major, minor, arch } => (0..=*minor)
                .rev()
                .map(|m| format!("musllinux_{major}_{m}_{arch}"))
                .collect(),
            Platform::Linux { arch } => vec![format!("linux_{arch}")],
            Platform::Windows { tag } => vec![tag.clone()],
            Platform::MacOs { major, minor, arch } => mac_platforms(*major, *minor, arch),
        }
    }
}

/// Binary formats a macOS wheel may carry for this CPU, best first, as `packaging.tags` lists them (plus
/// `fat32` on x86_64, which uv accepts too). arm64 takes no `universal` (i386/ppc) builds, as in packaging.
fn mac_formats(major: u32, minor: u32, arch: &str) -> Vec<&'static str> {
    let old = major == 10 && minor < 4;
    match arch {
        "x86_64" if old => vec![],
        "x86_64" => vec![
            "x86_64",
            "intel",
            "fat64",
            "fat3",
            "fat32",
            "universal2",
            "universal",
        ],
        "arm64" => vec!["arm64", "universal2"],
        _ => vec![],
    }
}

/// Every macOS platform tag a host of this version and CPU accepts, best first: each older release
/// (11 and later by major, 10.x by minor); arm64 hosts take `universal2` builds for 10.x too.
fn mac_platforms(major: u32, minor: u32, arch: &str) -> Vec<String> {
    if !matches!(arch, "x86_64" | "arm64") {
        // A fat/universal tag names a file, not a host: accept exactly that tag.
        return vec![format!("macosx_{major}_{minor}_{arch}")];
    }
    let mut versions: Vec<(u32, u32)> = Vec::new();
    if major == 10 {
        versions.extend((0..=minor).rev().map(|m| (10, m)));
    } else {
        versions.extend((11..=major).rev().map(|m| (m, 0)));
        versions.extend((4..=16).rev().map(|m| (10, m)));
    }
    let mut out = Vec::new();
    for (maj, min) in versions {
        if maj == 10 && major >= 11 && arch == "arm64" {
            // No arm64 build predates 11.0, but a universal2 one may name an older x86_64 minimum.
            out.push(format!("macosx_10_{min}_universal2"));
            continue;
        }
        for f in mac_formats(maj, min, arch) {
            out.push(format!("macosx_{maj}_{min}_{f}"));
        }
    }
    out
}

impl Target {
    /// Build a target, checking the Python version and every platform tag.
    pub fn new(python: &str, platforms: Vec<String>) -> Result<Self, TargetError> {
        let (short, full) = parse_python(python)?;
        for p in &platforms {
            Platform::parse(p)?;
        }
        Ok(Self {
            python: short,
            python_full: full,
            platforms,
            nvidia_driver: None,
        })
    }

    /// Validate a target read from a file.
    pub fn validate(&self) -> Result<(), TargetError> {
        parse_python(&self.python)?;
        if let Some(full) = &self.python_full {
            parse_python(full)?;
        }
        for p in &self.platforms {
            Platform::parse(p)?;
        }
        Ok(())
    }

    /// Stable identifier, e.g. `cp310-manylinux_2_28_x86_64`.
    pub fn id(&self) -> String {
        let first = self.platforms.first().map(String::as_str).unwrap_or("any");
        format!("cp{}-{}", self.python.replace('.', ""), first)
    }

    /// A free-threaded CPython build (`3.13t`): ABI `cp313t`, stable ABI `abi3t` instead of `abi3`.
    pub fn free_threaded(&self) -> bool {
        self.python.ends_with('t')
    }

    /// `major.minor` without the free-threading suffix.
    pub fn python_short(&self) -> &str {
        self.python.trim_end_matches('t')
    }

    fn python_minor(&self) -> (u32, u32) {
        let mut it = self.python_short().split('.');
        let major = it.next().and_then(|s| s.parse().ok()).unwrap_or(3);
        let minor = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (major, minor)
    }

    fn parsed_platforms(&self) -> Vec<Platform> {
        self.platforms
            .iter()
            .filter_map(|p| Platform::parse(p).ok())
            .collect()
    }

    pub fn os(&self) -> Os {
        self.parsed_platforms()
            .first()
            .map(Platform::os)
            .unwrap_or(Os::Linux)
    }

    /// Platform tags accepted, best first, without duplicates.
    pub fn platform_tags(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self.parsed_platforms() {
            for t in p.expand() {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// Every compatible tag, best first, in the order pip and uv use for CPython.
    pub fn tags(&self) -> Vec<Tag> {
        let (major, minor) = self.python_minor();
        let cp = format!("cp{major}{minor}");
        let plats = self.platform_tags();
        let mut tags = Vec::new();
        let mut push = |py: &str, abi: &str, plat: &str| {
            tags.push(Tag {
                python: py.into(),
                abi: abi.into(),
                platform: plat.into(),
            })
        };
        // Free-threaded builds (PEP 703) have their own ABI and take `abi3t`, never `abi3`.
        let (abi, stable) = if self.free_threaded() {
            (format!("{cp}t"), "abi3t")
        } else {
            (cp.clone(), "abi3")
        };
        for abi in [abi.as_str(), stable, "none"] {
            for p in &plats {
                push(&cp, abi, p);
            }
        }
        if major == 3 {
            for m in (2..minor).rev() {
                for p in &plats {
                    push(&format!("cp3{m}"), stable, p);
                }
            }
        }
        let mut py_versions = vec![format!("py{major}{minor}"), format!("py{major}")];
        for m in (0..minor).rev() {
            py_versions.push(format!("py{major}{m}"));
        }
        for py in &py_versions {
            for p in &plats {
                push(py, "none", p);
            }
        }
        push(&cp, "none", "any");
        for py in &py_versions {
            push(py, "none", "any");
        }
        tags
    }

    /// PEP 508 marker environment of the target host.
    pub fn marker_env(&self) -> MarkerEnvironment {
        let plat = self.parsed_platforms().into_iter().next();
        let (sys_platform, platform_system, os_name) = match plat.as_ref().map(Platform::os) {
            Some(Os::Windows) => ("win32", "Windows", "nt"),
            Some(Os::MacOs) => ("darwin", "Darwin", "posix"),
            _ => ("linux", "Linux", "posix"),
        };
        let machine = plat
            .as_ref()
            .map(|p| p.machine().to_string())
            .unwrap_or_else(|| "x86_64".into());
        let full = self
            .python_full
            .clone()
            .unwrap_or_else(|| format!("{}.0", self.python_short()));
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full,
            os_name,
            platform_machine: &machine,
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system,
            platform_version: "",
            python_full_version: &full,
            python_version: self.python_short(),
            sys_platform,
        })
        .expect("target python version was validated")
    }

    /// Whether targets with these platforms belong to the same host family (pip's several `--platform`
    /// flags describe one host; different OS families are different targets).
    pub fn same_family(a: &str, b: &str) -> bool {
        match (Platform::parse(a), Platform::parse(b)) {
            (Ok(x), Ok(y)) => x.os() == y.os() && x.machine() == y.machine(),
            _ => false,
        }
    }
}

/// `3.10`, `3.10.12`, or a free-threaded `3.13t` / `3.13.1t` → (`3.10` or `3.13t`, full version without `t`).
fn parse_python(v: &str) -> Result<(String, Option<String>), TargetError> {
    let bad = || TargetError::BadPython(v.to_string());
    let (v, threaded) = match v.trim().strip_suffix('t') {
        Some(rest) => (rest, true),
        None => (v.trim(), false),
    };
    let parts: Vec<&str> = v.split('.').collect();
    if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        return Err(bad());
    }
    if parts[0] != "3" {
        return Err(bad());
    }
    if threaded && parts[1].parse::<u32>().unwrap_or(0) < 13 {
        return Err(bad());
    }
    let short = format!(
        "{}.{}{}",
        parts[0],
        parts[1],
        if threaded { "t" } else { "" }
    );
    Ok((short, (parts.len() == 3).then(|| v.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(py: &str, plats: &[&str]) -> Target {
        Target::new(py, plats.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn manylinux_expansion_with_aliases() {
        let tags = t("3.10", &["manylinux_2_28_x86_64"]).platform_tags();
        assert_eq!(tags[0], "manylinux_2_28_x86_64");
        let i17 = tags
            .iter()
            .position(|t| t == "manylinux_2_17_x86_64")
            .unwrap();
        assert_eq!(tags[i17 + 1], "manylinux2014_x86_64");
        assert_eq!(tags.last().unwrap(), "manylinux1_x86_64");
        assert!(!tags.iter().any(|t| t.starts_with("linux_")));
        let arm = t("3.10", &["manylinux2014_aarch64"]).platform_tags();
        assert_eq!(arm, vec!["manylinux_2_17_aarch64", "manylinux2014_aarch64"]);
    }

    #[test]
    fn tag_priority_matches_pip() {
        let tags: Vec<String> = t("3.10", &["win_amd64"])
            .tags()
            .iter()
            .map(|t| t.to_string())
            .collect();
        let pos = |s: &str| {
            tags.iter()
                .position(|t| t == s)
                .unwrap_or_else(|| panic!("{s} missing"))
        };
        assert_eq!(tags[0], "cp310-cp310-win_amd64");
        assert!(pos("cp310-abi3-win_amd64") < pos("cp310-none-win_amd64"));
        assert!(pos("cp310-none-win_amd64") < pos("cp39-abi3-win_amd64"));
        assert!(pos("cp32-abi3-win_amd64") < pos("py310-none-win_amd64"));
        assert!(pos("py3-none-win_amd64") < pos("py39-none-win_amd64"));
        assert!(pos("py30-none-win_amd64") < pos("cp310-none-any"));
        assert!(pos("py310-none-any") < pos("py3-none-any"));
        assert_eq!(tags.last().unwrap(), "py30-none-any");
        assert!(!tags.contains(&"cp311-cp311-win_amd64".to_string()));
    }

    #[test]
    fn macos_and_musl() {
        let mac = t("3.11", &["macosx_13_0_arm64"]).platform_tags();
        assert_eq!(
            &mac[..3],
            &[
                "macosx_13_0_arm64",
                "macosx_13_0_universal2",
                "macosx_12_0_arm64"
            ]
        );
        // Before 11.0 an arm64 Mac takes universal2 builds only (packaging lists them down to 10.4).
        assert!(!mac
            .iter()
            .any(|t| t.starts_with("macosx_10") && !t.ends_with("_universal2")));
        let musl = t("3.11", &["musllinux_1_2_x86_64"]).platform_tags();
        assert_eq!(
            musl,
            vec![
                "musllinux_1_2_x86_64",
                "musllinux_1_1_x86_64",
                "musllinux_1_0_x86_64"
            ]
        );
    }

    #[test]
    fn markers_for_target_not_host() {
        use std::str::FromStr;
        let win = t("3.10", &["win_amd64"]).marker_env();
        let m =
            pep508_rs::MarkerTree::from_str("sys_platform == 'win32' and python_version < '3.11'")
                .unwrap();
        assert!(m.evaluate(&win, &[]));
        let lin = t("3.12", &["manylinux_2_17_x86_64"]).marker_env();
        assert!(!m.evaluate(&lin, &[]));
    }

    #[test]
    fn rejects_unknown() {
        assert!(Target::new("3.10", vec!["manylinux_2_28_sparc".into()]).is_err());
        assert!(Target::new("3.10", vec!["beos".into()]).is_err());
        assert!(Target::new("three", vec![]).is_err());
        assert_eq!(t("3.10.4", &["win32"]).python, "3.10");
        assert_eq!(
            t("3.10", &["manylinux_2_28_x86_64"]).id(),
            "cp310-manylinux_2_28_x86_64"
        );
    }
}
