//! Real wheels and sdists built by the tests (zip/tar written here, RECORD with real hashes).
#![allow(dead_code)]
use sha2::Digest;

use super::wheelbuilder::WheelBuilder;

/// A wheel to build: `files` are (path inside the wheel, content).
pub struct WheelSpec<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub tag: &'a str,
    pub requires: &'a [&'a str],
    pub requires_python: Option<&'a str>,
    pub extras: &'a [&'a str],
    pub files: Vec<(String, Vec<u8>)>,
    pub entry_points: Option<&'a str>,
}

impl<'a> WheelSpec<'a> {
    pub fn new(name: &'a str, version: &'a str) -> Self {
        Self {
            name,
            version,
            tag: "py3-none-any",
            requires: &[],
            requires_python: None,
            extras: &[],
            files: vec![],
            entry_points: None,
        }
    }
    pub fn tag(mut self, tag: &'a str) -> Self {
        self.tag = tag;
        self
    }
    pub fn requires(mut self, r: &'a [&'a str]) -> Self {
        self.requires = r;
        self
    }
    pub fn extras(mut self, e: &'a [&'a str]) -> Self {
        self.extras = e;
        self
    }
    pub fn requires_python(mut self, r: &'a str) -> Self {
        self.requires_python = Some(r);
        self
    }
    pub fn module(&self) -> String {
        self.name.replace('-', "_").to_lowercase()
    }
    pub fn dist_name(&self) -> String {
        self.name.replace(['-', '.'], "_")
    }
    pub fn filename(&self) -> String {
        format!("{}-{}-{}.whl", self.dist_name(), self.version, self.tag)
    }

    /// The wheel's bytes (built by the shared [`WheelBuilder`]).
    pub fn build(&self) -> Vec<u8> {
        let mut b = WheelBuilder::new(self.name, self.version).tag(self.tag);
        if let Some(rp) = self.requires_python {
            b = b.requires_python(rp);
        }
        for e in self.extras {
            b = b.extra(e);
        }
        for r in self.requires {
            b = b.requires(r);
        }
        for (p, data) in &self.files {
            b = b.file_bytes(p, data);
        }
        if self.files.is_empty() {
            b = b.file(
                &format!("{}/__init__.py", self.module()),
                &format!("__version__ = \"{}\"\n", self.version),
            );
        }
        if let Some(ep) = self.entry_points {
            b = b.entry_points(ep);
        }
        b.bytes()
    }
}

/// A pure-Python setuptools sdist (`name-version.tar.gz`) that `pip wheel` can build offline-free
/// (setuptools comes from build isolation through the index, or is given with no isolation).
pub fn sdist(name: &str, version: &str, requires: &[&str]) -> (String, Vec<u8>) {
    let dist = name.replace(['-', '.'], "_");
    let module = name.replace('-', "_").to_lowercase();
    let root = format!("{dist}-{version}");
    let deps = requires
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let pyproject = format!(
        "[build-system]\nrequires = [\"setuptools>=40.8.0\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\ndependencies = [{deps}]\n\n[tool.setuptools]\npackages = [\"{module}\"]\n"
    );
    let mut pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    for r in requires {
        pkg_info.push_str(&format!("Requires-Dist: {r}\n"));
    }
    let files = vec![
        (format!("{root}/pyproject.toml"), pyproject.into_bytes()),
        (format!("{root}/PKG-INFO"), pkg_info.into_bytes()),
        (
            format!("{root}/{module}/__init__.py"),
            format!("__version__ = \"{version}\"\n").into_bytes(),
        ),
    ];
    tar_gz(&root, files)
}

/// An sdist with a C extension module `{name}._speed` (setup.py + pyproject): needs a compiler to build.
pub fn sdist_with_c_extension(name: &str, version: &str) -> (String, Vec<u8>) {
    let dist = name.replace(['-', '.'], "_");
    let module = name.replace('-', "_").to_lowercase();
    let root = format!("{dist}-{version}");
    let pyproject = format!(
        "[build-system]\nrequires = [\"setuptools>=40.8.0\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n"
    );
    let setup = format!(
        "from setuptools import setup, Extension\nsetup(packages=['{module}'], ext_modules=[Extension('{module}._speed', ['{module}/_speed.c'])])\n"
    );
    let c = "#include <Python.h>\nstatic PyObject* answer(PyObject* s, PyObject* a) { return PyLong_FromLong(42); }\n\
static PyMethodDef M[] = {{\"answer\", answer, METH_NOARGS, \"\"}, {0}};\n\
static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, \"_speed\", 0, -1, M};\n\
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&D); }\n";
    let pkg_info = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    let files = vec![
        (format!("{root}/pyproject.toml"), pyproject.into_bytes()),
        (format!("{root}/setup.py"), setup.into_bytes()),
        (format!("{root}/PKG-INFO"), pkg_info.into_bytes()),
        (
            format!("{root}/{module}/__init__.py"),
            b"from ._speed import answer\n".to_vec(),
        ),
        (format!("{root}/{module}/_speed.c"), c.as_bytes().to_vec()),
    ];
    tar_gz(&root, files)
}

/// An sdist that must not be built: its setup.py writes `marker` (an absolute path) when anything runs it,
/// then fails. `pkg_info` is its PKG-INFO text; `extra` are more (path under the root, content) members.
pub fn sdist_tripwire(
    name: &str,
    version: &str,
    pkg_info: &str,
    marker: &std::path::Path,
    extra: &[(&str, &[u8])],
    zip: bool,
) -> (String, Vec<u8>) {
    let dist = name.replace(['-', '.'], "_");
    let root = format!("{dist}-{version}");
    let setup = format!(
        "import pathlib\npathlib.Path({:?}).write_text('built')\nraise SystemExit('this sdist must not be built')\n",
        marker.to_string_lossy()
    );
    let mut files = vec![
        (format!("{root}/PKG-INFO"), pkg_info.as_bytes().to_vec()),
        (format!("{root}/setup.py"), setup.into_bytes()),
    ];
    for (p, data) in extra {
        files.push((format!("{root}/{p}"), data.to_vec()));
    }
    if zip {
        (format!("{root}.zip"), zip_bytes(files))
    } else {
        tar_gz(&root, files)
    }
}

fn zip_bytes(files: Vec<(String, Vec<u8>)>) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (p, data) in files {
        z.start_file(p, opts).unwrap();
        z.write_all(&data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn tar_gz(root: &str, files: Vec<(String, Vec<u8>)>) -> (String, Vec<u8>) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    {
        let mut t = tar::Builder::new(&mut gz);
        for (p, data) in &files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_cksum();
            t.append_data(&mut h, p, data.as_slice()).unwrap();
        }
        t.finish().unwrap();
    }
    (format!("{root}.tar.gz"), gz.finish().unwrap())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}
