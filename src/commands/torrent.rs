//! `ferry torrent`.
pub fn run(settings: crate::torrent::Settings) -> Result<(), crate::Error> {
    for t in crate::torrent::write(&settings)? {
        println!(
            "{}: {} ({}, {} pieces of {}), info hash {}",
            t.path.display(),
            t.name,
            crate::types::human_size(t.length),
            t.length.div_ceil(t.piece_length),
            crate::types::human_size(t.piece_length),
            t.info_hash
        );
    }
    Ok(())
}
