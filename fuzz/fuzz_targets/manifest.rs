//! Manifest reader on any bytes as a YAML manifest.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = ferry_fuzz::write_input("ferry.yaml", data);
    let _ = ferry::inputs::manifest::read(&path);
});
