//! What a bundle may hold: member names, symlink rules, the SHA256SUMS format, and the agreement between
//! `ferry.json` and SHA256SUMS. The writer and the reader apply the same rules, so ferry never writes a bundle
//! it would refuse.
use std::collections::BTreeMap;

use crate::lock::{Lock, LockedModel};
use crate::types::Sha256;

pub const MANIFEST: &str = "ferry.json";
pub const SUMS: &str = "SHA256SUMS";
pub const SUMS_SIG: &str = "SHA256SUMS.minisig";
pub(crate) const WHEELS: &str = "wheels";
pub(crate) const MODELS: &str = "models";
pub(crate) const HUB: &str = "models/hub";
/// Model files that are not on a hub (local files and plain URLs named by configs).
pub(crate) const FILES: &str = "files";
/// `--with-ferry`: the ferry binary, `ferry/ferry-VERSION-ARCH-OS` (listed in SHA256SUMS, not in ferry.json).
pub const FERRY_DIR: &str = "ferry";

/// Check a member name (no trailing slash): relative, no `.`/`..`/empty components, under `wheels/` or
/// `models/hub/<repo folder>/`, or one of the three top-level files.
pub fn check_member_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty name".into());
    }
    if name.starts_with('/') {
        return Err("absolute path".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '\0' | '\\' | '\n' | '\r'))
    {
        return Err(format!("forbidden character {c:?} in name"));
    }
    let parts: Vec<&str> = name.split('/').collect();
    for part in &parts {
        match *part {
            "" => return Err("empty path component".into()),
            "." | ".." => return Err(format!("'{part}' path component")),
            _ => {}
        }
    }
    match parts.as_slice() {
        [MANIFEST] | [SUMS] | [SUMS_SIG] => Ok(()),
        [super::pylock::PYLOCK] | [super::sbom::SBOM] => Ok(()),
        [WHEELS] | [WHEELS, _] => Ok(()),
        [WHEELS, ..] => Err("nested folder under wheels/".into()),
        [FERRY_DIR] | [FERRY_DIR, _] => Ok(()),
        [MODELS] | [MODELS, "hub"] => Ok(()),
        [FILES] | [FILES, _, ..] => Ok(()),
        [MODELS, "hub", folder, ..] => {
            if is_repo_folder(folder) {
                Ok(())
            } else {
                Err(format!(
                    "'{folder}' is not a Hugging Face cache folder (models--ORG--NAME)"
                ))
            }
        }
        _ => Err(format!(
            "not under {MANIFEST}, {SUMS}, {SUMS_SIG}, {WHEELS}/, {FILES}/, {FERRY_DIR}/ or {HUB}/"
        )),
    }
}

/// `wheels`, `models`, `models/hub` and the repo folders are folders, never files or links.
pub(crate) fn must_be_folder(name: &str) -> bool {
    name == WHEELS
        || name == MODELS
        || name == FILES
        || name == FERRY_DIR
        || (name.starts_with(HUB) && name.split('/').count() <= 3)
}

fn is_repo_folder(folder: &str) -> bool {
    ["models--", "datasets--"]
        .iter()
        .any(|p| folder.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
}

/// A symlink must live inside `models/hub/<repo folder>/` and its relative target must stay inside that same
/// folder.
pub(crate) fn check_symlink(name: &str, target: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() < 4 || parts[0] != MODELS || parts[1] != "hub" {
        return Err("symlink outside models/hub/<repo folder>/".into());
    }
    if target.is_empty() || target.starts_with('/') {
        return Err(format!("symlink target '{target}' is not relative"));
    }
    if target.contains(['\0', '\\', '\n', '\r']) {
        return Err(format!("forbidden character in symlink target '{target}'"));
    }
    // Resolve lexically from the link's folder; never leave the repo folder (the first three components).
    let mut resolved: Vec<&str> = parts[..parts.len() - 1].to_vec();
    for part in target.split('/') {
        match part {
            "" | "." => {
                return Err(format!(
                    "symlink target '{target}' has an empty or '.' part"
                ))
            }
            ".." => {
                resolved.pop();
                if resolved.len() < 3 {
                    return Err(format!(
                        "symlink target '{target}' leaves its repo folder {}/{}",
                        HUB, parts[2]
                    ));
                }
            }
            p => resolved.push(p),
        }
    }
    if resolved.len() <= 3 {
        return Err(format!(
            "symlink target '{target}' points at its repo folder itself"
        ));
    }
    Ok(())
}

/// SHA256SUMS text, `sha256sum -c` format, sorted by path.
pub(crate) fn format_sums(files: &BTreeMap<String, Sha256>) -> String {
    let mut out = String::new();
    for (path, sha) in files {
        out.push_str(sha.as_str());
        out.push_str("  ");
        out.push_str(path);
        out.push('\n');
    }
    out
}

/// Parse SHA256SUMS as ferry writes it: `<64 hex>  <path>` lines, each path once and valid.
pub(crate) fn parse_sums(text: &str) -> Result<BTreeMap<String, Sha256>, String> {
    let mut files = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let (hex, path) = line
            .split_once("  ")
            .ok_or_else(|| format!("line {n}: expected '<sha256>  <path>'"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!("line {n}: '{hex}' is not a lowercase sha256"));
        }
        let sha: Sha256 = hex.parse().map_err(|e| format!("line {n}: {e}"))?;
        check_member_name(path).map_err(|e| format!("line {n}: '{path}': {e}"))?;
        if path == SUMS || path == SUMS_SIG {
            return Err(format!("line {n}: lists {path}"));
        }
        if files.insert(path.to_string(), sha).is_some() {
            return Err(format!("line {n}: '{path}' listed twice"));
        }
    }
    Ok(files)
}

/// `models/hub/models--ORG--NAME`: where a model lives in the bundle (and in `HF_HUB_CACHE`).
pub fn model_folder(model: &LockedModel) -> String {
    format!("{HUB}/{}", model.repo.cache_folder(model.kind))
}

pub use crate::lock::snapshot_link_target;

/// Every package and model blob named by the lock must be a listed file with the lock's sha256 and size, and
/// every model file must have its snapshot symlink into its blob. Returns the member and what is wrong.
pub(crate) fn check_manifest(
    lock: &Lock,
    files: &BTreeMap<String, (Sha256, u64)>,
    links: &BTreeMap<String, String>,
) -> Result<(), (String, String)> {
    let expect = |member: String, sha: &Sha256, size: u64| -> Result<(), (String, String)> {
        match files.get(&member) {
            None => Err((member, format!("named in {MANIFEST} but not in the bundle"))),
            Some((got, _)) if got != sha => Err((
                member,
                format!("{MANIFEST} says sha256 {sha}, {SUMS} says {got}"),
            )),
            Some((_, got)) if *got != size => Err((
                member,
                format!("{MANIFEST} says {size} bytes, the bundle holds {got}"),
            )),
            Some(_) => Ok(()),
        }
    };
    for p in &lock.packages {
        let member = format!("{WHEELS}/{}", p.filename);
        if p.filename.contains('/') {
            return Err((member, "package filename contains '/'".into()));
        }
        check_member_name(&member).map_err(|e| (member.clone(), e))?;
        if lock.omits(&member) {
            continue; // a delta leaves it to its base
        }
        expect(member, &p.sha256, p.size)?;
    }
    for f in &lock.files {
        let member = format!("{FILES}/{}", f.name);
        check_member_name(&member).map_err(|e| (member.clone(), e))?;
        expect(member, &f.sha256, f.size)?;
    }
    for m in &lock.models {
        let folder = model_folder(m);
        for f in &m.files {
            let member = format!("{folder}/blobs/{}", f.blob);
            if f.blob.contains('/') {
                return Err((member, "blob name contains '/'".into()));
            }
            check_member_name(&member).map_err(|e| (member.clone(), e))?;
            let Some(sha256) = &f.sha256 else {
                return Err((member, "the lock gives no sha256 for it".into()));
            };
            if !lock.omits(&member) {
                expect(member, sha256, f.size)?;
            }
            let link = format!("{folder}/{}", f.snapshot_path(&m.commit));
            check_member_name(&link).map_err(|e| (link.clone(), e))?;
            let target = snapshot_link_target(&f.path, &f.blob);
            match links.get(&link) {
                Some(t) if *t == target => {}
                Some(t) => {
                    return Err((
                        link,
                        format!("symlink points to '{t}', expected '{target}'"),
                    ))
                }
                None => {
                    return Err((
                        link,
                        format!("named in {MANIFEST} but no snapshot symlink in the bundle"),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// All ancestor folders of a member name, shortest first (`a/b/c` → `a`, `a/b`).
pub(crate) fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('/').map(move |(i, _)| &name[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        for ok in [
            "ferry.json",
            "wheels/a-1.0-py3-none-any.whl",
            "models/hub/models--org--name/blobs/abc",
            "models",
            "wheels",
        ] {
            assert!(check_member_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "../x",
            "wheels/../x",
            "wheels/./x",
            "wheels//x",
            "wheels/a/b",
            "other.txt",
            "models/hub/evil/x",
            "models/hub/models--/x",
            "SHA256SUMS/x",
        ] {
            assert!(check_member_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn symlinks_stay_in_their_repo() {
        let link = "models/hub/models--o--n/snapshots/c/sub/f.json";
        assert!(check_symlink(link, "../../../blobs/x").is_ok());
        assert!(check_symlink(link, "../../../../models--o--m/blobs/x").is_err());
        assert!(check_symlink(link, "/etc/passwd").is_err());
        assert!(check_symlink(link, "../../../..").is_err());
        assert!(check_symlink("wheels/x.whl", "y.whl").is_err());
    }

    #[test]
    fn snapshot_links() {
        assert_eq!(snapshot_link_target("config.json", "b"), "../../blobs/b");
        assert_eq!(
            snapshot_link_target("a/b/c.json", "b"),
            "../../../../blobs/b"
        );
        let link = "models/hub/models--o--n/snapshots/c/a/b/c.json";
        assert!(check_symlink(link, &snapshot_link_target("a/b/c.json", "x")).is_ok());
    }

    #[test]
    fn sums_round_trip() {
        let mut files = BTreeMap::new();
        files.insert("ferry.json".to_string(), Sha256::digest(b"a"));
        files.insert("wheels/x.whl".to_string(), Sha256::digest(b"b"));
        let text = format_sums(&files);
        assert_eq!(parse_sums(&text).unwrap(), files);
        assert!(parse_sums(&format!("{text}{text}")).is_err());
        assert!(parse_sums("abc  wheels/x\n").is_err());
    }
}
