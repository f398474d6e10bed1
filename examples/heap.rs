//! Loads a bundle once with the system allocator (for heap profilers).
fn main() {
    let dir = std::env::args().nth(1).expect("DIR");
    let host = nftrace::bundle::BundlePaths::default()
        .with_dir(std::path::Path::new(&dir))
        .and_then(|p| p.load())
        .expect("loads");
    println!("{} rules", host.ruleset.rule_count());
}
