use mitsu_crypto::{Prg, Seed};
use std::time::Instant;
fn main() {
    let n = 1_000_000usize;
    let mut out = vec![1u64; n]; // touched
    let mut p = Prg::new(Seed::from_u64(3));
    for _ in 0..3 {
        let t = Instant::now();
        p.fill(&mut out);
        println!("prg into touched 8MB: {:?}", t.elapsed());
    }
    let mut small = vec![1u64; 8192];
    let t = Instant::now();
    for _ in 0..122 {
        p.fill(&mut small);
    }
    println!("prg 122 x 64KB (in cache): {:?}", t.elapsed());
    let t = Instant::now();
    let v: Vec<u64> = vec![0; n];
    let s: u64 = v.iter().step_by(512).sum();
    println!("fresh 8MB touch: {:?} {s}", t.elapsed());
}
