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
    /// `--mirror auto`.
    pub mirror: Option<String>,
    /// `--format pylock`: write a PEP 751 pylock.toml instead of ferry.lock.
    pub pylock: bool,
    /// Replace an existing lock file.
    pub force: bool,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    super::refuse_existing(&settings.output, settings.force)?;
    let mut plan = inputs::plan::build(&settings.inputs)?;
    let progress = super::progress();
    super::note_default_target(&plan, progress.as_ref());
    let measured = match &settings.mirror {
        Some(v) => {
            crate::mirrors::check_value(v)?;
            super::mirrors::before_lock(
                &mut plan,
                settings.inputs.hf_endpoint.as_deref(),
                progress.as_ref(),
            )?
        }
        None => Vec::new(),
    };
    let made = make_lock(&plan, &settings.inputs, progress.as_ref())?;
    for note in crate::fetch::mirrors::dropped() {
        progress.message(&note);
    }
    let text = match settings.pylock {
        true => crate::bundle::pylock::render(&made.lock, false),
        false => {
            let mut json = made.lock.to_json();
            if !measured.is_empty() {
                // The choice and its measurements go into the lock file only: a bundle's ferry.json never
                // holds them, so bundles made through any mirror are the same bytes.
                if let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(&json) {
                    map.insert("mirrors".into(), crate::mirrors::record(&measured));
                    json = serde_json::to_string_pretty(&map).unwrap_or(json);
                    json.push('\n');
                }
            }
            json
        }
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
