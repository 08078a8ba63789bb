//! Hash-checking mode (`--hash`): every chosen file is compared with the hashes pinned for it once its sha256
//! is known, from the index or from the download (find-links folders and HTML pages without fragments give
//! none), the way pip does.
use crate::inputs::Plan;
use crate::lock::LockedPackage;
use crate::resolve::Pinned;
use crate::types::Sha256;

#[derive(Debug, thiserror::Error)]
#[error(
    "{origin}: hash mismatch for {filename} ({url}): expected sha256 {}, got {got}",
    expected.join(" or ")
)]
pub struct HashMismatch {
    /// `file:line` of the requirement that pins the hashes.
    pub origin: String,
    pub name: String,
    pub filename: String,
    pub url: String,
    pub expected: Vec<String>,
    pub got: String,
}

/// Compare every locked file with the `--hash` values of its requirement (requirements and constraints).
pub fn check(
    plan: &Plan,
    packages: &[LockedPackage],
    pinned: &[Pinned],
) -> Result<(), Box<HashMismatch>> {
    for p in packages {
        let Some(req) = plan
            .requirements
            .iter()
            .chain(&plan.constraints)
            .find(|r| r.req.name == p.name && !r.hashes.is_empty())
        else {
            continue;
        };
        let allowed: Vec<&Sha256> = plan
            .requirements
            .iter()
            .chain(&plan.constraints)
            .filter(|r| r.req.name == p.name)
            .flat_map(|r| &r.hashes)
            .collect();
        // A wheel ferry built from an sdist: the pinned hash is the sdist's, as pip checks the download.
        let (filename, got) = match &p.built_from {
            Some(sdist) => {
                let Some(x) = pinned.iter().find(|x| &x.file.filename == sdist) else {
                    continue;
                };
                let got = x
                    .built
                    .as_ref()
                    .map(|b| b.sdist_sha256.clone())
                    .or_else(|| x.file.sha256.clone());
                (sdist.clone(), got)
            }
            None => (p.filename.clone(), Some(p.sha256.clone())),
        };
        // All zeros: not known (nothing was downloaded for it).
        let Some(got) = got.filter(|g| !g.as_str().bytes().all(|b| b == b'0')) else {
            continue;
        };
        if !allowed.contains(&&got) {
            return Err(Box::new(HashMismatch {
                origin: req
                    .origin
                    .as_ref()
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "command line".into()),
                name: p.name.to_string(),
                filename,
                url: url::Url::parse(&p.url)
                    .map(|u| crate::fetch::sources::redact(&u))
                    .unwrap_or_else(|_| p.url.clone()),
                expected: allowed.iter().map(|h| h.as_str().to_string()).collect(),
                got: got.as_str().to_string(),
            }));
        }
    }
    Ok(())
}
