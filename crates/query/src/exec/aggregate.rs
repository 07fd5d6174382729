//! Aggregates: GROUP BY by sort and segmented scan, the whole-table aggregates, HAVING, and the final
//! grouping output.

use super::*;

impl<E: Engine, S: Source<E>> Exec<'_, E, S> {
    pub(super) fn aggregate<R: Ring>(
        &mut self,
        rel: Rel<E, R>,
        input: &Plan,
        keys: &[Expr],
        aggs: &[Agg],
        ordered: Option<&Expr>,
        ranked: &[bool],
    ) -> Res<Rel<E, R>> {
        // no rows: one invalid row instead, so that sorting and scanning have something to hold
        // (it forms no group, and the aggregates of an ungrouped query see no values)
        let rel = if rel.n == 0 {
            let cols = rel
                .cols
                .iter()
                .map(|c| Col {
                    v: self.zeros(1),
                    nn: c.nn.as_ref().map(|_| self.zeros(1)),
                    extra: c.extra.iter().map(|_| self.zeros(1)).collect(),
                })
                .collect();
            Rel { n: 1, valid: Some(self.zeros(1)), cols }
        } else {
            rel
        };
        let kcols = keys.iter().map(|k| self.eval(&rel, k, &input.out)).collect::<Res<Vec<_>>>()?;
        let (rel, kcols, ranks) = self.rank_keys(rel, kcols, keys, ranked)?;
        let n = rel.n;
        let vl = rel.valid.clone().unwrap_or_else(|| self.ones(n));
        let args: Vec<Option<Col<E, R>>> = aggs
            .iter()
            .map(|a| a.arg.as_ref().map(|x| self.eval(&rel, x, &input.out)).transpose())
            .collect::<Res<_>>()?;
        let args2: Vec<Option<Col<E, R>>> = aggs
            .iter()
            .map(|a| a.arg2.as_ref().map(|y| self.eval(&rel, y, &input.out)).transpose())
            .collect::<Res<_>>()?;
        // per-row inputs of the sums: validity-masked counts, values, squares (one multiplication);
        // aggregates of the same argument share them (SUM(v) and AVG(v) scan two columns, not four)
        let mut lhs = Vec::new();
        let mut rhs = Vec::new();
        let mut keys_of: Vec<(u8, String)> = Vec::new();
        let mut plan_cols: Vec<Vec<usize>> = Vec::new(); // per agg: indices into the product list
        for (ai, (a, c)) in aggs.iter().zip(&args).enumerate() {
            let mut idx = Vec::new();
            match (a.func, c) {
                (AggFn::CountStar, _) => {}
                (AggFn::CovarSamp, Some(cx)) => {
                    // pairs: the count, Σx, Σy and Σxy of the rows where both are not NULL
                    let cy = args2[ai].as_ref().expect("a second argument");
                    let (tx, ty) = (a.arg.as_ref().expect("x"), a.arg2.as_ref().expect("y"));
                    let key = (10u8, format!("{}\u{1}{}", tx.text, ty.text));
                    match keys_of.iter().position(|k| *k == key) {
                        Some(i) => idx.extend(i..i + 4),
                        None => {
                            let ones = self.ones(n);
                            let nx = cx.nn.clone().unwrap_or_else(|| ones.clone());
                            let ny = cy.nn.clone().unwrap_or_else(|| ones.clone());
                            let both = self.e.mul(&nx, &ny)?;
                            let pm = self.e.mul(&both, &vl)?;
                            let pmx = self.e.mul(&pm, &cx.v)?;
                            let start = lhs.len();
                            for (kind, l, r) in [
                                (10u8, pm.clone(), ones),
                                (11, pm.clone(), cx.v.clone()),
                                (12, pm, cy.v.clone()),
                                (13, pmx, cy.v.clone()),
                            ] {
                                keys_of.push((kind, key.1.clone()));
                                lhs.push(l);
                                rhs.push(r);
                            }
                            idx.extend(start..start + 4);
                        }
                    }
                }
                (f, Some(c)) => {
                    let text = a.arg.as_ref().map(|x| x.text.clone()).unwrap_or_default();
                    let mut want = vec![0u8]; // count of non-NULL values
                    if matches!(f, AggFn::Sum | AggFn::Avg | AggFn::VarSamp | AggFn::StddevSamp) {
                        want.push(1); // sum
                    }
                    if matches!(f, AggFn::VarSamp | AggFn::StddevSamp) {
                        want.push(2); // sum of squares
                    }
                    for kind in want {
                        let key = (kind, text.clone());
                        let i = match keys_of.iter().position(|k| *k == key) {
                            Some(i) => i,
                            None => {
                                keys_of.push(key);
                                let (l, r) = match kind {
                                    0 => (vl.clone(), c.nn.clone().unwrap_or_else(|| self.ones(n))),
                                    1 => (vl.clone(), c.v.clone()),
                                    _ => (c.v.clone(), c.v.clone()),
                                };
                                lhs.push(l);
                                rhs.push(r);
                                lhs.len() - 1
                            }
                        };
                        idx.push(i);
                    }
                }
                _ => unreachable!("aggregates other than COUNT(*) have an argument"),
            }
            plan_cols.push(idx);
        }
        let mut prods = if lhs.is_empty() {
            Vec::new()
        } else {
            let p = self.e.mul(
                &self.e.concat(&lhs.iter().collect::<Vec<_>>()),
                &self.e.concat(&rhs.iter().collect::<Vec<_>>()),
            )?;
            (0..lhs.len()).map(|i| self.e.slice(&p, i * n..(i + 1) * n)).collect::<Vec<_>>()
        };
        // squares of valid rows only
        for (i, (kind, _)) in keys_of.iter().enumerate() {
            if *kind == 2 {
                prods[i] = self.e.mul(&prods[i], &vl)?;
            }
        }
        if keys.is_empty() && ordered.is_none() {
            // one group of all rows: plain sums, nothing opened
            let cnt = self.e.sum(&vl);
            let sums: Vec<E::A<R>> = prods.iter().map(|p| self.e.sum(p)).collect();
            let cols = self.finish(aggs, &plan_cols, &cnt, &sums, &[], &[], 1, input.rows as usize)?;
            return Ok(Rel { n: 1, valid: None, cols });
        }
        // sort by (invalid, group key, ordered argument)
        let rank_ty = Ty::int(0, input.rows as i128);
        let kparts: Vec<(&Col<E, R>, &Ty, bool, bool)> = kcols
            .iter()
            .zip(keys)
            .zip(&ranks)
            .map(|((c, k), r)| match r {
                Some(r) => (r, &rank_ty, false, true),
                None => (c, &k.ty, false, true),
            })
            .collect();
        let (gk, gbits) = self.composite(&kparts, n);
        let inv = self.e.sub(&self.ones(n), &vl);
        let gseg = self.e.add(&gk, &self.e.mul_public(&inv, &[R::pow2(gbits)]));
        let ocol = ordered.map(|o| self.eval(&rel, o, &input.out)).transpose()?;
        let (skey, sbits) = match (&ocol, ordered) {
            (Some(c), Some(o)) => {
                let (ok, obits) = self.composite(&[(c, &o.ty, false, true)], n);
                (self.e.add(&self.e.mul_public(&gseg, &[R::pow2(obits)]), &ok), gbits + 1 + obits)
            }
            _ => (gseg.clone(), gbits + 1),
        };
        let ones = self.ones(n);
        let mut payload: Vec<&E::A<R>> = vec![&gseg, &vl];
        for c in &kcols {
            payload.push(&c.v);
            payload.push(c.nn.as_ref().unwrap_or(&ones));
        }
        let np = payload.len();
        payload.extend(prods.iter());
        let ox_nn;
        if let Some(c) = &ocol {
            payload.push(&c.v);
            ox_nn = c.nn.clone().unwrap_or_else(|| ones.clone());
            payload.push(&ox_nn);
        }
        // MIN/MAX of other columns: a running extremum over values where ignored rows (invalid or
        // NULL) hold a value beyond every real one
        let by_order = |a: &Agg| ordered.zip(a.arg.as_ref()).is_some_and(|(o, x)| o.text == x.text);
        let mut scanned: Vec<(usize, u32, bool)> = Vec::new(); // (agg, bits, max)
        let mut masked_cols: Vec<E::A<R>> = Vec::new();
        for (ai, (a, c)) in aggs.iter().zip(&args).enumerate() {
            if !matches!(a.func, AggFn::Min | AggFn::Max) || by_order(a) {
                continue;
            }
            let (c, x) = (c.as_ref().expect("an argument"), a.arg.as_ref().expect("an argument"));
            let bits = x.ty.bits();
            let max = a.func == AggFn::Max;
            let sentinel = if max { R::from_i128(-(1i128 << bits)) } else { R::pow2(bits) };
            let present = match &c.nn {
                Some(m) => self.e.mul(&vl, m)?,
                None => vl.clone(),
            };
            // sentinel + present * (v - sentinel)
            let d = self.e.add_public(&c.v, &[sentinel.neg()]);
            let pd = self.e.mul(&present, &d)?;
            masked_cols.push(self.e.add_public(&pd, &[sentinel]));
            scanned.push((ai, bits, max));
        }
        let nm = payload.len();
        payload.extend(masked_cols.iter());
        // text keys' payload: every row of a group holds the same label; the group's last row's
        // is kept
        let ne = payload.len();
        for c in &kcols {
            payload.extend(c.extra.iter());
        }
        let kn = Num::<E, R>::from_share(skey, FixedPoint::int(sbits), "GROUP BY")?;
        let (ssk, sorted) = sort_by_key(self.e, &kn, &payload)?;
        let svl = sorted[1].clone();
        let starts = segment_starts(self.e, &sorted[0], gbits + 1)?;
        let mut scan = vec![svl.clone()];
        scan.extend(sorted[np..np + prods.len()].iter().cloned());
        let mut extra: Vec<(usize, usize)> = Vec::new(); // (agg, index in scan) of ordered sums
        // ordered aggregates: indicators of the wanted rows within each group
        let mut pct_rows: Vec<(usize, [usize; 3])> = Vec::new();
        if let (Some(o), Some(_)) = (ordered, &ocol) {
            let sx = sorted[np + prods.len()].clone();
            let sxnn = sorted[np + prods.len() + 1].clone();
            let present = self.e.mul(&svl, &sxnn)?;
            // rank among non-NULL values so far in the group, and the group's count at every row
            let rank = segmented_sum(self.e, &starts, vec![present.clone()])?.remove(0);
            let total = self.broadcast_last(&starts, &rank, n)?;
            let cb = lg(n) + 2;
            for (ai, a) in aggs.iter().enumerate() {
                match a.func {
                    AggFn::CountDistinct => {
                        let ds = segment_starts(self.e, &ssk.share, sbits)?;
                        let dsa: E::A<R> = self.e.bits2a(&ds)?;
                        let c = self.e.mul(&dsa, &present)?;
                        extra.push((ai, scan.len()));
                        scan.push(c);
                    }
                    AggFn::Min | AggFn::Max if by_order(a) => {
                        let target = if a.func == AggFn::Min {
                            self.e.add_public(&rank, &[R::from_i128(-1)])
                        } else {
                            self.e.sub(&rank, &total)
                        };
                        let z = self.e.eqz(&target, cb)?;
                        let ind: E::A<R> = self.e.bits2a(&z)?;
                        let ind = self.e.mul(&ind, &present)?;
                        let c = self.e.mul(&ind, &sx)?;
                        extra.push((ai, scan.len()));
                        scan.push(c);
                    }
                    AggFn::Percentile(q) => {
                        // h = q (c - 1) at FRAC bits; d = h - (rank - 1) 2^FRAC; the lower row has
                        // 0 <= d < 2^FRAC, the upper one -2^FRAC <= d < 0
                        let qq = (q * 2f64.powi(FRAC as i32)).round() as i128;
                        let cm1 = self.e.add_public(&total, &[R::from_i128(-1)]);
                        let rm1 = self.e.add_public(&rank, &[R::from_i128(-1)]);
                        let d =
                            self.e.sub(&self.e.mul_public(&cm1, &[r(qq)]), &self.e.mul_public(&rm1, &[R::pow2(FRAC)]));
                        let one = R::pow2(FRAC);
                        let probes =
                            self.e.concat(&[&d, &self.e.add_public(&d, &[one.neg()]), &self.e.add_public(&d, &[one])]);
                        let s = self.e.msb(&probes, FRAC + cb + 2)?;
                        let s0 = self.e.b_slice_elems(&s, 0..n);
                        let s1 = self.e.b_slice_elems(&s, n..2 * n);
                        let s2 = self.e.b_slice_elems(&s, 2 * n..3 * n);
                        // lower: d >= 0 and d - 2^F < 0; upper: d < 0 and d + 2^F >= 0
                        let lo_b = self.e.b_and(&self.e.b_not(&s0), &s1)?;
                        let hi_b = self.e.b_and(&s0, &self.e.b_not(&s2))?;
                        let both = self.e.b_concat_elems(&lo_b, &hi_b);
                        let ia: E::A<R> = self.e.bits2a(&both)?;
                        let pr2 = self.e.concat(&[&present, &present]);
                        let ia = self.e.mul(&ia, &pr2)?;
                        let (ilo, ihi) = (self.e.slice(&ia, 0..n), self.e.slice(&ia, n..2 * n));
                        let p = self.e.mul(&self.e.concat(&[&ilo, &ilo, &ihi]), &self.e.concat(&[&sx, &d, &sx]))?;
                        let base = scan.len();
                        for i in 0..3 {
                            scan.push(self.e.slice(&p, i * n..(i + 1) * n));
                        }
                        pct_rows.push((ai, [base, base + 1, base + 2]));
                        let _ = o;
                    }
                    _ => {}
                }
            }
        }
        let mut summed = segmented_sum(self.e, &starts, scan)?;
        for (k, (ai, bits, max)) in scanned.iter().enumerate() {
            let col = sorted[nm + k].clone();
            let ext = mitsu_mpc_ops::segmented_extremum(self.e, &starts, col, *bits, *max)?;
            extra.push((*ai, summed.len()));
            summed.push(ext);
        }
        // the last row of each valid group holds the group's sums
        let next_start = {
            let mut tail = Planes::zeros(1, 1);
            tail.not_assign();
            let t = self.e.b_constant(&tail);
            self.e.b_concat_elems(&self.e.b_slice_elems(&starts, 1..n), &t)
        };
        let last: E::A<R> = self.e.bits2a(&next_start)?;
        let keep = self.e.mul(&last, &svl)?;
        let mut cols: Vec<&E::A<R>> = vec![&keep];
        cols.extend(sorted[2..np].iter());
        cols.extend(summed.iter());
        let nx = cols.len();
        cols.extend(sorted[ne..].iter());
        let sh = self.e.shuffle(&cols)?;
        let flags = self.e.open(&sh[0], Reveal::GroupCount)?;
        let idx: Vec<u32> = (0..n as u32).filter(|&i| flags[i as usize] == R::ONE).collect();
        let g = idx.len();
        let got: Vec<E::A<R>> = sh[1..].iter().map(|c| self.e.gather(c, &idx)).collect();
        let nk = 2 * keys.len();
        let mut extras = got[nx - 1..].iter().cloned();
        let kout: Vec<Col<E, R>> = (0..keys.len())
            .map(|i| Col {
                v: got[2 * i].clone(),
                nn: keys[i].ty.nullable.then(|| got[2 * i + 1].clone()),
                extra: kcols[i].extra.iter().map(|_| extras.next().expect("a payload chunk")).collect(),
            })
            .collect();
        let cnt = got[nk].clone();
        let sums: Vec<E::A<R>> = got[nk + 1..nk + 1 + prods.len()].to_vec();
        let ordered_sums: Vec<(usize, E::A<R>)> = extra.iter().map(|(ai, si)| (*ai, got[nk + *si].clone())).collect();
        let pct: Vec<(usize, [E::A<R>; 3])> = pct_rows
            .iter()
            .map(|(ai, s)| (*ai, [got[nk + s[0]].clone(), got[nk + s[1]].clone(), got[nk + s[2]].clone()]))
            .collect();
        if keys.is_empty() && g == 0 {
            // an aggregate over no rows still answers one row: counts 0, the rest NULL
            let z = self.zeros::<R>(1);
            let zs: Vec<E::A<R>> = sums.iter().map(|_| z.clone()).collect();
            let oz: Vec<(usize, E::A<R>)> = ordered_sums.iter().map(|(a, _)| (*a, z.clone())).collect();
            let pz: Vec<(usize, [E::A<R>; 3])> =
                pct.iter().map(|(a, _)| (*a, [z.clone(), z.clone(), z.clone()])).collect();
            let cols = self.finish(aggs, &plan_cols, &z, &zs, &oz, &pz, 1, input.rows as usize)?;
            return Ok(Rel { n: 1, valid: None, cols });
        }
        let mut cols = kout;
        cols.extend(self.finish(aggs, &plan_cols, &cnt, &sums, &ordered_sums, &pct, g, input.rows as usize)?);
        Ok(Rel { n: g, valid: None, cols })
    }

    /// Keys flagged in `ranked` replaced, for the grouping's sort key, by their dense rank: one sort
    /// of all rows by the key (carrying every column, the keys and earlier ranks), then the prefix
    /// count of segment starts. Opens only the sort's comparisons of shuffled distinct keys.
    #[allow(clippy::type_complexity)]
    fn rank_keys<R: Ring>(
        &mut self,
        mut rel: Rel<E, R>,
        mut kcols: Vec<Col<E, R>>,
        keys: &[Expr],
        ranked: &[bool],
    ) -> Res<(Rel<E, R>, Vec<Col<E, R>>, Vec<Option<Col<E, R>>>)> {
        let mut ranks: Vec<Option<Col<E, R>>> = vec![None; keys.len()];
        for i in (0..keys.len()).filter(|&i| ranked[i]) {
            let n = rel.n;
            let (key, bits) = self.composite(&[(&kcols[i], &keys[i].ty, false, true)], n);
            let kn = Num::<E, R>::from_share(key, FixedPoint::int(bits), &keys[i].text)?;
            let mut payload: Vec<&E::A<R>> = rel.valid.iter().collect();
            for c in rel.cols.iter().chain(&kcols).chain(ranks.iter().flatten()) {
                payload.extend(c.parts());
            }
            let (sk, sorted) = sort_by_key(self.e, &kn, &payload)?;
            let mut it = sorted.into_iter();
            let valid = rel.valid.as_ref().map(|_| it.next().expect("validity"));
            let cols = rel.cols.iter().map(|c| Col::rebuild(c, &mut it)).collect();
            let knew: Vec<Col<E, R>> = kcols.iter().map(|c| Col::rebuild(c, &mut it)).collect();
            let rnew: Vec<Option<Col<E, R>>> =
                ranks.iter().map(|r| r.as_ref().map(|c| Col::rebuild(c, &mut it))).collect();
            let starts = segment_starts(self.e, &sk.share, bits)?;
            let sa: E::A<R> = self.e.bits2a(&starts)?;
            rel = Rel { n, valid, cols };
            kcols = knew;
            ranks = rnew;
            ranks[i] = Some(Col { v: self.e.prefix_sum(&sa), nn: None, extra: Vec::new() });
        }
        Ok((rel, kcols, ranks))
    }

    /// Every row of a segment gets the value at the segment's last row (a backward scan).
    pub(super) fn broadcast_last<R: Ring>(&mut self, starts: &E::B, x: &E::A<R>, n: usize) -> Res<E::A<R>> {
        let mut tail = Planes::zeros(1, 1);
        tail.not_assign();
        let t = self.e.b_constant(&tail);
        let next_start = self.e.b_concat_elems(&self.e.b_slice_elems(starts, 1..n), &t);
        let last: E::A<R> = self.e.bits2a(&next_start)?;
        let at_last = self.e.mul(&last, x)?;
        // reversed, the last rows are segment starts
        let rev: Vec<u32> = (0..n as u32).rev().collect();
        let rstarts = {
            // starts of the reversed order = next_start reversed; build from the opened-free
            // reversal of the arithmetic flags by a zero test of 1 - flag
            let rl = self.e.gather(&last, &rev);
            let one_minus = self.e.sub(&self.ones(n), &rl);
            self.e.eqz(&one_minus, 2)?
        };
        let s = segmented_sum(self.e, &rstarts, vec![self.e.gather(&at_last, &rev)])?;
        Ok(self.e.gather(&s[0], &rev))
    }

    /// (n Σxy − Σx Σy) / (n (n − 1)) exactly, truncated at `f` fraction bits, with the mask of
    /// groups of at least two values (VAR_SAMP: y = x). `dbits` bounds the numerator.
    #[allow(clippy::too_many_arguments)]
    fn sample_moment<R: Ring>(
        &mut self,
        c: &E::A<R>,
        (sx, sy): (&E::A<R>, &E::A<R>),
        sxy: &E::A<R>,
        dbits: u32,
        f: u32,
        cb: u32,
        ones: &E::A<R>,
        text: &str,
    ) -> Res<(E::A<R>, E::A<R>)> {
        let m2 = self.e.add_public(c, &[R::from_i128(-2)]);
        let lt2 = self.e.msb(&m2, cb + 1)?;
        let lt2a: E::A<R> = self.e.bits2a(&lt2)?;
        let nn = self.e.sub(ones, &lt2a);
        let (nsxy, sxsy) = (self.e.mul(c, sxy)?, self.e.mul(sx, sy)?);
        let d = self.e.sub(&nsxy, &sxsy);
        // fewer than two values: divide by 1 (the result is masked)
        let cm1 = self.e.add_public(c, &[R::from_i128(-1)]);
        let den = self.e.mul(c, &cm1)?;
        let den = self.e.mul(&den, &nn)?;
        let den = self.e.add(&den, &lt2a);
        let dn = self.e.mul_public(&d, &[R::pow2(f)]);
        Ok((mitsu_mpc_ops::div_trunc(self.e, &dn, dbits + f, &den, 2 * cb, text)?, nn))
    }

    /// Aggregate values from the per-group sums (g groups).
    pub(super) fn finish<R: Ring>(
        &mut self,
        aggs: &[Agg],
        plan_cols: &[Vec<usize>],
        cnt: &E::A<R>,
        sums: &[E::A<R>],
        ordered: &[(usize, E::A<R>)],
        pct: &[(usize, [E::A<R>; 3])],
        g: usize,
        rows: usize,
    ) -> Res<Vec<Col<E, R>>> {
        let cb = lg(rows) + 2;
        let mut out = Vec::new();
        for (ai, (a, idx)) in aggs.iter().zip(plan_cols).enumerate() {
            let ones = self.ones(g);
            let nonzero = |s: &mut Self, c: &E::A<R>| -> Res<E::A<R>> {
                let z = s.e.eqz(c, cb)?;
                let za: E::A<R> = s.e.bits2a(&z)?;
                Ok(s.e.sub(&ones, &za))
            };
            let arg_ty = a.arg.as_ref().map(|x| x.ty.clone());
            let col = match a.func {
                AggFn::CountStar => Col { v: cnt.clone(), nn: None, extra: Vec::new() },
                AggFn::Count => Col { v: sums[idx[0]].clone(), nn: None, extra: Vec::new() },
                AggFn::Sum => {
                    let nn = nonzero(self, &sums[idx[0]])?;
                    let at = arg_ty.expect("argument");
                    let c = Col { v: sums[idx[1]].clone(), nn: Some(nn), extra: Vec::new() };
                    let from = Ty { lo: a.ty.lo, hi: a.ty.hi, ..at };
                    self.align(&c, &from, &a.ty)?
                }
                AggFn::Avg => {
                    let c = &sums[idx[0]];
                    let nn = nonzero(self, c)?;
                    let at = arg_ty.expect("argument");
                    let (_, f) = at.scale();
                    let sbits = at.bits() + cb;
                    // no values: divide by 1 instead of 0 (masked below)
                    let safe = self.e.sub(&self.e.add(c, &ones), &nn);
                    let v = self.ratio_wide(&sums[idx[1]], sbits, f, &safe, cb, a.ty.scale().1, &a.text)?;
                    Col { v: self.e.mul(&v, &nn)?, nn: Some(nn), extra: Vec::new() }
                }
                AggFn::VarSamp | AggFn::StddevSamp => {
                    let bx = arg_ty.expect("argument").bits();
                    let (c, s1, s2) = (&sums[idx[0]], &sums[idx[1]], &sums[idx[2]]);
                    // the numerator is a sum of squared differences, never negative
                    let (var, nn) =
                        self.sample_moment(c, (s1, s1), s2, 2 * bx + 2 * cb + 1, FRAC, cb, &ones, &a.text)?;
                    let var = Num::<E, R>::from_share(
                        var,
                        FixedPoint { frac: FRAC, bits: (2 * bx + FRAC + 2).min(R::BITS - 2) },
                        &a.text,
                    )?;
                    let v = if a.func == AggFn::VarSamp { var.share } else { sqrt(self.e, &var)?.share };
                    Col { v: self.e.mul(&v, &nn)?, nn: Some(nn), extra: Vec::new() }
                }
                AggFn::CovarSamp => {
                    let (bx, by) = (a.arg.as_ref().expect("x").ty.bits(), a.arg2.as_ref().expect("y").ty.bits());
                    let (c, sx, sy, sxy) = (&sums[idx[0]], &sums[idx[1]], &sums[idx[2]], &sums[idx[3]]);
                    let f = a.ty.scale().1;
                    let (cov, nn) =
                        self.sample_moment(c, (sx, sy), sxy, bx + by + 2 * cb + 1, f, cb, &ones, &a.text)?;
                    Col { v: self.e.mul(&cov, &nn)?, nn: Some(nn), extra: Vec::new() }
                }
                AggFn::CountDistinct => {
                    let s = &ordered.iter().find(|(i, _)| *i == ai).expect("ordered sum").1;
                    Col { v: s.clone(), nn: None, extra: Vec::new() }
                }
                AggFn::Min | AggFn::Max => {
                    let nn = nonzero(self, &sums[idx[0]])?;
                    let s = &ordered.iter().find(|(i, _)| *i == ai).expect("ordered sum").1;
                    // a group without values holds the scan's sentinel: NULL, value 0
                    Col { v: self.e.mul(s, &nn)?, nn: Some(nn), extra: Vec::new() }
                }
                AggFn::Percentile(_) => {
                    let nn = nonzero(self, &sums[idx[0]])?;
                    let [lo, d, hi] = &pct.iter().find(|(i, _)| *i == ai).expect("percentile sums").1;
                    // lo * 2^F + d * (hi - lo); where the upper row is missing (d = 0) hi is 0
                    let diff = self.e.sub(hi, lo);
                    let t = self.e.mul(d, &diff)?;
                    let v = self.e.add(&self.e.mul_public(lo, &[R::pow2(FRAC)]), &t);
                    Col { v, nn: Some(nn), extra: Vec::new() }
                }
            };
            out.push(col);
        }
        Ok(out)
    }
}
