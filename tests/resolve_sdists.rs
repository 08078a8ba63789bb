//! Story: resolving for another platform reads metadata without building anything: from another wheel of
//! the same version, from PEP 643 static PKG-INFO, or (for sdists that need a compiler) from what the
//! archive states. The sdists here carry a setup.py that leaves a marker file if anything ever runs it.
mod support;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use ferry::fetch::index::IndexClient;
use ferry::fetch::sources::Sources;
use ferry::inputs::{IndexOptions, Origin, Plan, Requirement};
use ferry::resolve::sdist::{MetadataSource, SdistBuilder};
use ferry::resolve::{resolve, Pinned, ResolveError};
use ferry::target::Target;
use support::index_server::{IndexServer, Mode};
use support::wheels::{sdist_tripwire, WheelSpec};

fn req(s: &str, line: usize) -> Requirement {
    Requirement {
        req: pep508_rs::Requirement::from_str(s).unwrap(),
        hashes: vec![],
        origin: Some(Origin {
            file: "requirements.txt".into(),
            line,
        }),
    }
}

fn mac_arm(py: &str) -> Target {
    Target::new(py, vec!["macosx_14_0_arm64".into()]).unwrap()
}

fn wheel(server: &IndexServer, spec: WheelSpec) {
    server.add(spec.name, &spec.filename(), spec.build());
}

type Outcome = (
    Result<Vec<Pinned>, ResolveError>,
    Vec<(String, MetadataSource)>,
);

fn run(server: &IndexServer, work: &Path, targets: Vec<Target>, reqs: Vec<Requirement>) -> Outcome {
    let sources = Sources {
        indexes: vec![url::Url::parse(&server.url).unwrap()],
        ..Default::default()
    };
    let index = Arc::new(IndexClient::new(sources));
    let sdists = SdistBuilder::new(
        work.to_path_buf(),
        &[url::Url::parse(&server.url).unwrap()],
        0,
    );
    let plan = Plan {
        name: "t".into(),
        targets,
        requirements: reqs,
        index: IndexOptions::default(),
        ..Default::default()
    };
    let got = resolve(&plan, &index, &sdists);
    let sources = sdists.sources.lock().unwrap().clone();
    (got, sources)
}

fn find<'a>(p: &'a [Pinned], name: &str) -> &'a Pinned {
    p.iter()
        .find(|p| p.name.as_ref() == name)
        .unwrap_or_else(|| panic!("{name} not resolved: {:?}", names(p)))
}

fn names(p: &[Pinned]) -> Vec<String> {
    p.iter().map(|p| p.file.filename.clone()).collect()
}

/// The scratch build folder is empty (or absent) after a run.
fn no_build_leftovers(work: &Path) {
    let tmp = work.join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "build folders left behind: {left:?}");
}

const CPP: &[u8] = b"int main() { return 0; }\n";

#[test]
fn foreign_native_wheels_and_compiler_sdists_are_never_built() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("BUILT");
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("numpyish", "1.0"));
    wheel(&s, WheelSpec::new("setuptools", "70.0"));
    wheel(&s, WheelSpec::new("wheel", "0.45.0"));
    // cvlike 5.1: one native wheel, for Linux only; a C++ sdist whose PKG-INFO states nothing (2.1).
    wheel(
        &s,
        WheelSpec::new("cvlike", "5.1")
            .tag("cp310-cp310-manylinux_2_17_x86_64")
            .requires(&["numpyish>=1"]),
    );
    let (n, b) = sdist_tripwire(
        "cvlike",
        "5.1",
        "Metadata-Version: 2.1\nName: cvlike\nVersion: 5.1\n",
        &marker,
        &[
            ("cvlike/_core.cpp", CPP),
            // Build requirements pinned per Python version (as real C++ projects do): only the
            // target's line applies; the others name versions that do not exist.
            (
                "pyproject.toml",
                b"[build-system]\nrequires = [\"setuptools>=40.8.0\", \
                  \"numpyish==0.9; python_version=='3.9'\", \
                  \"numpyish==1.0; python_version=='3.10'\", \
                  \"numpyish>=7; python_version>='3.11'\"]\n\
                  build-backend = \"setuptools.build_meta\"\n",
            ),
        ],
        false,
    );
    s.add("cvlike", &n, b);
    // srcnative 2.0: sdist only, needs a compiler, dependencies stated in an old PKG-INFO.
    let (n, b) = sdist_tripwire(
        "srcnative",
        "2.0",
        "Metadata-Version: 2.1\nName: srcnative\nVersion: 2.0\nRequires-Dist: numpyish\n",
        &marker,
        &[("src/fast.c", b"int x;\n")],
        false,
    );
    s.add("srcnative", &n, b);
    // eggy 1.0: sdist only, setup.py with ext_modules, dependencies only in egg-info/requires.txt.
    let (n, b) = sdist_tripwire(
        "eggy",
        "1.0",
        "Metadata-Version: 1.2\nName: eggy\nVersion: 1.0\n",
        &marker,
        &[
            (
                "eggy.egg-info/requires.txt",
                b"numpyish\n\n[:sys_platform == \"win32\"]\nwinonly\n",
            ),
            ("setup.cfg", b"# ext_modules live in setup.py\n"),
            ("eggy/fast.pyx", b"def f(): pass\n"),
        ],
        false,
    );
    s.add("eggy", &n, b);
    let work = dir.path().join("work");
    let (got, sources) = run(
        &s,
        &work,
        vec![mac_arm("3.10")],
        vec![req("cvlike", 1), req("srcnative", 2), req("eggy", 3)],
    );
    let got = got.unwrap();
    assert!(!marker.exists(), "an sdist was built during resolution");
    let cv = find(&got, "cvlike");
    assert_eq!(cv.file.filename, "cvlike-5.1.tar.gz");
    let built = cv.built.as_ref().expect("looked into");
    assert!(
        built
            .needs_compiler
            .as_deref()
            .unwrap()
            .contains("_core.cpp"),
        "{built:?}"
    );
    // Its dependency came from the Linux wheel's metadata.
    find(&got, "numpyish");
    assert!(
        sources.contains(&("cvlike-5.1.tar.gz".into(), MetadataSource::OtherWheel)),
        "{sources:?}"
    );
    assert!(
        sources.contains(&("srcnative-2.0.tar.gz".into(), MetadataSource::StatedPkgInfo)),
        "{sources:?}"
    );
    assert!(
        sources.contains(&("eggy-1.0.tar.gz".into(), MetadataSource::StatedPkgInfo)),
        "{sources:?}"
    );
    // Build requirements travel along (wheels only), named as such.
    let st = find(&got, "setuptools");
    assert!(
        st.reason
            .as_deref()
            .unwrap()
            .contains("build requirement of"),
        "{st:?}"
    );
    let np = find(&got, "numpyish");
    assert_eq!(np.version.to_string(), "1.0", "{np:?}");
    // The Windows-only dependency of eggy is not there for a Mac.
    assert!(!names(&got).iter().any(|n| n.starts_with("winonly")));
    no_build_leftovers(&work);
}

#[test]
fn static_pkg_info_is_read_without_a_build() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("BUILT");
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("dep", "1.0"));
    // staticpkg 1.0: pure Python, PEP 643 static metadata (2.2, nothing Dynamic but the description).
    let (n, b) = sdist_tripwire(
        "staticpkg",
        "1.0",
        "Metadata-Version: 2.2\nName: staticpkg\nVersion: 1.0\nDynamic: Description\nRequires-Dist: dep>=1\n",
        &marker,
        &[("staticpkg/__init__.py", b"")],
        false,
    );
    s.add("staticpkg", &n, b);
    // staticpkg 2.0 (zip, read through Range requests) asks for a dep that does not exist: never chosen.
    let (n, b) = sdist_tripwire(
        "staticpkg",
        "2.0",
        "Metadata-Version: 2.4\nName: staticpkg\nVersion: 2.0\nRequires-Dist: dep>=5\n",
        &marker,
        &[("staticpkg/__init__.py", b"")],
        true,
    );
    s.add("staticpkg", &n, b);
    let work = dir.path().join("work");
    let linux = Target::new("3.11", vec!["manylinux_2_28_x86_64".into()]).unwrap();
    let (got, sources) = run(&s, &work, vec![linux], vec![req("staticpkg", 1)]);
    let got = got.unwrap();
    assert!(!marker.exists(), "an sdist was built");
    assert_eq!(
        find(&got, "staticpkg").file.filename,
        "staticpkg-1.0.tar.gz"
    );
    assert_eq!(find(&got, "dep").version.to_string(), "1.0");
    assert!(
        sources
            .iter()
            .all(|(_, src)| *src == MetadataSource::StaticPkgInfo),
        "{sources:?}"
    );
    assert_eq!(sources.len(), 2, "{sources:?}");
    // The zip was only read in ranges (its directory and PKG-INFO), never downloaded whole.
    let zip_gets: Vec<_> = s
        .log()
        .into_iter()
        .filter(|(p, _)| p.ends_with("staticpkg-2.0.zip"))
        .collect();
    assert!(!zip_gets.is_empty());
    assert!(zip_gets.iter().all(|(_, r)| r.is_some()), "{zip_gets:?}");
    // A pure sdist is not built at lock time either: the bundle builds its wheel.
    let pinned = find(&got, "staticpkg");
    assert!(pinned.built.as_ref().unwrap().needs_compiler.is_none());
    no_build_leftovers(&work);
}

#[test]
fn a_universal2_wheel_serves_an_arm64_mac() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("BUILT");
    let s = IndexServer::start(Mode::Html);
    wheel(
        &s,
        WheelSpec::new("brotlike", "1.2.1").tag("cp310-cp310-macosx_10_9_universal2"),
    );
    wheel(
        &s,
        WheelSpec::new("brotlike", "1.2.1").tag("cp310-cp310-manylinux_2_17_x86_64"),
    );
    let (n, b) = sdist_tripwire(
        "brotlike",
        "1.2.1",
        "Metadata-Version: 2.1\nName: brotlike\nVersion: 1.2.1\n",
        &marker,
        &[("c/dec.c", b"int x;\n")],
        false,
    );
    s.add("brotlike", &n, b);
    let (got, _) = run(
        &s,
        &dir.path().join("work"),
        vec![mac_arm("3.10"), mac_arm("3.10.12")],
        vec![req("brotlike==1.2.1", 1)],
    );
    let got = got.unwrap();
    assert_eq!(
        find(&got, "brotlike").file.filename,
        "brotlike-1.2.1-cp310-cp310-macosx_10_9_universal2.whl"
    );
    assert!(!marker.exists());
}

#[test]
fn an_sdist_is_held_to_the_requires_python_of_its_wheels() {
    // 2.0's wheels need Python 3.11; its sdist's PKG-INFO does not say so. uv takes the wheels' word for it.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("BUILT");
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("pyfloor", "1.0"));
    let w = WheelSpec::new("pyfloor", "2.0")
        .tag("cp311-cp311-manylinux_2_17_x86_64")
        .requires_python(">=3.11");
    s.add("pyfloor", &w.filename(), w.build());
    s.set_requires_python(&w.filename(), ">=3.11");
    let (n, b) = sdist_tripwire(
        "pyfloor",
        "2.0",
        "Metadata-Version: 2.2\nName: pyfloor\nVersion: 2.0\n",
        &marker,
        &[],
        false,
    );
    s.add("pyfloor", &n, b);
    let linux = Target::new("3.10", vec!["manylinux_2_28_x86_64".into()]).unwrap();
    let (got, _) = run(
        &s,
        &dir.path().join("work"),
        vec![linux],
        vec![req("pyfloor", 1)],
    );
    let got = got.unwrap();
    assert_eq!(
        find(&got, "pyfloor").file.filename,
        "pyfloor-1.0-py3-none-any.whl"
    );
    assert!(!marker.exists());
}
