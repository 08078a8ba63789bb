//! requirements.txt parser: any bytes as a requirements file (includes resolve next to it).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = ferry_fuzz::write_input("requirements.txt", data);
    let env = |name: &str| match name {
        "HOME" => Some("/home/fuzz".to_string()),
        "INDEX" => Some("http://127.0.0.1:9/simple/".to_string()),
        _ => None,
    };
    for skip in [false, true] {
        let _ = ferry::inputs::requirements::read_with_env(&path, skip, &env);
    }
});
