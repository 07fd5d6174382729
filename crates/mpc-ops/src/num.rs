//! [`Num`]: a secret-shared vector with its public format and provenance.

use mitsu_algebra::{FixedPoint, Ring};
use mitsu_mpc_core::{Engine, MpcError, PartyId, Result, Reveal};

/// A secret-shared vector of fixed-point numbers: encoded values v with |v| < 2^bits, real value
/// v / 2^frac. `expr` names the computation for error messages.
pub struct Num<E: Engine, R: Ring> {
    pub share: E::A<R>,
    pub frac: u32,
    pub bits: u32,
    pub expr: String,
}

impl<E: Engine, R: Ring> Clone for Num<E, R> {
    fn clone(&self) -> Self {
        Num { share: self.share.clone(), frac: self.frac, bits: self.bits, expr: self.expr.clone() }
    }
}

impl<E: Engine, R: Ring> std::fmt::Debug for Num<E, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Num({}: frac {}, |v| < 2^{})", self.expr, self.frac, self.bits)
    }
}

/// Refuses a bound that does not fit a signed element of `R` (with `extra` bits of headroom).
pub fn check_bits<R: Ring>(bits: u32, extra: u32, expr: &str) -> Result<()> {
    if bits + extra > R::BITS - 1 {
        return Err(MpcError::Range {
            expr: expr.to_string(),
            needed_bits: bits + extra + 1,
            ring: R::NAME,
            max_bits: R::BITS,
        });
    }
    Ok(())
}

impl<E: Engine, R: Ring> Num<E, R> {
    /// Encodes and shares reals from `owner` (others pass `None`). Values outside the format's
    /// bound are refused before anything is sent.
    pub fn input_f64(
        e: &mut E,
        owner: PartyId,
        values: Option<&[f64]>,
        n: usize,
        fmt: FixedPoint,
        name: &str,
    ) -> Result<Self> {
        check_bits::<R>(fmt.bits, 0, name)?;
        let enc: Option<Vec<R>> = values.map(|v| fmt.encode_all(v)).transpose()?;
        let share = e.input(owner, enc.as_deref(), n)?;
        Ok(Num { share, frac: fmt.frac, bits: fmt.bits, expr: name.to_string() })
    }

    /// Wraps existing shares with their format.
    pub fn from_share(share: E::A<R>, fmt: FixedPoint, name: &str) -> Result<Self> {
        check_bits::<R>(fmt.bits, 0, name)?;
        Ok(Num { share, frac: fmt.frac, bits: fmt.bits, expr: name.to_string() })
    }

    pub fn fmt(&self) -> FixedPoint {
        FixedPoint { frac: self.frac, bits: self.bits }
    }

    pub fn len(&self, e: &E) -> usize {
        e.len(&self.share)
    }

    /// Opens and decodes to reals.
    pub fn open_f64(&self, e: &mut E, why: Reveal) -> Result<Vec<f64>> {
        let v = e.open(&self.share, why)?;
        Ok(v.into_iter().map(|x| self.fmt().decode(x)).collect())
    }

    /// The same value with `frac` fraction bits (>= current): a local scaling.
    pub fn rescale_up(&self, e: &E, frac: u32) -> Result<Self> {
        if frac < self.frac {
            return Err(MpcError::Internal("rescale_up to fewer fraction bits".into()));
        }
        let d = frac - self.frac;
        if d == 0 {
            return Ok(self.clone());
        }
        let bits = self.bits + d;
        check_bits::<R>(bits, 0, &self.expr)?;
        Ok(Num { share: e.mul_public(&self.share, &[R::pow2(d)]), frac, bits, expr: self.expr.clone() })
    }

    /// a + b (fraction bits aligned upwards). Local.
    pub fn add(&self, e: &E, o: &Self) -> Result<Self> {
        let f = self.frac.max(o.frac);
        let (a, b) = (self.rescale_up(e, f)?, o.rescale_up(e, f)?);
        let expr = format!("({} + {})", self.expr, o.expr);
        let bits = a.bits.max(b.bits) + 1;
        check_bits::<R>(bits, 0, &expr)?;
        Ok(Num { share: e.add(&a.share, &b.share), frac: f, bits, expr })
    }

    /// a - b. Local.
    pub fn sub(&self, e: &E, o: &Self) -> Result<Self> {
        let f = self.frac.max(o.frac);
        let (a, b) = (self.rescale_up(e, f)?, o.rescale_up(e, f)?);
        let expr = format!("({} - {})", self.expr, o.expr);
        let bits = a.bits.max(b.bits) + 1;
        check_bits::<R>(bits, 0, &expr)?;
        Ok(Num { share: e.sub(&a.share, &b.share), frac: f, bits, expr })
    }

    /// a * b with the result at `frac` fraction bits (<= the sum of the operands'): one fused
    /// multiplication and truncation. Refused when the exact product could exceed the ring.
    pub fn mul(&self, e: &mut E, o: &Self, frac: u32) -> Result<Self> {
        let expr = format!("({} * {})", self.expr, o.expr);
        let pbits = self.bits + o.bits;
        check_bits::<R>(pbits, 0, &expr)?;
        let pf = self.frac + o.frac;
        if frac > pf {
            return Err(MpcError::invalid(format!("{expr}: cannot produce {frac} fraction bits from {pf}")));
        }
        let d = pf - frac;
        let share = e.mul_trunc(&self.share, &o.share, d, pbits)?;
        // floor(v / 2^d) (+1) is below 2^(pbits - d) + 1 in magnitude
        let bits = if d == 0 { pbits } else { pbits - d + 1 };
        Ok(Num { share, frac, bits, expr })
    }

    /// Multiplies by a public real constant `c`, keeping the fraction bits. One truncation.
    pub fn mul_const(&self, e: &mut E, c: f64, name: &str) -> Result<Self> {
        let cf = self.frac.max(16) + 16;
        let cfmt = FixedPoint::real(crate::func::bits_for(c.abs()), cf);
        let ce: R = cfmt.encode(c)?;
        let expr = format!("({} * {name})", self.expr);
        let pbits = self.bits + cfmt.bits;
        check_bits::<R>(pbits, 0, &expr)?;
        let p = e.mul_public(&self.share, &[ce]);
        let share = e.trunc(&p, cf, pbits)?;
        Ok(Num { share, frac: self.frac, bits: pbits - cf + 1, expr })
    }

    /// Adds a public real constant. Local.
    pub fn add_const(&self, e: &E, c: f64, name: &str) -> Result<Self> {
        let cfmt = FixedPoint::real(crate::func::bits_for(c.abs()), self.frac);
        let ce: R = cfmt.encode(c)?;
        let expr = format!("({} + {name})", self.expr);
        let bits = self.bits.max(cfmt.bits) + 1;
        check_bits::<R>(bits, 0, &expr)?;
        Ok(Num { share: e.add_public(&self.share, &[ce]), frac: self.frac, bits, expr })
    }

    /// -a. Local.
    pub fn neg(&self, e: &E) -> Self {
        Num { share: e.neg(&self.share), frac: self.frac, bits: self.bits, expr: format!("(-{})", self.expr) }
    }

    /// Sum of all elements (bound grows by log2 n). Local.
    pub fn sum(&self, e: &E) -> Result<Self> {
        let n = e.len(&self.share).max(1);
        let expr = format!("sum({})", self.expr);
        let bits = self.bits + (usize::BITS - (n - 1).leading_zeros());
        check_bits::<R>(bits, 0, &expr)?;
        Ok(Num { share: e.sum(&self.share), frac: self.frac, bits, expr })
    }

    /// Inclusive prefix sums. Local.
    pub fn prefix_sum(&self, e: &E) -> Result<Self> {
        let n = e.len(&self.share).max(1);
        let expr = format!("prefix_sum({})", self.expr);
        let bits = self.bits + (usize::BITS - (n - 1).leading_zeros());
        check_bits::<R>(bits, 0, &expr)?;
        Ok(Num { share: e.prefix_sum(&self.share), frac: self.frac, bits, expr })
    }

    /// Sum of squares as one inner product (one round, one element per party).
    pub fn sum_of_squares(&self, e: &mut E) -> Result<Self> {
        let n = e.len(&self.share).max(1);
        let expr = format!("sum({}^2)", self.expr);
        let bits = 2 * self.bits + (usize::BITS - (n - 1).leading_zeros());
        check_bits::<R>(bits, 0, &expr)?;
        let share = e.dot(&[(&self.share, &self.share)])?;
        Ok(Num { share, frac: 2 * self.frac, bits, expr })
    }
}
