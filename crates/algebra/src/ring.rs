//! The rings Z_2^k for k = 64 and 128. All protocol code is generic over [`Ring`]; the width is
//! chosen per value range by the caller (see `mitsu-mpc-ops`).

use std::fmt::Debug;

/// An element of Z_2^k stored in an unsigned machine word. Arithmetic wraps modulo 2^k.
pub trait Ring: Copy + Clone + Default + Debug + Eq + Ord + Send + Sync + 'static + bytemuck::Pod {
    /// k, the number of bits.
    const BITS: u32;
    const ZERO: Self;
    const ONE: Self;
    /// Short name for messages and benchmark output ("Z64", "Z128").
    const NAME: &'static str;

    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn neg(self) -> Self;
    fn xor(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
    fn not(self) -> Self;
    /// Logical shift left (bits shifted out are lost). `s < BITS`.
    fn shl(self, s: u32) -> Self;
    /// Logical shift right. `s < BITS`.
    fn shr(self, s: u32) -> Self;
    /// Arithmetic shift right of the two's-complement interpretation. `s < BITS`.
    fn sar(self, s: u32) -> Self;
    /// Bit `i` of the element.
    fn bit(self, i: u32) -> bool;
    /// The low 64 bits.
    fn low_u64(self) -> u64;
    /// The 64-bit chunk number `c` (0 = least significant).
    fn chunk(self, c: usize) -> u64;
    /// Builds an element from 64-bit chunks (least significant first); missing chunks are zero.
    fn from_chunks(chunks: &[u64]) -> Self;
    /// Reduces an integer modulo 2^k.
    fn from_i128(v: i128) -> Self;
    fn from_u64(v: u64) -> Self;
    /// The two's-complement (signed) interpretation.
    fn to_i128(self) -> i128;
    /// Signed interpretation as f64 (rounded).
    fn to_f64(self) -> f64;
    /// Number of 64-bit chunks (1 or 2).
    const CHUNKS: usize;

    /// `2^s` as a ring element (`s < BITS`).
    fn pow2(s: u32) -> Self {
        Self::ONE.shl(s)
    }
    /// The low `bits` bits (`bits <= BITS`).
    fn low_bits(self, bits: u32) -> Self {
        if bits >= Self::BITS { self } else { self.and(Self::pow2(bits).sub(Self::ONE)) }
    }
}

macro_rules! impl_ring {
    ($t:ty, $s:ty, $name:expr, $chunks:expr) => {
        impl Ring for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const NAME: &'static str = $name;
            const CHUNKS: usize = $chunks;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                self.wrapping_add(o)
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                self.wrapping_sub(o)
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                self.wrapping_mul(o)
            }
            #[inline(always)]
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn xor(self, o: Self) -> Self {
                self ^ o
            }
            #[inline(always)]
            fn and(self, o: Self) -> Self {
                self & o
            }
            #[inline(always)]
            fn not(self) -> Self {
                !self
            }
            #[inline(always)]
            fn shl(self, s: u32) -> Self {
                self << s
            }
            #[inline(always)]
            fn shr(self, s: u32) -> Self {
                self >> s
            }
            #[inline(always)]
            fn sar(self, s: u32) -> Self {
                ((self as $s) >> s) as $t
            }
            #[inline(always)]
            fn bit(self, i: u32) -> bool {
                (self >> i) & 1 == 1
            }
            #[inline(always)]
            fn low_u64(self) -> u64 {
                self as u64
            }
            #[inline(always)]
            fn chunk(self, c: usize) -> u64 {
                if c >= $chunks { 0 } else { (self >> (64 * c as u32)) as u64 }
            }
            #[inline(always)]
            fn from_chunks(chunks: &[u64]) -> Self {
                let mut v: $t = 0;
                for (c, w) in chunks.iter().enumerate().take($chunks) {
                    v |= (*w as $t) << (64 * c as u32);
                }
                v
            }
            #[inline(always)]
            fn from_i128(v: i128) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_u64(v: u64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i128(self) -> i128 {
                (self as $s) as i128
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                (self as $s) as f64
            }
        }
    };
}

impl_ring!(u64, i64, "Z64", 1);
impl_ring!(u128, i128, "Z128", 2);

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ring<R: Ring>() {
        let m1 = R::ZERO.sub(R::ONE);
        assert_eq!(m1.to_i128(), -1);
        assert_eq!(m1.add(R::ONE), R::ZERO);
        assert_eq!(R::from_i128(-5).sar(1).to_i128(), -3);
        assert_eq!(R::from_i128(-5).shr(R::BITS - 1), R::ONE);
        assert_eq!(R::from_i128(12345).low_bits(4).to_i128(), 12345 & 15);
        let v = R::from_i128(-987654321);
        let chunks: Vec<u64> = (0..R::CHUNKS).map(|c| v.chunk(c)).collect();
        assert_eq!(R::from_chunks(&chunks), v);
        assert!(R::from_i128(-1).bit(R::BITS - 1));
        assert_eq!(R::from_i128(7).mul(R::from_i128(-3)).to_i128(), -21);
    }

    #[test]
    fn both_rings_behave_as_two_complement() {
        check_ring::<u64>();
        check_ring::<u128>();
    }
}
