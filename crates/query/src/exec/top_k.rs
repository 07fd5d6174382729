//! ORDER BY ... LIMIT under MPC: composite sort keys and the top k rows.

use super::*;

impl<E: Engine, S: Source<E>> Exec<'_, E, S> {
    /// The composite sort key of `cols` (non-negative, below 2^bits): each component shifted by its
    /// lower bound, NULL first (or last), descending components mirrored.
    pub(super) fn composite<R: Ring>(&mut self, parts: &[(&Col<E, R>, &Ty, bool, bool)], n: usize) -> (E::A<R>, u32) {
        let e = &mut *self.e;
        let mut key = e.constant(&vec![R::ZERO; n]);
        let mut shift = 0u32;
        for (c, t, desc, nulls_first) in parts.iter().rev() {
            let w = component_bits(t);
            let span = t.hi - t.lo;
            // val = v - lo ascending, hi - v descending, in [0, span]; NULL goes to 0 (first) or
            // span + 1 (last) whatever the direction. A NULL's v is 0, so v * nn = v and every
            // term is linear: val * nn = a v + c nn.
            let (a, k) = if *desc { (-1, t.hi) } else { (1, -t.lo) };
            let av = e.mul_public(&c.v, &[r(a)]);
            let comp = match &c.nn {
                None => e.add_public(&av, &[r(k)]),
                Some(m) => {
                    if *nulls_first {
                        e.add(&av, &e.mul_public(m, &[r(k + 1)]))
                    } else {
                        let t = e.add(&av, &e.mul_public(m, &[r(k - span - 1)]));
                        e.add_public(&t, &[r(span + 1)])
                    }
                }
            };
            key = e.add(&key, &e.mul_public(&comp, &[R::pow2(shift)]));
            shift += w;
        }
        (key, shift.max(1))
    }

    pub(super) fn top_k<R: Ring>(
        &mut self,
        rel: Rel<E, R>,
        tys: &[Ty],
        keys: &[SortKey],
        limit: usize,
    ) -> Res<Rel<E, R>> {
        let n = rel.n;
        let parts: Vec<(&Col<E, R>, &Ty, bool, bool)> =
            keys.iter().map(|k| (&rel.cols[k.col], &tys[k.col], k.desc, k.nulls_first)).collect();
        let (mut key, bits) = self.composite(&parts, n);
        if let Some(v) = &rel.valid {
            // invalid rows after all valid ones
            let inv = self.e.sub(&self.ones(n), v);
            key = self.e.add(&key, &self.e.mul_public(&inv, &[R::pow2(bits)]));
        }
        let kn = Num::<E, R>::from_share(key, FixedPoint::int(bits + 1), "ORDER BY")?;
        let mut payload: Vec<&E::A<R>> = Vec::new();
        let valid = rel.valid.clone().unwrap_or_else(|| self.ones(n));
        payload.push(&valid);
        for c in &rel.cols {
            payload.extend(c.parts());
        }
        let (_, sorted) = sort_by_key(self.e, &kn, &payload)?;
        let k = limit.min(n);
        // valid rows come first: opening the first k validity bits reveals min(k, count)
        let head = self.e.slice(&sorted[0], 0..k);
        let flags = self.e.open(&head, Reveal::LimitRows)?;
        let m = flags.iter().take_while(|f| **f == R::ONE).count();
        let mut it = sorted[1..].iter().map(|x| self.e.slice(x, 0..m));
        let cols = rel.cols.iter().map(|c| Col::rebuild(c, &mut it)).collect();
        Ok(Rel { n: m, valid: None, cols })
    }
}
