//! Story: resolve requirements for other hosts through a local index (library API).
mod support;

use std::str::FromStr;
use std::sync::Arc;

use ferry::fetch::index::IndexClient;
use ferry::fetch::sources::Sources;
use ferry::inputs::{IndexOptions, Origin, Plan, Requirement};
use ferry::resolve::{resolve, sdist::SdistBuilder, Pinned, ResolveError};
use ferry::target::Target;
use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;

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

fn linux310() -> Target {
    Target::new("3.10", vec!["manylinux_2_28_x86_64".into()]).unwrap()
}
fn win310() -> Target {
    Target::new("3.10", vec!["win_amd64".into()]).unwrap()
}

fn wheel(server: &IndexServer, spec: WheelSpec) {
    server.add(spec.name, &spec.filename(), spec.build());
}

/// A small world: lib (1.0, 2.0 yanked, 3.0b1), winonly, speedup (extra), native (per-platform wheels).
fn world(mode: Mode) -> IndexServer {
    let s = IndexServer::start(mode);
    wheel(
        &s,
        WheelSpec::new("app", "1.0")
            .requires(&[
                "lib>=1.0",
                "winonly; sys_platform == \"win32\"",
                "speedup; extra == \"fast\"",
                "native",
            ])
            .extras(&["fast"]),
    );
    wheel(&s, WheelSpec::new("lib", "1.0"));
    wheel(&s, WheelSpec::new("lib", "2.0"));
    s.set_yanked("lib-2.0-py3-none-any.whl");
    wheel(&s, WheelSpec::new("lib", "3.0b1"));
    wheel(&s, WheelSpec::new("winonly", "1.0"));
    wheel(&s, WheelSpec::new("speedup", "0.5"));
    wheel(
        &s,
        WheelSpec::new("native", "1.0")
            .tag("cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64"),
    );
    wheel(
        &s,
        WheelSpec::new("native", "1.0").tag("cp310-cp310-win_amd64"),
    );
    wheel(
        &s,
        WheelSpec::new("native", "1.0").tag("cp311-cp311-win_amd64"),
    );
    // A newer native that needs a newer Python than the targets'.
    wheel(
        &s,
        WheelSpec::new("native", "2.0")
            .tag("cp312-cp312-win_amd64")
            .requires_python(">=3.12"),
    );
    s.set_requires_python("native-2.0-cp312-cp312-win_amd64.whl", ">=3.12");
    s
}

fn plan(targets: Vec<Target>, reqs: Vec<Requirement>, opts: IndexOptions) -> Plan {
    Plan {
        name: "t".into(),
        targets,
        requirements: reqs,
        index: opts,
        ..Default::default()
    }
}

fn run(server: &IndexServer, plan: &Plan) -> Result<Vec<Pinned>, ResolveError> {
    let sources = Sources {
        indexes: vec![url::Url::parse(&server.url).unwrap()],
        ..Default::default()
    };
    let index = Arc::new(IndexClient::new(sources));
    let work = tempfile::tempdir().unwrap();
    let sdists = SdistBuilder::new(
        work.path().to_path_buf(),
        &[url::Url::parse(&server.url).unwrap()],
        0,
    );
    resolve(plan, &index, &sdists)
}

fn files(p: &[Pinned]) -> Vec<String> {
    let mut v: Vec<String> = p
        .iter()
        .map(|p| format!("{} {}", p.file.filename, p.targets.join(",")))
        .collect();
    v.sort();
    v
}

#[test]
fn markers_extras_yanked_and_prereleases_per_target() {
    for mode in [Mode::Json, Mode::Html] {
        let s = world(mode);
        let p = plan(
            vec![linux310(), win310()],
            vec![req("app[fast]", 1)],
            IndexOptions::default(),
        );
        let got = files(&run(&s, &p).unwrap());
        let lin = linux310().id();
        let win = win310().id();
        assert_eq!(
            got,
            vec![
                format!("app-1.0-py3-none-any.whl {lin},{win}"),
                format!("lib-1.0-py3-none-any.whl {lin},{win}"),
                format!(
                    "native-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl {lin}"
                ),
                format!("native-1.0-cp310-cp310-win_amd64.whl {win}"),
                format!("speedup-0.5-py3-none-any.whl {lin},{win}"),
                format!("winonly-1.0-py3-none-any.whl {win}"),
            ],
            "mode {mode:?}"
        );
    }
}

#[test]
fn pins_pre_and_constraints() {
    let s = world(Mode::Json);
    // An exact pin may take a yanked release (PEP 592); a named pre-release allows pre-releases.
    let p = plan(
        vec![linux310()],
        vec![req("lib==2.0", 1)],
        IndexOptions::default(),
    );
    assert!(files(&run(&s, &p).unwrap())[0].starts_with("lib-2.0-"));
    let p = plan(
        vec![linux310()],
        vec![req("lib>=3.0b1", 1)],
        IndexOptions::default(),
    );
    assert!(files(&run(&s, &p).unwrap())[0].starts_with("lib-3.0b1-"));
    let p = plan(
        vec![linux310()],
        vec![req("lib", 1)],
        IndexOptions {
            pre: true,
            ..Default::default()
        },
    );
    assert!(files(&run(&s, &p).unwrap())[0].starts_with("lib-3.0b1-"));
    // Constraints narrow without adding.
    let mut p = plan(
        vec![linux310()],
        vec![req("lib", 1)],
        IndexOptions {
            pre: true,
            ..Default::default()
        },
    );
    p.constraints = vec![req("lib<3", 1), req("winonly==1.0", 2)];
    assert_eq!(files(&run(&s, &p).unwrap()).len(), 1);
    // 3.0b1 is excluded by the constraint, 2.0 is yanked and not pinned: 1.0.
    assert!(files(&run(&s, &p).unwrap())[0].starts_with("lib-1.0-"));
}

#[test]
fn conflicts_are_explained_in_terms_of_the_requirements() {
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("a", "1.0").requires(&["c<2"]));
    wheel(&s, WheelSpec::new("b", "1.0").requires(&["c>=2"]));
    wheel(&s, WheelSpec::new("c", "1.0"));
    wheel(&s, WheelSpec::new("c", "2.0"));
    let p = plan(
        vec![linux310()],
        vec![req("a", 1), req("b", 2)],
        IndexOptions::default(),
    );
    let err = run(&s, &p).unwrap_err().to_string();
    assert!(
        err.contains("a") && err.contains("b") && err.contains("c"),
        "{err}"
    );
    assert!(err.contains("cp310-manylinux_2_28_x86_64"), "{err}");
}

#[test]
fn unknown_package_names_the_line() {
    let s = world(Mode::Json);
    let p = plan(
        vec![linux310()],
        vec![req("lib", 1), req("transformrs", 14)],
        IndexOptions::default(),
    );
    let err = run(&s, &p).unwrap_err().to_string();
    assert!(
        err.contains("requirements.txt:14") && err.contains("unknown package 'transformrs'"),
        "{err}"
    );
    assert!(err.contains(&s.url), "{err}");
}

#[test]
fn local_versions_and_metadata_without_pep658() {
    let s = IndexServer::start(Mode::Html);
    s.without_metadata();
    wheel(
        &s,
        WheelSpec::new("torch", "2.1.2+cu121").tag("cp310-cp310-linux_x86_64"),
    );
    wheel(
        &s,
        WheelSpec::new("torch", "2.1.2+cu121")
            .tag("cp310-cp310-manylinux_2_17_x86_64")
            .requires(&["lib"]),
    );
    wheel(&s, WheelSpec::new("lib", "1.0"));
    let p = plan(
        vec![linux310()],
        vec![req("torch==2.1.2", 1)],
        IndexOptions::default(),
    );
    let got = files(&run(&s, &p).unwrap());
    assert!(
        got[1].starts_with("torch-2.1.2+cu121-cp310-cp310-manylinux_2_17_x86_64.whl"),
        "{got:?}"
    );
    // Metadata came from Range requests, never a whole-wheel download.
    assert!(
        s.log()
            .iter()
            .filter(|(p, _)| p.starts_with("/files/torch"))
            .all(|(_, r)| r.is_some()),
        "{:?}",
        s.log()
    );
}

#[test]
fn a_failing_index_page_is_retried() {
    let s = world(Mode::Json);
    s.fail("/simple/lib/", 1);
    let p = plan(
        vec![linux310()],
        vec![req("lib", 1)],
        IndexOptions::default(),
    );
    assert!(files(&run(&s, &p).unwrap())[0].starts_with("lib-1.0-"));
    assert_eq!(s.requested("/simple/lib/"), 2);
}

#[test]
fn only_binary_refuses_sdists() {
    let s = IndexServer::start(Mode::Json);
    let (name, bytes) = support::wheels::sdist("onlysrc", "1.0", &[]);
    s.add("onlysrc", &name, bytes);
    let opts = IndexOptions {
        only_binary: ferry::inputs::BinaryRule::All,
        ..Default::default()
    };
    let p = plan(vec![linux310()], vec![req("onlysrc", 3)], opts);
    let err = run(&s, &p).unwrap_err().to_string();
    assert!(err.contains("onlysrc"), "{err}");
}
