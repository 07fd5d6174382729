//! Equi-joins (1:1, 1:N, N:1, INNER or LEFT) by one sort and segmented scans (`mitsu_mpc_ops::equi_join`).

use super::*;

impl<E: Engine, S: Source<E>> Exec<'_, E, S> {
    pub(super) fn join<R: Ring>(
        &mut self,
        left: &Plan,
        right: &Plan,
        left_outer: bool,
        many_to_many: bool,
        lkeys: &[Expr],
        rkeys: &[Expr],
        need: &[bool],
    ) -> Res<Rel<E, R>> {
        let nlc = left.out.len();
        let mut lneed = need[..nlc].to_vec();
        let mut rneed = need[nlc..].to_vec();
        lkeys.iter().for_each(|k| uses(k, &mut lneed));
        rkeys.iter().for_each(|k| uses(k, &mut rneed));
        let l = self.run::<R>(left, &lneed)?;
        let rr = self.run::<R>(right, &rneed)?;
        let text = format!("JOIN ON {}", lkeys.iter().map(|k| k.text.clone()).collect::<Vec<_>>().join(", "));
        // composite key: each component shifted to >= 0 by the common lower bound
        let mut lk = self.zeros::<R>(l.n);
        let mut rk = self.zeros::<R>(rr.n);
        let mut lv = l.valid.clone().unwrap_or_else(|| self.ones(l.n));
        let mut rv = rr.valid.clone().unwrap_or_else(|| self.ones(rr.n));
        let mut shift = 0u32;
        for (a, b) in lkeys.iter().zip(rkeys).rev() {
            let lo = a.ty.lo.min(b.ty.lo);
            let hi = a.ty.hi.max(b.ty.hi);
            let w = bits_of(0, hi - lo);
            for (side, rel, key, valid, tys) in
                [(a, &l, &mut lk, &mut lv, &left.out), (b, &rr, &mut rk, &mut rv, &right.out)]
            {
                let c = self.eval(rel, side, tys)?;
                let comp = self.e.add_public(&c.v, &[r(-lo)]);
                *key = self.e.add(key, &self.e.mul_public(&comp, &[R::pow2(shift)]));
                if let Some(m) = &c.nn {
                    // a NULL key matches nothing
                    *valid = self.e.mul(valid, m)?;
                }
            }
            shift += w;
        }
        let lrows_valid = lv.clone();
        // carried columns: values, not-NULL flags of nullable columns, and for LEFT JOIN one
        // "matched" flag (1 on every right row) that makes unmatched rows' right columns NULL
        let lcols: Vec<E::A<R>> = l
            .cols
            .iter()
            .zip(&need[..nlc])
            .filter(|(_, n)| **n)
            .flat_map(|(c, _)| c.parts().cloned().collect::<Vec<_>>())
            .collect();
        let mut rcols: Vec<E::A<R>> = rr
            .cols
            .iter()
            .zip(&need[nlc..])
            .filter(|(_, n)| **n)
            .flat_map(|(c, _)| c.parts().cloned().collect::<Vec<_>>())
            .collect();
        if left_outer {
            rcols.push(self.ones(rr.n));
        }
        // LEFT JOIN keeps left rows whose key is NULL too: they match nothing
        let lside_valid = if left_outer { l.valid.clone().unwrap_or_else(|| self.ones(l.n)) } else { lrows_valid };
        let j = equi_join(
            self.e,
            &JoinSide { key: &lk, valid: &lside_valid, cols: lcols.iter().collect() },
            &JoinSide { key: &rk, valid: &rv, cols: rcols.iter().collect() },
            shift.max(1),
            left_outer,
            many_to_many,
            &text,
        )?;
        let matched = if left_outer { j.right.last().cloned() } else { None };
        let n = self.e.len(&j.valid);
        let mut cols = Vec::new();
        let mut lit = j.left.into_iter();
        for (c, _) in l.cols.iter().zip(&need[..nlc]).filter(|(_, n)| **n) {
            cols.push(Col::rebuild(c, &mut lit));
        }
        let mut rit = j.right.into_iter();
        for (c, _) in rr.cols.iter().zip(&need[nlc..]).filter(|(_, n)| **n) {
            let mut col = Col::rebuild(c, &mut rit);
            if col.nn.is_none() {
                // unmatched rows of a LEFT JOIN carry zeros: their not-NULL flag is the match flag
                col.nn = matched.clone();
            }
            cols.push(col);
        }
        // back to one entry per output column, placeholders where nothing reads it
        let mut it = cols.into_iter();
        let cols: Vec<Col<E, R>> =
            need.iter().map(|k| if *k { it.next().expect("a needed column") } else { self.placeholder(n) }).collect();
        Ok(Rel { n, valid: Some(j.valid), cols })
    }
}
