//! `ferry pull oci://HOST/REPO:TAG -o BUNDLE`: every blob downloaded and checked against its digest, the tar
//! rebuilt with ferry's own writer from `ferry.json`, the signed sums and the layers in their order, and the
//! result compared with the sha256 of each volume recorded at push. Only a byte-identical bundle is kept.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;

use super::registry::Registry;
use super::{
    Error, PullSettings, Reference, ARTIFACT_TYPE, A_MTIME, A_SYMLINKS, A_VOLUMES, CONFIG_TYPE,
    TITLE,
};
use crate::bundle::{self, Entry, MANIFEST, SUMS, SUMS_SIG};
use crate::types::Sha256;

const PARALLEL: usize = 3;

#[derive(serde::Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct Volume {
    name: String,
    size: u64,
    sha256: String,
}

/// Pull and rebuild; returns the files written (the bundle, or its volumes).
pub fn pull(settings: &PullSettings, say: &dyn Fn(&str)) -> Result<Vec<PathBuf>, Error> {
    let reference: Reference = settings.reference.parse()?;
    let registry = Registry::new(&reference, settings.plain_http, false)?;
    let runtime = super::runtime()?;
    let raw = runtime.block_on(registry.get_manifest(&reference.reference))?;
    let not_bundle = |message: String| Error::NotABundle {
        reference: reference.to_string(),
        message,
    };
    let manifest: Manifest = serde_json::from_slice(&raw)
        .map_err(|e| not_bundle(format!("manifest is not an OCI image manifest: {e}")))?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE)
        && manifest.config.media_type != CONFIG_TYPE
    {
        return Err(not_bundle(format!(
            "not a ferry bundle (artifact type {:?})",
            manifest.artifact_type
        )));
    }
    let annotation = |key: &str| {
        manifest
            .annotations
            .get(key)
            .ok_or_else(|| not_bundle(format!("annotation {key} missing")))
    };
    let mtime: u64 = annotation(A_MTIME)?
        .parse()
        .map_err(|_| not_bundle(format!("annotation {A_MTIME} is not a number")))?;
    let volumes: Vec<Volume> = serde_json::from_str(annotation(A_VOLUMES)?)
        .map_err(|e| not_bundle(format!("annotation {A_VOLUMES}: {e}")))?;
    let symlinks: BTreeMap<String, String> = serde_json::from_str(annotation(A_SYMLINKS)?)
        .map_err(|e| not_bundle(format!("annotation {A_SYMLINKS}: {e}")))?;
    if volumes.is_empty() {
        return Err(not_bundle(format!("annotation {A_VOLUMES} is empty")));
    }
    let split = volumes.len() > 1 || volumes[0].name.ends_with(".000");
    let finals: Vec<PathBuf> = if split {
        (0..volumes.len())
            .map(|i| PathBuf::from(format!("{}.{i:03}", settings.output.display())))
            .collect()
    } else {
        vec![settings.output.clone()]
    };
    if !settings.force {
        if let Some(existing) = finals.iter().find(|p| p.exists()) {
            return Err(Error::Exists(existing.clone()));
        }
    }

    let parent = match settings.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let work = tempfile::Builder::new()
        .prefix(".ferry-pull-")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    let blob_path = |digest: &str| work.path().join(digest.replace(':', "-"));

    // Every blob once, each checked against its digest while it streams.
    let mut wanted: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    wanted.insert(&manifest.config.digest, (manifest.config.size, MANIFEST));
    for l in &manifest.layers {
        let title = l.annotations.get(TITLE).map_or("?", String::as_str);
        wanted.entry(&l.digest).or_insert((l.size, title));
    }
    for d in wanted.keys() {
        if !d.starts_with("sha256:") || d.len() != 71 {
            return Err(not_bundle(format!("unsupported digest {d}")));
        }
    }
    runtime.block_on(async {
        let results: Vec<Result<(), Error>> =
            futures_util::stream::iter(wanted.iter().map(|(digest, (size, name))| {
                let registry = &registry;
                let dest = blob_path(digest);
                async move {
                    registry.download(digest, *size, &dest).await?;
                    say(&format!(
                        "downloaded {name} ({})",
                        crate::types::human_size(*size)
                    ));
                    Ok(())
                }
            }))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), Error>>()
    })?;
    drop(runtime);

    // The three signed top-level files, then every other member.
    let read = |digest: &str| {
        std::fs::read(blob_path(digest)).map_err(|e| Error::io(blob_path(digest), e))
    };
    let by_title = |title: &str| {
        manifest
            .layers
            .iter()
            .find(|l| l.annotations.get(TITLE).map(String::as_str) == Some(title))
            .ok_or_else(|| not_bundle(format!("no layer titled {title}")))
    };
    let first = [
        read(&manifest.config.digest)?,
        read(&by_title(SUMS)?.digest)?,
        read(&by_title(SUMS_SIG)?.digest)?,
    ];
    let mut entries = Vec::new();
    for l in &manifest.layers {
        let title = l
            .annotations
            .get(TITLE)
            .ok_or_else(|| not_bundle(format!("layer {} has no {TITLE}", l.digest)))?;
        if title == SUMS || title == SUMS_SIG {
            continue;
        }
        let sha256: Sha256 = l.digest["sha256:".len()..]
            .parse()
            .map_err(|_| not_bundle(format!("bad digest {}", l.digest)))?;
        entries.push(Entry::File {
            member: title.clone(),
            path: blob_path(&l.digest),
            sha256,
            size: l.size,
        });
    }
    for (member, target) in symlinks {
        entries.push(Entry::Symlink { member, target });
    }
    let staged = work.path().join("out").join(
        settings
            .output
            .file_name()
            .ok_or_else(|| Error::io(&settings.output, std::io::ErrorKind::InvalidInput.into()))?,
    );
    std::fs::create_dir_all(staged.parent().expect("has a parent"))
        .map_err(|e| Error::io(work.path(), e))?;
    let (written, _) = bundle::rebuild(
        [&first[0], &first[1], &first[2]],
        entries,
        &staged,
        mtime,
        split.then_some(volumes[0].size),
    )?;
    if written.len() != volumes.len() {
        return Err(Error::Digest {
            what: format!("{reference}: volumes rebuilt"),
            expected: volumes.len().to_string(),
            actual: written.len().to_string(),
        });
    }
    for (path, v) in written.iter().zip(&volumes) {
        let (sha, size) = Sha256::of_file(path).map_err(|e| Error::io(path, e))?;
        if sha.as_str() != v.sha256 || size != v.size {
            return Err(Error::Digest {
                what: format!("{reference}: rebuilt {} ({size} bytes)", v.name),
                expected: v.sha256.clone(),
                actual: sha.to_string(),
            });
        }
    }
    if let Some(key) = &settings.public {
        bundle::verify(&written[0], key)?;
    }
    for (from, to) in written.iter().zip(&finals) {
        std::fs::rename(from, to).map_err(|e| Error::io(to, e))?;
    }
    sync_dir(&parent);
    Ok(finals)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
