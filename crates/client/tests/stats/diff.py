#!/usr/bin/env python3
"""Random data for the statistics differential test (crates/client/tests/stats.rs,
`random_data_against_scipy_and_statsmodels`): seeded tables at every magnitude a schema allows
(tiny spreads around huge means, 2^41-sized values, constant columns, ties, NULLs, unequal and
one-row groups) and the answers of scipy and statsmodels.

The data are exact decimals, and float64 cannot hold 3000000.01 exactly: where a statistic is a
function of the exact values (moments, t, F, r, OLS), it is computed here in exact rational
arithmetic (fractions, decimal at 50 digits) and scipy supplies the distributions; logistic
regression is statsmodels' fit on integer data float64 holds exactly.

    python3 diff.py --seed 7 --runs 300 --out DIR      # writes DIR/cases.json and DIR/t*.csv
"""
import argparse
import json
import os
import random
import warnings
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import statsmodels.api as sm
from scipy import stats

getcontext().prec = 50
# statsmodels warns on fits it did not converge; such cases are skipped below
warnings.simplefilter("ignore")

# what the suite promises (docs/statistics.md, "Precision"): moments, tests and regressions 1e-9
# relative, skewness and kurtosis 1e-9 absolute (they are ratios of central moments that may be
# 0), p-values 1e-9 absolute, OLS standard errors 1e-9 relative however close R^2 is to 1, logistic
# regression (iterative) 1e-6
EXACT = {"rel": 1e-9, "abs": 1e-12}
SHAPE = {"rel": 1e-9, "abs": 1e-9}
PVAL = {"rel": 1e-6, "abs": 1e-9}
ITER = {"rel": 1e-6, "abs": 1e-9}


def dec(x):
    return Decimal(x.numerator) / Decimal(x.denominator)


def f(x):
    return float(dec(x)) if isinstance(x, Fraction) else float(x)


def sqrt(x):
    return dec(x).sqrt()


def column(rng, n, mode):
    """(values as exact Fractions or None, CSV text of each)"""
    if mode == "small":
        v = [Fraction(rng.randint(-100, 100)) for _ in range(n)]
    elif mode == "ties":
        v = [Fraction(rng.randint(0, 5)) for _ in range(n)]
    elif mode == "big":
        base = 2**41
        v = [Fraction(base + rng.randint(-1000, 1000)) for _ in range(n)]
    elif mode == "huge":
        base = 10**15
        v = [Fraction(base + rng.randint(-10**6, 10**6)) for _ in range(n)]
    elif mode == "wide":
        v = [Fraction(rng.randint(-2**40, 2**40)) for _ in range(n)]
    elif mode == "tinyspread":
        v = [Fraction(300000001 + rng.randint(0, 4), 100) for _ in range(n)]
    elif mode == "decimals":
        v = [Fraction(rng.randint(-10**8, 10**8), 10**4) for _ in range(n)]
    elif mode == "const":
        v = [Fraction(10**9)] * n
    else:
        raise ValueError(mode)
    return v


def text(x):
    if x is None:
        return ""
    if x.denominator == 1:
        return str(x.numerator)
    d = 0
    while (x * 10**d).denominator != 1:
        d += 1
    m = x * 10**d
    s = str(abs(m.numerator)).rjust(d + 1, "0")
    return ("-" if m < 0 else "") + s[:-d] + "." + s[-d:]


def moments(x):
    n = len(x)
    mean = sum(x) / n
    d = [v - mean for v in x]
    m2 = sum(v * v for v in d) / n
    m3 = sum(v**3 for v in d) / n
    m4 = sum(v**4 for v in d) / n
    return n, mean, m2, m3, m4


def describe(x):
    n, mean, m2, m3, m4 = moments(x)
    o = {"count": n, "sum": f(sum(x)), "mean": f(mean)}
    if n > 1:
        var = m2 * n / (n - 1)
        std = sqrt(var)
        o.update({"variance": f(var), "std": float(std), "sem": float(std / Decimal(n).sqrt())})
        o["cv"] = float(std / dec(mean)) if mean != 0 else None
    else:
        o.update({"variance": None, "std": None, "sem": None, "cv": None})
    if m2 > 0:
        o["skewness"] = float(dec(m3) / (dec(m2) * sqrt(m2)))
        o["kurtosis"] = float(dec(m4) / (dec(m2) * dec(m2)) - 3)
    else:
        o["skewness"] = None
        o["kurtosis"] = None
    return o


def pooled_t(a, b):
    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    ssa = sum((v - ma) ** 2 for v in a)
    ssb = sum((v - mb) ** 2 for v in b)
    df = na + nb - 2
    se2 = (ssa + ssb) / df * (Fraction(1, na) + Fraction(1, nb))
    return ma - mb, se2, df


def welch_t(a, b):
    na, nb = len(a), len(b)
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((v - ma) ** 2 for v in a) / (na - 1) / na
    vb = sum((v - mb) ** 2 for v in b) / (nb - 1) / nb
    if va + vb == 0:
        return ma - mb, Fraction(0), Fraction(1)
    df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    return ma - mb, va + vb, df


def t_fields(md, se2, df):
    if se2 == 0:
        # no spread: mitsu shows t and p as null with a reason (scipy gives nan or inf)
        return {"t": None, "p_value": None, "mean_diff": f(md), "se": 0.0}
    se = sqrt(se2)
    t = float(dec(md) / se)
    df = f(df)
    return {"t": t, "df": df, "p_value": float(2 * stats.t.sf(abs(t), df)), "mean_diff": f(md), "se": float(se)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--out", required=True)
    ap.add_argument("--protocol-every", type=int, default=10, help="every k-th run also on the protocol")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    cases = []
    modes = ["small", "ties", "big", "huge", "wide", "tinyspread", "decimals", "const"]
    for i in range(args.runs):
        n = rng.choice([2, 3, 5, 12, 40, 150])
        mode = rng.choice(modes)
        x = column(rng, n, mode)
        ymode = rng.choice(["small", "decimals", "big"]) if mode == "const" else mode
        if rng.random() < 0.15:
            # nearly a line: R^2 and |r| close to 1, where residual variances are small differences
            y = [3 * v + rng.randint(-1, 1) for v in x]
        else:
            y = [v * rng.choice([1, -1, 3]) + c for v, c in zip(x, column(rng, n, ymode))]
        g = [rng.choice("aab") if rng.random() < 0.8 else "c" for _ in range(n)]
        if rng.random() < 0.2 and n > 3:
            g[0] = "c"
            g = [("c" if j == 0 else ("a" if gg == "c" else gg)) for j, gg in enumerate(g)]  # a group of one
        nulls = rng.random() < 0.3
        xn = [None if nulls and rng.random() < 0.2 else v for v in x]
        if all(v is None for v in xn):
            xn[0] = x[0]
        table = f"t{i}.csv"
        with open(os.path.join(args.out, table), "w") as out:
            out.write("x,y,g,xn\n")
            for j in range(n):
                out.write(f"{text(x[j])},{text(y[j])},{g[j]},{text(xn[j])}\n")
        fn = rng.choice(["describe", "describe", "ttest", "ttest2", "welch", "vartest", "anova", "corr", "cov", "ols", "logit"])
        cid = f"seed {args.seed} run {i} ({fn}, {mode}, n={n})"
        protocol = i % max(args.protocol_every, 1) == 0

        def add(request, expected, tol=EXACT):
            request = {"from": "t", **request}
            cases.append({"id": cid, "table": table, "request": request, "expected": expected, "tol": tol,
                          "protocol": protocol})

        if fn == "describe":
            col = rng.choice(["x", "xn"])
            vals = [v for v in (x if col == "x" else xn) if v is not None]
            add({"function": "describe", "columns": [col]}, {"columns": {col: describe(vals)}},
                dict(EXACT, fields={"skewness": SHAPE, "kurtosis": SHAPE}))
        elif fn == "ttest" and n >= 2:
            mu = Fraction(rng.choice([0, 1, 100, 2**41, 10**9]))
            nn, mean, m2, _, _ = moments(x)
            se2 = m2 * nn / (nn - 1) / nn
            tf = t_fields(mean - mu, se2, nn - 1)
            if tf:
                add({"function": "ttest", "column": "x", "mu": float(mu)}, {**tf, "p_value": tf["p_value"]})
        elif fn in ("ttest2", "welch", "vartest"):
            a = [v for v, gg in zip(x, g) if gg == "a"]
            b = [v for v, gg in zip(x, g) if gg == "b"]
            need = 2 if fn != "ttest2" else 1
            if len(a) < need or len(b) < need or (fn == "ttest2" and len(a) + len(b) < 3):
                continue
            req = {"function": "ttest" if fn != "vartest" else "vartest", "column": "x", "by": "g", "groups": ["a", "b"]}
            if fn == "welch":
                req["welch"] = True
                md, se2, df = welch_t(a, b)
            elif fn == "ttest2":
                md, se2, df = pooled_t(a, b)
            if fn == "vartest":
                va = moments(a)[2] * len(a) / (len(a) - 1)
                vb = moments(b)[2] * len(b) / (len(b) - 1)
                d1, d2 = len(a) - 1, len(b) - 1
                if vb == 0:
                    add(req, {"f": None, "df1": d1, "df2": d2, "p_value": None})
                    continue
                fv = va / vb
                p = 2 * min(stats.f.cdf(f(fv), d1, d2), stats.f.sf(f(fv), d1, d2))
                add(req, {"f": f(fv), "df1": d1, "df2": d2, "p_value": float(min(p, 1.0))})
            else:
                tf = t_fields(md, se2, df)
                if tf:
                    add(req, tf)
        elif fn == "anova":
            levels = sorted(set(g))
            groups = [[v for v, gg in zip(x, g) if gg == lv] for lv in levels]
            k, total = len(groups), n
            if k < 2 or total <= k:
                continue
            grand = sum(x) / total
            ssb = sum(len(gr) * (sum(gr) / len(gr) - grand) ** 2 for gr in groups)
            ssw = sum(sum((v - sum(gr) / len(gr)) ** 2 for v in gr) for gr in groups)
            if ssw == 0:
                add({"function": "anova", "column": "x", "by": "g", "groups": levels},
                    {"f": None, "df_between": k - 1, "df_within": total - k, "p_value": None})
                continue
            fv = (ssb / (k - 1)) / (ssw / (total - k))
            add({"function": "anova", "column": "x", "by": "g", "groups": levels},
                {"f": f(fv), "df_between": k - 1, "df_within": total - k,
                 "p_value": float(stats.f.sf(f(fv), k - 1, total - k))})
        elif fn in ("corr", "cov") and n >= 2:
            mx, my = sum(x) / n, sum(y) / n
            sxx = sum((v - mx) ** 2 for v in x)
            syy = sum((v - my) ** 2 for v in y)
            sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
            if fn == "cov":
                m = {"x": {"x": f(sxx / (n - 1)), "y": f(sxy / (n - 1))}, "y": {"x": f(sxy / (n - 1)), "y": f(syy / (n - 1))}}
                add({"function": "cov", "columns": ["x", "y"]}, {"matrix": m, "n": n})
            elif sxx == 0 or syy == 0:
                # a constant column: r is null with a reason (scipy warns and gives nan)
                add({"function": "corr", "columns": ["x", "y"]}, {"r": None, "p_value": None, "n": n})
            else:
                r = float(dec(sxy) / (sqrt(sxx) * sqrt(syy)))
                df = n - 2
                if df == 0:
                    # two rows: r is +-1 and there is no test (scipy reports p = 1 by convention)
                    p = None
                elif abs(r) >= 1:
                    p = 0.0
                else:
                    p = float(2 * stats.t.sf(abs(r * np.sqrt(df / (1 - r * r))), df))
                add({"function": "corr", "columns": ["x", "y"]}, {"r": r, "p_value": p, "n": n})
        elif fn == "ols" and n >= 3:
            mx, my = sum(x) / n, sum(y) / n
            sxx = sum((v - mx) ** 2 for v in x)
            if sxx == 0:
                continue
            sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
            b1 = sxy / sxx
            b0 = my - b1 * mx
            res = [b - b0 - b1 * a for a, b in zip(x, y)]
            rss = sum(r * r for r in res)
            s2 = rss / (n - 2)
            syy = sum((v - my) ** 2 for v in y)
            req = {"function": "ols", "y": "y", "x": ["x"]}
            if syy == 0:
                add(req, {"coefficients": {"const": f(b0), "x": f(b1)}, "std_errors": {"const": None, "x": None},
                          "r_squared": None, "n": n})
                continue
            r2 = 1 - rss / syy
            if rss == 0:
                # an exact fit: no residual variance, null with a reason
                add(req, {"coefficients": {"const": f(b0), "x": f(b1)}, "std_errors": {"const": None, "x": None},
                          "r_squared": f(r2), "n": n}, dict(EXACT, fields={"coefficients.const": dict(EXACT, or_null=True)}))
                continue
            se1 = sqrt(s2 / sxx)
            se0 = sqrt(s2 * (Fraction(1, n) + mx * mx / sxx))
            se_tol = {"rel": 1e-9, "abs": 0.0}
            # the intercept may be withheld (with its reason) where it is a tiny difference of
            # large terms (an exact 0 from data near 10^15, say)
            add(req, {"coefficients": {"const": f(b0), "x": f(b1)}, "std_errors": {"const": float(se0), "x": float(se1)},
                      "r_squared": f(r2), "n": n},
                dict(EXACT, fields={"std_errors.const": se_tol, "std_errors.x": se_tol,
                                    "coefficients.const": dict(EXACT, or_null=True)}))
        elif fn == "logit" and n >= 40 and mode in ("small", "big", "ties"):
            xs = np.array([float(v) for v in x])
            c = xs.mean()
            s = xs.std() or 1.0
            pr = 1 / (1 + np.exp(-(xs - c) / s * 1.2))
            yy = (np.array([rng.random() for _ in range(n)]) < pr).astype(int)
            if yy.sum() in (0, n):
                continue
            with open(os.path.join(args.out, table), "w") as out:
                out.write("x,flag\n")
                for j in range(n):
                    out.write(f"{text(x[j])},{yy[j]}\n")
            try:
                m = sm.Logit(yy, sm.add_constant(xs, has_constant="add")).fit(disp=0, maxiter=100)
            except Exception:
                continue
            if not m.mle_retvals.get("converged", False) or np.any(np.abs(m.params) > 1e6):
                continue
            add({"function": "logit", "y": "flag", "x": ["x"]},
                {"coefficients": {"const": float(m.params[0]), "x": float(m.params[1])},
                 "std_errors": {"const": float(m.bse[0]), "x": float(m.bse[1])}}, ITER)
    # p-values have their own tolerance
    for cse in cases:
        cse["tol"] = dict(cse["tol"], fields=dict(cse["tol"].get("fields", {}), p_value=PVAL))
    json.dump({"seed": args.seed, "cases": cases}, open(os.path.join(args.out, "cases.json"), "w"), indent=1)
    print(f"{len(cases)} cases, seed {args.seed}")


if __name__ == "__main__":
    main()
