//! The package files a lock names, in the cache: downloaded (with fail-over to the same file on the other
//! configured indexes), or, for wheels ferry built from sdists, rebuilt and checked to be the same bytes.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::{DistKind, Lock, LockedPackage};
use crate::fetch::cache::Cache;
use crate::fetch::download::{DownloadRequest, Progress};
use crate::fetch::index::IndexClient;
use crate::fetch::models::StagedFile;
use crate::fetch::simple::DistFile;
use crate::resolve::{sdist::SdistBuilder, Pinned};
use crate::types::Sha256;

/// Where a locked package's file lives in the cache.
pub fn cached_path(cache: &Cache, p: &LockedPackage, pinned: Option<&Pinned>) -> PathBuf {
    let _ = pinned;
    if p.built_from.is_some() {
        return cache.sdist(&p.filename);
    }
    if p.kind == DistKind::Sdist {
        return cache.sdist(&p.filename);
    }
    cache.download(&p.filename)
}

/// The lock's index URLs, for builds that need build requirements.
fn lock_indexes(lock: &Lock) -> Vec<url::Url> {
    lock.indexes
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .collect()
}

/// Download (or find in the cache) every package file; pure wheels built from sdists are rebuilt when
/// the cache lacks them. Returns the bundle members (`wheels/FILENAME`) in lock order.
pub fn fetch_packages(
    lock: &Lock,
    pinned: &[Pinned],
    index: Option<&Arc<IndexClient>>,
    cache: &Cache,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<(String, StagedFile)>, crate::Error> {
    // Fail-over URLs: the same file on the other configured indexes (not with --locked: a locked
    // bundle queries nothing but the files it names).
    let index = index.cloned();
    let reqs: Vec<DownloadRequest> = lock
        .packages
        .par_iter()
        .map(|p| {
            let pin = pinned.iter().find(|x| {
                x.name == p.name
                    && (x.file.filename == p.filename
                        || p.built_from.as_deref() == Some(x.file.filename.as_str()))
            });
            let mut urls = vec![url::Url::parse(&p.url).map_err(|e| super::Error::BadUrl {
                url: p.url.clone(),
                message: e.to_string(),
            })?];
            if p.built_from.is_none() {
                if let Some(index) = &index {
                    for u in index.alternates(&p.name, &p.filename, &p.sha256) {
                        if !urls.contains(&u) {
                            urls.push(u);
                        }
                    }
                }
            }
            Ok(DownloadRequest {
                urls,
                dest: cached_path(cache, p, pin),
                sha256: Some(p.sha256.clone()),
                size: Some(p.size).filter(|s| *s > 0),
                auth: None,
                label: p.filename.clone(),
            })
        })
        .collect::<Result<_, super::Error>>()?;
    let (built, fetch): (Vec<_>, Vec<_>) = reqs
        .into_iter()
        .zip(&lock.packages)
        .partition(|(_, p)| p.built_from.is_some());
    let builder = SdistBuilder::new(cache.build_dir(), &lock_indexes(lock), lock.created);
    for (r, p) in &built {
        rebuild(&builder, r, p, progress)?;
    }
    let fetch_reqs: Vec<DownloadRequest> = fetch.iter().map(|(r, _)| r.clone()).collect();
    let done = crate::fetch::download::download_all(fetch_reqs, jobs, progress)?;
    let retries: u32 = done.iter().map(|d| d.retries).sum();
    if retries > 0 {
        progress.message(&format!("{retries} download retries"));
    }
    // Wheels and sdists side by side: `pip install --no-index --find-links wheels/` takes both.
    Ok(built
        .iter()
        .chain(fetch.iter())
        .map(|(r, p)| {
            (
                format!("wheels/{}", p.filename),
                StagedFile::File {
                    path: r.dest.clone(),
                    sha256: p.sha256.clone(),
                    size: p.size,
                },
            )
        })
        .collect())
}

/// A wheel ferry built from an sdist: from the cache, or rebuilt from the sdist the lock names. The build
/// is pinned to the lock's time, so it gives the same bytes; anything else is an error.
fn rebuild(
    builder: &SdistBuilder,
    r: &DownloadRequest,
    p: &LockedPackage,
    progress: &dyn Progress,
) -> Result<(), crate::Error> {
    let sdist = p.built_from.clone().unwrap_or_default();
    if !r.dest.exists() {
        progress.message(&format!("rebuilding {} from {sdist}", p.filename));
        let file = DistFile {
            filename: sdist.clone(),
            url: r.urls[0].clone(),
            sha256: None,
            requires_python: None,
            yanked: false,
            core_metadata: None,
            size: None,
        };
        let wheel = builder
            .wheel_for(&p.name, &file)?
            .ok_or_else(|| super::Error::Rebuild {
                wheel: p.filename.clone(),
                sdist: sdist.clone(),
                message: "the build gave no pure-Python wheel".into(),
            })?;
        if wheel != r.dest {
            move_into_place(&wheel, &r.dest)?;
        }
    }
    let (sha, _) = Sha256::of_file(&r.dest).map_err(|e| crate::Error::io(&r.dest, e))?;
    if sha != p.sha256 {
        return Err(super::Error::NotReproducible {
            path: r.dest.clone(),
            sdist,
            actual: sha,
            expected: p.sha256.clone(),
        }
        .into());
    }
    Ok(())
}

fn move_into_place(from: &Path, to: &Path) -> Result<(), crate::Error> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    }
    std::fs::rename(from, to).map_err(|e| crate::Error::io(to, e))
}

/// Pure-Python sdists the lock names travel as the wheels built from them (built now, at bundle time, and
/// kept in the cache); the manifest then names the wheel and the sdist it came from (`built_from`). An sdist
/// whose build fails travels as itself.
pub fn build_pure_sdists(
    lock: &mut Lock,
    members: &mut [(String, StagedFile)],
    cache: &Cache,
    progress: &dyn Progress,
) -> Result<(), crate::Error> {
    let todo: Vec<usize> = (0..lock.packages.len())
        .filter(|&i| {
            let p = &lock.packages[i];
            p.kind == DistKind::Sdist && !p.needs_compiler
        })
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let builder = SdistBuilder::new(cache.build_dir(), &lock_indexes(lock), lock.created);
    for i in todo {
        let p = &lock.packages[i];
        let member = format!("wheels/{}", p.filename);
        let Some(path) = members.iter().find_map(|(m, f)| match f {
            StagedFile::File { path, .. } if *m == member => Some(path.clone()),
            _ => None,
        }) else {
            continue;
        };
        let file = DistFile {
            filename: p.filename.clone(),
            url: url::Url::from_file_path(&path).map_err(|_| super::Error::BadUrl {
                url: path.display().to_string(),
                message: "not an absolute path".into(),
            })?,
            sha256: Some(p.sha256.clone()),
            requires_python: None,
            yanked: false,
            core_metadata: None,
            size: None,
        };
        progress.message(&format!("building a wheel from {}", p.filename));
        let Some(wheel) = builder.wheel_for(&p.name, &file)? else {
            progress.message(&format!(
                "warning: {} could not be built into a pure-Python wheel here; it travels as an sdist",
                p.filename
            ));
            continue;
        };
        let (sha, size) = Sha256::of_file(&wheel).map_err(|e| crate::Error::io(&wheel, e))?;
        let wname = wheel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (m, f) in members.iter_mut() {
            if *m == member {
                *m = format!("wheels/{wname}");
                *f = StagedFile::File {
                    path: wheel.clone(),
                    sha256: sha.clone(),
                    size,
                };
            }
        }
        let p = &mut lock.packages[i];
        p.built_from = Some(std::mem::replace(&mut p.filename, wname));
        p.kind = DistKind::Wheel;
        p.sha256 = sha;
        p.size = size;
    }
    lock.normalize();
    Ok(())
}
