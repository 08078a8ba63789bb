//! `ferry push` and `ferry pull`.
use crate::oci::{PullSettings, PushSettings};

fn say(line: &str) {
    if !super::is_quiet() {
        eprintln!("{line}");
    }
}

pub fn push(settings: PushSettings) -> Result<(), crate::Error> {
    let report = crate::oci::push(&settings, &say)?;
    println!(
        "pushed {} to {}: {} layer(s), {} uploaded ({}), {} already there; manifest {}",
        settings.bundle.display(),
        settings.reference,
        report.layers,
        report.uploaded,
        crate::types::human_size(report.uploaded_bytes),
        report.skipped,
        report.manifest_digest
    );
    Ok(())
}

pub fn pull(settings: PullSettings) -> Result<(), crate::Error> {
    let written = crate::oci::pull(&settings, &say)?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    println!(
        "pulled {} into {} (byte-identical to the pushed bundle{})",
        settings.reference,
        names.join(", "),
        if settings.public.is_some() {
            ", signature and hashes verified"
        } else {
            ""
        }
    );
    Ok(())
}
