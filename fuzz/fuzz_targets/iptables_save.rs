//! Fuzzes the iptables-save parser: any text gives a model or located errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ruleset) = nftrace::parse::iptables_save::parse("f", &text) {
        // What parses must print and parse back to the same rules.
        let printed = nftrace::render::save::write(&ruleset);
        let again = nftrace::parse::iptables_save::parse("printed", &printed)
            .unwrap_or_else(|e| panic!("printed ruleset does not parse:\n{printed}\n{e}"));
        assert_eq!(nftrace::render::save::write(&again), printed);
    }
});
