//! Fuzzes the ipvsadm -Sn/-Ln/-Lnc parser: any text gives a model or located errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nftrace::parse::ipvsadm::parse("f", &text);
    let _ = nftrace::parse::ipvsadm::parse_conns("f", &text);
});
