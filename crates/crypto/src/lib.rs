//! Cryptographic primitives, chosen once here so the rest of mitsu never names a cipher.
//!
//! * [`Prg`]: AES-128 in counter mode (AES-NI, or VAES on AVX-512 machines, detected at run time). Correlated randomness in the replicated protocol
//!   (zero sharings, common masks and permutations) is drawn from PRGs whose 128-bit seeds two or
//!   three parties share (Araki et al., CCS'16, §2.2). AES-NI makes it run at several GB/s.
//! * [`Seed`]: a 128-bit key, fresh from the operating system with [`Seed::random`].

use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

/// A 128-bit PRG seed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 16]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(..)") // never print key material
    }
}

impl Seed {
    /// A fresh seed from the operating system's CSPRNG.
    pub fn random() -> Seed {
        let mut s = [0u8; 16];
        getrandom::getrandom(&mut s).expect("the operating system has no random source");
        Seed(s)
    }

    /// A seed derived from a test-fixed integer (tests and reproducible benchmarks only).
    pub fn from_u64(v: u64) -> Seed {
        let mut s = [0u8; 16];
        s[..8].copy_from_slice(&v.to_le_bytes());
        s[8..].copy_from_slice(&(!v).to_le_bytes());
        Seed(s)
    }

    pub fn xor(self, o: Seed) -> Seed {
        let mut s = self.0;
        for (a, b) in s.iter_mut().zip(o.0) {
            *a ^= b;
        }
        Seed(s)
    }

    /// A child seed for an independent stream: AES_seed(label) (a PRF evaluation).
    pub fn derive(&self, label: u64) -> Seed {
        // AES_seed(2^127 + label): a counter value the main stream never reaches
        let c = aes::Aes128::new(&Array::from(self.0));
        let mut b = Array::from(((1u128 << 127) | label as u128).to_le_bytes());
        c.encrypt_block(&mut b);
        Seed(b.into())
    }
}

/// AES-128 in counter mode: block j of the stream is AES_seed(j). Two holders of the same seed
/// draw identical streams as long as they request the same lengths in the same order (a request
/// that is not a multiple of 16 bytes consumes a whole block).
pub struct Prg {
    cipher: aes::Aes128,
    ctr: u128,
    /// 4 KiB of scratch, 16-byte aligned, so blocks are written and encrypted while in cache.
    scratch: Vec<u128>,
    buf: [u8; 64],
    pos: usize,
}

impl std::fmt::Debug for Prg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prg(..)")
    }
}

const SCRATCH_BLOCKS: usize = 256;

impl Prg {
    pub fn new(seed: Seed) -> Prg {
        Prg {
            cipher: aes::Aes128::new(&Array::from(seed.0)),
            ctr: 0,
            scratch: vec![0; SCRATCH_BLOCKS],
            buf: [0; 64],
            pos: 64,
        }
    }

    /// Encrypts `blocks` in place after writing the next counters into them.
    fn encrypt_counters(&mut self, blocks: &mut [[u64; 2]]) {
        let c0 = self.ctr;
        for (i, b) in blocks.iter_mut().enumerate() {
            let c = c0.wrapping_add(i as u128);
            *b = [c as u64, (c >> 64) as u64];
        }
        self.encrypt_in_place(bytemuck::cast_slice_mut(blocks));
    }

    /// Encrypts blocks that already hold the next counters, and advances the counter.
    fn encrypt_in_place(&mut self, bytes: &mut [u8]) {
        self.ctr = self.ctr.wrapping_add((bytes.len() / 16) as u128);
        let (aes_blocks, _) = aes::Block::slice_as_chunks_mut(bytes);
        self.cipher.encrypt_blocks(aes_blocks);
    }

    /// The next `nb` counters as a fresh vector (one write pass, no zeroing).
    fn counters(&self, nb: usize) -> impl Iterator<Item = u128> + use<> {
        let c0 = self.ctr;
        (0..nb).map(move |i| c0.wrapping_add(i as u128))
    }

    /// Fills `buf` with keystream bytes.
    pub fn fill_bytes(&mut self, buf: &mut [u8]) {
        let mut scratch = std::mem::take(&mut self.scratch);
        for c in buf.chunks_mut(16 * SCRATCH_BLOCKS) {
            let nb = c.len().div_ceil(16);
            let blocks: &mut [[u64; 2]] = bytemuck::cast_slice_mut(&mut scratch[..nb]);
            self.encrypt_counters(blocks);
            c.copy_from_slice(&bytemuck::cast_slice::<u128, u8>(&scratch[..nb])[..c.len()]);
        }
        self.scratch = scratch;
    }

    /// `n` uniformly random elements of a plain-old-data type (ring elements, words). The counters
    /// are written straight into the result and encrypted in place.
    pub fn gen_vec<T: bytemuck::Pod>(&mut self, n: usize) -> Vec<T> {
        let size = std::mem::size_of::<T>();
        let bytes = n * size;
        let nb = bytes.div_ceil(16);
        if std::mem::align_of::<T>() == 16 && size == 16 {
            let mut v: Vec<u128> = self.counters(nb).collect();
            self.encrypt_in_place(bytemuck::cast_slice_mut(&mut v));
            if let Ok(v) = bytemuck::allocation::try_cast_vec::<u128, T>(v) {
                return v;
            }
        } else if std::mem::align_of::<T>() == 8 && 16 % size == 0 {
            let mut v: Vec<[u64; 2]> = self.counters(nb).map(|c| [c as u64, (c >> 64) as u64]).collect();
            self.encrypt_in_place(bytemuck::cast_slice_mut(&mut v));
            if let Ok(mut v) = bytemuck::allocation::try_cast_vec::<[u64; 2], T>(v) {
                v.truncate(n);
                return v;
            }
        }
        let mut v = vec![T::zeroed(); n];
        self.fill_bytes(bytemuck::cast_slice_mut(&mut v));
        v
    }

    /// Overwrites `v` with random elements.
    pub fn fill<T: bytemuck::Pod>(&mut self, v: &mut [T]) {
        self.fill_bytes(bytemuck::cast_slice_mut(v));
    }

    pub fn next_u64(&mut self) -> u64 {
        if self.pos + 8 > 64 {
            let mut b = [0u8; 64];
            self.fill_bytes(&mut b);
            self.buf = b;
            self.pos = 0;
        }
        let v = u64::from_le_bytes(self.buf[self.pos..self.pos + 8].try_into().unwrap());
        self.pos += 8;
        v
    }

    /// Uniform in `[0, n)` without modulo bias (Lemire's method). `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        assert!(n <= u32::MAX as usize);
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }

    /// Uniform f64 in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal sample (Box–Muller), for test and benchmark data.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_regardless_of_chunking() {
        let s = Seed::from_u64(7);
        let mut a = Prg::new(s);
        let mut b = Prg::new(s);
        let whole: Vec<u64> = a.gen_vec(100);
        let mut parts: Vec<u64> = b.gen_vec(36);
        parts.extend(b.gen_vec::<u64>(30));
        parts.extend(b.gen_vec::<u128>(17).iter().flat_map(|v| [*v as u64, (*v >> 64) as u64]));
        assert_eq!(whole, parts);
        // the stream is AES of the counter: block 0 is AES_k(0)
        let c = aes::Aes128::new(&Array::from(s.0));
        let mut blk = Array::from([0u8; 16]);
        c.encrypt_block(&mut blk);
        assert_eq!(whole[0].to_le_bytes(), blk[..8]);
        let mut bytes = [0u8; 40];
        Prg::new(s).fill_bytes(&mut bytes);
        assert_eq!(bytemuck::cast_slice::<u64, u8>(&whole[..5]), &bytes[..]);
        assert_ne!(Prg::new(Seed::from_u64(8)).gen_vec::<u64>(4), whole[..4].to_vec());
    }

    #[test]
    fn permutation_is_a_permutation_and_below_is_in_range() {
        let mut p = Prg::new(Seed::from_u64(1));
        let mut perm = p.permutation(1000);
        perm.sort();
        assert_eq!(perm, (0..1000).collect::<Vec<u32>>());
        for n in [1u64, 2, 3, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(p.below(n) < n);
            }
        }
        assert_ne!(Seed::from_u64(1).derive(1), Seed::from_u64(1).derive(2));
        assert_eq!(Seed::from_u64(1).derive(1), Seed::from_u64(1).derive(1));
    }
}
