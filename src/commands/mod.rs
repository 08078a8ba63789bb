//! One function per subcommand: orchestration only.

pub mod bundle;
pub mod diff;
pub mod inspect;
pub mod install;
pub mod keygen;
pub mod lock;
pub mod mirrors;
pub mod oci;
pub mod probe;
pub mod progress;
pub mod serve;
pub mod torrent;
pub mod verify;

/// What the user asked for, parsed.
#[derive(Debug)]
pub enum Command {
    Keygen(keygen::Settings),
    Lock(lock::Settings),
    Bundle(bundle::Settings),
    Verify(verify::Settings),
    Inspect(inspect::Settings),
    Install(install::Settings),
    Probe(probe::Settings),
    Mirrors(mirrors::Settings),
    Diff(diff::Settings),
    Serve(serve::Settings),
    Torrent(crate::torrent::Settings),
    Push(crate::oci::PushSettings),
    Pull(crate::oci::PullSettings),
}

/// Moved to the inputs stage (it is what the plan is built from); re-exported for the commands.
pub use crate::inputs::InputSettings;

pub fn run(command: Command) -> Result<(), crate::Error> {
    match command {
        Command::Keygen(s) => keygen::run(s),
        Command::Lock(s) => lock::run(s),
        Command::Bundle(s) => bundle::run(s),
        Command::Verify(s) => verify::run(s),
        Command::Inspect(s) => inspect::run(s),
        Command::Install(s) => install::run(s),
        Command::Probe(s) => probe::run(s),
        Command::Mirrors(s) => mirrors::run(s),
        Command::Diff(s) => diff::run(s),
        Command::Serve(s) => serve::run(s),
        Command::Torrent(s) => torrent::run(s),
        Command::Push(s) => oci::push(s),
        Command::Pull(s) => oci::pull(s),
    }
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-q`: errors only.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `-q` was given.
pub fn is_quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Progress for downloads: bars on a TTY, plain lines otherwise, nothing with `-q`.
pub fn progress() -> Box<dyn crate::fetch::download::Progress> {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        Box::new(crate::fetch::download::SilentProgress)
    } else {
        Box::new(progress::TermProgress::new())
    }
}

/// An existing output (a bundle, any of its split volumes, a lock) is replaced only with `--force`.
pub fn refuse_existing(path: &std::path::Path, force: bool) -> Result<(), crate::Error> {
    if force {
        return Ok(());
    }
    let mut first_volume = path.as_os_str().to_owned();
    first_volume.push(".000");
    for p in [path.to_path_buf(), std::path::PathBuf::from(first_volume)] {
        if p.exists() {
            return Err(crate::bundle::Error::OutputExists { path: p }.into());
        }
    }
    Ok(())
}

/// "target cp311-manylinux_2_36_x86_64 (this machine; see --target)" when no target was given.
pub fn note_default_target(
    plan: &crate::inputs::Plan,
    progress: &dyn crate::fetch::download::Progress,
) {
    if plan.target_is_host {
        for t in &plan.targets {
            progress.message(&format!("target {} (this machine; see --target)", t.id()));
        }
    }
}

/// The terminal progress, quiet-aware, for commands that show phases (downloads, packing).
pub fn term() -> progress::TermProgress {
    progress::TermProgress::with(
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
        QUIET.load(std::sync::atomic::Ordering::Relaxed),
    )
}

/// Size of a bundle on disk, all volumes (for progress totals; 0 when unknown).
pub fn bundle_bytes(bundle: &std::path::Path) -> u64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let name = bundle.as_os_str().to_string_lossy();
    if let (Some(n), false) = (size(bundle), name.ends_with(".000")) {
        return n;
    }
    let base = name.strip_suffix(".000").unwrap_or(&name).to_string();
    (0..)
        .map(|i| size(std::path::Path::new(&format!("{base}.{i:03}"))))
        .take_while(Option::is_some)
        .flatten()
        .sum()
}

/// Write a small file atomically: temp file in the same folder, fsync, rename.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), crate::Error> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| crate::Error::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| crate::Error::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| crate::Error::io(path, e.error))?;
    Ok(())
}
