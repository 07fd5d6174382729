//! Rank statistics: Spearman's correlation, the Mann-Whitney, Kruskal-Wallis and Wilcoxon
//! signed-rank tests. Ranks come from one oblivious sort per ranked column: after the sort, the
//! run of equal keys around each position (two segmented prefix counts, forwards and backwards)
//! gives its average rank and its tie-group size, with nothing opened. Twice the average rank is
//! an integer, so every rank sum and tie term stays an exact integer until the finishing floats.

use crate::Id;
use crate::StatsError;
use crate::common::{A, Cols, Outputs, dots, lg, mpc};
use crate::flt::Flt;
use mitsu_algebra::Ring;
use mitsu_mpc_core::Engine;
use mitsu_mpc_ops::{Num, segment_starts, segmented_sum, sort_by_key};
use mitsu_query::ty::Ty;

/// A column sorted by `key` (|key| < 2^kb) with its payloads (|p| < 2^pbits): the payloads, twice the average 1-based rank and the tie-run length at every position.
pub(crate) struct Ranked<E: Engine> {
    pub payload: Vec<A<E>>,
    pub rank2: A<E>,
    pub ties: A<E>,
}

pub(crate) fn ranked<E: Engine>(
    e: &mut E,
    key: &A<E>,
    kb: u32,
    payload: &[&A<E>],
    pbits: &[u32],
    name: &str,
) -> Result<Ranked<E>, StatsError> {
    let n = e.len(key);
    let (sorted, pays) = if kb + lg(n) + 3 < 62 && pbits.iter().all(|&b| b < 62) {
        // the sort dominates: run it in Z_2^64 when key and payloads fit
        let k64 = e.reduce64(key);
        let p64: Vec<_> = payload.iter().map(|p| e.reduce64(p)).collect();
        let (s, ps) = sort_by_key(
            e,
            &Num { share: k64, frac: 0, bits: kb, expr: name.to_string() },
            &p64.iter().collect::<Vec<_>>(),
        )
        .map_err(mpc)?;
        let sk = e.extend(&s.share, kb).map_err(mpc)?;
        let mut back = Vec::new();
        for (p, &b) in ps.iter().zip(pbits) {
            back.push(e.extend(p, b).map_err(mpc)?);
        }
        (sk, back)
    } else {
        let (s, ps) = sort_by_key(e, &Num { share: key.clone(), frac: 0, bits: kb, expr: name.to_string() }, payload)
            .map_err(mpc)?;
        (s.share, ps)
    };
    let ones = e.constant(&vec![u128::ONE; n]);
    let rev: Vec<u32> = (0..n as u32).rev().collect();
    let fwd = segment_starts(e, &sorted, kb).map_err(mpc)?;
    let back_key = e.gather(&sorted, &rev);
    let bwd = segment_starts(e, &back_key, kb).map_err(mpc)?;
    // p: position within the run counted from its start (1-based); q: from its end
    let p = segmented_sum(e, &fwd, vec![ones.clone()]).map_err(mpc)?.remove(0);
    let qr = segmented_sum(e, &bwd, vec![ones]).map_err(mpc)?.remove(0);
    let q = e.gather(&qr, &rev);
    // run [i - p + 1, i + q - 1] (0-based); twice its mean 1-based rank = 2i + q - p + 2
    let base: Vec<u128> = (0..n).map(|i| u128::from_u64(2 * i as u64 + 2)).collect();
    let rank2 = e.add_public(&e.sub(&q, &p), &base);
    let ties = e.add_public(&e.add(&p, &q), &[u128::from_i128(-1)]);
    Ok(Ranked { payload: pays, rank2, ties })
}

/// Twice the average ranks of every column of complete rows, aligned row by row (one sort per
/// column, carrying the others): Pearson's r of these is Spearman's rho.
pub(crate) fn rank_columns<E: Engine>(e: &mut E, c: &Cols<E>) -> Result<Cols<E>, StatsError> {
    let p = c.v.len();
    let n = c.n;
    let rb = lg(n) + 2;
    let mut vals: Vec<A<E>> = c.v.clone();
    let mut ranks: Vec<A<E>> = Vec::new();
    for j in 0..p {
        let mut pay: Vec<&A<E>> = vals.iter().collect();
        pay.extend(ranks.iter());
        let mut pbits: Vec<u32> = (0..p).map(|i| c.bits(i) + 1).collect();
        pbits.extend(std::iter::repeat_n(rb, ranks.len()));
        let r = ranked(e, &vals[j], c.bits(j) + 1, &pay, &pbits, &c.names[j])?;
        let mut moved = r.payload;
        ranks = moved.split_off(p);
        vals = moved;
        ranks.push(r.rank2);
    }
    Ok(Cols { n, v: ranks, nn: Vec::new(), ty: vec![Ty::int(0, 2 * n as i128 + 2); p], names: c.names.clone() })
}

/// Mann-Whitney (two groups) and Kruskal-Wallis (k groups): column 0 is the value, columns 1..
/// the group indicators; group sizes are already opened (`ng`).
pub(crate) fn rank_groups<E: Engine>(
    e: &mut E,
    c: &Cols<E>,
    ng: &[usize],
    function: Id,
    out: &mut Outputs<E>,
) -> Result<(), StatsError> {
    let k = c.v.len() - 1;
    let n: usize = ng.iter().sum();
    let ind: Vec<&A<E>> = c.v[1..].iter().collect();
    let r = ranked(e, &c.v[0], c.bits(0) + 1, &ind, &vec![2; k], &c.names[0])?;
    let mut pairs: Vec<(&A<E>, &A<E>)> = r.payload.iter().map(|g| (g, &r.rank2)).collect();
    pairs.push((&r.ties, &r.ties));
    let sums = dots(e, &pairs)?;
    // tie term sum over tie groups of t^3 - t = sum over positions of t^2 - 1
    let tie = e.add_public(&e.slice(&sums, k..k + 1), &[u128::from_i128(-(n as i128))]);
    let nb = lg(n);
    // D_g = 2 R_g - n_g (n + 1): centred, so no cancellation when H is small
    let centre: Vec<u128> = ng.iter().map(|&m| u128::from_i128(-((m * (n + 1)) as i128))).collect();
    let d = e.add_public(&e.slice(&sums, 0..k), &centre);
    for (g, &m) in ng.iter().enumerate() {
        out.push(format!("n.{g}"), Flt::constant(e, &[m as f64]));
    }
    let tf = Flt::from_int(e, &tie, 3 * nb + 2).map_err(mpc)?;
    if function == Id::Mannwhitney {
        // U1 = R1 - n1 (n1 + 1) / 2 = (D_1 + n1 n2) / 2
        let u2 = e.add_public(&e.slice(&d, 0..1), &[u128::from_u64((ng[0] * ng[1]) as u64)]);
        out.push_div("u", Flt::from_int(e, &u2, 2 * nb + 3).map_err(mpc)?, 2.0);
        out.push("tie_term", tf);
        return Ok(());
    }
    // H = 12 / (n (n + 1)) sum R_g^2 / n_g - 3 (n + 1) = 3 / (n (n + 1)) sum D_g^2 / n_g,
    // divided by the tie correction 1 - T / (n^3 - n)
    let d2 = e.mul(&d, &d).map_err(mpc)?;
    let nf = n as f64;
    let w: Vec<f64> = ng.iter().map(|&m| 3.0 / (nf * (nf + 1.0) * m as f64)).collect();
    let terms = Flt::from_int(e, &d2, 4 * nb + 6).map_err(mpc)?.mul_const(e, &w).map_err(mpc)?;
    let h = terms.total(e).map_err(mpc)?;
    let corr =
        tf.mul_const(e, &[-1.0 / (nf * nf * nf - nf)]).map_err(mpc)?.add(e, &Flt::constant(e, &[1.0])).map_err(mpc)?;
    out.push("h", h.div(e, &corr).map_err(mpc)?);
    Ok(())
}

/// Wilcoxon signed-rank test of d = a - b (column 0, complete rows; zeros dropped as scipy's
/// default zero_method "wilcox" does).
pub(crate) fn signed_rank<E: Engine>(e: &mut E, c: &Cols<E>, out: &mut Outputs<E>) -> Result<(), StatsError> {
    let n = c.n;
    let w = c.bits(0) + 1;
    let d = &c.v[0];
    let neg = e.msb(d, w).map_err(mpc)?;
    let zero = e.eqz(d, w).map_err(mpc)?;
    let both = e.b_stack(&[&neg, &zero]);
    let nz: A<E> = e.bits2a(&both).map_err(mpc)?;
    let (sa, za) = (e.slice(&nz, 0..n), e.slice(&nz, n..2 * n));
    let sd = e.mul(&sa, d).map_err(mpc)?;
    let abs = e.sub(d, &e.mul_public(&sd, &[u128::from_u64(2)]));
    // positive = 1 - negative - zero
    let pos = e.add_public(&e.neg(&e.add(&sa, &za)), &[u128::ONE]);
    let zeros = e.open(&e.sum(&za), mitsu_mpc_core::Reveal::StatisticCounts).map_err(mpc)?[0].to_i128() as usize;
    let m = n - zeros;
    if m == 0 {
        return Err(StatsError::Invalid(
            "every difference is zero; the signed-rank test needs a non-zero difference".into(),
        ));
    }
    let r = ranked(e, &abs, w, &[&pos], &[2], &c.names[0])?;
    // zeros sort first: the non-zero differences are positions zeros.., ranked among themselves
    // by subtracting 2 * zeros from twice the rank
    let pos_s = e.slice(&r.payload[0], zeros..n);
    let rank2 = e.add_public(&e.slice(&r.rank2, zeros..n), &[u128::from_i128(-2 * zeros as i128)]);
    let t = e.slice(&r.ties, zeros..n);
    let sums = dots(e, &[(&pos_s, &rank2), (&t, &t)])?;
    let tie = e.add_public(&e.slice(&sums, 1..2), &[u128::from_i128(-(m as i128))]);
    let nb = lg(n);
    out.push("n", Flt::constant(e, &[m as f64]));
    out.push("zeros", Flt::constant(e, &[zeros as f64]));
    out.push_div("r_plus", Flt::from_int(e, &e.slice(&sums, 0..1), 2 * nb + 3).map_err(mpc)?, 2.0);
    out.push("tie_term", Flt::from_int(e, &tie, 3 * nb + 2).map_err(mpc)?);
    Ok(())
}
