#!/usr/bin/env python3
"""Writes the expected answers of the sqllogictest files next to this script, using SQLite.

    python3 crates/client/tests/sql/expected.py

For every `query` block the rows under `----` are replaced by SQLite's answer to the same SQL on
the same CSV files (empty cells are NULL). `query error` blocks are left alone. SQLite lacks a few
aggregates mitsu has; they are registered here in plain Python (sample variance and standard
deviation with ddof = 1, median, and PERCENTILE_CONT(x, q) by linear interpolation as numpy does).
"""

import csv
import decimal
import fractions
import glob
import math
import os
import sqlite3

HERE = os.path.dirname(os.path.abspath(__file__))


def number(s):
    try:
        return int(s)
    except ValueError:
        return float(s)


def load(db, name, path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    numeric = []
    for i in range(len(header)):
        ok = True
        for r in body:
            if r[i] == "":
                continue
            try:
                float(r[i])
            except ValueError:
                ok = False
                break
        numeric.append(ok)
    cols = ", ".join('"%s" %s' % (h, "NUMERIC" if n else "TEXT") for h, n in zip(header, numeric))
    db.execute('CREATE TABLE "%s" (%s)' % (name, cols))
    vals = [[None if v == "" else (number(v) if numeric[i] else v) for i, v in enumerate(r)] for r in body]
    db.executemany('INSERT INTO "%s" VALUES (%s)' % (name, ",".join("?" * len(header))), vals)


class Values:
    def __init__(self):
        self.xs = []

    def step(self, x, *rest):
        if x is not None:
            self.xs.append(float(x))
        self.rest = rest


class VarSamp(Values):
    def finalize(self):
        n = len(self.xs)
        if n < 2:
            return None
        m = sum(self.xs) / n
        return sum((x - m) ** 2 for x in self.xs) / (n - 1)


class StddevSamp(VarSamp):
    def finalize(self):
        v = VarSamp.finalize(self)
        return None if v is None else math.sqrt(v)


def percentile(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    h = q * (len(xs) - 1)
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


class CovarSamp:
    """COVAR_SAMP over the rows where both values are not NULL (exactly, in fractions)."""

    def __init__(self):
        self.xy = []

    def step(self, x, y):
        if x is not None and y is not None:
            self.xy.append((fractions.Fraction(x), fractions.Fraction(y)))

    def finalize(self):
        n = len(self.xy)
        if n < 2:
            return None
        mx = sum(x for x, _ in self.xy) / n
        my = sum(y for _, y in self.xy) / n
        return float(sum((x - mx) * (y - my) for x, y in self.xy) / (n - 1))


class Median(Values):
    def finalize(self):
        return percentile(self.xs, 0.5)


class Percentile(Values):
    def step(self, x, q):
        Values.step(self, x)
        self.q = q

    def finalize(self):
        return percentile(self.xs, self.q)


def round_half_away(x, places=0):
    """ROUND as mitsu computes it on exact decimals: half away from zero."""
    if x is None:
        return None
    q = decimal.Decimal(1).scaleb(-int(places))
    return float(decimal.Decimal(repr(x)).quantize(q, rounding=decimal.ROUND_HALF_UP))


def least(*xs):
    """LEAST as DuckDB and PostgreSQL compute it: NULLs ignored."""
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def greatest(*xs):
    xs = [x for x in xs if x is not None]
    return max(xs) if xs else None


def fmt(v):
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return repr(round(v, 9))
    return str(v)


def run(path):
    db = sqlite3.connect(":memory:")
    for name, cls, n in [
        ("var_samp", VarSamp, 1),
        ("variance", VarSamp, 1),
        ("stddev_samp", StddevSamp, 1),
        ("stddev", StddevSamp, 1),
        ("median", Median, 1),
        ("percentile_cont", Percentile, 2),
        ("covar_samp", CovarSamp, 2),
    ]:
        db.create_aggregate(name, n, cls)
    db.create_function("round", 1, round_half_away)
    db.create_function("round", 2, round_half_away)
    db.create_function("least", -1, least)
    db.create_function("greatest", -1, greatest)
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if line.startswith("table "):
            parts = line.split()
            load(db, parts[1], os.path.join(HERE, "data", parts[2]))
        elif line.startswith("query") and not line.startswith("query error"):
            sql = []
            while lines[i].strip() not in ("----", ""):
                sql.append(lines[i])
                out.append(lines[i])
                i += 1
            out.append("----")
            if lines[i].strip() == "----":
                i += 1
                while i < len(lines) and lines[i].strip() != "":
                    i += 1
            rows = db.execute("\n".join(sql)).fetchall()
            out.extend("|".join(fmt(v) for v in r) for r in rows)
    open(path, "w", encoding="utf-8").write("\n".join(out))


if __name__ == "__main__":
    for p in sorted(glob.glob(os.path.join(HERE, "*.test"))):
        run(p)
        print("wrote", os.path.relpath(p))
