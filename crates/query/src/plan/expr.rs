//! Typing expressions: every operator derives its result's public range and refuses what could
//! overflow, naming the expression; literals, casts and scalar functions.

use super::agg::{agg_name, plain_args};
use super::*;
use crate::ty::bits_of;

impl Binder<'_> {
    /// Binds an expression; in an aggregation context, GROUP BY expressions and aggregates become
    /// references to the aggregation's output columns.
    pub(super) fn expr(&mut self, e: &ast::Expr, scope: &Scope, ctx: &mut Option<AggCtx>) -> Result<Expr, QueryError> {
        let mut x = self.expr_inner(e, scope, ctx)?;
        // a NULL, and every row a filter or join cleared, holds 0: every range contains it
        if !matches!(x.op, Op::Lit(_)) {
            x.ty.lo = x.ty.lo.min(0);
            x.ty.hi = x.ty.hi.max(0);
        }
        self.note_bits(x.ty.bits() + 2, &x.text)?;
        Ok(x)
    }

    pub(super) fn expr_inner(
        &mut self,
        e: &ast::Expr,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
    ) -> Result<Expr, QueryError> {
        let text = e.to_string();
        if let Some(c) = ctx {
            if let Some(i) = c.keys.iter().position(|(t, _)| *t == text) {
                return Ok(col(i, c.keys[i].1.ty.clone(), text));
            }
            if let ast::Expr::Function(f) = e
                && agg_name(f).is_some()
            {
                return self.aggregate(f, c);
            }
        }
        match e {
            ast::Expr::Identifier(id) => {
                if ctx.is_some() {
                    return Err(QueryError::at(
                        format!("column {:?} must appear in GROUP BY or inside an aggregate", id.value),
                        e.span(),
                    ));
                }
                let i = scope.find(None, &id.value, e.span())?;
                Ok(col(i, scope.cols[i].ty.clone(), text))
            }
            ast::Expr::CompoundIdentifier(ids) if ids.len() == 2 => {
                if ctx.is_some() {
                    return Err(QueryError::at(
                        format!("column {text} must appear in GROUP BY or inside an aggregate"),
                        e.span(),
                    ));
                }
                let i = scope.find(Some(&ids[0].value), &ids[1].value, e.span())?;
                Ok(col(i, scope.cols[i].ty.clone(), text))
            }
            ast::Expr::Nested(inner) => self.expr_inner(inner, scope, ctx),
            ast::Expr::Value(v) => literal(&v.value, None, e.span()),
            ast::Expr::UnaryOp { op, expr } => {
                let x = self.expr(expr, scope, ctx)?;
                match op {
                    ast::UnaryOperator::Not => {
                        need_bool(&x)?;
                        Ok(Expr { ty: Ty::bool(x.ty.nullable), op: Op::Not(Box::new(x)), text })
                    }
                    ast::UnaryOperator::Minus => {
                        if let Op::Lit(v) = x.op {
                            return Ok(lit(-v, Ty { lo: -x.ty.hi, hi: -x.ty.lo, ..x.ty }, text));
                        }
                        need_num(&x)?;
                        let ty = Ty { lo: -x.ty.hi, hi: -x.ty.lo, ..num_ty(&x.ty) };
                        Ok(Expr { op: Op::Neg(Box::new(x)), ty, text })
                    }
                    ast::UnaryOperator::Plus => Ok(x),
                    other => Err(QueryError::unsupported(&format!("operator {other}"), e.span())),
                }
            }
            ast::Expr::BinaryOp { left, op, right } => {
                use ast::BinaryOperator as B;
                match op {
                    B::And | B::Or => {
                        let a = self.expr(left, scope, ctx)?;
                        let b = self.expr(right, scope, ctx)?;
                        need_bool(&a)?;
                        need_bool(&b)?;
                        let is_true = |x: &Expr| matches!(x.op, Op::Lit(1)) && !x.ty.nullable;
                        if *op == B::And && is_true(&a) {
                            return Ok(b);
                        }
                        if *op == B::And && is_true(&b) {
                            return Ok(a);
                        }
                        let ty = Ty::bool(a.ty.nullable || b.ty.nullable);
                        let op = if *op == B::And { Op::And(a.into(), b.into()) } else { Op::Or(a.into(), b.into()) };
                        Ok(Expr { op, ty, text })
                    }
                    B::Plus | B::Minus | B::Multiply | B::Divide => {
                        let a = self.expr(left, scope, ctx)?;
                        let b = self.expr(right, scope, ctx)?;
                        self.arith(op, a, b, text, e.span())
                    }
                    B::Lt | B::LtEq | B::Gt | B::GtEq | B::Eq | B::NotEq => {
                        let c = match op {
                            B::Lt => Cmp::Lt,
                            B::LtEq => Cmp::Le,
                            B::Gt => Cmp::Gt,
                            B::GtEq => Cmp::Ge,
                            B::Eq => Cmp::Eq,
                            _ => Cmp::Ne,
                        };
                        let (a, b) = self.operands(left, right, scope, ctx)?;
                        self.cmp(c, a, b, text, e.span())
                    }
                    other => Err(QueryError::unsupported(&format!("operator {other}"), e.span())),
                }
            }
            ast::Expr::IsNull(x) | ast::Expr::IsNotNull(x) => {
                let x = self.expr(x, scope, ctx)?;
                if !x.ty.nullable && !matches!(x.op, Op::Null) {
                    // the schema says it: no circuit (statistics ask it of every column)
                    return Ok(lit(matches!(e, ast::Expr::IsNotNull(_)) as i128, Ty::bool(false), text));
                }
                let isnull = Expr { op: Op::IsNull(Box::new(x)), ty: Ty::bool(false), text: text.clone() };
                if matches!(e, ast::Expr::IsNull(_)) {
                    Ok(isnull)
                } else {
                    Ok(Expr { op: Op::Not(Box::new(isnull)), ty: Ty::bool(false), text })
                }
            }
            ast::Expr::Between { expr, negated, low, high } => {
                let (x, lo) = self.operands(expr, low, scope, ctx)?;
                let (x2, hi) = self.operands(expr, high, scope, ctx)?;
                let a = self.cmp(Cmp::Ge, x, lo, format!("{expr} >= {low}"), e.span())?;
                let b = self.cmp(Cmp::Le, x2, hi, format!("{expr} <= {high}"), e.span())?;
                let ty = Ty::bool(a.ty.nullable || b.ty.nullable);
                let both = Expr { op: Op::And(a.into(), b.into()), ty: ty.clone(), text: text.clone() };
                Ok(if *negated { Expr { op: Op::Not(both.into()), ty, text } } else { both })
            }
            ast::Expr::InList { expr, list, negated } => {
                if list.is_empty() || list.len() > limits::MAX_IN_LIST {
                    return Err(QueryError::at(format!("IN takes 1 to {} values", limits::MAX_IN_LIST), e.span()));
                }
                let mut eqs = Vec::new();
                for item in list {
                    let (x, v) = self.operands(expr, item, scope, ctx)?;
                    eqs.push(self.cmp(Cmp::Eq, x, v, format!("{expr} = {item}"), e.span())?);
                }
                // a balanced OR: the plan's depth grows with log2 of the list, not its length
                while eqs.len() > 1 {
                    let mut next = Vec::with_capacity(eqs.len().div_ceil(2));
                    let mut it = eqs.into_iter();
                    while let Some(a) = it.next() {
                        next.push(match it.next() {
                            None => a,
                            Some(b) => {
                                let ty = Ty::bool(a.ty.nullable || b.ty.nullable);
                                Expr { op: Op::Or(a.into(), b.into()), ty, text: text.clone() }
                            }
                        });
                    }
                    eqs = next;
                }
                let acc = eqs.pop().expect("non-empty list");
                let ty = acc.ty.clone();
                Ok(if *negated { Expr { op: Op::Not(acc.into()), ty, text } } else { Expr { text, ..acc } })
            }
            ast::Expr::Case { operand, conditions, else_result, .. } => {
                if conditions.len() > limits::MAX_CASE_BRANCHES {
                    return Err(QueryError::Limit(format!(
                        "CASE has {} branches; mitsu computes at most {} (each is a secret selection over every row)",
                        conditions.len(),
                        limits::MAX_CASE_BRANCHES
                    )));
                }
                let mut whens = Vec::new();
                for cw in conditions {
                    let cond = match operand {
                        Some(o) => {
                            let (a, b) = self.operands(o, &cw.condition, scope, ctx)?;
                            self.cmp(Cmp::Eq, a, b, format!("{o} = {}", cw.condition), cw.condition.span())?
                        }
                        None => self.expr(&cw.condition, scope, ctx)?,
                    };
                    need_bool(&cond)?;
                    whens.push((cond, self.expr(&cw.result, scope, ctx)?));
                }
                let els = match else_result {
                    Some(x) => self.expr(x, scope, ctx)?,
                    None => null_of(&whens[0].1.ty),
                };
                let mut ty = els.ty.clone();
                for (_, r) in &whens {
                    ty = unify(&ty, &r.ty, &text)?;
                }
                if else_result.is_none() {
                    ty.nullable = true;
                }
                no_text_result(&ty, &text, "CASE")?;
                Ok(Expr { op: Op::Case(whens, Box::new(els)), ty, text })
            }
            ast::Expr::Function(f) => self.function(f, scope, ctx, e.span()),
            ast::Expr::Cast { expr, data_type, kind: ast::CastKind::Cast, format: None } => {
                let x = self.expr(expr, scope, ctx)?;
                need_num(&x)?;
                self.cast(x, data_type, text, e.span())
            }
            other => Err(QueryError::unsupported(&expr_kind(other), other.span())),
        }
    }

    /// Binds two operands of a comparison; a string literal takes the other side's type (date or
    /// category).
    pub(super) fn operands(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
    ) -> Result<(Expr, Expr), QueryError> {
        let str_lit = |e: &ast::Expr| match e {
            ast::Expr::Value(v) => matches!(v.value, ast::Value::SingleQuotedString(_)),
            _ => false,
        };
        if str_lit(b) && !str_lit(a) {
            let x = self.expr(a, scope, ctx)?;
            let ast::Expr::Value(v) = b else { unreachable!() };
            let y = literal(&v.value, Some(x.ty.class), b.span())?;
            return Ok((x, y));
        }
        if str_lit(a) && !str_lit(b) {
            let y = self.expr(b, scope, ctx)?;
            let ast::Expr::Value(v) = a else { unreachable!() };
            let x = literal(&v.value, Some(y.ty.class), a.span())?;
            return Ok((x, y));
        }
        Ok((self.expr(a, scope, ctx)?, self.expr(b, scope, ctx)?))
    }

    pub(super) fn arith(
        &mut self,
        op: &ast::BinaryOperator,
        a: Expr,
        b: Expr,
        text: String,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        use ast::BinaryOperator as B;
        let nullable = a.ty.nullable || b.ty.nullable;
        // dates: date - date = days; date ± days = date
        if a.ty.class == Class::Date || b.ty.class == Class::Date {
            let int0 = |t: &Ty| t.class == Class::Num { d: 0, f: 0 };
            let (class, lo, hi) = match (op, a.ty.class, b.ty.class) {
                (B::Minus, Class::Date, Class::Date) => {
                    (Class::Num { d: 0, f: 0 }, a.ty.lo - b.ty.hi, a.ty.hi - b.ty.lo)
                }
                (B::Plus | B::Minus, Class::Date, _) if int0(&b.ty) => {
                    let (l, h) = if *op == B::Plus {
                        (a.ty.lo + b.ty.lo, a.ty.hi + b.ty.hi)
                    } else {
                        (a.ty.lo - b.ty.hi, a.ty.hi - b.ty.lo)
                    };
                    (Class::Date, l, h)
                }
                _ => return Err(QueryError::at(format!("{text}: dates subtract from dates or add whole days"), span)),
            };
            check(lo, hi, &text)?;
            let ty = Ty { class, lo, hi, nullable };
            let op = if *op == B::Plus { Op::Add(a.into(), b.into()) } else { Op::Sub(a.into(), b.into()) };
            return Ok(Expr { op, ty, text });
        }
        need_num(&a)?;
        need_num(&b)?;
        let ((da, fa), (db, fb)) = (a.ty.scale(), b.ty.scale());
        match op {
            B::Plus | B::Minus => {
                let (d, f) = (da.max(db), fa.max(fb));
                let ka = factor(d - da, f - fa, &text)?;
                let kb = factor(d - db, f - fb, &text)?;
                let (al, ah) = scale_range(a.ty.lo, a.ty.hi, ka, &text)?;
                let (bl, bh) = scale_range(b.ty.lo, b.ty.hi, kb, &text)?;
                let (lo, hi) = if *op == B::Plus {
                    (al.checked_add(bl), ah.checked_add(bh))
                } else {
                    (al.checked_sub(bh), ah.checked_sub(bl))
                };
                let (lo, hi) = (
                    lo.ok_or_else(|| QueryError::range(&text, 128))?,
                    hi.ok_or_else(|| QueryError::range(&text, 128))?,
                );
                check(lo, hi, &text)?;
                let ty = Ty { class: Class::Num { d, f }, lo, hi, nullable };
                let op = if *op == B::Plus { Op::Add(a.into(), b.into()) } else { Op::Sub(a.into(), b.into()) };
                Ok(Expr { op, ty, text })
            }
            B::Multiply => {
                let d = da + db;
                if d > MAX_DECIMALS {
                    return Err(QueryError::Invalid(format!(
                        "{text}: the product has {d} decimal places (at most {MAX_DECIMALS}); CAST a factor to fewer"
                    )));
                }
                let mut lo = i128::MAX;
                let mut hi = i128::MIN;
                for x in [a.ty.lo, a.ty.hi] {
                    for y in [b.ty.lo, b.ty.hi] {
                        let p = x.checked_mul(y).ok_or_else(|| QueryError::range(&text, 128))?;
                        lo = lo.min(p);
                        hi = hi.max(p);
                    }
                }
                check(lo, hi, &text)?;
                let mut f = fa + fb;
                if f > FRAC {
                    let s = f - FRAC;
                    lo = (lo >> s) - 1;
                    hi = (hi >> s) + 1;
                    f = FRAC;
                    self.needs_128 = true;
                }
                let ty = Ty { class: Class::Num { d, f }, lo, hi, nullable };
                Ok(Expr { op: Op::Mul(a.into(), b.into()), ty, text })
            }
            B::Divide => {
                // exact: trunc(a na / (b nb)) toward zero at FRAC fraction bits, in Z_2^128
                self.needs_128 = true;
                let d = da.saturating_sub(db);
                let (na, nb, abits, bbits) = quotient_scales(&a.ty, &b.ty, &text)?;
                if mitsu_mpc_ops::div_plan::<u128>(abits, bbits).is_none() {
                    let most = (1..bbits).rev().find(|&bb| mitsu_mpc_ops::div_plan::<u128>(abits, bb).is_some());
                    return Err(QueryError::Range(match most {
                        Some(bb) => format!(
                            "{text}: the divisor may reach 2^{bbits}; mitsu divides exactly by values below 2^{bb} \
                             (with this numerator); narrow the divisor's range"
                        ),
                        None => format!("{text}: the numerator may reach 2^{abits}, too wide to divide exactly"),
                    }));
                }
                let m = a.ty.lo.unsigned_abs().max(a.ty.hi.unsigned_abs());
                // |a na / (b nb)| <= max|a| na / nb (the smallest nonzero |b| is 1)
                let h = m.checked_mul(na as u128).map(|x| (x >> nb.trailing_zeros()) as i128 + 1);
                let h = h.filter(|h| *h < 1i128 << MAX_BITS).ok_or_else(|| QueryError::range(&text, abits))?;
                let ty = Ty { class: Class::Num { d, f: FRAC }, lo: -h, hi: h, nullable: true };
                self.note_bits(abits + 2, &text)?;
                Ok(Expr { op: Op::Div(a.into(), b.into()), ty, text })
            }
            _ => unreachable!(),
        }
    }

    pub(super) fn cast(
        &mut self,
        x: Expr,
        dt: &ast::DataType,
        text: String,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        use ast::DataType as D;
        let (d, f) = x.ty.scale();
        let to = match dt {
            D::Int(_) | D::Integer(_) | D::BigInt(_) | D::SmallInt(_) => Class::Num { d: 0, f: 0 },
            D::Decimal(info) | D::Numeric(info) => match info {
                ast::ExactNumberInfo::PrecisionAndScale(_, s) if *s >= 0 => Class::Num { d: *s as u32, f: 0 },
                ast::ExactNumberInfo::Precision(_) | ast::ExactNumberInfo::None => Class::Num { d: 0, f: 0 },
                _ => return Err(QueryError::unsupported(&format!("CAST AS {dt}"), span)),
            },
            D::Real | D::Double(_) | D::DoublePrecision | D::Float(_) | D::Float64 | D::Float8 => {
                // a real keeps its exact encoding; only the printed form changes
                let ty = Ty { class: Class::Num { d, f: f.max(1) }, ..x.ty.clone() };
                if f == 0 {
                    let (lo, hi) = scale_range(x.ty.lo, x.ty.hi, 2, &text)?;
                    return Ok(Expr { op: Op::Cast(x.into()), ty: Ty { lo, hi, ..ty }, text });
                }
                return Ok(Expr { op: Op::Cast(x.into()), ty, text });
            }
            _ => return Err(QueryError::unsupported(&format!("CAST AS {dt}"), span)),
        };
        let Class::Num { d: td, .. } = to else { unreachable!() };
        let (lo, hi) = if td >= d {
            let k = factor(td - d, 0, &text)?;
            let (l, h) = scale_range(x.ty.lo, x.ty.hi, k, &text)?;
            (l >> f, (h >> f) + 1)
        } else {
            let k = factor(d - td, f, &text)?;
            (x.ty.lo / k - 1, x.ty.hi / k + 1)
        };
        check(lo, hi, &text)?;
        if f > 0 || td < d {
            // the exact division by c = 10^(d - td) 2^f multiplies by m = ceil(2^(b + 2) / c)
            // (`exec::expr::div_public_toward_zero`): the product needs b + bits(m) + 1 bits
            let up = factor(td.saturating_sub(d), 0, &text)?;
            let c = factor(d.saturating_sub(td), f, &text)?;
            let b = x.ty.bits() + bits_of(0, up);
            let m = 1i128.checked_shl(b + 2).filter(|_| b + 2 < 127).map(|p| (p + c - 1) / c);
            let m = m.ok_or_else(|| QueryError::range(&text, b + 2))?;
            self.note_bits(b + bits_of(0, m) + 3, &text)?;
        }
        let nullable = x.ty.nullable;
        Ok(Expr { op: Op::Cast(x.into()), ty: Ty { class: to, lo, hi, nullable }, text })
    }

    pub(super) fn function(
        &mut self,
        f: &ast::Function,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
        span: sqlparser::tokenizer::Span,
    ) -> Result<Expr, QueryError> {
        let name = object_name(&f.name).to_lowercase();
        let text = f.to_string();
        if f.over.is_some() {
            return Err(QueryError::unsupported(
                &format!("window functions ({text}); GROUP BY computes an aggregate per group"),
                span,
            ));
        }
        if agg_name(f).is_some() {
            return Err(QueryError::at(format!("aggregate {text} is not allowed here"), span));
        }
        let args = plain_args(f)?;
        match name.as_str() {
            "coalesce" => {
                if args.is_empty() {
                    return Err(QueryError::at("COALESCE needs arguments".into(), span));
                }
                let xs = args.iter().map(|a| self.expr(a, scope, ctx)).collect::<Result<Vec<_>, _>>()?;
                let mut ty = xs[0].ty.clone();
                for x in &xs[1..] {
                    ty = unify(&ty, &x.ty, &text)?;
                }
                ty.nullable = xs.iter().all(|x| x.ty.nullable);
                no_text_result(&ty, &text, "COALESCE")?;
                Ok(Expr { op: Op::Coalesce(xs), ty, text })
            }
            "abs" if args.len() == 1 => {
                // CASE WHEN x < 0 THEN -x ELSE x END
                let x = self.expr(args[0], scope, ctx)?;
                need_num(&x)?;
                let zero = lit(0, Ty { lo: 0, hi: 0, nullable: false, ..x.ty.clone() }, "0".into());
                let neg = self.cmp(Cmp::Lt, x.clone(), zero, format!("{} < 0", x.text), span)?;
                let m = x.ty.lo.unsigned_abs().max(x.ty.hi.unsigned_abs()) as i128;
                let ty = Ty { lo: 0, hi: m, ..x.ty.clone() };
                let minus = Expr { op: Op::Neg(Box::new(x.clone())), ty: ty.clone(), text: format!("-{}", x.text) };
                Ok(Expr { op: Op::Case(vec![(neg, minus)], Box::new(x)), ty, text })
            }
            "round" if (1..=2).contains(&args.len()) => {
                let x = self.expr(args[0], scope, ctx)?;
                need_num(&x)?;
                let places = match args.get(1) {
                    None => 0,
                    Some(ast::Expr::Value(v)) => match &v.value {
                        ast::Value::Number(n, _) => n.parse::<u32>().ok().filter(|p| *p <= 30),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        QueryError::at(format!("{text}: the places are a whole number from 0 to 30"), span)
                    })?,
                    Some(_) => {
                        return Err(QueryError::at(format!("{text}: the places are a literal number"), span));
                    }
                };
                let (d, f) = x.ty.scale();
                if f == 0 && places >= d {
                    return Ok(Expr { text, ..x });
                }
                // half away from zero: truncate to one more place, add ±5 there, truncate again
                // (trunc((trunc(10z) ± 5) / 10) = trunc((10z ± 5) / 10) for z = x·10^places)
                let dec = |p: u32| ast::DataType::Decimal(ast::ExactNumberInfo::PrecisionAndScale(38, p as i64));
                let finer = self.cast(x, &dec(places + 1), format!("{text} (to {} places)", places + 1), span)?;
                let five = |v: i128| lit(v, Ty { lo: v, hi: v, nullable: false, ..finer.ty.clone() }, v.to_string());
                let zero = five(0);
                let neg = self.cmp(Cmp::Lt, finer.clone(), zero, format!("{} < 0", finer.text), span)?;
                let half = Expr {
                    op: Op::Case(vec![(neg, five(-5))], Box::new(five(5))),
                    ty: Ty { lo: -5, hi: 5, nullable: false, ..finer.ty.clone() },
                    text: "±5".into(),
                };
                let sum = self.arith(&ast::BinaryOperator::Plus, finer, half, format!("{text} (rounding)"), span)?;
                self.cast(sum, &dec(places), text, span)
            }
            "least" | "greatest" if !args.is_empty() => {
                // NULLs are ignored, as DuckDB and PostgreSQL do: NULL only when every argument is
                let xs = args.iter().map(|a| self.expr(a, scope, ctx)).collect::<Result<Vec<_>, _>>()?;
                // each step repeats the one before it three times (comparison, choice, fallback)
                if xs.len() > 6 {
                    return Err(QueryError::Limit(format!("{text}: at most 6 arguments")));
                }
                let pick = if name == "least" { Cmp::Le } else { Cmp::Ge };
                let mut it = xs.into_iter();
                let mut acc = it.next().expect("one argument");
                for b in it {
                    let ty = unify(&acc.ty, &b.ty, &text)?;
                    let nullable = acc.ty.nullable && b.ty.nullable;
                    let cond = self.cmp(pick, acc.clone(), b.clone(), format!("{} vs {}", acc.text, b.text), span)?;
                    let other = Expr {
                        op: Op::Coalesce(vec![b, acc.clone()]),
                        ty: Ty { nullable, ..ty.clone() },
                        text: text.clone(),
                    };
                    acc = Expr {
                        op: Op::Case(vec![(cond, acc)], Box::new(other)),
                        ty: Ty { nullable, ..ty },
                        text: text.clone(),
                    };
                }
                Ok(acc)
            }
            _ => Err(QueryError::unsupported(&format!("function {}", object_name(&f.name)), span)),
        }
    }
}

pub(super) fn need_bool(x: &Expr) -> Result<(), QueryError> {
    if x.ty.class == Class::Bool {
        Ok(())
    } else {
        Err(QueryError::Invalid(format!("{} is a {}, not a condition", x.text, x.ty.class.name())))
    }
}

pub(super) fn need_num(x: &Expr) -> Result<(), QueryError> {
    if x.ty.is_num() {
        Ok(())
    } else {
        Err(QueryError::Invalid(format!("{} is a {}, not a number", x.text, x.ty.class.name())))
    }
}

/// CASE and COALESCE choose between values by arithmetic on one share each; a text value is a
/// hash with its payload, which they do not carry.
fn no_text_result(ty: &Ty, text: &str, what: &str) -> Result<(), QueryError> {
    if matches!(ty.class, Class::Text { .. }) {
        return Err(QueryError::Invalid(format!(
            "{text}: {what} does not return text columns in this version; filter with WHERE, or group by the column"
        )));
    }
    Ok(())
}

/// Booleans used as numbers are integers.
pub(super) fn num_ty(t: &Ty) -> Ty {
    match t.class {
        Class::Bool => Ty { class: Class::Num { d: 0, f: 0 }, ..t.clone() },
        _ => t.clone(),
    }
}

pub(super) fn null_of(t: &Ty) -> Expr {
    Expr { op: Op::Null, ty: Ty { lo: 0, hi: 0, nullable: true, ..t.clone() }, text: "NULL".into() }
}

/// The range covering both (same class).
pub(super) fn unify_range(a: &Ty, b: &Ty) -> Ty {
    Ty { lo: a.lo.min(b.lo), hi: a.hi.max(b.hi), nullable: a.nullable || b.nullable, ..a.clone() }
}

pub(super) fn compare(
    c: Cmp,
    a: Expr,
    b: Expr,
    text: String,
    span: sqlparser::tokenizer::Span,
) -> Result<Expr, QueryError> {
    let ok = (a.ty.is_num() && b.ty.is_num())
        || (a.ty.same_kind(&b.ty)
            && match a.ty.class {
                // labels compare in byte-wise UTF-8 order, as SQLite's BINARY collation
                Class::Date | Class::Bool | Class::Cat { .. } => true,
                Class::Key | Class::Text { .. } => matches!(c, Cmp::Eq | Cmp::Ne),
                Class::Num { .. } => true,
            });
    if !ok && matches!(a.ty.class, Class::Text { .. }) && a.ty.same_kind(&b.ty) {
        return Err(QueryError::at(
            format!(
                "{text}: a text column compares only for equality (=, <>, IN): it is compared on a hash, never \
                 in the clear"
            ),
            span,
        ));
    }
    if !ok {
        return Err(QueryError::at(
            format!("{text}: cannot compare a {} with a {}", a.ty.class.name(), b.ty.class.name()),
            span,
        ));
    }
    let u = unify(&a.ty, &b.ty, &text)?;
    // the difference of the aligned values must fit
    let (lo, hi) = (u.lo.checked_sub(u.hi), u.hi.checked_sub(u.lo));
    match (lo, hi) {
        (Some(l), Some(h)) => check(l, h, &text)?,
        _ => return Err(QueryError::range(&text, 128)),
    }
    let nullable = a.ty.nullable || b.ty.nullable;
    Ok(Expr { op: Op::Cmp(c, a.into(), b.into()), ty: Ty::bool(nullable), text })
}

pub(super) fn literal(
    v: &ast::Value,
    hint: Option<Class>,
    span: sqlparser::tokenizer::Span,
) -> Result<Expr, QueryError> {
    let text = v.to_string();
    match v {
        ast::Value::Number(s, _) => {
            let (m, d) = parse_decimal(s).ok_or_else(|| QueryError::at(format!("number {s} is not exact"), span))?;
            if d > MAX_DECIMALS {
                return Err(QueryError::at(format!("{s}: at most {MAX_DECIMALS} decimal places"), span));
            }
            check(m, m, &text)?;
            Ok(lit(m, Ty { class: Class::Num { d, f: 0 }, lo: m, hi: m, nullable: false }, text))
        }
        ast::Value::Boolean(b) => Ok(lit(*b as i128, Ty { lo: *b as i128, hi: *b as i128, ..Ty::bool(false) }, text)),
        ast::Value::Null => Ok(Expr {
            op: Op::Null,
            ty: Ty { class: hint.unwrap_or(Class::Num { d: 0, f: 0 }), lo: 0, hi: 0, nullable: true },
            text,
        }),
        ast::Value::SingleQuotedString(s) => match hint {
            Some(Class::Date) => {
                let d =
                    parse_date(s).ok_or_else(|| QueryError::at(format!("'{s}' is not a date (YYYY-MM-DD)"), span))?;
                Ok(lit(d, Ty { class: Class::Date, lo: d, hi: d, nullable: false }, text))
            }
            Some(Class::Text { .. }) => {
                if s.len() > mitsu_api::encode::MAX_TEXT_BYTES || s.contains('\0') {
                    return Err(QueryError::at(
                        format!("'{s}' is no text label (at most {} bytes, no NUL)", mitsu_api::encode::MAX_TEXT_BYTES),
                        span,
                    ));
                }
                let h = mitsu_api::encode::key_of(s);
                Ok(lit(h, Ty { class: Class::Text { w: s.len().max(1) as u32 }, lo: h, hi: h, nullable: false }, text))
            }
            Some(Class::Key) => Err(QueryError::at(
                "keys are hashed by the uploading client; compare keys with keys (join), not with text".into(),
                span,
            )),
            _ => {
                let w = s.len();
                let p = pack_label(s, w).ok_or_else(|| {
                    QueryError::at(format!("'{s}' is longer than a category label ({MAX_LABEL_BYTES} bytes)"), span)
                })?;
                Ok(lit(p, Ty { class: Class::Cat { w: w as u32 }, lo: p, hi: p, nullable: false }, text))
            }
        },
        other => Err(QueryError::unsupported(&format!("literal {other}"), span)),
    }
}
