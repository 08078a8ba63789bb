//! LoRA config reader on any bytes as a .toml file.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = ferry_fuzz::write_input("config.toml", data);
    let _ = ferry::inputs::config::read(&path);
});
