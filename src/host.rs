//! Describe a host as a [`Target`] by asking its Python interpreter (used for the default target and `probe`).
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::target::Target;

/// Facts reported by an interpreter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    pub version: String,
    pub machine: String,
    pub system: String,
    pub libc: (String, String),
    pub mac: String,
    pub executable: String,
    pub prefix: String,
    pub base_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot run Python interpreter '{python}': {source}")]
    Spawn {
        python: String,
        source: std::io::Error,
    },
    #[error("Python interpreter '{python}' failed: {stderr}")]
    Failed { python: String, stderr: String },
    #[error("cannot describe this host as a wheel target: {0}")]
    Unsupported(String),
}

const SCRIPT: &str = r#"
import json, platform, sys
print(json.dumps({
  "version": platform.python_version(),
  "machine": platform.machine(),
  "system": platform.system(),
  "libc": list(platform.libc_ver()),
  "mac": platform.mac_ver()[0],
  "executable": sys.executable,
  "prefix": sys.prefix,
  "base_prefix": sys.base_prefix,
}))
"#;

/// Ask `python` (default `python3`) about itself.
pub fn facts(python: Option<&Path>) -> Result<HostFacts, HostError> {
    let exe = python
        .map(|p| p.as_os_str().to_owned())
        .unwrap_or_else(|| "python3".into());
    let shown = exe.to_string_lossy().into_owned();
    let out = Command::new(&exe)
        .args(["-I", "-c", SCRIPT])
        .output()
        .map_err(|source| HostError::Spawn {
            python: shown.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(HostError::Failed {
            python: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().into(),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|e| HostError::Failed {
        python: shown,
        stderr: format!("unexpected output: {e}"),
    })
}

/// The wheel target matching this interpreter's host.
pub fn detect(python: Option<&Path>) -> Result<Target, HostError> {
    let f = facts(python)?;
    target_from_facts(&f)
}

pub fn target_from_facts(f: &HostFacts) -> Result<Target, HostError> {
    let machine = f.machine.to_ascii_lowercase();
    let platform = match f.system.as_str() {
        "Linux" => {
            let arch = match machine.as_str() {
                "amd64" => "x86_64".to_string(),
                "arm64" => "aarch64".to_string(),
                m => m.to_string(),
            };
            match (
                f.libc.0.as_str(),
                f.libc.1.split('.').collect::<Vec<_>>().as_slice(),
            ) {
                ("glibc", [maj, min, ..]) => format!("manylinux_{maj}_{min}_{arch}"),
                // platform.libc_ver() does not know musl; assume musl 1.2 (every current Alpine).
                _ => format!("musllinux_1_2_{arch}"),
            }
        }
        "Windows" => match machine.as_str() {
            "amd64" | "x86_64" => "win_amd64".into(),
            "arm64" => "win_arm64".into(),
            _ => "win32".into(),
        },
        "Darwin" => {
            let major = f
                .mac
                .split('.')
                .next()
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(11);
            let (maj, min) = if major >= 11 {
                (major, 0)
            } else {
                (
                    10,
                    f.mac
                        .split('.')
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(9),
                )
            };
            format!(
                "macosx_{maj}_{min}_{}",
                if machine == "arm64" {
                    "arm64"
                } else {
                    "x86_64"
                }
            )
        }
        other => return Err(HostError::Unsupported(format!("system '{other}'"))),
    };
    Target::new(&f.version, vec![platform]).map_err(|e| HostError::Unsupported(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host() {
        // The test machine has python3; its target must carry its version and a linux platform.
        let t = detect(None).expect("python3 runs");
        assert!(t.python.starts_with("3."));
        assert!(
            t.platforms[0].starts_with("manylinux_") || t.platforms[0].starts_with("musllinux_")
        );
        assert!(t.python_full.is_some());
    }

    #[test]
    fn windows_and_mac_facts() {
        let mut f = HostFacts {
            version: "3.10.11".into(),
            machine: "AMD64".into(),
            system: "Windows".into(),
            libc: (String::new(), String::new()),
            mac: String::new(),
            executable: String::new(),
            prefix: String::new(),
            base_prefix: String::new(),
        };
        assert_eq!(target_from_facts(&f).unwrap().platforms, vec!["win_amd64"]);
        f.system = "Darwin".into();
        f.machine = "arm64".into();
        f.mac = "14.2.1".into();
        assert_eq!(
            target_from_facts(&f).unwrap().platforms,
            vec!["macosx_14_0_arm64"]
        );
    }
}
