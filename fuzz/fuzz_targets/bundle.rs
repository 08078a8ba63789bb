//! Bundle reader on any bytes as a .ferry.tar, checked against the fixed test key.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (_, public) = ferry_fuzz::keys();
    let path = ferry_fuzz::write_input("fuzz.ferry.tar", data);
    let _ = ferry::bundle::read_manifest(&path);
    let _ = ferry::bundle::read_front(&path);
    let _ = ferry::bundle::verify(&path, &public);
});
