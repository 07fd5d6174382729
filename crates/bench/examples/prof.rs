#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use mitsu_algebra::FixedPoint;
use mitsu_crypto::{Prg, Seed};
use mitsu_mpc_rep3::client;
use std::time::Instant;
fn main() {
    let n = 1_000_000;
    let b = 32768;
    let mut p = Prg::new(Seed::from_u64(1));
    let x: Vec<f64> = (0..n).map(|_| 50.0 + 10.0 * p.normal()).collect();
    let f = FixedPoint::real(7, 18);
    for _ in 0..2 {
        let t = Instant::now();
        for c in x.chunks(b) {
            std::hint::black_box(f.encode_all::<u64>(c).unwrap());
        }
        println!("encode u64: {:?}", t.elapsed());
        let t = Instant::now();
        for c in x.chunks(b) {
            std::hint::black_box(f.encode_all::<u128>(c).unwrap());
        }
        println!("encode u128: {:?}", t.elapsed());
        let e: Vec<u64> = f.encode_all(&x).unwrap();
        let t = Instant::now();
        for c in e.chunks(b) {
            std::hint::black_box(client::deal(c, &mut p));
        }
        println!("deal u64: {:?}", t.elapsed());
        let e: Vec<u128> = f.encode_all(&x).unwrap();
        let t = Instant::now();
        for c in e.chunks(b) {
            std::hint::black_box(client::deal(c, &mut p));
        }
        println!("deal u128: {:?}", t.elapsed());
    }
}
