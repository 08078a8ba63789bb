//! `ferry push BUNDLE oci://HOST/REPO:TAG`: every bundle file a layer (read from the tar by offset, never
//! extracted), HEAD before each upload so what the registry has is not sent again, then the manifest.
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;

use futures_util::StreamExt as _;

use super::registry::{Registry, Source};
use super::{
    Error, PushReport, PushSettings, Reference, ARTIFACT_TYPE, A_MTIME, A_NAME, A_SYMLINKS,
    A_VOLUMES, CONFIG_TYPE, FILE_TYPE, MANIFEST_TYPE, TITLE,
};
use crate::bundle::{self, MemberKind, TarStream};
use crate::types::Sha256;

/// Uploads running at once.
const PARALLEL: usize = 3;

pub fn push(settings: &PushSettings, say: &dyn Fn(&str)) -> Result<PushReport, Error> {
    let reference: Reference = settings.reference.parse()?;
    if reference.reference.starts_with("sha256:") {
        return Err(Error::Reference(format!(
            "{}: push needs a tag, not a digest",
            settings.reference
        )));
    }
    if let Some(key) = &settings.public {
        bundle::verify(&settings.bundle, key)?;
    }
    let members = bundle::list(&settings.bundle)?;
    let stream = TarStream::open(&settings.bundle)?;
    let lock = bundle::read_manifest(&settings.bundle)?;

    // What pull needs to write the same bytes again: the volumes (names, sizes, sha256), the tar's mtime and
    // the symlinks; member names go on the layers.
    let mut volumes = Vec::new();
    for (path, _, size) in stream.volumes() {
        let (sha, _) = Sha256::of_file(&path).map_err(|e| Error::io(&path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        volumes.push(serde_json::json!({ "name": name, "size": size, "sha256": sha.to_string() }));
    }
    let mtime = first_mtime(&stream, &settings.bundle)?;
    let symlinks: BTreeMap<&str, &str> = members
        .iter()
        .filter(|m| m.kind == MemberKind::Symlink)
        .filter_map(|m| Some((m.path.as_str(), m.link_target.as_deref()?)))
        .collect();

    let files: Vec<&bundle::Member> = members
        .iter()
        .filter(|m| m.kind == MemberKind::File)
        .collect();
    let (config, layers) = files.split_first().expect("ferry.json comes first");
    let digest =
        |m: &bundle::Member| format!("sha256:{}", m.sha256.as_ref().expect("files are hashed"));
    let source = |m: &bundle::Member| Source::Stream {
        stream: stream.clone(),
        offset: m.offset,
        size: m.size,
    };
    let mut blobs: Vec<(String, Source, u64, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    for m in files.iter() {
        if seen.insert(digest(m)) {
            blobs.push((digest(m), source(m), m.size, m.path.clone()));
        }
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": { "mediaType": CONFIG_TYPE, "digest": digest(config), "size": config.size },
        "layers": layers.iter().map(|m| serde_json::json!({
            "mediaType": FILE_TYPE,
            "digest": digest(m),
            "size": m.size,
            "annotations": { TITLE: m.path },
        })).collect::<Vec<_>>(),
        "annotations": {
            TITLE: volumes[0]["name"],
            A_NAME: lock.name,
            A_MTIME: mtime.to_string(),
            A_VOLUMES: serde_json::Value::Array(volumes).to_string(),
            A_SYMLINKS: serde_json::to_string(&symlinks).expect("strings"),
        },
    });
    let manifest = serde_json::to_vec(&manifest).expect("json");

    let registry = Registry::new(&reference, settings.plain_http, true)?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let mut report = PushReport {
            layers: layers.len(),
            ..PushReport::default()
        };
        let results: Vec<Result<Option<u64>, Error>> =
            futures_util::stream::iter(blobs.iter().map(|(digest, source, size, name)| {
                let registry = &registry;
                async move {
                    if registry.blob_exists(digest).await? {
                        return Ok(None);
                    }
                    registry.upload(digest, source).await?;
                    say(&format!(
                        "uploaded {name} ({})",
                        crate::types::human_size(*size)
                    ));
                    Ok(Some(*size))
                }
            }))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for r in results {
            match r? {
                Some(bytes) => {
                    report.uploaded += 1;
                    report.uploaded_bytes += bytes;
                }
                None => report.skipped += 1,
            }
        }
        report.manifest_digest = registry
            .put_manifest(&reference.reference, &manifest)
            .await?;
        Ok(report)
    })
}

/// The mtime of the first member: every member of a ferry tar carries the same one.
fn first_mtime(stream: &TarStream, bundle: &std::path::Path) -> Result<u64, Error> {
    let mut header = [0u8; 512];
    stream
        .slice(0, 512)
        .read_exact(&mut header)
        .map_err(|e| Error::io(bundle, e))?;
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&header);
    h.mtime().map_err(|e| Error::io(bundle, e))
}
