//! Binding a query: SELECT, set operations, FROM and joins, ORDER BY and LIMIT, each name
//! resolved against its scope.

use super::*;

impl Binder<'_> {
    pub(super) fn query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<String>, Vec<SortKey>), QueryError> {
        if let Some(w) = &q.with {
            return Err(QueryError::unsupported("WITH", w.span()));
        }
        if q.fetch.is_some() || !q.locks.is_empty() {
            return Err(QueryError::unsupported("FETCH / FOR UPDATE", q.span()));
        }
        let (mut p, names) = self.set_expr(&q.body)?;
        let mut keys = Vec::new();
        if let Some(ob) = &q.order_by {
            let ast::OrderByKind::Expressions(list) = &ob.kind else {
                return Err(QueryError::unsupported("ORDER BY ALL", ob.span()));
            };
            for o in list {
                let c = self.output_ref(&o.expr, &names)?;
                let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
                // SQLite and PostgreSQL disagree; we follow SQLite: NULLs are smallest
                let nulls_first = o.options.nulls_first.unwrap_or(!desc);
                keys.push(SortKey { col: c, desc, nulls_first });
            }
        }
        let mut limit = None;
        if let Some(lc) = &q.limit_clause {
            match lc {
                ast::LimitClause::LimitOffset { limit: Some(l), offset: None, limit_by } if limit_by.is_empty() => {
                    let v = match l {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::Number(s, _) => s.parse::<u64>().ok(),
                            _ => None,
                        },
                        _ => None,
                    };
                    limit = Some(v.ok_or_else(|| QueryError::at("LIMIT takes a whole number".into(), l.span()))?);
                }
                ast::LimitClause::LimitOffset { limit: None, offset: None, .. } => {}
                other => return Err(QueryError::unsupported("OFFSET", other.span())),
            }
        }
        if let Some(k) = limit {
            let rows = p.rows.min(k);
            let out = p.out.clone();
            if let Some(k) = keys.iter().find(|k| matches!(out[k.col].class, Class::Text { .. })) {
                return Err(QueryError::Invalid(format!(
                    "ORDER BY column {} … LIMIT: text is compared on a hash under MPC, so it cannot be sorted \
                     there; drop LIMIT (every row is then opened to you and sorted on your machine), or order by \
                     another column",
                    k.col + 1
                )));
            }
            let kb = self.sort_key_bits(&out, &keys);
            if kb + lg(p.rows) + 2 > 126 {
                // the secure top-k compares one key made of all ORDER BY items side by side
                return Err(QueryError::Range(format!(
                    "ORDER BY … LIMIT sorts under MPC on one key made of its {} item(s), which may need {} bits, \
                     more than mitsu compares safely (126 bits); order by fewer or narrower columns, or drop \
                     LIMIT (then every row is opened to you and sorted on your machine)",
                    keys.len(),
                    kb + lg(p.rows) + 2
                )));
            }
            self.note_bits(kb + lg(p.rows) + 2, "ORDER BY")?;
            p = Plan { node: Node::TopK { input: Box::new(p), keys: keys.clone(), limit: k }, out, rows };
        }
        Ok((p, names, keys))
    }

    pub(super) fn sort_key_bits(&self, out: &[Ty], keys: &[SortKey]) -> u32 {
        keys.iter().map(|k| component_bits(&out[k.col])).sum::<u32>() + 1
    }

    /// An ORDER BY item: an output column's name or alias, or its 1-based position.
    pub(super) fn output_ref(&self, e: &ast::Expr, names: &[String]) -> Result<usize, QueryError> {
        match e {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(s, _) = &v.value
                    && let Ok(i) = s.parse::<usize>()
                    && (1..=names.len()).contains(&i)
                {
                    return Ok(i - 1);
                }
                Err(QueryError::at(format!("ORDER BY position must be 1..{}", names.len()), e.span()))
            }
            ast::Expr::Identifier(id) => names
                .iter()
                .position(|n| *n == id.value)
                .ok_or_else(|| QueryError::at(format!("ORDER BY {:?}: not an output column", id.value), e.span())),
            ast::Expr::CompoundIdentifier(ids) => {
                let last = ids.last().map(|i| i.value.clone()).unwrap_or_default();
                names
                    .iter()
                    .position(|n| *n == last)
                    .ok_or_else(|| QueryError::at(format!("ORDER BY {e}: not an output column"), e.span()))
            }
            _ => {
                let t = e.to_string();
                names.iter().position(|n| *n == t).ok_or_else(|| {
                    QueryError::at(
                        format!("ORDER BY {t}: order by an output column (give the expression an alias)"),
                        e.span(),
                    )
                })
            }
        }
    }

    pub(super) fn set_expr(&mut self, s: &ast::SetExpr) -> Result<(Plan, Vec<String>), QueryError> {
        match s {
            ast::SetExpr::Select(sel) => self.select(sel),
            ast::SetExpr::Query(q) => {
                let (p, n, order) = self.query(q)?;
                if !order.is_empty() && !matches!(p.node, Node::TopK { .. }) {
                    return Err(QueryError::unsupported("ORDER BY without LIMIT inside a subquery", q.span()));
                }
                Ok((p, n))
            }
            ast::SetExpr::SetOperation { left, op, set_quantifier, right } => {
                if *op != ast::SetOperator::Union || *set_quantifier != ast::SetQuantifier::All {
                    return Err(QueryError::unsupported(
                        &format!("{op} {set_quantifier} (only UNION ALL)").replace("  ", " "),
                        s.span(),
                    ));
                }
                let (l, ln) = self.set_expr(left)?;
                let (r, _) = self.set_expr(right)?;
                if l.out.len() != r.out.len() {
                    return Err(QueryError::at(
                        format!("UNION ALL of {} and {} columns", l.out.len(), r.out.len()),
                        s.span(),
                    ));
                }
                let mut out = Vec::new();
                for (i, (a, b)) in l.out.iter().zip(&r.out).enumerate() {
                    out.push(unify(a, b, &format!("UNION ALL column {}", ln[i]))?);
                }
                let rows = l.rows + r.rows;
                let mut inputs = Vec::new();
                for p in [l, r] {
                    match p.node {
                        Node::Union { inputs: inner } => inputs.extend(inner),
                        _ => inputs.push(p),
                    }
                }
                Ok((Plan { node: Node::Union { inputs }, out, rows }, ln))
            }
            other => Err(QueryError::unsupported("this kind of query body", other.span())),
        }
    }

    pub(super) fn select(&mut self, s: &ast::Select) -> Result<(Plan, Vec<String>), QueryError> {
        if s.distinct.is_some() {
            return Err(QueryError::unsupported("SELECT DISTINCT (use GROUP BY)", s.span()));
        }
        if s.top.is_some() || s.into.is_some() || !s.lateral_views.is_empty() || s.qualify.is_some() {
            return Err(QueryError::unsupported("TOP / INTO / LATERAL VIEW / QUALIFY", s.span()));
        }
        if s.from.is_empty() {
            return Err(QueryError::at("SELECT needs FROM a table".into(), s.span()));
        }
        let (mut p, scope) = self.from(&s.from)?;
        if let Some(w) = &s.selection {
            let pred = self.expr(w, &scope, &mut None)?;
            if pred.ty.class != Class::Bool {
                return Err(QueryError::at(format!("WHERE {}: not a condition", pred.text), w.span()));
            }
            // WHERE TRUE (as `x IS NOT NULL` of a column that cannot be NULL) keeps every row
            if !matches!(pred.op, Op::Lit(1)) || pred.ty.nullable {
                p = Plan { out: p.out.clone(), rows: p.rows, node: Node::Filter { input: Box::new(p), pred } };
            }
        }
        let group: Vec<&ast::Expr> = match &s.group_by {
            ast::GroupByExpr::Expressions(e, m) if m.is_empty() => e.iter().collect(),
            other => return Err(QueryError::unsupported("GROUP BY ALL / modifiers", other.span())),
        };
        // `GROUP BY 1` and `GROUP BY alias`, as DuckDB and PostgreSQL allow: the SELECT item they
        // name stands in (an input column of the same name wins over an alias, as in PostgreSQL)
        let items: Vec<(Option<&str>, &ast::Expr)> = s
            .projection
            .iter()
            .filter_map(|i| match i {
                ast::SelectItem::UnnamedExpr(e) => Some((None, e)),
                ast::SelectItem::ExprWithAlias { expr, alias } => Some((Some(alias.value.as_str()), expr)),
                _ => None,
            })
            .collect();
        let mut named = Vec::with_capacity(group.len());
        for g in &group {
            let stand_in = match g {
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::Number(n, _) => {
                        let k = n.parse::<usize>().ok().filter(|k| (1..=items.len()).contains(k)).ok_or_else(|| {
                            QueryError::at(
                                format!("GROUP BY {n}: the SELECT list has {} items (numbered from 1)", items.len()),
                                g.span(),
                            )
                        })?;
                        Some(items[k - 1].1)
                    }
                    _ => None,
                },
                ast::Expr::Identifier(id) if scope.find(None, &id.value, id.span).is_err() => {
                    items.iter().find(|(a, _)| a.is_some_and(|a| a.eq_ignore_ascii_case(&id.value))).map(|(_, e)| *e)
                }
                _ => None,
            };
            if let Some(e) = stand_in
                && contains_agg(e)
            {
                return Err(QueryError::at(format!("GROUP BY {g}: it names an aggregate, {e}"), g.span()));
            }
            named.push(stand_in.unwrap_or(g));
        }
        let group = named;
        // a window function is named as such before it reads as an aggregate out of place
        for item in &s.projection {
            let mut window = None;
            let _ = ast::visit_expressions(item, |e| {
                if let ast::Expr::Function(f) = e
                    && f.over.is_some()
                {
                    window = Some((f.to_string(), f.span()));
                    return std::ops::ControlFlow::Break(());
                }
                std::ops::ControlFlow::Continue(())
            });
            if let Some((text, span)) = window {
                return Err(QueryError::unsupported(
                    &format!("window functions ({text}); GROUP BY computes an aggregate per group"),
                    span,
                ));
            }
        }
        let has_agg = !group.is_empty()
            || s.having.is_some()
            || s.projection.iter().any(|i| match i {
                ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => contains_agg(e),
                _ => false,
            });
        let too_many = |n: usize| {
            QueryError::Limit(format!(
                "the SELECT list has {n} columns; a query returns at most {}",
                limits::MAX_OUTPUT_COLUMNS
            ))
        };
        if s.projection.len() > limits::MAX_OUTPUT_COLUMNS {
            return Err(too_many(s.projection.len()));
        }
        let mut names = Vec::new();
        let mut exprs = Vec::new();
        if !has_agg {
            for item in &s.projection {
                self.select_item(item, &scope, &mut None, &mut names, &mut exprs)?;
            }
            if exprs.len() > limits::MAX_OUTPUT_COLUMNS {
                return Err(too_many(exprs.len()));
            }
            let out = exprs.iter().map(|e: &Expr| e.ty.clone()).collect();
            let rows = p.rows;
            return Ok((Plan { node: Node::Project { input: Box::new(p), exprs }, out, rows }, names));
        }
        // aggregation: keys first, then aggregates found in SELECT and HAVING
        if group.len() > limits::MAX_GROUP_KEYS {
            return Err(QueryError::Limit(format!(
                "GROUP BY has {} expressions; at most {}",
                group.len(),
                limits::MAX_GROUP_KEYS
            )));
        }
        let mut ctx = AggCtx { keys: Vec::new(), aggs: Vec::new(), input: scope.clone(), rows: p.rows };
        for g in &group {
            let e = self.expr(g, &scope, &mut None)?;
            if e.ty.class == Class::Key {
                return Err(QueryError::at(format!("GROUP BY {}: keys are never opened", e.text), g.span()));
            }
            ctx.keys.push((g.to_string(), e));
        }
        let mut ctx = Some(ctx);
        for item in &s.projection {
            self.select_item(item, &scope, &mut ctx, &mut names, &mut exprs)?;
        }
        // HAVING may name a SELECT alias (SUM(x) AS s ... HAVING s > 10) where no input column
        // has that name: the alias stands for its expression
        let having_ast = match &s.having {
            Some(h) => {
                let mut h = h.clone();
                let aliases: Vec<(String, ast::Expr)> = s
                    .projection
                    .iter()
                    .filter_map(|i| match i {
                        ast::SelectItem::ExprWithAlias { expr, alias } => Some((alias.value.clone(), expr.clone())),
                        _ => None,
                    })
                    .collect();
                let _ = ast::visit_expressions_mut(&mut h, |e| {
                    if let ast::Expr::Identifier(id) = e
                        && scope.find(None, &id.value, id.span).is_err()
                        && let Some((_, x)) = aliases.iter().find(|(a, _)| *a == id.value)
                    {
                        *e = ast::Expr::Nested(Box::new(x.clone()));
                    }
                    std::ops::ControlFlow::<()>::Continue(())
                });
                limits::check_expr(&h)?;
                Some(h)
            }
            None => None,
        };
        let having = match &having_ast {
            Some(h) => {
                let e = self.expr(h, &scope, &mut ctx)?;
                if e.ty.class != Class::Bool {
                    return Err(QueryError::at(format!("HAVING {}: not a condition", e.text), h.span()));
                }
                Some(e)
            }
            None => None,
        };
        let ctx = ctx.expect("aggregation context");
        // COUNT(DISTINCT x) and percentiles need the rows of each group sorted by x; MIN and MAX
        // use that order when they name the same x, else a segmented running extremum
        let rank_based = |a: &&Agg| matches!(a.func, AggFn::CountDistinct | AggFn::Percentile(_));
        let key_bits: u32 = ctx.keys.iter().map(|(_, e)| component_bits(&e.ty)).sum::<u32>() + 1;
        let mut ordered: Option<Expr> = ctx
            .aggs
            .iter()
            .find(rank_based)
            .or_else(|| ctx.aggs.iter().find(|a| a.func.ordered()))
            .and_then(|a| a.arg.clone());
        // MIN and MAX need no sort by their argument (a segmented running extremum does): when
        // it would make the sort key too wide (a 9-byte label and a 50-bit number), they go
        // without, and only what needs the order (ranks) keeps it
        if !ctx.aggs.iter().any(|a| rank_based(&a))
            && let Some(o) = &ordered
            && key_bits + component_bits(&o.ty) + lg(p.rows) + 3 > MAX_BITS
        {
            ordered = None;
        }
        for a in ctx.aggs.iter().filter(rank_based) {
            let (o, arg) = (ordered.as_ref().expect("set above"), a.arg.as_ref().expect("an argument"));
            if o.text != arg.text {
                return Err(QueryError::Invalid(format!(
                    "MEDIAN, PERCENTILE_CONT and COUNT(DISTINCT) are computed on one column per query \
                     (they share one sort); this query asks for {} and {}",
                    o.text, arg.text
                )));
            }
            if arg.ty.scale().1 > 0 {
                return Err(QueryError::Invalid(format!("{}: take it of a column, not of a quotient", a.text)));
            }
        }
        // sort key of the grouping: the composite of the keys (and the ordered argument); text
        // keys too wide together enter it as dense ranks, widest first
        let rank_bits = component_bits(&Ty::int(0, p.rows as i128));
        let mut ranked = vec![false; ctx.keys.len()];
        if !ctx.keys.is_empty() || ordered.is_some() {
            loop {
                let kbits: u32 = ctx
                    .keys
                    .iter()
                    .zip(&ranked)
                    .map(|((_, e), r)| if *r { rank_bits } else { component_bits(&e.ty) })
                    .sum::<u32>()
                    + 1
                    + ordered.as_ref().map_or(0, |o| component_bits(&o.ty));
                let need = kbits + lg(p.rows) + 3;
                if need <= GROUP_KEY_BITS {
                    self.note_bits(need, "GROUP BY")?;
                    break;
                }
                let alone = |e: &Expr| component_bits(&e.ty) + 1 + lg(p.rows) + 3 <= GROUP_KEY_BITS;
                let pick = (0..ctx.keys.len())
                    .filter(|&i| {
                        let e = &ctx.keys[i].1;
                        !ranked[i]
                            && matches!(e.ty.class, Class::Text { .. })
                            && component_bits(&e.ty) > rank_bits
                            && alone(e)
                    })
                    .max_by_key(|&i| component_bits(&ctx.keys[i].1.ty));
                match pick {
                    Some(i) => {
                        self.note_bits(component_bits(&ctx.keys[i].1.ty) + 1 + lg(p.rows) + 3, "GROUP BY")?;
                        ranked[i] = true;
                    }
                    None => {
                        let key_bits = key_bits + ordered.as_ref().map_or(0, |o| component_bits(&o.ty));
                        return Err(group_key_too_wide(&ctx.keys, ordered.as_ref(), p.rows, key_bits + lg(p.rows) + 3));
                    }
                }
            }
        }
        let mut out: Vec<Ty> = ctx.keys.iter().map(|(_, e)| e.ty.clone()).collect();
        out.extend(ctx.aggs.iter().map(|a| a.ty.clone()));
        let rows = if ctx.keys.is_empty() { 1 } else { p.rows };
        let keys: Vec<Expr> = ctx.keys.into_iter().map(|(_, e)| e).collect();
        let mut plan = Plan {
            node: Node::Aggregate { input: Box::new(p), keys, aggs: ctx.aggs, ordered, ranked },
            out: out.clone(),
            rows,
        };
        if let Some(h) = having {
            plan =
                Plan { out: plan.out.clone(), rows: plan.rows, node: Node::Filter { input: Box::new(plan), pred: h } };
        }
        let pout = exprs.iter().map(|e: &Expr| e.ty.clone()).collect();
        Ok((Plan { node: Node::Project { input: Box::new(plan), exprs }, out: pout, rows }, names))
    }

    pub(super) fn select_item(
        &mut self,
        item: &ast::SelectItem,
        scope: &Scope,
        ctx: &mut Option<AggCtx>,
        names: &mut Vec<String>,
        exprs: &mut Vec<Expr>,
    ) -> Result<(), QueryError> {
        match item {
            ast::SelectItem::UnnamedExpr(e) => {
                let x = self.expr(e, scope, ctx)?;
                names.push(match e {
                    ast::Expr::Identifier(i) => i.value.clone(),
                    ast::Expr::CompoundIdentifier(ids) => ids.last().map(|i| i.value.clone()).unwrap_or_default(),
                    _ => e.to_string(),
                });
                exprs.push(x);
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                exprs.push(self.expr(expr, scope, ctx)?);
                names.push(ident_name(alias));
            }
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                if ctx.is_some() {
                    return Err(QueryError::unsupported("* with GROUP BY or aggregates", item.span()));
                }
                let q = match item {
                    ast::SelectItem::QualifiedWildcard(ast::SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                        Some(object_name(n))
                    }
                    _ => None,
                };
                let mut any = false;
                for (i, c) in scope.cols.iter().enumerate() {
                    // keys are never opened: `*` leaves them out (naming one is an error)
                    if c.hidden || (q.is_some() && c.qual != q) || c.ty.class == Class::Key {
                        continue;
                    }
                    any = true;
                    // the column decides the ring as a named column would (a wide value or a long
                    // label needs Z_2^128)
                    self.note_bits(c.ty.bits() + 2, &c.name)?;
                    exprs.push(col(i, c.ty.clone(), c.name.clone()));
                    names.push(c.name.clone());
                }
                if !any {
                    return Err(QueryError::at("* matches no columns".into(), item.span()));
                }
            }
            other => return Err(QueryError::unsupported("this select item", other.span())),
        }
        Ok(())
    }

    pub(super) fn from(&mut self, from: &[ast::TableWithJoins]) -> Result<(Plan, Scope), QueryError> {
        if from.len() > 1 {
            return Err(QueryError::unsupported(
                "comma joins (cross products); write JOIN … ON or USING",
                from[1].relation.span(),
            ));
        }
        let twj = &from[0];
        let (mut p, mut scope) = self.factor(&twj.relation)?;
        for j in &twj.joins {
            let (left_outer, c) = match &j.join_operator {
                ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => (false, c),
                ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => (true, c),
                _ => {
                    return Err(QueryError::unsupported(
                        "this join (only INNER and LEFT equi-joins; write a RIGHT JOIN as a LEFT JOIN)",
                        j.relation.span(),
                    ));
                }
            };
            let (rp, rscope) = self.factor(&j.relation)?;
            let nl = scope.cols.len();
            let mut both = scope.clone();
            for c in &rscope.cols {
                let mut c = c.clone();
                if left_outer {
                    c.ty.nullable = true;
                }
                both.cols.push(c);
            }
            let mut lkeys = Vec::new();
            let mut rkeys = Vec::new();
            match c {
                ast::JoinConstraint::On(e) => {
                    let mut pairs = Vec::new();
                    equi_pairs(e, &mut pairs)?;
                    for (a, b) in pairs {
                        let x = self.expr(a, &both, &mut None)?;
                        let y = self.expr(b, &both, &mut None)?;
                        let (xs, ys) = (side(&x, nl), side(&y, nl));
                        let (l, r) = match (xs, ys) {
                            (Some(false), Some(true)) => (x, y),
                            (Some(true), Some(false)) => (y, x),
                            _ => {
                                return Err(QueryError::at(
                                    format!("{a} = {b}: each side of a join condition must name one table's column"),
                                    e.span(),
                                ));
                            }
                        };
                        let r = shift_cols(r, nl);
                        lkeys.push(l);
                        rkeys.push(r);
                    }
                }
                ast::JoinConstraint::Using(names) => {
                    for n in names {
                        let name = object_name(n);
                        let li = scope.find(None, &name, n.span())?;
                        let ri = rscope.find(None, &name, n.span())?;
                        lkeys.push(col(li, scope.cols[li].ty.clone(), name.clone()));
                        rkeys.push(col(ri, rscope.cols[ri].ty.clone(), name.clone()));
                        both.cols[nl + ri].hidden = true;
                    }
                }
                _ => return Err(QueryError::unsupported("a join without ON or USING", j.relation.span())),
            }
            for (l, r) in lkeys.iter().zip(&rkeys) {
                let ok = match (l.ty.class, r.ty.class) {
                    (Class::Num { d: 0, f: 0 }, Class::Num { d: 0, f: 0 }) => true,
                    (Class::Cat { .. }, Class::Cat { .. }) => true,
                    // text joins text, and keys, on the same hash
                    (Class::Text { .. } | Class::Key, Class::Text { .. } | Class::Key) => true,
                    (a, b) => a == b && matches!(a, Class::Date),
                };
                if !ok {
                    return Err(QueryError::Invalid(format!(
                        "join keys {} ({}) and {} ({}) cannot be matched: join integers, keys or text, categories, or dates of the \
                         same kind (a category joins a text column once uploaded with --text)",
                        l.text,
                        l.ty.class.name(),
                        r.text,
                        r.ty.class.name()
                    )));
                }
            }
            // labels of different widths meet at the wider one
            for (l, r) in lkeys.iter_mut().zip(rkeys.iter_mut()) {
                if let (Class::Cat { .. }, Class::Cat { .. }) = (l.ty.class, r.ty.class) {
                    let u = unify(&l.ty, &r.ty, &l.text)?;
                    l.ty = Ty { nullable: l.ty.nullable, ..u.clone() };
                    r.ty = Ty { nullable: r.ty.nullable, ..u };
                }
            }
            let kbits: u32 = lkeys.iter().zip(&rkeys).map(|(l, r)| component_bits(&unify_range(&l.ty, &r.ty))).sum();
            // physical rows: nl + nr; a many-to-many join may produce up to nl * nr
            let n = if self.opts.allow_many_to_many {
                (p.rows.max(1) * rp.rows.max(1)).max(p.rows + rp.rows)
            } else {
                p.rows + rp.rows
            };
            let expr = format!("JOIN ON {}", lkeys.iter().map(|k| k.text.clone()).collect::<Vec<_>>().join(", "));
            self.note_bits(kbits + 4 + lg(n) + 1, &expr)?;
            let mut out = p.out.clone();
            out.extend(rp.out.iter().map(|t| Ty { nullable: t.nullable || left_outer, ..t.clone() }));
            p = Plan {
                node: Node::Join {
                    left: Box::new(p),
                    right: Box::new(rp),
                    left_outer,
                    many_to_many: self.opts.allow_many_to_many,
                    lkeys,
                    rkeys,
                },
                out,
                rows: n,
            };
            scope = both;
        }
        Ok((p, scope))
    }

    pub(super) fn factor(&mut self, f: &ast::TableFactor) -> Result<(Plan, Scope), QueryError> {
        match f {
            ast::TableFactor::Table { name, alias, args: None, .. } => {
                let table = object_name(name);
                let meta = self.cat.table(&table).map_err(|e| match e {
                    QueryError::Invalid(m) => QueryError::at(m, name.span()),
                    e => e,
                })?;
                if meta.schema.format < mitsu_api::SCHEMA_FORMAT
                    && meta.schema.columns.iter().any(|c| c.kind == mitsu_api::Kind::Category)
                {
                    return Err(QueryError::Invalid(format!(
                        "table {table:?} was uploaded by an older mitsu that stored labels in another order; \
                         upload it again"
                    )));
                }
                let qual = alias.as_ref().map(|a| a.name.value.clone()).unwrap_or_else(|| table.clone());
                let cols: Vec<usize> = (0..meta.schema.columns.len()).collect();
                let scope = Scope {
                    cols: meta
                        .schema
                        .columns
                        .iter()
                        .map(|c| ScopeCol {
                            qual: Some(qual.clone()),
                            name: c.name.clone(),
                            ty: Ty::from_column(c),
                            hidden: false,
                        })
                        .collect(),
                };
                let out = scope.cols.iter().map(|c| c.ty.clone()).collect();
                Ok((Plan { node: Node::Scan { table, cols }, out, rows: meta.rows }, scope))
            }
            ast::TableFactor::Derived { subquery, alias, lateral: false, .. } => {
                let (p, names, order) = self.query(subquery)?;
                if !order.is_empty() && !matches!(p.node, Node::TopK { .. }) {
                    return Err(QueryError::unsupported("ORDER BY without LIMIT inside a subquery", subquery.span()));
                }
                let qual = alias.as_ref().map(|a| a.name.value.clone());
                let scope = Scope {
                    cols: names
                        .iter()
                        .zip(&p.out)
                        .map(|(n, t)| ScopeCol { qual: qual.clone(), name: n.clone(), ty: t.clone(), hidden: false })
                        .collect(),
                };
                Ok((p, scope))
            }
            other => Err(QueryError::unsupported("this FROM item", other.span())),
        }
    }
}

/// Widest sort key a grouping may have: the composite of its keys, the row count's bits and
/// room for the comparisons, in Z_2^128.
const GROUP_KEY_BITS: u32 = 126;

/// What makes a grouping's sort key too wide, and what helps: for a label, the longest one that
/// could be grouped over this many rows.
fn group_key_too_wide(keys: &[(String, Expr)], ordered: Option<&Expr>, rows: u64, need: u32) -> QueryError {
    let parts: Vec<String> = keys
        .iter()
        .map(|(t, e)| format!("{t}: {} bits", component_bits(&e.ty)))
        .chain(ordered.map(|o| format!("{} (sorted within groups): {} bits", o.text, component_bits(&o.ty))))
        .collect();
    let total: u32 = keys.iter().map(|(_, e)| component_bits(&e.ty)).sum::<u32>()
        + ordered.map(|o| component_bits(&o.ty)).unwrap_or(0);
    let mut msg = format!(
        "GROUP BY needs a sort key of {need} bits ({}; {rows} rows and a validity bit add {}), and mitsu sorts \
         keys of at most {GROUP_KEY_BITS} bits",
        parts.join(", "),
        lg(rows) + 4
    );
    if let Some((t, e)) = keys.iter().find(|(_, e)| matches!(e.ty.class, Class::Cat { .. })) {
        let others = total - component_bits(&e.ty);
        let room = GROUP_KEY_BITS.saturating_sub(lg(rows) + 4 + others);
        // a label of w bytes spans 2^(8w) values (and NULL): 8w + 1 bits
        let bytes = room.saturating_sub(1) / 8;
        let Class::Cat { w } = e.ty.class else { unreachable!() };
        msg.push_str(&format!(
            ". Its labels ({t}) are up to {w} bytes; over {rows} rows mitsu groups labels of up to {bytes} bytes \
             (a Japanese character is 3): group by a shorter code per value"
        ));
    } else {
        msg.push_str(": group by fewer or narrower keys");
    }
    QueryError::Range(msg)
}
