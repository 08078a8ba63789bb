//! Manifest + flags → one [`Plan`]: every input file read, targets settled, index options merged.
//! Flags add to the manifest's lists; a flag's single value (index URL, hub endpoint) overrides it.
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::config::{self, parse_hub_ref};
use super::manifest::{self, Manifest};
use super::InputSettings;
use super::Pick;
use super::{requirements, BinaryRule, Error, IndexOptions, ModelRequest, Plan};
use crate::target::Target;

/// Build the plan; targets default to the local Python ([`crate::host::detect`]).
pub fn build(settings: &InputSettings) -> Result<Plan, Error> {
    build_with(settings, &|| {
        crate::host::detect(None).map_err(|e| e.to_string())
    })
}

/// [`build`] with the local-host probe given (tests pass a fixed target).
pub fn build_with(
    settings: &InputSettings,
    local: &dyn Fn() -> Result<Target, String>,
) -> Result<Plan, Error> {
    let manifest = match &settings.manifest {
        Some(path) => Some(manifest::read(path)?),
        None => None,
    };
    let m = manifest.clone().unwrap_or_default();
    let requirement_files: Vec<PathBuf> = chain(&m.requirements, &settings.requirements);
    let constraint_files: Vec<PathBuf> = chain(&m.constraints, &settings.constraints);
    let config_files: Vec<PathBuf> = chain(&m.configs, &settings.configs);
    if requirement_files.is_empty()
        && config_files.is_empty()
        && m.models.is_empty()
        && settings.models.is_empty()
    {
        return Err(Error::Usage(
            "nothing to bundle: give -r, --config, --model or a manifest".into(),
        ));
    }

    if settings.models.is_empty()
        && (!settings.include.is_empty()
            || !settings.exclude.is_empty()
            || settings.variant.is_some())
    {
        return Err(Error::Usage(
            "--include, --exclude and --variant apply to --model; give --model REPO too".into(),
        ));
    }

    let mut plan = Plan {
        name: plan_name(manifest.as_ref(), &requirement_files, &config_files),
        ..Plan::default()
    };
    if let Some(man) = &manifest {
        plan.inputs.push(format!("manifest {}", man.path.display()));
    }

    let mut file_options = IndexOptions::default();
    for path in &requirement_files {
        plan.inputs.push(format!("-r {}", path.display()));
        let f = requirements::read(path, settings.skip_unbundlable)?;
        plan.requirements.extend(f.requirements);
        plan.constraints.extend(f.constraints);
        plan.skipped.extend(f.skipped);
        merge_file_options(&mut file_options, f.options);
    }
    for path in &constraint_files {
        plan.inputs.push(format!("-c {}", path.display()));
        let f = requirements::read(path, settings.skip_unbundlable)?;
        plan.constraints.extend(f.requirements);
        plan.constraints.extend(f.constraints);
        plan.skipped.extend(f.skipped);
        merge_file_options(&mut file_options, f.options);
    }
    plan.index = merge_sources(file_options, &m, settings);
    merge_index_rules(&mut plan.index, &m, settings)?;
    for v in &settings.only_binary {
        requirements::binary_rule(v, &mut plan.index.only_binary, &mut plan.index.no_binary)
            .map_err(|why| Error::Usage(format!("--only-binary {v}: {why}")))?;
    }
    for v in &settings.no_binary {
        requirements::binary_rule(v, &mut plan.index.no_binary, &mut plan.index.only_binary)
            .map_err(|why| Error::Usage(format!("--no-binary {v}: {why}")))?;
    }
    plan.index.require_hashes |= settings.require_hashes;
    plan.hf_endpoint = settings.hf_endpoint.clone().or(m.hf_endpoint.clone());
    plan.mirrors = m.mirrors.clone();
    plan.mirrors_origin = format!("{}: mirrors", m.path.display());

    plan.models = manifest_models(&m);
    for value in &settings.models {
        plan.inputs.push(format!("--model {value}"));
        plan.models.push(flag_model(value, settings)?);
    }
    for path in &config_files {
        plan.inputs.push(format!("--config {}", path.display()));
        let opts = config::ReadOptions {
            skip_missing: settings.skip_missing,
        };
        let c = config::read_with(path, opts)?;
        plan.models.extend(c.models);
        plan.files.extend(c.files);
        plan.warnings.extend(c.warnings);
        for p in c.local_paths {
            if !plan.local_paths.contains(&p) {
                plan.local_paths.push(p);
            }
        }
    }
    config::dedup(&mut plan.models);
    if plan.requirements.is_empty()
        && plan.models.is_empty()
        && plan.files.is_empty()
        && !config_files.is_empty()
    {
        let mut message = format!(
            "nothing to bundle: {} names no model that any trainer reads",
            config_files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for w in &plan.warnings {
            message.push_str(&format!("\n  {w}"));
        }
        return Err(Error::Usage(message));
    }

    plan.target_is_host = m.targets.is_empty()
        && settings.target_files.is_empty()
        && settings.python_versions.is_empty()
        && settings.platforms.is_empty();
    plan.targets = targets(&m, settings, local)?;
    for t in &settings.target_files {
        plan.inputs.push(format!("--target {}", t.display()));
    }
    Ok(plan)
}

fn chain(a: &[PathBuf], b: &[PathBuf]) -> Vec<PathBuf> {
    a.iter().chain(b).cloned().collect()
}

/// The manifest's name, else the first input file's stem, else "bundle".
fn plan_name(manifest: Option<&Manifest>, reqs: &[PathBuf], configs: &[PathBuf]) -> String {
    manifest
        .and_then(|m| m.name.clone())
        .or_else(|| {
            reqs.iter()
                .chain(configs)
                .find_map(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "bundle".into())
}

/// Requirements files in order: the last `-i` wins, lists accumulate, switches stay on once set.
fn merge_file_options(acc: &mut IndexOptions, new: IndexOptions) {
    if new.index_url.is_some() {
        acc.index_url = new.index_url;
    }
    push_unique(&mut acc.extra_index_urls, new.extra_index_urls);
    push_unique(&mut acc.find_links, new.find_links);
    push_unique(&mut acc.trusted_hosts, new.trusted_hosts);
    acc.no_index |= new.no_index;
    acc.pre |= new.pre;
    acc.prefer_binary |= new.prefer_binary;
    acc.require_hashes |= new.require_hashes;
    acc.only_binary = union_rule(std::mem::take(&mut acc.only_binary), new.only_binary);
    acc.no_binary = union_rule(std::mem::take(&mut acc.no_binary), new.no_binary);
}

fn union_rule(a: BinaryRule, b: BinaryRule) -> BinaryRule {
    match (a, b) {
        (BinaryRule::All, _) | (_, BinaryRule::All) => BinaryRule::All,
        (BinaryRule::None, x) | (x, BinaryRule::None) => x,
        (BinaryRule::Packages(mut x), BinaryRule::Packages(y)) => {
            for name in y {
                if !x.contains(&name) {
                    x.push(name);
                }
            }
            BinaryRule::Packages(x)
        }
    }
}

fn push_unique(acc: &mut Vec<String>, new: Vec<String>) {
    for v in new {
        if !acc.contains(&v) {
            acc.push(v);
        }
    }
}

/// Precedence for the index URL: flag, then manifest, then the requirements files.
fn merge_sources(mut index: IndexOptions, m: &Manifest, s: &InputSettings) -> IndexOptions {
    index.index_url = s
        .index_url
        .clone()
        .or(m.index_url.clone())
        .or(index.index_url);
    push_unique(&mut index.extra_index_urls, m.extra_index_urls.clone());
    push_unique(&mut index.extra_index_urls, s.extra_index_urls.clone());
    push_unique(&mut index.find_links, m.find_links.clone());
    push_unique(&mut index.find_links, s.find_links.clone());
    index.pre |= m.pre || s.pre;
    index
}

/// Index strategy, named indexes and their pins, and the torch backend: flag over manifest.
fn merge_index_rules(
    index: &mut IndexOptions,
    m: &Manifest,
    s: &InputSettings,
) -> Result<(), Error> {
    if let Some(v) = s.index_strategy.as_ref().or(m.index_strategy.as_ref()) {
        index.index_strategy = v
            .parse()
            .map_err(|e| Error::Usage(format!("--index-strategy: {e}")))?;
    }
    index.named = m.indexes.clone();
    index.pins = m
        .package_indexes
        .iter()
        .filter_map(|(p, i)| Some((p.parse().ok()?, i.clone())))
        .collect();
    if let Some(v) = s.torch_backend.as_ref().or(m.torch_backend.as_ref()) {
        index.torch_backend = v
            .parse()
            .map_err(|e| Error::Usage(format!("--torch-backend: {e}")))?;
    }
    if let Some(u) = s.torch_index_base.as_ref().or(m.torch_index_base.as_ref()) {
        super::check_index_url("--torch-index-base", u).map_err(Error::Usage)?;
        index.torch_index_base = Some(u.clone());
    }
    Ok(())
}

fn manifest_models(m: &Manifest) -> Vec<ModelRequest> {
    m.models
        .iter()
        .enumerate()
        .map(|(i, model)| ModelRequest {
            repo: model.repo.clone(),
            kind: model.kind,
            revision: model.revision.clone(),
            file: model.file.clone(),
            include: model.include.clone(),
            exclude: model.exclude.clone(),
            variant: model.variant.clone(),
            reason: None,
            origin: format!("{} (models[{i}])", m.path.display()),
            pick: Pick::Default,
        })
        .collect()
}

/// `--model REPO[@REV]` (or a hub URL) with the `--include/--exclude/--variant` flags.
fn flag_model(value: &str, s: &InputSettings) -> Result<ModelRequest, Error> {
    let r = parse_hub_ref(value).map_err(|why| Error::Usage(format!("--model {value}: {why}")))?;
    Ok(ModelRequest {
        repo: r.repo,
        kind: r.kind,
        revision: r.revision,
        file: r.file,
        include: s.include.clone(),
        exclude: s.exclude.clone(),
        variant: s.variant.clone(),
        reason: None,
        origin: format!("--model {value}"),
        pick: Pick::Default,
    })
}

/// Only the targets of the manifest and flags, for inputs that are already locked (`--locked pylock.toml`).
pub fn targets_only(settings: &InputSettings) -> Result<Vec<Target>, Error> {
    let m = match &settings.manifest {
        Some(path) => manifest::read(path)?,
        None => Manifest::default(),
    };
    targets(&m, settings, &|| {
        crate::host::detect(None).map_err(|e| e.to_string())
    })
}

/// Manifest targets, `--target` files and `--python-version` × `--platform`; the local Python when none.
fn targets(
    m: &Manifest,
    s: &InputSettings,
    local: &dyn Fn() -> Result<Target, String>,
) -> Result<Vec<Target>, Error> {
    let mut out = m.targets.clone();
    for path in &s.target_files {
        out.push(read_target(path)?);
    }
    if !s.python_versions.is_empty() || !s.platforms.is_empty() {
        let host = || {
            local().map_err(|e| {
                Error::Usage(format!(
                    "cannot ask the local Python for the missing half of --python-version/--platform: {e}; \
                     give both"
                ))
            })
        };
        let pythons = match s.python_versions.is_empty() {
            false => s.python_versions.clone(),
            true => vec![host()?.python],
        };
        let groups = match s.platforms.is_empty() {
            false => platform_groups(&s.platforms),
            true => vec![host()?.platforms],
        };
        for python in &pythons {
            for group in &groups {
                let t = Target::new(python, group.clone())
                    .map_err(|e| Error::Usage(format!("--python-version/--platform: {e}")))?;
                out.push(t);
            }
        }
    }
    if out.is_empty() {
        let t = local().map_err(|e| {
            Error::Usage(format!(
                "no target given (--python-version and --platform, --target FILE or a manifest's targets) and \
                 the local Python cannot describe this host: {e}"
            ))
        })?;
        out.push(t);
    }
    let mut seen = HashSet::new();
    out.retain(|t| seen.insert(t.clone()));
    Ok(out)
}

/// Repeated `--platform` flags of one OS family and machine describe one host (as pip reads them);
/// other families become separate targets.
fn platform_groups(platforms: &[String]) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    for p in platforms {
        match groups.iter_mut().find(|g| Target::same_family(&g[0], p)) {
            Some(g) if !g.contains(p) => g.push(p.clone()),
            Some(_) => {}
            None => groups.push(vec![p.clone()]),
        }
    }
    groups
}

/// A target.json written by `ferry probe`.
fn read_target(path: &Path) -> Result<Target, Error> {
    let file_error = |message: String| Error::File {
        file: path.to_path_buf(),
        message,
    };
    let text = fs::read_to_string(path)
        .map_err(|e| file_error(format!("cannot read target file: {e}")))?;
    let target: Target = serde_json::from_str(&text)
        .map_err(|e| Error::at(path, e.line(), format!("invalid target file: {e}")))?;
    target
        .validate()
        .map_err(|e| file_error(format!("invalid target: {e}")))?;
    if target.platforms.is_empty() {
        return Err(file_error("invalid target: no platforms".into()));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Self {
            Dir(tempfile::tempdir().unwrap())
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.path().join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
            p
        }
    }

    fn local() -> Result<Target, String> {
        Ok(Target::new("3.12", vec!["manylinux_2_35_x86_64".into()]).unwrap())
    }

    fn no_python() -> Result<Target, String> {
        Err("cannot run Python interpreter 'python3': not found".into())
    }

    fn names(p: &Plan) -> Vec<String> {
        p.requirements
            .iter()
            .map(|r| r.req.name.to_string())
            .collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nothing_to_bundle() {
        let e = build_with(&InputSettings::default(), &local).unwrap_err();
        assert!(matches!(e, Error::Usage(_)));
        assert!(e.to_string().contains("nothing to bundle"), "{e}");
        let d = Dir::new();
        let s = InputSettings {
            requirements: vec![d.write("r.txt", "tqdm\n")],
            include: strings(&["*.json"]),
            ..InputSettings::default()
        };
        let e = build_with(&s, &local).unwrap_err();
        assert!(e.to_string().contains("--include"), "{e}");
    }

    #[test]
    fn manifest_and_flags_merge() {
        let d = Dir::new();
        d.write(
            "m/reqs.txt",
            "-i http://127.0.0.1:9/files\nrequests>=2.31\n",
        );
        d.write(
            "m/configs/c.toml",
            "pretrained_model_name_or_path = \"./base.safetensors\"\n",
        );
        let man = d.write(
            "m/stack.yaml",
            "name: stack\ntargets: [{python: \"3.10\", platforms: [manylinux_2_28_x86_64]}]\n\
             requirements: [reqs.txt]\nconfigs: [configs/c.toml]\n\
             models: [{repo: org/base, include: [\"*.json\"]}]\n\
             index_url: http://127.0.0.1:1/simple\nextra_index_urls: [http://127.0.0.1:2/simple]\n\
             hf_endpoint: http://127.0.0.1:3\n",
        );
        let extra = d.write("extra.txt", "tqdm\n");
        let pins = d.write("pins.txt", "tqdm<5\n");
        let settings = InputSettings {
            manifest: Some(man.clone()),
            requirements: vec![extra.clone()],
            constraints: vec![pins],
            models: strings(&["org/lora@v2"]),
            include: strings(&["*.safetensors"]),
            variant: Some("fp16".into()),
            extra_index_urls: strings(&["http://127.0.0.1:4/simple"]),
            python_versions: strings(&["3.11"]),
            platforms: strings(&["win_amd64"]),
            skip_missing: true,
            ..InputSettings::default()
        };
        let p = build_with(&settings, &no_python).unwrap();
        assert_eq!(p.name, "stack");
        assert_eq!(names(&p), ["requests", "tqdm"]);
        assert_eq!(p.constraints.len(), 1);
        assert_eq!(
            p.index.index_url.as_deref(),
            Some("http://127.0.0.1:1/simple"),
            "manifest beats files"
        );
        assert_eq!(
            p.index.extra_index_urls,
            strings(&["http://127.0.0.1:2/simple", "http://127.0.0.1:4/simple"])
        );
        assert_eq!(p.hf_endpoint.as_deref(), Some("http://127.0.0.1:3"));
        let repos: Vec<String> = p.models.iter().map(|m| m.repo.to_string()).collect();
        assert_eq!(
            repos,
            ["org/base", "org/lora", "openai/clip-vit-large-patch14"]
        );
        assert_eq!(p.models[0].include, ["*.json"]);
        assert_eq!(p.models[1].revision.as_deref(), Some("v2"));
        assert_eq!(p.models[1].include, ["*.safetensors"]);
        assert_eq!(p.models[1].variant.as_deref(), Some("fp16"));
        assert_eq!(p.local_paths, ["./base.safetensors"]);
        assert_eq!(p.targets.len(), 2, "manifest target plus the flag target");
        assert_eq!(p.targets[1].platforms, ["win_amd64"]);
        assert_eq!(p.inputs[0], format!("manifest {}", man.display()));
        assert!(
            p.inputs.contains(&format!("-r {}", extra.display())),
            "{:?}",
            p.inputs
        );
        assert!(p.inputs.contains(&"--model org/lora@v2".to_string()));

        let flagged = InputSettings {
            index_url: Some("http://127.0.0.1:5/simple".into()),
            hf_endpoint: Some("http://127.0.0.1:6".into()),
            ..settings
        };
        let p = build_with(&flagged, &no_python).unwrap();
        assert_eq!(
            p.index.index_url.as_deref(),
            Some("http://127.0.0.1:5/simple"),
            "flag wins"
        );
        assert_eq!(p.hf_endpoint.as_deref(), Some("http://127.0.0.1:6"));
    }

    #[test]
    fn files_options_last_index_wins_and_name_from_stem() {
        let d = Dir::new();
        let a = d.write(
            "train-stack.txt",
            "-i http://127.0.0.1:1/a\n--only-binary numpy\ntqdm\n",
        );
        let b = d.write("b.txt", "-i http://127.0.0.1:1/b\n--pre\n-e ./local\n");
        let s = InputSettings {
            requirements: vec![a, b],
            skip_unbundlable: true,
            ..InputSettings::default()
        };
        let p = build_with(&s, &local).unwrap();
        assert_eq!(p.name, "train-stack");
        assert_eq!(p.index.index_url.as_deref(), Some("http://127.0.0.1:1/b"));
        assert!(p.index.pre);
        assert!(p.index.only_binary.applies(&"numpy".parse().unwrap()));
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.targets, [local().unwrap()], "the local Python by default");
    }

    #[test]
    fn python_versions_times_platform_families() {
        let d = Dir::new();
        let s = InputSettings {
            requirements: vec![d.write("r.txt", "tqdm\n")],
            python_versions: strings(&["3.10", "3.11"]),
            platforms: strings(&[
                "manylinux_2_28_x86_64",
                "win_amd64",
                "manylinux_2_17_x86_64",
                "macosx_11_0_arm64",
            ]),
            ..InputSettings::default()
        };
        let p = build_with(&s, &no_python).unwrap();
        assert_eq!(p.targets.len(), 6);
        assert_eq!(p.targets[0].python, "3.10");
        assert_eq!(
            p.targets[0].platforms,
            ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64"]
        );
        assert_eq!(p.targets[3].python, "3.11");
    }

    #[test]
    fn half_given_targets_use_the_local_python() {
        let d = Dir::new();
        let r = d.write("r.txt", "tqdm\n");
        let s = InputSettings {
            requirements: vec![r.clone()],
            platforms: strings(&["win_amd64"]),
            ..InputSettings::default()
        };
        let p = build_with(&s, &local).unwrap();
        assert_eq!(
            (p.targets[0].python.as_str(), p.targets[0].platforms.clone()),
            ("3.12", strings(&["win_amd64"]))
        );
        let e = build_with(&s, &no_python).unwrap_err().to_string();
        assert!(
            e.contains("python3") && e.contains("--python-version"),
            "{e}"
        );
        let s = InputSettings {
            requirements: vec![r.clone()],
            python_versions: strings(&["3.9"]),
            ..InputSettings::default()
        };
        let p = build_with(&s, &local).unwrap();
        assert_eq!(p.targets[0].platforms, ["manylinux_2_35_x86_64"]);
        let s = InputSettings {
            requirements: vec![r],
            ..InputSettings::default()
        };
        let e = build_with(&s, &no_python).unwrap_err().to_string();
        assert!(
            e.contains("no target given") && e.contains("not found"),
            "{e}"
        );
    }

    #[test]
    fn bad_platform_version_model_and_target_file() {
        let d = Dir::new();
        let r = d.write("r.txt", "tqdm\n");
        let base = InputSettings {
            requirements: vec![r],
            ..InputSettings::default()
        };
        let s = InputSettings {
            python_versions: strings(&["3.10"]),
            platforms: strings(&["manylinux_2_28_x86_64", "amiga_68k"]),
            ..base.clone()
        };
        let e = build_with(&s, &local).unwrap_err();
        assert!(
            matches!(e, Error::Usage(_)) && e.to_string().contains("amiga_68k"),
            "{e}"
        );
        let s = InputSettings {
            python_versions: strings(&["2.7"]),
            platforms: strings(&["win_amd64"]),
            ..base.clone()
        };
        assert!(build_with(&s, &local)
            .unwrap_err()
            .to_string()
            .contains("2.7"));
        let s = InputSettings {
            models: strings(&["org//x"]),
            ..base.clone()
        };
        let e = build_with(&s, &local).unwrap_err();
        assert!(
            matches!(e, Error::Usage(_)) && e.to_string().contains("org//x"),
            "{e}"
        );

        let good = d.write("t.json", r#"{"python": "3.10", "python_full": "3.10.12", "platforms": ["manylinux_2_31_aarch64"]}"#);
        let s = InputSettings {
            target_files: vec![good],
            ..base.clone()
        };
        let p = build_with(&s, &no_python).unwrap();
        assert_eq!(p.targets[0].python_full.as_deref(), Some("3.10.12"));
        let bad = d.write("bad.json", r#"{"python": "3.10", "platforms": ["nope"]}"#);
        let s = InputSettings {
            target_files: vec![bad],
            ..base.clone()
        };
        let e = build_with(&s, &local).unwrap_err().to_string();
        assert!(e.contains("bad.json") && e.contains("nope"), "{e}");
        let broken = d.write("broken.json", "{\n  \"python\": \n");
        let s = InputSettings {
            target_files: vec![broken],
            ..base
        };
        let e = build_with(&s, &local).unwrap_err().to_string();
        assert!(e.contains("broken.json:"), "{e}");
    }

    #[test]
    fn example_manifests() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
        let s = InputSettings {
            manifest: Some(dir.join("quickstart.yaml")),
            ..InputSettings::default()
        };
        let p = build_with(&s, &no_python).unwrap();
        assert_eq!(p.name, "quickstart");
        assert_eq!(
            names(&p),
            ["requests", "tqdm", "packaging", "colorama", "pyyaml"]
        );
        assert_eq!(p.targets[0].platforms, ["manylinux_2_28_x86_64"]);
        assert!(p.models.is_empty());

        let s = InputSettings {
            manifest: Some(dir.join("lora-scripts.yaml")),
            ..InputSettings::default()
        };
        let p = build_with(&s, &no_python).unwrap();
        assert_eq!(p.name, "lora-scripts");
        assert!(names(&p).contains(&"diffusers".to_string()));
        let repos: Vec<String> = p.models.iter().map(|m| m.repo.to_string()).collect();
        assert_eq!(
            repos,
            [
                "runwayml/stable-diffusion-v1-5",
                "openai/clip-vit-large-patch14"
            ]
        );
        assert!(
            !p.models[0].include.is_empty(),
            "the manifest's globs win over the config's bare name"
        );
        assert!(p.models[1].reason.as_deref().unwrap().contains("SD1"));

        let c = config::read(&dir.join("configs/flux_lora.toml")).unwrap();
        let repos: Vec<String> = c.models.iter().map(|m| m.repo.to_string()).collect();
        assert_eq!(repos.len(), 6, "one request per named file: {repos:?}");
        assert_eq!(
            repos[4..],
            ["openai/clip-vit-large-patch14", "google/t5-v1_1-xxl"]
        );
        let files: Vec<&str> = c.models[..4]
            .iter()
            .filter_map(|m| m.file.as_deref())
            .collect();
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(c.files.is_empty() && c.warnings.is_empty(), "{c:?}");

        let c = config::read(&dir.join("configs/chara_lora.yaml")).unwrap();
        let repos: Vec<String> = c.models.iter().map(|m| m.repo.to_string()).collect();
        assert_eq!(
            repos,
            [
                "runwayml/stable-diffusion-v1-5",
                "stabilityai/sd-vae-ft-mse",
                "openai/clip-vit-large-patch14"
            ]
        );
    }
}
