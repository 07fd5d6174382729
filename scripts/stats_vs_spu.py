#!/usr/bin/env python3
"""Statistics side by side with SecretFlow SPU (ABY3, FM64, 18 fraction bits, in-process
simulator): describe of one column (mean, variance, sort-based quartiles), OLS by the normal
equations and logistic regression by Newton's method, at the sizes of `mitsu bench --stats`.
Prints a Markdown table for docs/benchmarks.md. SPU's numbers are timings only: in FM64 with 18
fraction bits its X'X of these sizes is outside the fixed-point range (mitsu checks its answers
against plain Rust; see the max err column of `mitsu bench --stats`).

Usage: python3 scripts/stats_vs_spu.py [--rows 1000000] [--logit-rows 100000]
       (SPU set up as described at the top of ../shared/peers/spu_bench.py)
"""
import argparse, json, os, platform, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--spu-python", default=os.path.expanduser("~/.cache/spu-venv/bin/python"))
ap.add_argument("--mitsu", default=os.path.join(os.path.dirname(__file__), "../target/release/mitsu"))
ap.add_argument("--rows", type=int, default=1_000_000)
ap.add_argument("--logit-rows", type=int, default=100_000)
ap.add_argument("--spu-only", action="store_true", help=argparse.SUPPRESS)
args = ap.parse_args()

if args.spu_only:
    import numpy as np
    import jax, jax.numpy as jnp
    import spu.libspu as libspu
    import spu.utils.simulation as spsim
    cfg = libspu.RuntimeConfig(protocol=libspu.ProtocolKind.ABY3, field=libspu.FieldType.FM64, fxp_fraction_bits=18)
    sim = spsim.Simulator(3, cfg)
    rng = np.random.default_rng(0)
    n, m = args.rows, args.logit_rows

    def timed(fn, *a):
        f = spsim.sim_jax(sim, fn)
        f(*a)  # compile and warm up, as the peer benchmark does
        t0 = time.perf_counter(); f(*a); return time.perf_counter() - t0

    def describe(v):
        s = jnp.sort(v)
        k = v.shape[0] - 1
        q = lambda p: s[int(k * p)] + (k * p - int(k * p)) * (s[min(int(k * p) + 1, k)] - s[int(k * p)])
        return jnp.mean(v), jnp.var(v), s[0], q(0.25), q(0.5), q(0.75), s[k]

    def ols(x, y):
        xc = jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)
        return jnp.linalg.solve(xc.T @ xc, xc.T @ y)

    def logit(x, y):
        xc = jnp.concatenate([jnp.ones((x.shape[0], 1), x.dtype), x], axis=1)
        b = jnp.zeros(xc.shape[1], x.dtype)
        for _ in range(8):
            p = jax.nn.sigmoid(xc @ b)
            h = xc.T @ (xc * (p * (1 - p))[:, None])
            b = b + jnp.linalg.solve(h, xc.T @ (y - p))
        return b

    v = rng.normal(5000, 1000, n).astype(np.float32)
    x = rng.integers(-1000, 1001, (n, 10)).astype(np.float32)
    y = (x @ np.arange(-4.5, 5.5, 1.0) + rng.normal(0, 1000, n)).astype(np.float32)
    xl = rng.integers(-100, 101, (m, 5)).astype(np.float32)
    yl = (rng.random(m) < 0.5).astype(np.float32)
    print(json.dumps({"describe": timed(describe, v), "ols": timed(ols, x, y), "logit": timed(logit, xl, yl)}))
    sys.exit(0)

spu_cmd = [args.spu_python, __file__, "--spu-only", "--rows", str(args.rows), "--logit-rows", str(args.logit_rows)]
mitsu_cmd = [args.mitsu, "bench", "--stats", "--rows", str(args.rows), "--logit-rows", str(args.logit_rows), "--repeat", "1", "--json"]
run = lambda cmd: json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
spu = run(spu_cmd)
mitsu = run(mitsu_cmd)
print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {platform.machine()}, {os.cpu_count()} cores")
print(f"\nSPU: `python scripts/stats_vs_spu.py --rows {args.rows} --logit-rows {args.logit_rows}` (SPU part)  ")
print(f"mitsu: `mitsu {' '.join(mitsu_cmd[1:])}`\n")
print("| function | rows | SPU (s) | mitsu (s) | mitsu / SPU | target (s) | met | mitsu max rel. error vs plain |")
print("|---|---|---|---|---|---|---|---|")
for f in ["describe", "ols", "logit"]:
    m = mitsu[f]
    print(f"| {f} | {m['rows']} | {spu[f]:.2f} | {m['seconds']:.2f} | {m['seconds'] / spu[f]:.2f} | {m['target_seconds']:.1f} "
          f"| {'yes' if m['seconds'] <= m['target_seconds'] else 'NO'} | {m['max_rel_error']:.1e} |")
