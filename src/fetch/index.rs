//! Package index client: project pages (PEP 691 JSON, PEP 503 HTML), find-links, and core metadata
//! (PEP 658 `.metadata`, else the wheel's METADATA read through HTTP Range requests).
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use pep508_rs::PackageName;
use url::Url;

use super::error::Error;
use super::http::{self, Request};
use super::metadata::{self, Metadata};
use super::range_reader::RangeReader;
use super::simple::{self, DistFile};
use super::sources::{redact, Sources};
use crate::dist::{parse_sdist, WheelFilename};
use crate::types::Sha256;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IndexError {
    #[error("unknown package '{name}': not found on {}", indexes.join(", "))]
    NotFound { name: String, indexes: Vec<String> },
    /// A request failed (the shared client's error: URL, cause, retryable or not).
    #[error(transparent)]
    Http(Arc<Error>),
    #[error("{url}: {message}")]
    Parse { url: String, message: String },
    #[error("{}: cannot read the find-links {what}: {message}", path.display())]
    FindLinks {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("{url}: sha256 mismatch (expected {expected}, got {actual})")]
    HashMismatch {
        url: String,
        expected: Sha256,
        actual: Sha256,
    },
}

impl From<Error> for IndexError {
    fn from(e: Error) -> Self {
        IndexError::Http(Arc::new(e))
    }
}

impl IndexError {
    /// Whether trying again may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, IndexError::Http(e) if e.is_retryable())
    }
}

/// A project as the first index that has it lists it, plus find-links files.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: PackageName,
    pub files: Vec<DistFile>,
    /// For each file, the rank of its index among those that list the project (0: the first).
    pub ranks: Vec<usize>,
    /// The first index that served the page (None: find-links only).
    pub index: Option<Url>,
}

type Slot<T> = Arc<OnceLock<Result<Arc<T>, IndexError>>>;
type ProjectKey = (PackageName, Option<Url>);

pub struct IndexClient {
    sources: Sources,
    /// By name and, for the torch family, the PyTorch index it is read from.
    projects: Mutex<HashMap<ProjectKey, Slot<Project>>>,
    /// One line per project found on two indexes with different files (printed by the command).
    pub warnings: Mutex<Vec<String>>,
    /// Projects named by a direct URL (`name @ URL`).
    direct: Mutex<std::collections::HashSet<PackageName>>,
    metadata: Mutex<HashMap<Url, Slot<Metadata>>>,
    find_links_pages: OnceLock<Result<Vec<DistFile>, IndexError>>,
    /// Threads for background requests: blocking network waits stay off rayon's global pool, which has only
    /// one thread per core and would cap prefetching at that many requests in flight.
    background: OnceLock<rayon::ThreadPool>,
    /// Requests made, for the summary and tests.
    pub requests: std::sync::atomic::AtomicUsize,
}

/// Index requests in flight in the background (pages and metadata the resolver will ask for next).
const BACKGROUND_REQUESTS: usize = 16;

impl IndexClient {
    pub fn new(sources: Sources) -> Self {
        Self {
            sources,
            projects: Mutex::default(),
            warnings: Mutex::default(),
            direct: Mutex::default(),
            metadata: Mutex::default(),
            find_links_pages: OnceLock::new(),
            background: OnceLock::new(),
            requests: Default::default(),
        }
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// GET through the shared client (which retries transient failures); 404 and 410 come back as
    /// `Ok(None)`. A `file:` URL reads the file (a folder: its `index.html`).
    fn get(
        &self,
        url: &Url,
        accept: Option<&str>,
    ) -> Result<Option<(String, Vec<u8>, Url)>, IndexError> {
        if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|_| IndexError::Parse {
                url: url.to_string(),
                message: "bad file URL".into(),
            })?;
            let path = if path.is_dir() {
                path.join("index.html")
            } else {
                path
            };
            return match std::fs::read(&path) {
                Ok(b) => Ok(Some(("text/html".into(), b, url.clone()))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(&path, e).into()),
            };
        }
        // With `--mirror auto`, a page the chosen mirror fails on (5xx, a stall, after the client's retries)
        // comes from the next fresh mirror, and the failing one is dropped for the rest of the run.
        let urls = match super::mirrors::is_mirror(url) {
            true => super::mirrors::expand(std::slice::from_ref(url)),
            false => vec![url.clone()],
        };
        let (last, first) = urls.split_last().expect("expand keeps the URL it is given");
        for u in first {
            match self.get_http(u, accept) {
                Err(e) if super::mirrors::is_mirror_failure(&e) => {
                    if super::mirrors::drop_mirror(u, &e) {
                        tracing::warn!("{e}; trying the next mirror");
                    }
                }
                other => return other.map_err(Into::into),
            }
        }
        self.get_http(last, accept).map_err(Into::into)
    }

    /// One GET; the body with its content type and the URL it came from (after redirects), which relative
    /// links on the page are resolved against.
    fn get_http(
        &self,
        url: &Url,
        accept: Option<&str>,
    ) -> Result<Option<(String, Vec<u8>, Url)>, Error> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut req = Request::get(url.clone());
        if let Some(a) = accept {
            req = req.accept(a);
        }
        let resp = http::client()?.fetch_blocking(&req)?;
        match resp.status {
            404 | 410 => Ok(None),
            _ => {
                let resp = resp.error_for_status()?;
                Ok(Some((
                    resp.content_type().to_string(),
                    resp.body.to_vec(),
                    resp.url.clone(),
                )))
            }
        }
    }

    /// The project's files from the indexes that serve it (see [`super::routing`]) plus find-links.
    pub fn project(&self, name: &PackageName) -> Result<Arc<Project>, IndexError> {
        self.project_via(name, None)
    }

    /// [`Self::project`] for a target whose PyTorch family comes from `torch`.
    pub fn project_via(
        &self,
        name: &PackageName,
        torch: Option<&Url>,
    ) -> Result<Arc<Project>, IndexError> {
        let torch = torch.filter(|_| !self.direct.lock().unwrap().contains(name));
        let slot = self
            .projects
            .lock()
            .unwrap()
            .entry(super::routing::key(name, torch))
            .or_default()
            .clone();
        slot.get_or_init(|| self.fetch_project(name, torch).map(Arc::new))
            .clone()
    }

    fn fetch_project(
        &self,
        name: &PackageName,
        torch: Option<&Url>,
    ) -> Result<Project, IndexError> {
        let lookup = super::routing::lookup(&self.sources, name, torch);
        let mut pages = Vec::new();
        for index in &lookup.urls {
            let url = index
                .join(&format!("{name}/"))
                .map_err(|e| IndexError::Parse {
                    url: redact(index),
                    message: e.to_string(),
                })?;
            let Some((content_type, body, served)) = self.get(&url, Some(simple::ACCEPT))? else {
                continue;
            };
            let parsed = if content_type.starts_with("application/vnd.pypi.simple.v1+json") {
                simple::parse_json(&body, &served)
            } else {
                simple::parse_html(&String::from_utf8_lossy(&body), &served)
            };
            let files = parsed.map_err(|message| IndexError::Parse {
                url: redact(&url),
                message,
            })?;
            pages.push((index.clone(), files));
            if lookup.first_only {
                break;
            }
        }
        let served_by = pages.first().map(|(u, _)| u.clone());
        let (mut files, mut ranks, warning) =
            super::routing::merge(name, pages, self.sources.strategy);
        if let Some(w) = warning {
            self.warnings.lock().unwrap().push(w);
        }
        files.extend(
            self.find_links_files()?
                .iter()
                .filter(|f| file_belongs_to(&f.filename, name))
                .cloned(),
        );
        ranks.resize(files.len(), 0);
        if served_by.is_none() && files.is_empty() {
            let mut indexes: Vec<String> = lookup.urls.iter().map(redact).collect();
            indexes.extend(self.sources.find_links.iter().cloned());
            return Err(IndexError::NotFound {
                name: name.to_string(),
                indexes,
            });
        }
        Ok(Project {
            name: name.clone(),
            files,
            ranks,
            index: served_by,
        })
    }

    /// Every file found in the find-links folders and pages (read once). A folder that cannot be listed
    /// or a page that cannot be fetched is an error naming it.
    fn find_links_files(&self) -> Result<&[DistFile], IndexError> {
        self.find_links_pages
            .get_or_init(|| {
                let mut out = Vec::new();
                for link in &self.sources.find_links {
                    out.extend(self.read_find_links(link)?);
                }
                Ok(out)
            })
            .as_ref()
            .map(Vec::as_slice)
            .map_err(Clone::clone)
    }

    fn read_find_links(&self, link: &str) -> Result<Vec<DistFile>, IndexError> {
        let local = match Url::parse(link) {
            Ok(u) if u.scheme() == "file" => u.to_file_path().ok(),
            Ok(_) => None,
            Err(_) => Some(PathBuf::from(link)),
        };
        let Some(path) = local else {
            let url = Url::parse(link).expect("parsed above");
            return match self.get(&url, Some("text/html"))? {
                Some((_, body, _)) => simple::parse_html(&String::from_utf8_lossy(&body), &url)
                    .map_err(|message| IndexError::Parse {
                        url: redact(&url),
                        message,
                    }),
                None => Err(Error::Status {
                    url,
                    status: 404,
                    code: None,
                    retry_after: None,
                }
                .into()),
            };
        };
        let unreadable = |what, e: std::io::Error| IndexError::FindLinks {
            path: path.clone(),
            what,
            message: e.to_string(),
        };
        if !path.is_dir() {
            // A local HTML page listing files.
            let body = std::fs::read(&path).map_err(|e| unreadable("page", e))?;
            let url = Url::from_file_path(std::fs::canonicalize(&path).unwrap_or(path.clone()))
                .map_err(|_| unreadable("page", std::io::Error::other("not an absolute path")))?;
            return simple::parse_html(&String::from_utf8_lossy(&body), &url).map_err(|message| {
                IndexError::Parse {
                    url: url.to_string(),
                    message,
                }
            });
        }
        let entries = std::fs::read_dir(&path).map_err(|e| unreadable("folder", e))?;
        let mut names = Vec::new();
        for entry in entries {
            names.push(entry.map_err(|e| unreadable("folder", e))?.path());
        }
        names.sort();
        let mut out = Vec::new();
        for p in names {
            let Some(filename) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Ok(url) = Url::from_file_path(std::fs::canonicalize(&p).unwrap_or(p.clone()))
            else {
                continue;
            };
            out.push(DistFile {
                filename: filename.to_string(),
                url,
                sha256: None,
                requires_python: None,
                yanked: false,
                core_metadata: None,
                size: std::fs::metadata(&p).ok().map(|m| m.len()),
            });
        }
        Ok(out)
    }

    /// Other URLs for the same file (same name and, when listed, same sha256) on every configured index,
    /// for fail-over when a mirror is not in sync. Errors only drop an index from the list.
    pub fn alternates(&self, name: &PackageName, filename: &str, sha256: &Sha256) -> Vec<Url> {
        if self.sources.indexes.len() < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for index in &self.sources.indexes {
            let Ok(url) = index.join(&format!("{name}/")) else {
                continue;
            };
            let Ok(Some((ct, body, served))) = self.get(&url, Some(simple::ACCEPT)) else {
                continue;
            };
            let files = if ct.starts_with("application/vnd.pypi.simple.v1+json") {
                simple::parse_json(&body, &served)
            } else {
                simple::parse_html(&String::from_utf8_lossy(&body), &served)
            };
            for f in files.unwrap_or_default() {
                if f.filename == filename && f.sha256.as_ref().is_none_or(|h| h == sha256) {
                    out.push(f.url);
                }
            }
        }
        out
    }

    /// Pin a project to one file named by a direct URL requirement (`name @ URL`).
    pub fn add_direct(&self, name: &PackageName, url: Url, sha256: Option<Sha256>) {
        let mut url = url;
        let sha256 = sha256.or_else(|| {
            url.fragment()
                .and_then(|f| f.strip_prefix("sha256="))
                .and_then(|h| Sha256::from_str(h).ok())
        });
        url.set_fragment(None);
        let filename = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
            .to_string();
        let file = DistFile {
            filename,
            url,
            sha256,
            requires_python: None,
            yanked: false,
            core_metadata: None,
            size: None,
        };
        let project = Project {
            name: name.clone(),
            files: vec![file],
            ranks: vec![0],
            index: None,
        };
        let slot: Slot<Project> = Arc::new(OnceLock::new());
        let _ = slot.set(Ok(Arc::new(project)));
        self.projects
            .lock()
            .unwrap()
            .insert((name.clone(), None), slot);
        // A direct URL wins for every target, the torch family's route included.
        self.direct.lock().unwrap().insert(name.clone());
    }

    /// Start fetching these project pages in the background (the resolver asks for them soon).
    pub fn prefetch(self: &Arc<Self>, names: Vec<PackageName>) {
        for name in names {
            let done = self
                .projects
                .lock()
                .unwrap()
                .get(&(name.clone(), None))
                .is_some_and(|s| s.get().is_some());
            if done {
                continue;
            }
            let this = Arc::clone(self);
            self.spawn(move || {
                let _ = this.project(&name);
            });
        }
    }

    /// Run `work` (index requests) on the background pool.
    pub fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        self.background
            .get_or_init(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(BACKGROUND_REQUESTS)
                    .thread_name(|i| format!("ferry-index-{i}"))
                    .build()
                    .expect("thread pool")
            })
            .spawn(work);
    }

    /// Core metadata of a wheel without downloading it whole.
    pub fn metadata(&self, file: &DistFile) -> Result<Arc<Metadata>, IndexError> {
        let slot = self
            .metadata
            .lock()
            .unwrap()
            .entry(file.url.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| self.fetch_metadata(file).map(Arc::new))
            .clone()
    }

    fn fetch_metadata(&self, file: &DistFile) -> Result<Metadata, IndexError> {
        let parse_err = |url: &Url, message: String| IndexError::Parse {
            url: redact(url),
            message,
        };
        if file.url.scheme() == "file" {
            let path = file
                .url
                .to_file_path()
                .map_err(|_| parse_err(&file.url, "bad file URL".into()))?;
            return metadata::from_wheel(&path).map_err(|m| parse_err(&file.url, m));
        }
        if let Some(expected) = &file.core_metadata {
            let murl = Url::parse(&format!("{}.metadata", file.url))
                .map_err(|e| parse_err(&file.url, e.to_string()))?;
            if let Some((_, body, _)) = self.get(&murl, None)? {
                if let Some(expected) = expected {
                    let actual = Sha256::digest(&body);
                    if &actual != expected {
                        return Err(IndexError::HashMismatch {
                            url: redact(&murl),
                            expected: expected.clone(),
                            actual,
                        });
                    }
                }
                return metadata::parse(&body).map_err(|m| parse_err(&murl, m));
            }
        }
        // No PEP 658 file: read METADATA from the wheel's zip directory through Range requests.
        let reader = RangeReader::open(&file.url)?;
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metadata::from_reader(reader).map_err(|m| parse_err(&file.url, m))
    }
}

/// Whether a find-links file name (wheel or sdist) is a distribution of `name`.
pub fn file_belongs_to(filename: &str, name: &PackageName) -> bool {
    if let Ok(w) = WheelFilename::from_str(filename) {
        return &w.name == name;
    }
    parse_sdist(filename, name).is_some()
}
