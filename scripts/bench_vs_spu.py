#!/usr/bin/env python3
"""Runs the SecretFlow SPU peer benchmark and `mitsu bench --json` one right after the other and
prints a Markdown table of seconds and ratios for docs/benchmarks.md.

Usage (SPU set up as described at the top of ../shared/peers/spu_bench.py):
    python3 scripts/bench_vs_spu.py [--spu-python ~/.cache/spu-venv/bin/python] [--n 1000000] [--sort-n 100000]
"""
import argparse, json, os, platform, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--spu-python", default=os.path.expanduser("~/.cache/spu-venv/bin/python"))
ap.add_argument("--spu-script", default=os.path.join(os.path.dirname(__file__), "../../shared/peers/spu_bench.py"))
ap.add_argument("--mitsu", default=os.path.join(os.path.dirname(__file__), "../target/release/mitsu"))
ap.add_argument("--n", type=int, default=1_000_000)
ap.add_argument("--sort-n", type=int, default=100_000)
args = ap.parse_args()

ops = ["mul_int", "mul_fixed", "lt", "eq", "sum", "mean_var", "sort"]
spu_cmd = [args.spu_python, args.spu_script, "--n", str(args.n), "--sort-n", str(args.sort_n)]
mitsu_cmd = [args.mitsu, "bench", "--n", str(args.n), "--sort-n", str(args.sort_n), "--json"]

def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])

spu = run(spu_cmd)
mitsu = run(mitsu_cmd)
print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {platform.machine()}, "
      f"{os.cpu_count()} cores, {platform.processor() or 'unknown CPU'}")
print(f"\nSPU: `{' '.join(['python', 'shared/peers/spu_bench.py'] + spu_cmd[2:])}`  ")
print(f"mitsu: `mitsu {' '.join(mitsu_cmd[1:])}`\n")
print("| op | SPU (s) | mitsu (s) | mitsu / SPU | target | met | mitsu bytes/party | rounds | ring | mitsu / plain |")
print("|---|---|---|---|---|---|---|---|---|---|")
for op in ops:
    s, m = spu[op], mitsu[op]
    target = 1 / 20 if op in ("sum", "mean_var") else 1 / 10
    c = mitsu["comm"][op]
    print(f"| {op} | {s:.4f} | {m:.4f} | {m / s:.3f} | {target:.2f} | {'yes' if m / s <= target else 'NO'} "
          f"| {c['bytes_per_party']} | {c['rounds']} | {c['ring']} | {m / mitsu['plain'][op]:.0f} |")
