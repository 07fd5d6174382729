#!/usr/bin/env python3
"""Writes the reference answers of the statistics tests (fixtures.json) with scipy, statsmodels,
numpy and pandas, and the generated edge-case table data/gen.csv.

Run from the repository root with a Python that has them, e.g.
    python3 -m venv ~/.cache/stats-venv && ~/.cache/stats-venv/bin/pip install numpy scipy pandas statsmodels
    ~/.cache/stats-venv/bin/python crates/client/tests/stats/expected.py
The Rust test (crates/client/tests/stats.rs) runs every request on the plaintext twin and the
three-party protocol and compares with these answers at the tolerance each case states.
"""
import json
import os

import numpy as np
import pandas as pd
import scipy
import statsmodels
import statsmodels.api as sm
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
SQLDATA = os.path.join(HERE, "..", "sql", "data")
DATA = os.path.join(HERE, "data")

# moments, tests and OLS: relative 1e-6 (absolute 1e-9 for values near zero)
EXACT = {"rel": 1e-6, "abs": 1e-9}

# iterative methods (logit, PCA): relative 1e-4
ITER = {"rel": 1e-4, "abs": 1e-7}


def gen():
    rng = np.random.default_rng(20261122)
    n = 400
    df = pd.DataFrame({
        "id": [f"G{i:04d}" for i in range(n)],
        "ties": rng.integers(0, 6, n),
        "nulls": np.round(rng.normal(50, 10, n), 2),
        "const": np.full(n, 7.5),
        "big": np.round(rng.normal(3e9, 2e7, n), 0).astype(np.int64),
        "tiny": np.round(rng.normal(0.00015, 0.00004, n), 6),
        "neg": np.round(rng.normal(-20, 5, n), 3),
        "grp": rng.choice(["a", "b", "c"], n),
        "two": rng.choice(["x", "y"], n),
    })
    df.loc[rng.choice(n, 37, replace=False), "nulls"] = np.nan
    df.loc[rng.choice(n, 11, replace=False), "two"] = None
    # a linear relation with noise for regressions
    df["y"] = np.round(3.0 + 2.0 * df["neg"] - 0.5 * df["ties"] + rng.normal(0, 2, n), 3)
    # drawn after everything above so that the earlier columns do not change
    df["ties2"] = rng.integers(0, 6, n)
    df["flag"] = (rng.random(n) < 1 / (1 + np.exp(-(0.3 * (df["neg"] + 20) - 0.4 * (df["ties"] - 2.5))))).astype(int)
    df["pos"] = np.round(rng.lognormal(1.0, 0.8, n), 3)
    df["w"] = rng.integers(1, 10, n)
    df["tiny"] = df["tiny"].map(lambda v: f"{v:.6f}")
    df.to_csv(os.path.join(DATA, "gen.csv"), index=False, float_format="%.10g")
    return pd.read_csv(os.path.join(DATA, "gen.csv"))


def magnitudes():
    """Columns as real exports have them, written as pandas writes float64 (17 digits): values up
    to 10^9 with 6 decimals, probabilities in [0, 1], and values below 10^-3."""
    rng = np.random.default_rng(20261202)
    n = 300
    big = rng.uniform(0, 1e9, n).round(6)
    p = rng.uniform(0, 1, n)
    tiny = rng.uniform(0, 1e-3, n)
    g = np.where(rng.uniform(size=n) < 0.5, "a", "b")
    g3 = rng.choice(["x", "y", "z"], n)
    eta = -1 + 1.5e-9 * big + 1.2 * p
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(int)
    df = pd.DataFrame({"id": [f"M{i:03d}" for i in range(n)], "big": big, "p": p, "tiny": tiny, "g": g,
                       "g3": g3, "y": y})
    df.to_csv(os.path.join(DATA, "magnitudes.csv"), index=False)
    return pd.read_csv(os.path.join(DATA, "magnitudes.csv"))


def magnitude_cases(m):
    f = "magnitudes.csv"
    cols = ["big", "p", "tiny"]
    case("magnitudes describe", f, {"function": "describe", "columns": cols},
         {"columns": {c: describe(m[c]) for c in cols}}, protocol=True)
    for c in ["big", "p"]:
        a, b = m[m.g == "a"][c], m[m.g == "b"][c]
        r = stats.ttest_ind(a, b, equal_var=False)
        case(f"magnitudes welch {c}", f, {"function": "ttest", "column": c, "by": "g", "groups": ["a", "b"],
                                          "welch": True}, ttest_fields(r, a.mean() - b.mean()))
    corr = m[cols].corr()
    case("magnitudes corr", f, {"function": "corr", "columns": cols},
         {"matrix": {a: {b: fnum(corr.loc[a, b]) for b in cols} for a in cols}})
    res = sm.OLS(m["big"], sm.add_constant(m[["p", "tiny"]])).fit()
    names = ["const", "p", "tiny"]
    case("magnitudes ols", f, {"function": "ols", "y": "big", "x": ["p", "tiny"]}, {
        "coefficients": {k: fnum(res.params[k]) for k in names},
        "std_errors": {k: fnum(res.bse[k]) for k in names},
        "r_squared": fnum(res.rsquared)}, protocol=True)
    r = stats.linregress(m["tiny"], m["big"])
    case("magnitudes linregress", f, {"function": "linregress", "y": "big", "x": ["tiny"]},
         {"slope": fnum(r.slope), "intercept": fnum(r.intercept), "rvalue": fnum(r.rvalue), "stderr": fnum(r.stderr)})
    r = stats.f_oneway(*[m[m.g3 == l]["big"] for l in ["x", "y", "z"]])
    case("magnitudes anova", f, {"function": "anova", "column": "big", "by": "g3", "groups": ["x", "y", "z"]},
         {"f": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    r = stats.spearmanr(m["big"], m["tiny"])
    case("magnitudes spearman", f, {"function": "spearman", "columns": ["big", "tiny"]},
         {"r": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    r = stats.mannwhitneyu(m[m.g == "a"]["p"], m[m.g == "b"]["p"], method="asymptotic")
    case("magnitudes mannwhitney", f, {"function": "mannwhitney", "column": "p", "by": "g", "groups": ["a", "b"]},
         {"u": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    res = sm.Logit(m["y"], sm.add_constant(m[["big", "p"]])).fit(disp=0, tol=1e-12, maxiter=100)
    names = ["const", "big", "p"]
    case("magnitudes logit", f, {"function": "logit", "y": "y", "x": ["big", "p"]}, {
        "coefficients": {k: fnum(res.params[k]) for k in names},
        "std_errors": {k: fnum(res.bse[k]) for k in names}}, tol=ITER, protocol=True)


def load(name):
    return pd.read_csv(os.path.join(SQLDATA, name))


def fnum(x):
    x = float(x)
    return None if not np.isfinite(x) else x


def describe(x):
    x = np.asarray(x.dropna(), dtype=float)
    n = len(x)
    var = x.var(ddof=1)
    std = x.std(ddof=1)
    q25, med, q75 = np.percentile(x, [25, 50, 75])
    return {
        "count": n, "sum": fnum(x.sum()), "mean": fnum(x.mean()), "variance": fnum(var), "std": fnum(std),
        "sem": fnum(stats.sem(x)), "min": fnum(x.min()), "q25": fnum(q25), "median": fnum(med), "q75": fnum(q75),
        "max": fnum(x.max()), "range": fnum(x.max() - x.min()), "iqr": fnum(q75 - q25),
        "mode": fnum(stats.mode(x, keepdims=False).mode),
        "skewness": fnum(stats.skew(x)) if var > 0 else None,
        "kurtosis": fnum(stats.kurtosis(x)) if var > 0 else None,
        "cv": fnum(std / x.mean()), "mad": fnum(stats.median_abs_deviation(x)),
    }


def ttest_fields(res, md, conf=0.95):
    ci = res.confidence_interval(conf)
    return {"t": fnum(res.statistic), "df": fnum(res.df), "p_value": fnum(res.pvalue), "mean_diff": fnum(md),
            "ci_low": fnum(ci.low), "ci_high": fnum(ci.high)}


cases = []


def case(id, table, request, expected, tol=EXACT, protocol=False):
    cases.append({"id": id, "table": table, "request": request, "expected": expected, "tol": tol,
                  "protocol": protocol})


def main():
    g = gen()
    clinic = load("clinic_patients.csv")
    lab = load("lab_results.csv")
    cancer = load("hospital_cases.csv")
    ins = load("insurer_a_members.csv")

    # describe on real data and on every edge column
    cols = ["age", "bmi", "bp"]
    case("describe clinic", "clinic_patients.csv", {"function": "describe", "columns": cols},
         {"columns": {c: describe(clinic[c]) for c in cols}}, protocol=True)
    for c in ["ties", "nulls", "const", "big", "tiny", "neg"]:
        tol = EXACT
        if c == "big":
            # the public bound (2^32) leaves room for the fourth power only after dropping 6 bits
            # of each centred value: m4 / m2^2 keeps ~3e-7, excess kurtosis = that - 3 absolutely
            tol = EXACT | {"fields": {"kurtosis": {"rel": 0.0, "abs": 4e-6}}}
        case(f"describe gen {c}", "gen.csv", {"function": "describe", "columns": [c]},
             {"columns": {c: describe(g[c])}}, tol=tol, protocol=(c == "nulls"))
    case("describe insurer", "insurer_a_members.csv", {"function": "describe", "columns": ["lncoins", "mdvis"]},
         {"columns": {c: describe(ins[c]) for c in ["lncoins", "mdvis"]}})
    case("describe over a query", "clinic_patients.csv",
         {"function": "describe", "columns": ["bmi"], "from": "SELECT bmi FROM t WHERE age > 50"},
         {"columns": {"bmi": describe(clinic[clinic.age > 50]["bmi"])}})
    # single statistics
    x = clinic["bmi"]
    d = describe(x)
    for f in ["count", "sum", "mean", "variance", "std", "sem", "min", "max", "range", "median", "iqr", "mode",
              "skewness", "kurtosis", "cv", "mad"]:
        case(f"{f} bmi", "clinic_patients.csv", {"function": f, "column": "bmi"}, {f: d[f]})
    case("fivenum bp", "clinic_patients.csv", {"function": "fivenum", "column": "bp"},
         {k: describe(clinic["bp"])[k] for k in ["min", "q25", "median", "q75", "max"]})
    qs = [0.1, 0.5, 0.9, 0.01]
    case("quantile s5", "lab_results.csv", {"function": "quantile", "column": "s5", "q": qs},
         {"quantiles": {str(q): fnum(np.quantile(lab["s5"], q)) for q in qs}})
    case("quantile nulls", "gen.csv", {"function": "quantile", "column": "nulls", "q": [0.0, 0.33, 1.0]},
         {"quantiles": {str(q): fnum(np.quantile(g["nulls"].dropna(), q)) for q in [0.0, 0.33, 1.0]}})

    # t-tests
    a = clinic["bmi"]
    r = stats.ttest_1samp(a, 26.0)
    case("ttest one-sample", "clinic_patients.csv", {"function": "ttest", "column": "bmi", "mu": 26.0},
         ttest_fields(r, a.mean() - 26.0) | {"ci_low": fnum(r.confidence_interval().low - 26.0),
                                             "ci_high": fnum(r.confidence_interval().high - 26.0)}, protocol=True)
    m, f_ = clinic[clinic.sex == "M"]["bmi"], clinic[clinic.sex == "F"]["bmi"]
    r = stats.ttest_ind(m, f_)
    case("ttest two-sample", "clinic_patients.csv",
         {"function": "ttest", "column": "bmi", "by": "sex", "groups": ["M", "F"]},
         ttest_fields(r, m.mean() - f_.mean()), protocol=True)
    r = stats.ttest_ind(m, f_, equal_var=False)
    case("ttest welch", "clinic_patients.csv",
         {"function": "ttest", "column": "bmi", "by": "sex", "groups": ["M", "F"], "welch": True},
         ttest_fields(r, m.mean() - f_.mean()))
    gx = g[g.two.notna() & g.nulls.notna()]
    xs, ys = gx[gx.two == "x"]["nulls"], gx[gx.two == "y"]["nulls"]
    r = stats.ttest_ind(xs, ys, equal_var=False)
    case("ttest welch with NULLs", "gen.csv",
         {"function": "ttest", "column": "nulls", "by": "two", "groups": ["x", "y"], "welch": True},
         ttest_fields(r, xs.mean() - ys.mean()))
    # one-sided alternatives, as scipy computes them (the interval is open on one end)
    for alt in ["less", "greater"]:
        r = stats.ttest_ind(m, f_, alternative=alt)
        fields = ttest_fields(r, m.mean() - f_.mean())
        fields.pop("ci_low" if alt == "less" else "ci_high")
        case(f"ttest two-sample {alt}", "clinic_patients.csv",
             {"function": "ttest", "column": "bmi", "by": "sex", "groups": ["M", "F"], "alternative": alt},
             fields, protocol=(alt == "less"))
    r = stats.ttest_1samp(a, 26.0, alternative="greater")
    case("ttest one-sample greater", "clinic_patients.csv",
         {"function": "ttest", "column": "bmi", "mu": 26.0, "alternative": "greater"},
         {"t": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    r = stats.ttest_rel(lab["s1"], lab["s2"])
    case("ttest paired", "lab_results.csv", {"function": "ttest", "paired": True, "columns": ["s1", "s2"]},
         ttest_fields(r, (lab["s1"] - lab["s2"]).mean()))

    # variances and ANOVA
    va, vb = m.var(ddof=1), f_.var(ddof=1)
    fv = va / vb
    d1, d2 = len(m) - 1, len(f_) - 1
    case("vartest", "clinic_patients.csv", {"function": "vartest", "column": "bmi", "by": "sex", "groups": ["M", "F"]},
         {"f": fv, "df1": d1, "df2": d2,
          "p_value": fnum(min(1.0, 2 * min(stats.f.cdf(fv, d1, d2), stats.f.sf(fv, d1, d2))))})
    levels = ["a", "b", "c"]
    r = stats.f_oneway(*[g[g.grp == l]["neg"] for l in levels])
    case("anova", "gen.csv", {"function": "anova", "column": "neg", "by": "grp", "groups": levels},
         {"f": fnum(r.statistic), "df_between": 2, "df_within": len(g) - 3, "p_value": fnum(r.pvalue)},
         protocol=True)
    ages = ["M", "F"]
    r = stats.f_oneway(*[clinic[clinic.sex == l]["bp"] for l in ages])
    case("anova two groups", "clinic_patients.csv", {"function": "anova", "column": "bp", "by": "sex", "groups": ages},
         {"f": fnum(r.statistic), "df_between": 1, "df_within": len(clinic) - 2, "p_value": fnum(r.pvalue)})

    # covariance and correlation
    cc = ["s1", "s2", "s3", "s5"]
    cov = lab[cc].cov()
    case("cov lab", "lab_results.csv", {"function": "cov", "columns": cc},
         {"matrix": {a: {b: fnum(cov.loc[a, b]) for b in cc} for a in cc}, "n": len(lab)}, protocol=True)
    corr = lab[cc].corr()
    case("corr lab", "lab_results.csv", {"function": "corr", "columns": cc},
         {"matrix": {a: {b: fnum(corr.loc[a, b]) for b in cc} for a in cc}, "n": len(lab)})
    r = stats.pearsonr(cancer["mean radius"], cancer["mean texture"])
    case("corr two", "hospital_cases.csv", {"function": "corr", "columns": ["mean radius", "mean texture"]},
         {"r": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": len(cancer)})
    gg = g[g.nulls.notna()]
    r = stats.pearsonr(gg["nulls"], gg["big"])
    case("corr with NULLs and big values", "gen.csv", {"function": "corr", "columns": ["nulls", "big"]},
         {"r": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": len(gg)})

    # OLS
    def ols(df, y, xs, id, protocol=False):
        d = df[[y] + xs].dropna()
        res = sm.OLS(d[y], sm.add_constant(d[xs])).fit()
        names = ["const"] + xs
        case(id, None, {"function": "ols", "y": y, "x": xs}, {
            "coefficients": {k: fnum(res.params[k]) for k in names},
            "std_errors": {k: fnum(res.bse[k]) for k in names},
            "t_values": {k: fnum(res.tvalues[k]) for k in names},
            "p_values": {k: fnum(res.pvalues[k]) for k in names},
            "conf_int": {k: [fnum(res.conf_int().loc[k, 0]), fnum(res.conf_int().loc[k, 1])] for k in names},
            "r_squared": fnum(res.rsquared), "adj_r_squared": fnum(res.rsquared_adj), "f": fnum(res.fvalue),
            "n": len(d)}, protocol=protocol)
    ols(lab, "progression", ["s1", "s2", "s3", "s4", "s5", "s6"], "ols lab (collinear s1, s2)", protocol=True)
    ols(g, "y", ["neg", "ties"], "ols gen")
    ols(ins, "lncoins", ["mdvis", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"], "ols insurer")
    ols(cancer, "mean area", ["mean radius", "mean texture", "mean smoothness"], "ols cancer")
    more(g, clinic, lab, cancer, ins)
    magnitude_cases(magnitudes())
    for c in cases:
        if c["table"] is None:
            c["table"] = {"ols lab (collinear s1, s2)": "lab_results.csv", "ols gen": "gen.csv",
                          "ols insurer": "insurer_a_members.csv", "ols cancer": "hospital_cases.csv"}[c["id"]]
        c["request"].setdefault("from", "t")

    out = {"generated_by": "crates/client/tests/stats/expected.py",
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__,
                        "statsmodels": statsmodels.__version__},
           "cases": cases}
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"{len(cases)} cases")


def more(g, clinic, lab, cancer, ins):
    screening = load("screening_results.csv")
    # counting functions (SQL GROUP BY): exact
    def freq(df, c):
        vc = df[c].dropna().value_counts()
        labels = sorted(vc.index, key=lambda v: (isinstance(v, str), v))
        lab_ = [str(v) for v in labels]
        n = int(vc.sum())
        return {"freq": {l: int(vc[v]) for l, v in zip(lab_, labels)},
                "proportions": {l: vc[v] / n for l, v in zip(lab_, labels)}, "levels": lab_, "n": n}
    case("freq sex", "clinic_patients.csv", {"function": "freq", "column": "sex"}, freq(clinic, "sex"), protocol=True)
    case("freq ties", "gen.csv", {"function": "freq", "column": "ties"}, freq(g, "ties"))
    case("freq with NULLs", "gen.csv", {"function": "freq", "column": "two"}, freq(g, "two"))
    ct = pd.crosstab(g["grp"], g["two"])
    case("crosstab", "gen.csv", {"function": "crosstab", "row": "grp", "col": "two"},
         {"table": {r: {c: int(ct.loc[r, c]) for c in ct.columns} for r in ct.index},
          "row_totals": {r: int(ct.loc[r].sum()) for r in ct.index},
          "col_totals": {c: int(ct[c].sum()) for c in ct.columns}, "n": int(ct.values.sum())}, protocol=True)
    for df, file, c, b in [(clinic, "clinic_patients.csv", "bmi", 10), (g, "gen.csv", "ties", 4),
                           (g, "gen.csv", "neg", 7), (g, "gen.csv", "const", 3), (lab, "lab_results.csv", "s5", 13)]:
        counts, edges = np.histogram(df[c].dropna(), bins=b)
        case(f"histogram {c}", file, {"function": "histogram", "column": c, "bins": b},
             {"counts": [int(x) for x in counts], "edges": [float(x) for x in edges]}, protocol=(c == "bmi"))

    # chi-square tests
    gg = g[g.two.notna()]
    ct = pd.crosstab(gg["grp"], gg["two"])
    r = stats.chi2_contingency(ct.values, correction=False)
    case("chisq independence", "gen.csv", {"function": "chisq", "row": "grp", "col": "two",
                                           "groups": ["a", "b", "c"], "col_groups": ["x", "y"]},
         {"chi2": fnum(r.statistic), "df": int(r.dof), "p_value": fnum(r.pvalue), "n": len(gg),
          "expected": {a: {b: fnum(r.expected_freq[i][j]) for j, b in enumerate(["x", "y"])}
                       for i, a in enumerate(["a", "b", "c"])},
          "row_totals": {a: int(ct.values[i].sum()) for i, a in enumerate(["a", "b", "c"])}}, protocol=True)
    ct = pd.crosstab(g["ties"], g["ties2"])
    r = stats.chi2_contingency(ct.values, correction=False)
    lv = [str(v) for v in range(6)]
    case("chisq independence 6x6", "gen.csv", {"function": "chisq", "row": "ties", "col": "ties2",
                                               "groups": lv, "col_groups": lv},
         {"chi2": fnum(r.statistic), "df": int(r.dof), "p_value": fnum(r.pvalue), "n": len(g)})
    obs = g["grp"].value_counts().sort_index().values
    r = stats.chisquare(obs)
    case("chisq goodness of fit", "gen.csv", {"function": "chisq", "column": "grp", "groups": ["a", "b", "c"]},
         {"chi2": fnum(r.statistic), "df": 2, "p_value": fnum(r.pvalue), "n": int(obs.sum()),
          "expected": {l: fnum(obs.sum() / 3) for l in ["a", "b", "c"]}})
    p = np.array([0.1, 0.2, 0.2, 0.2, 0.2, 0.1])
    obs = g["ties"].value_counts().sort_index().values
    r = stats.chisquare(obs, p * obs.sum())
    case("chisq goodness of fit, expected", "gen.csv",
         {"function": "chisq", "column": "ties", "groups": lv, "expected": list(p)},
         {"chi2": fnum(r.statistic), "df": 5, "p_value": fnum(r.pvalue), "n": int(obs.sum()),
          "expected": {l: fnum(p[i] * obs.sum()) for i, l in enumerate(lv)}})

    # rank statistics
    cc = ["s1", "s2", "s3"]
    sp = lab[cc].corr(method="spearman")
    case("spearman lab", "lab_results.csv", {"function": "spearman", "columns": cc},
         {"matrix": {a: {b: fnum(sp.loc[a, b]) for b in cc} for a in cc}, "n": len(lab)}, protocol=True)
    r = stats.spearmanr(clinic["age"], clinic["bmi"])
    case("spearman with ties", "clinic_patients.csv", {"function": "corr", "method": "spearman", "columns": ["age", "bmi"]},
         {"r": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": len(clinic)})
    d = g[["ties", "nulls"]].dropna()
    r = stats.spearmanr(d["ties"], d["nulls"])
    case("spearman heavy ties and NULLs", "gen.csv", {"function": "spearman", "columns": ["ties", "nulls"]},
         {"r": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": len(d)})
    m, f_ = clinic[clinic.sex == "M"]["bmi"], clinic[clinic.sex == "F"]["bmi"]
    r = stats.mannwhitneyu(m, f_, method="asymptotic")
    case("mannwhitney", "clinic_patients.csv", {"function": "mannwhitney", "column": "bmi", "by": "sex", "groups": ["M", "F"]},
         {"u": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": [len(m), len(f_)]}, protocol=True)
    for alt in ["less", "greater"]:
        r = stats.mannwhitneyu(m, f_, method="asymptotic", alternative=alt)
        case(f"mannwhitney {alt}", "clinic_patients.csv",
             {"function": "mannwhitney", "column": "bmi", "by": "sex", "groups": ["M", "F"], "alternative": alt},
             {"u": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    xs, ys = g[g.two == "x"]["ties"], g[g.two == "y"]["ties"]
    r = stats.mannwhitneyu(xs, ys, method="asymptotic")
    case("mannwhitney heavy ties", "gen.csv", {"function": "mannwhitney", "column": "ties", "by": "two", "groups": ["x", "y"]},
         {"u": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": [len(xs), len(ys)]})
    levels = ["a", "b", "c"]
    for c in ["neg", "ties"]:
        r = stats.kruskal(*[g[g.grp == l][c] for l in levels])
        case(f"kruskal {c}", "gen.csv", {"function": "kruskal", "column": c, "by": "grp", "groups": levels},
             {"h": fnum(r.statistic), "df": 2, "p_value": fnum(r.pvalue)}, protocol=(c == "ties"))
    r = stats.wilcoxon(lab["s1"], lab["s2"] + 60, method="approx")
    case("wilcoxon lab", "lab_results.csv", {"function": "wilcoxon", "columns": ["s1", "s2"],
                                             "from": "SELECT s1, s2 + 60 AS s2 FROM t"},
         {"statistic": fnum(r.statistic), "p_value": fnum(r.pvalue),
          "n": int((lab["s1"] != lab["s2"] + 60).sum())}, protocol=True)
    for alt in ["less", "greater"]:
        r = stats.wilcoxon(lab["s1"], lab["s2"] + 60, method="approx", alternative=alt)
        case(f"wilcoxon lab {alt}", "lab_results.csv", {"function": "wilcoxon", "columns": ["s1", "s2"],
                                                        "from": "SELECT s1, s2 + 60 AS s2 FROM t", "alternative": alt},
             {"statistic": fnum(r.statistic), "p_value": fnum(r.pvalue)})
    dz = g["ties"] - g["ties2"]
    r = stats.wilcoxon(g["ties"], g["ties2"], method="approx")
    case("wilcoxon zeros and ties", "gen.csv", {"function": "wilcoxon", "columns": ["ties", "ties2"]},
         {"statistic": fnum(r.statistic), "p_value": fnum(r.pvalue), "n": int((dz != 0).sum()),
          "zeros": int((dz == 0).sum())})

    # more tests and means
    from statsmodels.stats.weightstats import ztest
    z, pv = ztest(clinic["bmi"], value=26.0)
    case("ztest one-sample", "clinic_patients.csv", {"function": "ztest", "column": "bmi", "mu": 26.0},
         {"z": fnum(z), "p_value": fnum(pv), "n": len(clinic)})
    for alt, sm_alt in [("less", "smaller"), ("greater", "larger")]:
        z, pv = ztest(m, f_, alternative=sm_alt)
        case(f"ztest two-sample {alt}", "clinic_patients.csv",
             {"function": "ztest", "column": "bmi", "by": "sex", "groups": ["M", "F"], "alternative": alt},
             {"z": fnum(z), "p_value": fnum(pv)})
    z, pv = ztest(m, f_)
    case("ztest two-sample", "clinic_patients.csv", {"function": "ztest", "column": "bmi", "by": "sex", "groups": ["M", "F"]},
         {"z": fnum(z), "p_value": fnum(pv)})
    r = stats.linregress(lab["s5"], lab["progression"])
    case("linregress", "lab_results.csv", {"function": "linregress", "y": "progression", "x": ["s5"]},
         {"slope": fnum(r.slope), "intercept": fnum(r.intercept), "rvalue": fnum(r.rvalue), "pvalue": fnum(r.pvalue),
          "stderr": fnum(r.stderr), "intercept_stderr": fnum(r.intercept_stderr)})
    case("wmean", "clinic_patients.csv", {"function": "wmean", "column": "bmi", "weights": "age"},
         {"wmean": fnum(np.average(clinic["bmi"], weights=clinic["age"])), "n": len(clinic)}, protocol=True)
    d = g[["nulls", "w"]].dropna()
    case("wmean with NULLs", "gen.csv", {"function": "wmean", "column": "nulls", "weights": "w"},
         {"wmean": fnum(np.average(d["nulls"], weights=d["w"])), "n": len(d)})
    for df, file, c in [(clinic, "clinic_patients.csv", "bmi"), (g, "gen.csv", "pos"), (lab, "lab_results.csv", "s5")]:
        x = df[c].dropna()
        case(f"gmean {c}", file, {"function": "gmean", "column": c}, {"gmean": fnum(stats.gmean(x)), "count": len(x)},
             protocol=(c == "pos"))
        case(f"hmean {c}", file, {"function": "hmean", "column": c}, {"hmean": fnum(stats.hmean(x)), "count": len(x)},
             protocol=(c == "pos"))
    case("trim_mean bmi", "clinic_patients.csv", {"function": "trim_mean", "column": "bmi"},
         {"trim_mean": fnum(stats.trim_mean(clinic["bmi"], 0.1))}, protocol=True)
    case("trim_mean nulls 0.25", "gen.csv", {"function": "trim_mean", "column": "nulls", "trim": 0.25},
         {"trim_mean": fnum(stats.trim_mean(g["nulls"].dropna(), 0.25))})
    for df, file, c in [(clinic, "clinic_patients.csv", "bmi"), (g, "gen.csv", "ties"), (g, "gen.csv", "nulls")]:
        case(f"nunique {c}", file, {"function": "nunique", "column": c}, {"nunique": int(df[c].nunique())})

    # logistic regression (Newton): 1e-4
    def logit(df, file, y, xs, id, protocol=False):
        dd = df[[y] + xs].dropna()
        res = sm.Logit(dd[y], sm.add_constant(dd[xs])).fit(disp=0, tol=1e-12, maxiter=100)
        names = ["const"] + xs
        case(id, file, {"function": "logit", "y": y, "x": xs}, {
            "coefficients": {k: fnum(res.params[k]) for k in names},
            "std_errors": {k: fnum(res.bse[k]) for k in names},
            "z_values": {k: fnum(res.tvalues[k]) for k in names},
            "p_values": {k: fnum(res.pvalues[k]) for k in names},
            "conf_int": {k: [fnum(res.conf_int().loc[k, 0]), fnum(res.conf_int().loc[k, 1])] for k in names},
            "log_likelihood": fnum(res.llf), "n": len(dd)}, tol=ITER, protocol=protocol)
    logit(screening, "screening_results.csv", "target", ["worst texture", "worst smoothness", "symmetry error"],
          "logit screening", protocol=True)
    logit(ins, "insurer_a_members.csv", "idp", ["lncoins", "mdvis", "physlm", "disea", "hlthg"], "logit insurer")
    logit(g, "gen.csv", "flag", ["neg", "ties"], "logit gen")

    # principal components: 1e-4
    def pca(df, file, cols, standardize, id):
        d = df[cols].dropna()
        m = d.corr().values if standardize else d.cov().values
        vals, vecs = np.linalg.eigh(m)
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order].T
        comps = []
        for v in vecs:
            k = np.argmax(np.abs(v))
            comps.append([float(x) for x in (v if v[k] > 0 else -v)])
        case(id, file, {"function": "pca", "columns": cols, "standardize": standardize},
             {"components": comps, "explained_variance": [float(x) for x in vals],
              "explained_variance_ratio": [float(x / vals.sum()) for x in vals], "n": len(d)}, tol=ITER)
    pca(lab, "lab_results.csv", ["s1", "s2", "s3", "s5"], False, "pca lab")
    pca(cancer, "hospital_cases.csv", ["mean radius", "mean texture", "mean smoothness", "mean area"], True,
        "pca cancer standardized")


main()
