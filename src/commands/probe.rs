//! `ferry probe`: describe this host's interpreter as a target (JSON) for `ferry lock --target`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub python: Option<PathBuf>,
    pub output: PathBuf,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let mut target = crate::host::detect(settings.python.as_deref())
        .map_err(|e| crate::Error::Other(e.to_string()))?;
    // For `--torch-backend auto`: the NVIDIA driver, if this host has one.
    target.nvidia_driver = crate::accel::detect_driver();
    let mut json = serde_json::to_string_pretty(&target).expect("target serializes");
    json.push('\n');
    std::fs::write(&settings.output, &json).map_err(|e| crate::Error::io(&settings.output, e))?;
    print!("{json}");
    Ok(())
}
