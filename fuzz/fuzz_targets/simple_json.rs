//! PEP 691 JSON project page parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let base = url::Url::parse(ferry_fuzz::INDEX_PAGE).unwrap();
    let _ = ferry::fetch::simple::parse_json(data, &base);
});
