#!/usr/bin/env python3
"""Fits the polynomial kernels used by mitsu's fixed-point functions (crates/mpc-ops/src/func.rs).

Each kernel is a Chebyshev interpolant on [-1, 1] in a shifted variable s, converted to monomial
coefficients for Horner evaluation. Prints Rust constants and the maximum absolute error on a dense
grid. Needs numpy. Regenerate with:  python3 scripts/fit_polynomials.py
"""
import numpy as np
from numpy.polynomial import chebyshev as C

def fit(name, f, lo, hi, deg):
    # s = (2x - (lo+hi)) / (hi - lo)
    nodes = np.cos(np.pi * (np.arange(deg + 1) + 0.5) / (deg + 1))
    xs = (nodes * (hi - lo) + (lo + hi)) / 2
    cheb = C.chebfit(nodes, f(xs), deg)
    mono = C.cheb2poly(cheb)
    grid = np.linspace(-1, 1, 200001)
    err = np.max(np.abs(np.polynomial.polynomial.polyval(grid, mono) - f((grid * (hi - lo) + (lo + hi)) / 2)))
    print(f"// {name} on [{lo}, {hi}] with s = (2x - {lo + hi}) / {hi - lo}; degree {deg}; max error {err:.2e}")
    print(f"pub(crate) const {name}: [f64; {deg + 1}] = [")
    for c in mono:
        print(f"    {c!r},")
    print("];")
    print(f"// sum |c_i| = {np.sum(np.abs(mono)):.3f}")

fit("LN_POLY", np.log, 0.5, 1.0, 14)
fit("EXP2_POLY", np.exp2, -1.0, 1.0, 13)
