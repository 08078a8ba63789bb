//! `ferry lock`: inputs → plan → lock stage → ferry.lock.
use std::path::PathBuf;

use crate::inputs;

// Kept for callers that reached the lock stage through here.
pub use crate::fetch::cache::cache_dir;
pub use crate::lock::packages::cached_path;
pub use crate::lock::{created_time, make_lock, Made};
use crate::types::plural;

#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: super::InputSettings,
    pub output: PathBuf,
    /// `--format pylock`: write a PEP 751 pylock.toml instead of ferry.lock.
    pub pylock: bool,
    /// Replace an existing lock file.
    pub force: bool,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    super::refuse_existing(&settings.output, settings.force)?;
    let plan = inputs::plan::build(&settings.inputs)?;
    let progress = super::progress();
    super::note_default_target(&plan, progress.as_ref());
    let made = make_lock(&plan, &settings.inputs, progress.as_ref())?;
    let text = match settings.pylock {
        true => crate::bundle::pylock::render(&made.lock, false),
        false => made.lock.to_json(),
    };
    super::write_atomic(&settings.output, text.as_bytes())?;
    eprintln!(
        "locked {}, {} for {} into {}",
        plural(made.lock.packages.len(), "package"),
        plural(made.lock.models.len(), "model"),
        plural(made.lock.targets.len(), "target"),
        settings.output.display()
    );
    Ok(())
}
