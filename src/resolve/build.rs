//! Running a wheel build (`python -m pip wheel`) under a time limit, in a folder that is always removed:
//! a guard removes it when the build ends or fails, and folders left by a killed ferry (their owner process
//! is gone) are removed the next time a builder starts.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Seconds a build may take (`FERRY_BUILD_TIMEOUT`, default 300).
pub fn timeout() -> Duration {
    let secs = std::env::var("FERRY_BUILD_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(300);
    Duration::from_secs(secs.max(1))
}

const OWNER: &str = ".ferry-owner";

/// A build folder under `root` (created), removed on drop; it records the owning process id so a later
/// run can tell an abandoned folder from one in use.
pub fn scratch(root: &Path) -> Result<tempfile::TempDir, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(root)
        .map_err(|e| format!("{}: {e}", root.display()))?;
    std::fs::write(dir.path().join(OWNER), std::process::id().to_string())
        .map_err(|e| format!("{}: {e}", dir.path().display()))?;
    Ok(dir)
}

/// Remove build folders whose owner process no longer runs (left by a killed run). Where process ids
/// cannot be checked, folders older than a day go.
pub fn clean_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if !path.is_dir()
            || !e
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("build-"))
        {
            continue;
        }
        let owner: Option<u32> = std::fs::read_to_string(path.join(OWNER))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let stale = match owner {
            Some(pid) if Path::new("/proc/self").exists() => {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            }
            _ => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600)),
        };
        if stale {
            tracing::info!("removing an abandoned build folder {}", path.display());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// What a finished build gave.
pub enum Outcome {
    Wheel(PathBuf),
    Failed(String),
}

/// `python -m pip wheel --no-deps -w OUT SDIST` inside `scratch` (its TMPDIR too, so pip's build
/// environment is removed with it), killed with its whole process group after `limit`.
pub fn pip_wheel(
    python: &str,
    sdist: &Path,
    index_args: &[String],
    source_date_epoch: u64,
    scratch: &Path,
    limit: Duration,
) -> Outcome {
    let out = scratch.join("out");
    let tmp = scratch.join("tmp");
    for d in [&out, &tmp] {
        if let Err(e) = std::fs::create_dir_all(d) {
            return Outcome::Failed(format!("{}: {e}", d.display()));
        }
    }
    let log_path = scratch.join("build.log");
    let log = match std::fs::File::create(&log_path) {
        Ok(f) => f,
        Err(e) => return Outcome::Failed(format!("{}: {e}", log_path.display())),
    };
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "-q",
        "-w",
    ])
    .arg(&out)
    .arg(sdist)
    .args(index_args)
    .env("SOURCE_DATE_EPOCH", source_date_epoch.to_string())
    .env("PIP_NO_INPUT", "1")
    .env("TMPDIR", &tmp)
    .env("TEMP", &tmp)
    .env("TMP", &tmp)
    .env_remove("PIP_FIND_LINKS")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(log);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot run {python}: {e}")),
    };
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if start.elapsed() > limit => {
                kill_group(&mut child);
                break Err(format!(
                    "the build took longer than {}s (FERRY_BUILD_TIMEOUT) and was stopped",
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let tail = || {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(6).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    match status {
        Err(e) => Outcome::Failed(e),
        Ok(s) if !s.success() => Outcome::Failed(tail()),
        Ok(_) => std::fs::read_dir(&out)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .map(Outcome::Wheel)
            .unwrap_or_else(|| Outcome::Failed("pip produced no wheel".into())),
    }
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        // The build's own children (the backend, compilers) are in its process group, which the child
        // leads. Signal that group directly: a negative pid names one group, never "every process".
        if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
            if pgid > 1 {
                // SAFETY: kill(2) takes plain integers and touches no memory of ours.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoned_folders_go_live_ones_stay() {
        let root = tempfile::tempdir().unwrap();
        let live = scratch(root.path()).unwrap();
        let dead = root.path().join("build-dead");
        std::fs::create_dir_all(dead.join("tmp/pip-build-env")).unwrap();
        // A pid that is not running: beyond the kernel's pid range.
        std::fs::write(dead.join(OWNER), "4194305").unwrap();
        clean_stale(root.path());
        assert!(live.path().exists());
        if Path::new("/proc/self").exists() {
            assert!(!dead.exists());
        }
        let kept = live.path().to_path_buf();
        drop(live);
        assert!(!kept.exists(), "the guard removes its folder");
    }

    #[cfg(unix)]
    #[test]
    fn a_build_over_its_time_limit_is_stopped() {
        let root = tempfile::tempdir().unwrap();
        let dir = scratch(root.path()).unwrap();
        // A "python" that hangs: sh ignoring its arguments.
        let fake = root.path().join("slowpy");
        std::fs::write(&fake, "#!/bin/sh\nsleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let start = Instant::now();
        let out = pip_wheel(
            fake.to_str().unwrap(),
            Path::new("x.tar.gz"),
            &[],
            0,
            dir.path(),
            Duration::from_secs(1),
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        match out {
            Outcome::Failed(m) => assert!(m.contains("longer than 1s"), "{m}"),
            Outcome::Wheel(_) => panic!("no wheel expected"),
        }
    }
}
