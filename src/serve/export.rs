//! `serve --export DIR`: the package index as static files any web server can serve (PEP 503 pages, the files,
//! their PEP 658 `.metadata`). Written into a temp folder next to DIR and renamed at the end.
use std::io::Write as _;
use std::path::Path;

use super::catalog::Catalog;
use super::{simple, Error};

/// Write `DIR/simple/index.html`, `DIR/simple/PROJECT/index.html`, `DIR/files/FILE[.metadata]`.
pub fn export(catalog: &Catalog, dir: &Path) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if dir.exists() {
        let mut listing = std::fs::read_dir(dir).map_err(io(dir))?;
        if listing.next().is_some() {
            return Err(Error::ExportExists(dir.to_path_buf()));
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".ferry-export-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let root = tmp.path();
    let files = root.join("files");
    std::fs::create_dir_all(&files).map_err(io(&files))?;

    let mut index = String::from(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.1\">\n\
         <title>Simple index</title>\n</head>\n<body>\n",
    );
    for (normalized, project) in &catalog.projects {
        index.push_str(&format!(
            "<a href=\"{normalized}/\">{}</a><br>\n",
            html_escape::encode_text(&project.name)
        ));
        let page_dir = root.join("simple").join(normalized);
        std::fs::create_dir_all(&page_dir).map_err(io(&page_dir))?;
        let page = simple::project_html(project, normalized, "../../files/");
        write(&page_dir.join("index.html"), page.as_bytes())?;
        for dist in project.files.values() {
            let out = files.join(&dist.filename);
            let mut reader = catalog.sources[dist.blob.source]
                .stream
                .slice(dist.blob.offset, dist.blob.size);
            let mut file = std::fs::File::create(&out).map_err(io(&out))?;
            std::io::copy(&mut reader, &mut file).map_err(io(&out))?;
            file.sync_all().map_err(io(&out))?;
            if let Some(metadata) = &dist.metadata {
                write(&files.join(format!("{}.metadata", dist.filename)), metadata)?;
            }
        }
    }
    index.push_str("</body>\n</html>\n");
    write(&root.join("simple").join("index.html"), index.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // World-readable, like any web root (the temp folder starts 0700).
        let _ = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755));
    }
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(io(dir))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir).map_err(io(dir))?;
    eprintln!(
        "exported {} project(s) to {}",
        catalog.projects.len(),
        dir.display()
    );
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = std::fs::File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    f.write_all(bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
