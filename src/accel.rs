//! Accelerators: PyTorch backends (`cpu`, `cuNNN`, `rocmX.Y`, `xpu`), the packages they apply to, the NVIDIA
//! driver of a host and which CUDA build that driver can run. No network here.
use std::fmt;
use std::str::FromStr;

use crate::target::{Os, Tag, Target};

/// One PyTorch wheel index below the index base: `BASE/<backend>/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TorchBackend(String);

impl TorchBackend {
    pub fn cpu() -> Self {
        TorchBackend("cpu".into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `cu121` → 12.1.
    pub fn cuda(&self) -> Option<(u32, u32)> {
        let digits = self.0.strip_prefix("cu")?;
        let (major, minor) = digits.split_at(digits.len() - 1);
        Some((major.parse().ok()?, minor.parse().ok()?))
    }
}

impl fmt::Display for TorchBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TorchBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        let numeric = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let ok = match s.as_str() {
            "cpu" | "xpu" => true,
            _ if s.starts_with("cu") => numeric(&s[2..]) && (2..=3).contains(&(s.len() - 2)),
            _ if s.starts_with("rocm") => {
                let parts: Vec<&str> = s[4..].split('.').collect();
                (2..=3).contains(&parts.len()) && parts.iter().all(|p| numeric(p))
            }
            _ => false,
        };
        if ok {
            Ok(TorchBackend(s))
        } else {
            Err(format!(
                "unknown PyTorch backend '{s}' (expected auto, cpu, cuNNN such as cu121, rocmX.Y such as rocm6.2, or xpu)"
            ))
        }
    }
}

/// `--torch-backend`: none (default), auto (from the target's probe) or one backend for every target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TorchMode {
    #[default]
    None,
    Auto,
    Fixed(TorchBackend),
}

impl FromStr for TorchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(TorchMode::None),
            "auto" => Ok(TorchMode::Auto),
            other => other.parse().map(TorchMode::Fixed),
        }
    }
}

/// The PyTorch family: projects published on the PyTorch indexes in one build per backend. With a torch
/// backend (or an index pinned for them) they come from that index only, and nothing else ever does.
pub const TORCH_FAMILY: &[&str] = &[
    "torch",
    "torch-model-archiver",
    "torch-tb-profiler",
    "torcharrow",
    "torchaudio",
    "torchcsprng",
    "torchdata",
    "torchdistx",
    "torchserve",
    "torchtext",
    "torchvision",
    "triton",
    "pytorch-triton",
    "pytorch-triton-rocm",
    "pytorch-triton-xpu",
];

pub fn in_torch_family(name: &pep508_rs::PackageName) -> bool {
    TORCH_FAMILY.contains(&name.as_ref())
}

/// `tags` plus `linux_<arch>` for every manylinux tag (after the manylinux ones): PyTorch's own indexes tag their
/// manylinux-built CUDA wheels `linux_x86_64`. Used for the torch family and for the host an install runs on
/// (pip accepts `linux_<arch>` for the running interpreter too).
pub fn with_plain_linux(mut tags: Vec<Tag>) -> Vec<Tag> {
    let mut extra: Vec<Tag> = Vec::new();
    for t in &tags {
        let Some(rest) = t.platform.strip_prefix("manylinux") else {
            continue;
        };
        // manylinux_2_28_x86_64, manylinux2014_x86_64: the arch follows the second '_' or the first.
        let arch = match rest.strip_prefix('_') {
            Some(r) => r.splitn(3, '_').nth(2),
            None => rest.split_once('_').map(|(_, a)| a),
        };
        let Some(arch) = arch else { continue };
        let plain = Tag {
            python: t.python.clone(),
            abi: t.abi.clone(),
            platform: format!("linux_{arch}"),
        };
        if !extra.contains(&plain) && !tags.contains(&plain) {
            extra.push(plain);
        }
    }
    // Right after the last manylinux tag: before the `-any` tags, as pip orders a Linux host's tags.
    let at = tags
        .iter()
        .rposition(|t| t.platform.starts_with("manylinux"))
        .map_or(tags.len(), |i| i + 1);
    tags.splice(at..at, extra);
    tags
}

/// The minimum NVIDIA driver of each CUDA toolkit that PyTorch publishes wheels for, newest first:
/// (backend, Linux x86_64 minimum, Windows minimum). Source: NVIDIA CUDA Toolkit Release Notes, table "CUDA
/// Toolkit and Corresponding Driver Versions" (the GA row of each toolkit). Where that table lists no Windows
/// driver (CUDA 13), `auto` does not pick the backend for Windows targets.
pub const CUDA_MIN_DRIVERS: &[(&str, &str, Option<&str>)] = &[
    ("cu130", "580.65.06", None),
    ("cu129", "575.51.03", Some("576.02")),
    ("cu128", "570.26", Some("570.65")),
    ("cu126", "560.28.03", Some("560.76")),
    ("cu124", "550.54.14", Some("551.61")),
    ("cu121", "530.30.02", Some("531.14")),
    ("cu118", "520.61.05", Some("520.06")),
    ("cu117", "515.43.04", Some("516.01")),
    ("cu116", "510.39.01", Some("511.23")),
    ("cu113", "465.19.01", Some("465.89")),
    ("cu111", "455.23", Some("456.38")),
    ("cu102", "440.33", Some("441.22")),
];

/// A driver version as numbers (`535.104.05` → [535, 104, 5]).
pub fn parse_driver(s: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = s.trim().split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty() && p.len() <= 4)
}

/// The newest CUDA backend a driver runs on this OS, if any.
pub fn newest_cuda_for(driver: &str, os: Os) -> Option<TorchBackend> {
    let have = parse_driver(driver)?;
    CUDA_MIN_DRIVERS
        .iter()
        .find_map(|(backend, linux, windows)| {
            let min = match os {
                Os::Linux => Some(*linux),
                Os::Windows => *windows,
                Os::MacOs => None,
            }?;
            (have >= parse_driver(min)?).then(|| TorchBackend(backend.to_string()))
        })
}

/// The backend chosen for one target and why, as recorded in the lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub backend: TorchBackend,
    pub reason: String,
}

/// Pick the backend for a target. `env_driver` is `FERRY_CUDA_DRIVER_VERSION` where the lock runs; it overrides
/// the driver recorded by `probe`.
pub fn choose(mode: &TorchMode, target: &Target, env_driver: Option<&str>) -> Option<Choice> {
    match mode {
        TorchMode::None => None,
        TorchMode::Fixed(b) => Some(Choice {
            backend: b.clone(),
            reason: format!("{b}: asked for with --torch-backend {b}"),
        }),
        TorchMode::Auto => {
            let os = target.os();
            let (driver, from) = match (env_driver, target.nvidia_driver.as_deref()) {
                (Some(d), _) => (Some(d), "from FERRY_CUDA_DRIVER_VERSION"),
                (None, Some(d)) => (Some(d), "on the probed host"),
                (None, None) => (None, ""),
            };
            let reason = match (driver, os) {
                (_, Os::MacOs) => "cpu: macOS targets have no CUDA builds".to_string(),
                (None, _) => "cpu: no NVIDIA driver recorded for this target".to_string(),
                (Some(d), _) if parse_driver(d).is_none() => {
                    format!("cpu: driver '{d}' {from} is not a driver version (e.g. 535.104.05)")
                }
                (Some(d), _) => match newest_cuda_for(d, os) {
                    Some(b) => {
                        return Some(Choice {
                            reason: format!("{b}: driver {d} {from}"),
                            backend: b,
                        })
                    }
                    None => {
                        format!("cpu: driver {d} {from} is older than every CUDA build's minimum")
                    }
                },
            };
            Some(Choice {
                backend: TorchBackend::cpu(),
                reason,
            })
        }
    }
}

/// The NVIDIA driver of this host: `FERRY_CUDA_DRIVER_VERSION`, else `/proc/driver/nvidia/version`, else
/// `nvidia-smi`. None when there is no NVIDIA driver.
pub fn detect_driver() -> Option<String> {
    if let Ok(v) = std::env::var("FERRY_CUDA_DRIVER_VERSION") {
        let v = v.trim().to_string();
        return parse_driver(&v).map(|_| v);
    }
    if let Ok(text) = std::fs::read_to_string("/proc/driver/nvidia/version") {
        if let Some(v) = driver_from_proc(&text) {
            return Some(v);
        }
    }
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=driver_version", "--format=csv,noheader"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let first = text.lines().next()?.trim().to_string();
    (out.status.success() && parse_driver(&first).is_some()).then_some(first)
}

/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 …` → `535.104.05`.
pub fn driver_from_proc(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version"))?;
    line.split_whitespace()
        .find(|w| w.contains('.') && parse_driver(w).is_some())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(platform: &str, driver: Option<&str>) -> Target {
        let mut t = Target::new("3.10", vec![platform.into()]).unwrap();
        t.nvidia_driver = driver.map(str::to_string);
        t
    }

    #[test]
    fn backends_parse() {
        for ok in [
            "cpu",
            "cu118",
            "cu121",
            "CU124",
            "rocm6.2",
            "rocm6.2.4",
            "xpu",
        ] {
            assert!(ok.parse::<TorchBackend>().is_ok(), "{ok}");
        }
        for bad in ["cuda", "cu1", "cu12345", "rocm6", "rocm", "gpu", "cu12a"] {
            assert!(bad.parse::<TorchBackend>().is_err(), "{bad}");
        }
        assert_eq!("auto".parse::<TorchMode>().unwrap(), TorchMode::Auto);
        assert_eq!(
            "cu121".parse::<TorchBackend>().unwrap().cuda(),
            Some((12, 1))
        );
    }

    #[test]
    fn drivers_map_to_the_newest_cuda_they_run() {
        assert_eq!(
            newest_cuda_for("535.104.05", Os::Linux).unwrap().as_str(),
            "cu121"
        );
        assert_eq!(
            newest_cuda_for("550.54.14", Os::Linux).unwrap().as_str(),
            "cu124"
        );
        // Windows minimums differ: 551.61 for CUDA 12.4.
        assert_eq!(
            newest_cuda_for("550.60", Os::Windows).unwrap().as_str(),
            "cu121"
        );
        assert_eq!(
            newest_cuda_for("551.61", Os::Windows).unwrap().as_str(),
            "cu124"
        );
        assert_eq!(
            newest_cuda_for("590.44.01", Os::Windows).unwrap().as_str(),
            "cu129"
        );
        assert_eq!(
            newest_cuda_for("590.44.01", Os::Linux).unwrap().as_str(),
            "cu130"
        );
        assert!(newest_cuda_for("390.1", Os::Linux).is_none());
        assert!(newest_cuda_for("535.104.05", Os::MacOs).is_none());
    }

    #[test]
    fn auto_says_why() {
        let c = choose(
            &TorchMode::Auto,
            &target("manylinux_2_28_x86_64", Some("535.104.05")),
            None,
        )
        .unwrap();
        assert_eq!(c.backend.as_str(), "cu121");
        assert_eq!(c.reason, "cu121: driver 535.104.05 on the probed host");
        let c = choose(&TorchMode::Auto, &target("win_amd64", None), None).unwrap();
        assert_eq!(c.backend.as_str(), "cpu");
        assert!(c.reason.contains("no NVIDIA driver"), "{}", c.reason);
        let c = choose(
            &TorchMode::Auto,
            &target("win_amd64", Some("400.0")),
            Some("552.22"),
        )
        .unwrap();
        assert_eq!(c.backend.as_str(), "cu124");
        assert!(c.reason.contains("FERRY_CUDA_DRIVER_VERSION"));
        assert!(choose(&TorchMode::None, &target("win_amd64", None), None).is_none());
        let c = choose(&TorchMode::Auto, &target("win_amd64", Some("n/a")), None).unwrap();
        assert!(c.reason.contains("not a driver version"), "{}", c.reason);
    }

    #[test]
    fn plain_linux_tags_follow_manylinux() {
        let t = Target::new("3.10", vec!["manylinux_2_28_x86_64".into()]).unwrap();
        let tags = with_plain_linux(t.tags());
        let first_plain = tags
            .iter()
            .position(|t| t.platform == "linux_x86_64")
            .unwrap();
        assert!(tags[..first_plain]
            .iter()
            .all(|t| t.platform.starts_with("manylinux")));
        assert!(tags
            .iter()
            .any(|t| t.to_string() == "cp310-cp310-linux_x86_64"));
        let w = Target::new("3.10", vec!["win_amd64".into()]).unwrap();
        assert_eq!(with_plain_linux(w.tags()), w.tags());
    }

    #[test]
    fn proc_version_line() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n\
                    GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
        assert_eq!(driver_from_proc(text).as_deref(), Some("535.104.05"));
        assert_eq!(driver_from_proc("nothing"), None);
    }
}
