//! The download cache's layout, in one place: `wheels/` for downloaded files, `build/` for sdists and the
//! wheels ferry builds from them, `models/` for hub blobs in the Hugging Face cache layout.
use std::path::{Path, PathBuf};

/// The cache root and the paths inside it.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// `--cache-dir`, else `FERRY_CACHE_DIR`, else the user cache dir (`~/.cache/ferry`), else `.ferry-cache`.
    pub fn locate(flag: Option<&Path>) -> Self {
        let root = flag
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("FERRY_CACHE_DIR").map(PathBuf::from))
            .or_else(|| dirs::cache_dir().map(|d| d.join("ferry")))
            .unwrap_or_else(|| PathBuf::from(".ferry-cache"));
        Cache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A wheel (or sdist) downloaded as is.
    pub fn download(&self, filename: &str) -> PathBuf {
        self.root.join("wheels").join(filename)
    }

    /// Where sdists are unpacked and built.
    pub fn build_dir(&self) -> PathBuf {
        self.root.join("build")
    }

    /// An sdist kept for building (by the builder or for the bundle).
    pub fn sdist(&self, filename: &str) -> PathBuf {
        self.build_dir().join("sdists").join(filename)
    }

    /// Hub blobs, `models--ORG--NAME/{blobs,refs}` below.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }
}

/// The download cache folder (see [`Cache::locate`]).
pub fn cache_dir(flag: Option<&Path>) -> PathBuf {
    Cache::locate(flag).root
}
