//! Fuzzes the ip route parser: any text gives a model or located errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nftrace::parse::ip_route::parse("f", &text);
});
