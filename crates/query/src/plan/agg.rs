//! Aggregate calls (COUNT, SUM, AVG, MIN, MAX, variances) inside SELECT and HAVING.

use super::expr::{need_num, num_ty};
use super::*;

impl Binder<'_> {
    pub(super) fn aggregate(&mut self, f: &ast::Function, c: &mut AggCtx) -> Result<Expr, QueryError> {
        let text = f.to_string();
        let k = c.keys.len();
        if let Some(i) = c.aggs.iter().position(|a| a.text == text) {
            return Ok(col(k + i, c.aggs[i].ty.clone(), text));
        }
        if c.aggs.len() >= limits::MAX_AGGREGATES {
            return Err(QueryError::Limit(format!("a SELECT computes at most {} aggregates", limits::MAX_AGGREGATES)));
        }
        let name = agg_name(f).expect("an aggregate");
        if f.over.is_some() {
            return Err(QueryError::unsupported(
                &format!("window functions ({text}); GROUP BY computes an aggregate per group"),
                f.span(),
            ));
        }
        if f.filter.is_some() || has_order_by(f) {
            return Err(QueryError::unsupported("FILTER / ORDER BY in an aggregate", f.span()));
        }
        let distinct = matches!(&f.args, ast::FunctionArguments::List(l) if l.duplicate_treatment == Some(ast::DuplicateTreatment::Distinct));
        let star = matches!(&f.args, ast::FunctionArguments::List(l) if l.args.len() == 1 && matches!(l.args[0], ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)));
        let rows = c.rows as i128;
        let input = c.input.clone();
        let mut none = None;
        if name == "covar_samp" {
            return self.covariance(f, c, text);
        }
        let (func, arg) = if name == "count" && star {
            (AggFn::CountStar, None)
        } else if name == "percentile_cont" {
            // PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x), or the two-argument PERCENTILE_CONT(x, q)
            let args = plain_args(f)?;
            let number = |e: &ast::Expr| match e {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::Number(s, _) => s.parse::<f64>().ok().filter(|q| (0.0..=1.0).contains(q)),
                    _ => None,
                },
                _ => None,
            };
            let bad = || QueryError::at("PERCENTILE_CONT takes a fraction between 0 and 1".into(), f.span());
            match (args.as_slice(), f.within_group.as_slice()) {
                ([q], [o]) => {
                    if matches!(o.options.sort, Some(ast::OrderBySort::Desc)) {
                        return Err(QueryError::unsupported("WITHIN GROUP (ORDER BY … DESC)", o.span()));
                    }
                    (AggFn::Percentile(number(q).ok_or_else(bad)?), Some(self.expr(&o.expr, &input, &mut none)?))
                }
                ([x, q], []) => (AggFn::Percentile(number(q).ok_or_else(bad)?), Some(self.expr(x, &input, &mut none)?)),
                _ => {
                    return Err(QueryError::at(
                        "write PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY column) or PERCENTILE_CONT(column, q)".into(),
                        f.span(),
                    ));
                }
            }
        } else {
            let args = plain_args(f)?;
            let [a] = args.as_slice() else {
                return Err(QueryError::at(format!("{name} takes one argument"), f.span()));
            };
            if contains_agg(a) {
                return Err(QueryError::at("aggregates cannot be nested".into(), a.span()));
            }
            let x = self.expr(a, &input, &mut none)?;
            let func = match (name, distinct) {
                ("count", false) => AggFn::Count,
                ("count", true) => AggFn::CountDistinct,
                (_, true) => return Err(QueryError::unsupported(&format!("{name}(DISTINCT …)"), f.span())),
                ("sum", _) => AggFn::Sum,
                ("avg", _) => AggFn::Avg,
                ("min", _) => AggFn::Min,
                ("max", _) => AggFn::Max,
                ("var_samp" | "variance", _) => AggFn::VarSamp,
                ("stddev_samp" | "stddev", _) => AggFn::StddevSamp,
                ("median", _) => AggFn::Percentile(0.5),
                _ => unreachable!(),
            };
            (func, Some(x))
        };
        let ty = match (&func, &arg) {
            (AggFn::CountStar | AggFn::Count | AggFn::CountDistinct, _) => Ty::int(0, rows),
            (_, Some(x)) => {
                if matches!(func, AggFn::Min | AggFn::Max) {
                    if matches!(x.ty.class, Class::Text { .. }) {
                        return Err(QueryError::Invalid(format!(
                            "{text}: text is compared on a hash, so it has no MIN or MAX under MPC; GROUP BY it and \
                             sort the result (ORDER BY without LIMIT sorts on your machine)"
                        )));
                    }
                    if !(x.ty.is_num() || matches!(x.ty.class, Class::Date | Class::Cat { .. })) {
                        return Err(QueryError::Invalid(format!("{text}: MIN and MAX take numbers, dates or labels")));
                    }
                } else {
                    need_num(x)?;
                }
                let (d, _) = x.ty.scale();
                let m = x.ty.lo.unsigned_abs().max(x.ty.hi.unsigned_abs()) as i128;
                let bound = |v: Option<i128>| v.ok_or_else(|| QueryError::range(&text, 128));
                let t = match func {
                    AggFn::Sum => {
                        let (lo, hi) =
                            (bound(x.ty.lo.checked_mul(rows.max(1)))?, bound(x.ty.hi.checked_mul(rows.max(1)))?);
                        check(lo, hi, &text)?;
                        Ty { lo, hi, nullable: true, ..num_ty(&x.ty) }
                    }
                    AggFn::Min | AggFn::Max => Ty { nullable: true, ..x.ty.clone() },
                    AggFn::Avg | AggFn::Percentile(_) => {
                        // AVG divides per group in Z_2^128 even when the rest runs in Z_2^64
                        // (the group sums are lifted); percentiles combine rows in the plan's ring
                        if func != AggFn::Avg {
                            self.needs_128 = true;
                        } else {
                            let cb = lg(rows as u64) + 2;
                            let up = FRAC.saturating_sub(x.ty.scale().1);
                            if mitsu_mpc_ops::div_plan::<u128>(x.ty.bits() + cb + up, cb).is_none() {
                                return Err(QueryError::range(&text, x.ty.bits() + cb + up));
                            }
                        }
                        let (_, f) = x.ty.scale();
                        let s = FRAC.saturating_sub(f);
                        let h = bound(m.checked_mul(1 << s))? + 1;
                        Ty { class: Class::Num { d, f: f.max(FRAC) }, lo: -h, hi: h, nullable: true }
                    }
                    AggFn::VarSamp | AggFn::StddevSamp => {
                        self.needs_128 = true;
                        if x.ty.scale().1 > 0 {
                            return Err(QueryError::Invalid(format!(
                                "{text}: take the variance of a column, not of a quotient"
                            )));
                        }
                        // n * sum(x^2) - sum(x)^2, times 2^FRAC, divided exactly by n (n - 1)
                        let cb = lg(rows as u64) + 2;
                        let nb = 2 * x.ty.bits() + 2 * cb + 1;
                        if mitsu_mpc_ops::div_plan::<u128>(nb + FRAC, 2 * cb).is_none() {
                            return Err(QueryError::range(&text, nb + FRAC));
                        }
                        self.note_bits(nb + FRAC + 2, &text)?;
                        if func == AggFn::VarSamp {
                            if 2 * d > MAX_DECIMALS {
                                return Err(QueryError::Invalid(format!(
                                    "{text}: the variance of a number with {d} decimal places would have {}, more than \
                                     {MAX_DECIMALS}; CAST the column to fewer (CAST(x AS DECIMAL(38, 9)))",
                                    2 * d
                                )));
                            }
                            let h = bound(m.checked_mul(m).and_then(|v| v.checked_mul(2 << FRAC)))?;
                            check(0, h, &text)?;
                            Ty { class: Class::Num { d: 2 * d, f: FRAC }, lo: 0, hi: h, nullable: true }
                        } else {
                            let h = bound(m.checked_mul(2 << FRAC))?;
                            Ty { class: Class::Num { d, f: FRAC }, lo: 0, hi: h, nullable: true }
                        }
                    }
                    _ => unreachable!(),
                };
                // the type's range already covers the whole column (a sum's range is n times the value's)
                self.note_bits(t.bits() + 2, &text)?;
                t
            }
            _ => unreachable!(),
        };
        c.aggs.push(Agg { func, arg, arg2: None, ty: ty.clone(), text: text.clone() });
        Ok(col(k + c.aggs.len() - 1, ty, text))
    }

    /// COVAR_SAMP(x, y): exactly (n Σxy − Σx Σy) / (n (n − 1)) over the rows where both are not
    /// NULL, truncated at FRAC fraction bits, as VAR_SAMP is.
    fn covariance(&mut self, f: &ast::Function, c: &mut AggCtx, text: String) -> Result<Expr, QueryError> {
        if f.filter.is_some() || has_order_by(f) {
            return Err(QueryError::unsupported("FILTER / ORDER BY in an aggregate", f.span()));
        }
        let args = plain_args(f)?;
        let [a, b] = args.as_slice() else {
            return Err(QueryError::at("COVAR_SAMP takes two arguments".into(), f.span()));
        };
        if contains_agg(a) || contains_agg(b) {
            return Err(QueryError::at("aggregates cannot be nested".into(), f.span()));
        }
        let input = c.input.clone();
        let mut none = None;
        let (x, y) = (self.expr(a, &input, &mut none)?, self.expr(b, &input, &mut none)?);
        for v in [&x, &y] {
            need_num(v)?;
            if v.ty.scale().1 > 0 {
                return Err(QueryError::Invalid(format!("{text}: take the covariance of columns, not of quotients")));
            }
        }
        let d = x.ty.scale().0 + y.ty.scale().0;
        if d > MAX_DECIMALS {
            return Err(QueryError::Invalid(format!(
                "{text}: the covariance would have {d} decimal places, more than {MAX_DECIMALS}; CAST a column to fewer"
            )));
        }
        self.needs_128 = true;
        let cb = lg(c.rows) + 2;
        let nb = x.ty.bits() + y.ty.bits() + 2 * cb + 1;
        // fraction bits below the encoding's unit, as many as the division holds: wide columns
        // (a 10^9 column with 6 decimals) already carry their digits in the integer part
        let f = (0..=FRAC)
            .rev()
            .find(|&f| nb + f + 2 <= 126 && mitsu_mpc_ops::div_plan::<u128>(nb + f, 2 * cb).is_some())
            .ok_or_else(|| QueryError::range(&text, nb))?;
        self.note_bits(nb + f + 2, &text)?;
        let m = |t: &Ty| t.lo.unsigned_abs().max(t.hi.unsigned_abs());
        // |cov| <= max|x| max|y| n / (n - 1) <= 2 max|x| max|y|
        let h = m(&x.ty)
            .checked_mul(m(&y.ty))
            .and_then(|p| p.checked_mul(4u128 << f))
            .filter(|h| *h < 1u128 << 126)
            .ok_or_else(|| QueryError::range(&text, 128))? as i128;
        let ty = Ty { class: Class::Num { d, f }, lo: -h, hi: h, nullable: true };
        self.note_bits(ty.bits() + 2, &text)?;
        let k = c.keys.len();
        if let Some(i) = c.aggs.iter().position(|a| a.text == text) {
            return Ok(col(k + i, c.aggs[i].ty.clone(), text));
        }
        c.aggs.push(Agg { func: AggFn::CovarSamp, arg: Some(x), arg2: Some(y), ty: ty.clone(), text: text.clone() });
        Ok(col(k + c.aggs.len() - 1, ty, text))
    }
}

/// An aggregate call with `ORDER BY` inside its argument list.
pub(super) fn has_order_by(f: &ast::Function) -> bool {
    matches!(&f.args, ast::FunctionArguments::List(l)
        if l.clauses.iter().any(|c| matches!(c, ast::FunctionArgumentClause::OrderBy(_))))
}

pub(super) fn agg_name(f: &ast::Function) -> Option<&'static str> {
    let n = object_name(&f.name).to_lowercase();
    [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "var_samp",
        "variance",
        "stddev_samp",
        "stddev",
        "median",
        "percentile_cont",
        "covar_samp",
    ]
    .into_iter()
    .find(|a| *a == n)
}

pub(super) fn plain_args(f: &ast::Function) -> Result<Vec<&ast::Expr>, QueryError> {
    match &f.args {
        ast::FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Ok(x),
                other => Err(QueryError::unsupported("this function argument", other.span())),
            })
            .collect(),
        ast::FunctionArguments::None => Ok(Vec::new()),
        ast::FunctionArguments::Subquery(q) => Err(QueryError::unsupported("subqueries", q.span())),
    }
}
