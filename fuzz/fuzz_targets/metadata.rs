//! Core metadata (METADATA / PKG-INFO / PEP 658) parser; the same bytes also as a wheel (zip) to read it from.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferry::fetch::metadata::parse(data);
    let _ = ferry::fetch::metadata::from_reader(std::io::Cursor::new(data));
});
