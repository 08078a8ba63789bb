//! Bundle reader past the signature: the fuzzed tar's SHA256SUMS is re-signed with the fixed test key, so the
//! member checks (names, links, sums, ferry.json) are what gets exercised. Extracting must either fail and leave
//! nothing, or succeed with nothing outside the destination.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(bytes) = ferry_fuzz::resign(data) else {
        return;
    };
    let (_, public) = ferry_fuzz::keys();
    let path = ferry_fuzz::write_input("signed.ferry.tar", &bytes);
    let verified = ferry::bundle::verify(&path, &public);
    let dest = ferry_fuzz::fresh_dest();
    let extracted = ferry::bundle::extract(&path, &public, &dest);
    if std::env::var_os("FERRY_FUZZ_DEBUG").is_some() {
        eprintln!("verify: {:?}", verified.map(|v| v.members.len()));
        eprintln!("extract: {:?}", extracted.as_ref().map(|v| v.members.len()));
    }
    let ok = extracted.is_ok();
    ferry_fuzz::check_extract(&dest, ok);
});
