//! Bit-sliced vectors: `nplanes` bit planes over `n` elements. Plane `p` holds bit `p` of every
//! element, packed 64 elements to a `u64` word, so one word operation acts on 64 elements. This
//! is the layout of boolean shares: an AND gate over a whole plane is a few word instructions.
//!
//! Invariant: bits past `n` in the last word of each plane are zero.

use crate::Ring;

/// `nplanes` bit planes of `n` elements each, plane-major.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Planes {
    n: usize,
    nplanes: usize,
    words: Vec<u64>,
}

impl std::fmt::Debug for Planes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Planes({} x {})", self.nplanes, self.n)
    }
}

/// Words needed for one plane of `n` elements.
#[inline]
pub fn words_for(n: usize) -> usize {
    n.div_ceil(64)
}

impl Planes {
    pub fn zeros(nplanes: usize, n: usize) -> Self {
        Planes { n, nplanes, words: vec![0; nplanes * words_for(n)] }
    }

    /// Wraps raw words; fails if the length does not match or padding bits are set.
    pub fn from_words(nplanes: usize, n: usize, words: Vec<u64>) -> Option<Self> {
        if words.len() != nplanes * words_for(n) {
            return None;
        }
        let p = Planes { n, nplanes, words };
        if p.padding_is_clear() { Some(p) } else { None }
    }

    fn padding_is_clear(&self) -> bool {
        let w = self.words_per_plane();
        let r = self.n % 64;
        r == 0 || (0..self.nplanes).all(|p| self.words[p * w + w - 1] >> r == 0)
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn nplanes(&self) -> usize {
        self.nplanes
    }
    pub fn words_per_plane(&self) -> usize {
        words_for(self.n)
    }
    pub fn words(&self) -> &[u64] {
        &self.words
    }
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }
    pub fn into_words(self) -> Vec<u64> {
        self.words
    }
    pub fn plane(&self, p: usize) -> &[u64] {
        let w = self.words_per_plane();
        &self.words[p * w..(p + 1) * w]
    }
    pub fn plane_mut(&mut self, p: usize) -> &mut [u64] {
        let w = self.words_per_plane();
        &mut self.words[p * w..(p + 1) * w]
    }

    /// Bit `p` of element `i`.
    pub fn get(&self, p: usize, i: usize) -> bool {
        (self.plane(p)[i / 64] >> (i % 64)) & 1 == 1
    }
    pub fn set(&mut self, p: usize, i: usize, v: bool) {
        let word = &mut self.plane_mut(p)[i / 64];
        if v {
            *word |= 1 << (i % 64);
        } else {
            *word &= !(1 << (i % 64));
        }
    }

    /// Mask of valid bits in the last word of a plane.
    pub fn tail_mask(&self) -> u64 {
        match self.n % 64 {
            0 => u64::MAX,
            r => (1u64 << r) - 1,
        }
    }

    /// Clears the padding bits (after a NOT, for example).
    pub fn clear_padding(&mut self) {
        let w = self.words_per_plane();
        if w == 0 {
            return;
        }
        let m = self.tail_mask();
        for p in 0..self.nplanes {
            self.words[p * w + w - 1] &= m;
        }
    }

    /// The planes `range` as a new value.
    pub fn select(&self, range: std::ops::Range<usize>) -> Planes {
        let w = self.words_per_plane();
        Planes { n: self.n, nplanes: range.len(), words: self.words[range.start * w..range.end * w].to_vec() }
    }

    /// The planes at `idx` (in that order) as a new value.
    pub fn pick(&self, idx: &[usize]) -> Planes {
        let w = self.words_per_plane();
        let mut words = Vec::with_capacity(idx.len() * w);
        for &p in idx {
            words.extend_from_slice(self.plane(p));
        }
        Planes { n: self.n, nplanes: idx.len(), words }
    }

    /// Elements `range` of every plane (word shifts, not bit by bit).
    pub fn slice_elems(&self, range: std::ops::Range<usize>) -> Planes {
        assert!(range.end <= self.n, "element range past the end");
        let len = range.len();
        let mut out = Planes::zeros(self.nplanes, len);
        let (w_in, w_out) = (self.words_per_plane(), out.words_per_plane());
        let (first, off) = (range.start / 64, range.start % 64);
        for p in 0..self.nplanes {
            let src = &self.words[p * w_in..(p + 1) * w_in];
            let dst = &mut out.words[p * w_out..(p + 1) * w_out];
            for (k, d) in dst.iter_mut().enumerate() {
                let lo = src.get(first + k).copied().unwrap_or(0);
                *d = if off == 0 {
                    lo
                } else {
                    (lo >> off) | (src.get(first + k + 1).copied().unwrap_or(0) << (64 - off))
                };
            }
        }
        out.clear_padding();
        out
    }

    /// The elements of `a` followed by those of `b` (same number of planes).
    pub fn concat_elems(a: &Planes, b: &Planes) -> Planes {
        assert_eq!(a.nplanes, b.nplanes, "concatenating planes of different depth");
        let mut out = Planes::zeros(a.nplanes, a.n + b.n);
        let (wa, wb, wo) = (a.words_per_plane(), b.words_per_plane(), out.words_per_plane());
        let (first, off) = (a.n / 64, a.n % 64);
        for p in 0..a.nplanes {
            let dst = &mut out.words[p * wo..(p + 1) * wo];
            dst[..wa].copy_from_slice(&a.words[p * wa..(p + 1) * wa]);
            for (k, &w) in b.words[p * wb..(p + 1) * wb].iter().enumerate() {
                if off == 0 {
                    dst[first + k] = w;
                } else {
                    dst[first + k] |= w << off;
                    if first + k + 1 < wo {
                        dst[first + k + 1] |= w >> (64 - off);
                    }
                }
            }
        }
        out.clear_padding();
        out
    }

    /// Planes stacked on top of each other (all with the same `n`).
    pub fn stack(parts: &[&Planes]) -> Planes {
        let n = parts.first().map_or(0, |p| p.n);
        assert!(parts.iter().all(|p| p.n == n), "stacking planes of different lengths");
        let mut words = Vec::with_capacity(parts.iter().map(|p| p.words.len()).sum());
        for p in parts {
            words.extend_from_slice(&p.words);
        }
        Planes { n, nplanes: parts.iter().map(|p| p.nplanes).sum(), words }
    }

    /// XOR in place.
    pub fn xor_assign(&mut self, o: &Planes) {
        assert_eq!((self.n, self.nplanes), (o.n, o.nplanes), "XOR of planes of different shapes");
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a ^= b;
        }
    }

    /// AND in place (plaintext; shares use the protocol).
    pub fn and_assign(&mut self, o: &Planes) {
        assert_eq!((self.n, self.nplanes), (o.n, o.nplanes), "AND of planes of different shapes");
        for (a, b) in self.words.iter_mut().zip(&o.words) {
            *a &= b;
        }
    }

    /// Bitwise NOT of every valid bit.
    pub fn not_assign(&mut self) {
        for a in self.words.iter_mut() {
            *a = !*a;
        }
        self.clear_padding();
    }

    /// Bit-slices the low `nbits` bits of each value.
    pub fn from_values<R: Ring>(values: &[R], nbits: usize) -> Planes {
        assert!(nbits <= R::BITS as usize);
        let n = values.len();
        let w = words_for(n);
        let mut out = Planes::zeros(nbits, n);
        let mut block = [0u64; 64];
        for b in 0..w {
            let chunk = &values[b * 64..((b + 1) * 64).min(n)];
            for c in 0..nbits.div_ceil(64) {
                block.fill(0);
                for (i, v) in chunk.iter().enumerate() {
                    block[i] = v.chunk(c);
                }
                transpose64(&mut block);
                for j in 0..64.min(nbits - 64 * c) {
                    out.words[(64 * c + j) * w + b] = block[j];
                }
            }
        }
        out
    }

    /// The inverse of [`Planes::from_values`]: plane `p` becomes bit `p` of each value.
    pub fn to_values<R: Ring>(&self) -> Vec<R> {
        assert!(self.nplanes <= R::BITS as usize);
        let n = self.n;
        let w = self.words_per_plane();
        let mut out = vec![R::ZERO; n];
        let mut chunks = vec![[0u64; 64]; R::CHUNKS];
        for b in 0..w {
            for (c, block) in chunks.iter_mut().enumerate() {
                block.fill(0);
                for j in 0..64.min(self.nplanes.saturating_sub(64 * c)) {
                    block[j] = self.words[(64 * c + j) * w + b];
                }
                transpose64(block);
            }
            let len = 64.min(n - b * 64);
            for i in 0..len {
                let parts: [u64; 2] = [chunks[0][i], if R::CHUNKS > 1 { chunks[1][i] } else { 0 }];
                out[b * 64 + i] = R::from_chunks(&parts[..R::CHUNKS]);
            }
        }
        out
    }

    /// One plane as booleans.
    pub fn plane_bools(&self, p: usize) -> Vec<bool> {
        (0..self.n).map(|i| self.get(p, i)).collect()
    }

    /// A single plane from booleans.
    pub fn from_bools(bits: &[bool]) -> Planes {
        let mut p = Planes::zeros(1, bits.len());
        for (i, &b) in bits.iter().enumerate() {
            if b {
                p.words[i / 64] |= 1 << (i % 64);
            }
        }
        p
    }
}

/// Transposes a 64x64 bit matrix in place: afterwards bit `r` of word `c` is what bit `c` of word
/// `r` was (bit 0 = least significant). Recursive block swaps, 6 x 32 word operations.
#[inline]
pub fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32usize;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            for i in k..k + j {
                let t = ((a[i] >> j) ^ a[i + j]) & m;
                a[i] ^= t << j;
                a[i + j] ^= t;
            }
            k += 2 * j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_matches_the_naive_definition() {
        let mut a = [0u64; 64];
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for v in a.iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *v = s;
        }
        let orig = a;
        transpose64(&mut a);
        for r in 0..64 {
            for c in 0..64 {
                assert_eq!((a[c] >> r) & 1, (orig[r] >> c) & 1);
            }
        }
    }

    #[test]
    fn values_round_trip_through_planes() {
        for n in [0usize, 1, 63, 64, 65, 200] {
            let v64: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
            let p = Planes::from_values(&v64, 64);
            assert_eq!(p.to_values::<u64>(), v64);
            let v128: Vec<u128> = v64.iter().map(|&x| (x as u128) << 64 | (x ^ 0xFFFF) as u128).collect();
            let p = Planes::from_values(&v128, 128);
            assert_eq!(p.to_values::<u128>(), v128);
            let p = Planes::from_values(&v128, 70);
            let low: Vec<u128> = v128.iter().map(|x| x & ((1u128 << 70) - 1)).collect();
            assert_eq!(p.to_values::<u128>(), low);
            for i in 0..n {
                assert_eq!(p.get(3, i), (v128[i] >> 3) & 1 == 1);
            }
        }
    }

    #[test]
    fn element_slices_and_concatenations_keep_every_bit() {
        let v: Vec<u64> = (0..130u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).collect();
        let p = Planes::from_values(&v, 5);
        let a = p.slice_elems(3..70);
        let b = p.slice_elems(70..130);
        assert_eq!(a.to_values::<u64>(), v[3..70].iter().map(|x| x & 31).collect::<Vec<_>>());
        let c = Planes::concat_elems(&a, &b);
        assert_eq!(c.to_values::<u64>(), v[3..130].iter().map(|x| x & 31).collect::<Vec<_>>());
        assert!(Planes::from_words(5, c.n(), c.words().to_vec()).is_some(), "padding stays clear");
        // every split and offset against the bitwise definition
        for (lo, hi) in [(0, 0), (0, 1), (1, 64), (63, 129), (64, 128), (5, 130), (129, 130)] {
            let s = p.slice_elems(lo..hi);
            for q in 0..5 {
                for i in lo..hi {
                    assert_eq!(s.get(q, i - lo), p.get(q, i), "slice {lo}..{hi}, plane {q}, element {i}");
                }
            }
            let back = Planes::concat_elems(&p.slice_elems(0..lo), &p.slice_elems(lo..130));
            assert_eq!(back, p, "split at {lo}");
        }
    }

    #[test]
    fn not_keeps_padding_clear() {
        let mut p = Planes::from_bools(&[true, false, true]);
        p.not_assign();
        assert_eq!(p.plane_bools(0), vec![false, true, false]);
        assert_eq!(p.words()[0] >> 3, 0);
        assert!(Planes::from_words(1, 3, vec![0b1000]).is_none());
    }
}
