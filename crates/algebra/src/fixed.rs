//! Fixed-point encoding: a real x is stored as the ring element round(x * 2^frac).
//!
//! Every encoding carries a public magnitude bound `bits`: encoded values satisfy
//! |round(x * 2^frac)| < 2^bits. The bound is what lets the protocols use narrow comparison
//! circuits and lets the planner prove that nothing overflows; so encoding checks it and refuses
//! values outside it instead of wrapping.

use crate::Ring;

/// Why a value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    #[error("value {value} is outside the declared range (|x| < 2^{range_bits} after scaling by 2^{frac})")]
    OutOfRange { value: f64, range_bits: u32, frac: u32 },
    #[error("value {0} is not a finite number")]
    NotFinite(f64),
    #[error("a bound of 2^{bits} does not fit the ring {ring} (at most 2^{max} for signed values)")]
    RingTooSmall { bits: u32, ring: &'static str, max: u32 },
}

/// A fixed-point format: `frac` fraction bits and a magnitude bound on the *encoded* integer,
/// |encoded| < 2^bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedPoint {
    pub frac: u32,
    pub bits: u32,
}

impl FixedPoint {
    /// Integers with |v| < 2^bits.
    pub fn int(bits: u32) -> Self {
        FixedPoint { frac: 0, bits }
    }

    /// Reals with |x| < 2^range_bits, encoded with `frac` fraction bits.
    pub fn real(range_bits: u32, frac: u32) -> Self {
        FixedPoint { frac, bits: range_bits + frac }
    }

    /// Smallest power-of-two bound covering every value (plus one bit for rounding), as an
    /// upload would infer it: returns `range_bits` with max|x| < 2^range_bits.
    pub fn infer_range_bits(values: &[f64]) -> u32 {
        let m = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut b = 0u32;
        while (2f64).powi(b as i32) <= m {
            b += 1;
        }
        b
    }

    /// Checks that the bound fits a signed element of `R`.
    pub fn check_ring<R: Ring>(&self) -> Result<(), EncodeError> {
        if self.bits > R::BITS - 1 {
            return Err(EncodeError::RingTooSmall { bits: self.bits, ring: R::NAME, max: R::BITS - 1 });
        }
        Ok(())
    }

    /// Encodes one real, refusing values outside the bound.
    pub fn encode<R: Ring>(&self, x: f64) -> Result<R, EncodeError> {
        if !x.is_finite() {
            return Err(EncodeError::NotFinite(x));
        }
        let scaled = (x * (2f64).powi(self.frac as i32)).round();
        let limit = (2f64).powi(self.bits as i32);
        if scaled.abs() >= limit || self.bits > R::BITS - 1 || self.bits > 126 {
            if self.bits > R::BITS - 1 {
                self.check_ring::<R>()?;
            }
            return Err(EncodeError::OutOfRange {
                value: x,
                range_bits: self.bits - self.frac.min(self.bits),
                frac: self.frac,
            });
        }
        Ok(R::from_i128(scaled as i128))
    }

    /// Encodes an integer (scaled by 2^frac), refusing values outside the bound.
    pub fn encode_i64<R: Ring>(&self, v: i64) -> Result<R, EncodeError> {
        self.check_ring::<R>()?;
        let scaled = (v as i128) << self.frac;
        if self.bits >= 127 || scaled.unsigned_abs() >= (1u128 << self.bits) {
            return Err(EncodeError::OutOfRange {
                value: v as f64,
                range_bits: self.bits - self.frac.min(self.bits),
                frac: self.frac,
            });
        }
        Ok(R::from_i128(scaled))
    }

    /// Encodes a slice. One pass with the scale and limit computed once; on failure the first
    /// offending value is reported.
    pub fn encode_all<R: Ring>(&self, xs: &[f64]) -> Result<Vec<R>, EncodeError> {
        self.check_ring::<R>()?;
        let scale = (2f64).powi(self.frac as i32);
        let limit = (2f64).powi(self.bits as i32);
        let mut out = Vec::with_capacity(xs.len());
        let mut ok = true;
        if self.bits <= 51 {
            // Round to nearest with the 1.5 * 2^52 trick: exact for |s| < 2^51 and plain SSE2
            // arithmetic (f64::round and f64 -> i128 are library calls on baseline x86-64).
            const MAGIC: f64 = 6_755_399_441_055_744.0;
            for &x in xs {
                let s = x * scale;
                ok &= s.abs() < limit; // NaN fails the comparison too
                let r = (s + MAGIC) - MAGIC;
                out.push(R::from_i128((r as i64) as i128));
            }
        } else {
            for &x in xs {
                let s = (x * scale).round();
                ok &= s.abs() < limit;
                out.push(R::from_i128(s as i128));
            }
        }
        if ok {
            return Ok(out);
        }
        let bad = xs.iter().find(|&&x| self.encode::<R>(x).is_err()).copied().unwrap_or(f64::NAN);
        Err(self.encode::<R>(bad).err().unwrap_or(EncodeError::NotFinite(bad)))
    }

    /// Decodes one element (signed interpretation divided by 2^frac).
    pub fn decode<R: Ring>(&self, v: R) -> f64 {
        v.to_f64() / (2f64).powi(self.frac as i32)
    }

    /// Decodes an element to an integer, refusing values outside the bound (a sign that the
    /// element is not what the format says it is).
    pub fn decode_i64<R: Ring>(&self, v: R) -> Result<i64, EncodeError> {
        let s = v.to_i128() >> self.frac;
        if self.bits < 127 && v.to_i128().unsigned_abs() >= (1u128 << self.bits)
            || s < i64::MIN as i128
            || s > i64::MAX as i128
        {
            return Err(EncodeError::OutOfRange {
                value: s as f64,
                range_bits: self.bits - self.frac.min(self.bits),
                frac: self.frac,
            });
        }
        Ok(s as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_rejects_out_of_range_values_instead_of_wrapping() {
        let f = FixedPoint::real(7, 16);
        assert!(f.encode::<u64>(127.9).is_ok());
        assert!(matches!(f.encode::<u64>(128.0), Err(EncodeError::OutOfRange { .. })));
        assert!(matches!(f.encode::<u64>(-128.0), Err(EncodeError::OutOfRange { .. })));
        assert!(matches!(f.encode::<u64>(f64::NAN), Err(EncodeError::NotFinite(_))));
        let big = FixedPoint::real(60, 16);
        assert!(matches!(big.encode::<u64>(1.0), Err(EncodeError::RingTooSmall { .. })));
        assert!(big.encode::<u128>(1.0).is_ok());
    }

    #[test]
    fn round_trip_is_within_half_an_ulp() {
        let f = FixedPoint::real(20, 18);
        for &x in &[0.0, -1.0, 1.5, -123456.789, 1e-6, 524287.99] {
            let e: u128 = f.encode(x).unwrap();
            assert!((f.decode(e) - x).abs() <= 0.5 / (1u64 << 18) as f64);
            let e: u64 = f.encode(x).unwrap();
            assert!((f.decode(e) - x).abs() <= 0.5 / (1u64 << 18) as f64);
        }
    }

    #[test]
    fn integers_at_the_ends_of_the_range() {
        let f = FixedPoint::int(31);
        assert_eq!(f.decode_i64(f.encode_i64::<u64>((1 << 31) - 1).unwrap()).unwrap(), (1 << 31) - 1);
        assert_eq!(f.decode_i64(f.encode_i64::<u64>(-(1 << 31) + 1).unwrap()).unwrap(), -(1 << 31) + 1);
        assert!(f.encode_i64::<u64>(1 << 31).is_err());
        assert!(f.encode_i64::<u64>(-(1 << 31)).is_err());
        assert_eq!(FixedPoint::infer_range_bits(&[99.0, -3.0]), 7);
        assert_eq!(FixedPoint::infer_range_bits(&[128.0]), 8);
        assert_eq!(FixedPoint::infer_range_bits(&[0.0]), 0);
    }
}
