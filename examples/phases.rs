use std::time::Instant;
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
fn main() {
    let p = std::env::args().nth(1).unwrap();
    let t0 = Instant::now();
    let text = std::fs::read_to_string(&p).unwrap();
    let t1 = Instant::now();
    let rs = nftrace::parse::iptables_save::parse("x", &text).unwrap();
    let t2 = Instant::now();
    let h = nftrace::model::Host::new(rs, Default::default(), vec![]);
    let t3 = Instant::now();
    drop(h);
    let t4 = Instant::now();
    let mut words = Vec::new();
    let mut n = 0;
    for l in text.lines() {
        nftrace::parse::lex::split_words_into(l, &mut words).unwrap();
        n += words.len();
    }
    let t5 = Instant::now();
    println!(
        "read {:?} parse {:?} host {:?} drop {:?} split {:?} {n}",
        t1 - t0,
        t2 - t1,
        t3 - t2,
        t4 - t3,
        t5 - t4
    );
}
