//! `ferry inspect`: what a bundle holds, from its `ferry.json`, without extracting (and without verifying).
use std::path::PathBuf;

use serde_json::json;

use crate::bundle::{self, human_size, Front};
use crate::lock::{DistKind, LockedModel, LockedPackage};

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub json: bool,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let front = bundle::read_front(&settings.bundle)?;
    if settings.json {
        let mut text = serde_json::to_string_pretty(&to_json(&front)).expect("json");
        text.push('\n');
        print!("{text}");
    } else {
        print!("{}", to_text(&front));
    }
    Ok(())
}

/// Why a model is in the bundle: the reason it was added, else where it was named.
fn model_why(m: &LockedModel) -> String {
    match (&m.reason, m.origins.is_empty()) {
        (Some(reason), _) if reason.starts_with("added because") => reason.clone(),
        (Some(reason), _) => format!("added because {reason}"),
        (None, false) => format!("named at {}", m.origins.join("; ")),
        (None, true) => "named by the user".into(),
    }
}

fn model_size(m: &LockedModel) -> u64 {
    m.files.iter().map(|f| f.size).sum()
}

fn package_note(p: &LockedPackage) -> Vec<String> {
    let mut notes = Vec::new();
    if p.needs_compiler {
        notes.push("needs a compiler on the target".to_string());
    } else if p.kind == DistKind::Sdist {
        notes.push("sdist: built on the target".to_string());
    }
    if let Some(from) = &p.built_from {
        notes.push(format!("built from {from}"));
    }
    if let Some(reason) = &p.reason {
        notes.push(reason.clone());
    }
    notes
}

/// Where a PyTorch-family file came from and why ("PyTorch cu121 index: driver 535.104 on the probed host").
fn torch_note(lock: &crate::lock::Lock, p: &LockedPackage) -> Option<String> {
    if !crate::accel::in_torch_family(&p.name) {
        return None;
    }
    let r = lock
        .torch
        .iter()
        .find(|r| p.targets.contains(&r.target) && p.url.starts_with(&r.index))?;
    Some(format!("PyTorch {} index: {}", r.backend, r.reason))
}

fn to_json(front: &Front) -> serde_json::Value {
    let lock = &front.lock;
    let package_bytes: u64 = lock.packages.iter().map(|p| p.size).sum();
    let model_bytes: u64 = lock.models.iter().map(model_size).sum();
    json!({
        "name": lock.name,
        "format": lock.format,
        "tool": lock.tool,
        "created": lock.created,
        "created_utc": utc(lock.created),
        "targets": lock.targets.iter().map(|t| json!({
            "id": t.id(),
            "python": t.python,
            "platforms": t.platforms,
            "nvidia_driver": t.nvidia_driver,
        })).collect::<Vec<_>>(),
        "torch": lock.torch,
        "signer_key_id": front.signer_key_id,
        "volumes": front.volumes,
        "bundle_bytes": front.bytes,
        "packages": lock.packages.iter().map(|p| json!({
            "name": p.name.to_string(),
            "version": p.version,
            "filename": p.filename,
            "kind": p.kind,
            "size": p.size,
            "sha256": p.sha256,
            "targets": p.targets,
            "requested": p.requested,
            "needs_compiler": p.needs_compiler,
            "reason": p.reason,
            "built_from": p.built_from,
            "source": torch_note(lock, p),
        })).collect::<Vec<_>>(),
        "models": lock.models.iter().map(|m| json!({
            "repo": m.repo,
            "kind": m.kind,
            "revision": m.revision,
            "commit": m.commit,
            "source_repo": m.source_repo,
            "reason": m.reason,
            "origins": m.origins,
            "why": model_why(m),
            "files": m.files.len(),
            "size": model_size(m),
            "file_list": m.files.iter().map(|f| json!({
                "path": f.path,
                "size": f.size,
                "sha256": f.sha256,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "files": lock.files.iter().map(|f| json!({
            "name": f.name,
            "member": format!("files/{}", f.name),
            "source": f.source,
            "size": f.size,
            "sha256": f.sha256,
            "origins": f.origins,
        })).collect::<Vec<_>>(),
        "local_paths": lock.local_paths,
        "skipped": lock.skipped,
        "totals": {
            "packages": lock.packages.len(),
            "package_bytes": package_bytes,
            "models": lock.models.len(),
            "model_files": lock.models.iter().map(|m| m.files.len()).sum::<usize>(),
            "model_bytes": model_bytes,
            "bytes": package_bytes + model_bytes,
        },
    })
}

fn to_text(front: &Front) -> String {
    let lock = &front.lock;
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(format!("bundle:   {}", lock.name));
    line(format!(
        "format:   {} (written by {})",
        lock.format, lock.tool
    ));
    line(format!("created:  {}", utc(lock.created)));
    line(format!(
        "signer:   key {} (not verified; run ferry verify)",
        front.signer_key_id
    ));
    for t in &lock.targets {
        line(format!(
            "target:   {} (Python {}, {})",
            t.id(),
            t.python,
            t.platforms.join(", ")
        ));
    }
    for r in &lock.torch {
        line(format!(
            "torch:    {} for {} from {} ({})",
            r.backend, r.target, r.index, r.reason
        ));
    }
    let package_bytes: u64 = lock.packages.iter().map(|p| p.size).sum();
    line(String::new());
    line(format!(
        "packages: {} ({})",
        lock.packages.len(),
        human_size(package_bytes)
    ));
    use crate::types::plural;
    let rows: Vec<[String; 5]> = lock
        .packages
        .iter()
        .map(|p| {
            [
                p.name.to_string(),
                p.version.clone(),
                p.filename.clone(),
                human_size(p.size),
                p.targets.join(","),
            ]
        })
        .collect();
    let mut widths = [4, 7, 8, 4, 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Fit COLUMNS: the FILE column gives way first (shortened in the middle), then NAME.
    let mut rows = rows;
    if let Some(cols) = crate::types::term_columns() {
        let used = |w: &[usize; 5]| 2 + w.iter().sum::<usize>() + 2 * 4;
        for col in [2usize, 0] {
            let over = used(&widths).saturating_sub(cols);
            if over > 0 {
                widths[col] = widths[col].saturating_sub(over).max(8);
                for row in &mut rows {
                    row[col] = crate::types::fit(&row[col], widths[col]);
                }
            }
        }
    }
    if !rows.is_empty() {
        let header = ["NAME", "VERSION", "FILE", "SIZE", "TARGETS"].map(String::from);
        line(format!("  {}", cells(&header, &widths)));
    }
    for (row, p) in rows.iter().zip(&lock.packages) {
        let mut notes = package_note(p);
        notes.extend(torch_note(lock, p));
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join("; "))
        };
        line(format!("  {}{notes}", cells(row, &widths)));
    }
    let model_bytes: u64 = lock.models.iter().map(model_size).sum();
    line(String::new());
    line(format!(
        "models:   {} ({})",
        lock.models.len(),
        human_size(model_bytes)
    ));
    for m in &lock.models {
        line(format!(
            "  {}@{}  commit {}  {}  {}",
            m.repo,
            m.revision,
            m.commit,
            plural(m.files.len(), "file"),
            human_size(model_size(m))
        ));
        if let Some(source) = &m.source_repo {
            line(format!("    fetched from {source} (alias)"));
        }
        line(format!("    why: {}", model_why(m)));
        for f in &m.files {
            line(format!("    {}  {}", f.path, human_size(f.size)));
        }
    }
    if !lock.files.is_empty() {
        let bytes: u64 = lock.files.iter().map(|f| f.size).sum();
        line(String::new());
        line(format!(
            "files:    {} ({}), not on a hub; `install --files-dir DIR` puts them under DIR",
            lock.files.len(),
            human_size(bytes)
        ));
        for f in &lock.files {
            line(format!("  files/{}  {}", f.name, human_size(f.size)));
            line(format!("    from {}", f.source));
            line(format!("    why: named at {}", f.origins.join("; ")));
        }
    }
    for p in &lock.local_paths {
        line(format!("local path (not carried): {p}"));
    }
    for s in &lock.skipped {
        line(format!("skipped: {s}"));
    }
    line(String::new());
    line(format!(
        "total:    {}, {}, {} ({} with the archive)",
        plural(lock.packages.len(), "package"),
        plural(lock.models.len(), "model"),
        human_size(package_bytes + model_bytes),
        human_size(front.bytes)
    ));
    out
}

fn cells(row: &[String; 5], widths: &[usize; 5]) -> String {
    row.iter()
        .zip(widths)
        .map(|(c, w)| format!("{c:<w$}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// `YYYY-MM-DD HH:MM:SS UTC` from seconds since the epoch (proleptic Gregorian calendar).
fn utc(secs: u64) -> String {
    let (year, month, day, h, m, sec) = crate::types::civil_utc(secs);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{sec:02} UTC")
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
