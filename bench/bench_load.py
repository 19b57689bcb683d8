"""Benchmark: load the whole embedded snapshot into the canonical in-memory form.

    python bench/bench_load.py [--repeat 3]

Prints, for ``data_store.load(use_cache=False)`` (read + canonical schema + validation +
anomaly report) and for a bare reference measured in the same run (``pyarrow.parquet.read_table
(bars.parquet).to_pandas()``, no schema work at all):

- wall time (best of ``--repeat`` runs, each in a fresh subprocess so the OS page cache is warm
  but no Python state is reused), rows/s, and the ratio load / reference;
- peak memory: ``ru_maxrss`` of that subprocess (whole process, after ``import``s) and the
  Python-heap peak traced by ``tracemalloc`` in one extra run (tracing slows the run, so its time
  is not reported).

Targets (docs/benchmarks.md): <= 2 s and <= 1 GB. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 2.0
TARGET_BYTES = 1 << 30
ROOT = Path(__file__).resolve().parents[1]


def _child(kind: str, trace: bool) -> None:
    """Run one measurement in this (fresh) process and print one JSON line."""
    import tracemalloc

    import pyarrow.parquet as pq

    import data_store
    from data_store.snapshot import snapshot_dir

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    if kind == "load":
        md = data_store.load(use_cache=False)
        rows = len(md.bars)
    else:
        df = pq.read_table(str(snapshot_dir() / "bars.parquet")).to_pandas()
        rows = len(df)
    wall = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"kind": kind, "wall": wall, "rows": rows, "maxrss": peak,
                      "rss_after_imports": rss_before, "traced_peak": traced}))


def _run(kind: str, trace: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", kind] + (["--trace"] if trace else [])
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best is reported)")
    ap.add_argument("--child", choices=["load", "reference"], help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.trace)
        return 0

    results: dict[str, list[dict]] = {"load": [], "reference": []}
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        for kind in results:
            results[kind].append(_run(kind))
    traced = _run("load", trace=True)
    best = {k: min(v, key=lambda r: r["wall"]) for k, v in results.items()}
    load, ref = best["load"], best["reference"]
    peak_rss = max(r["maxrss"] for r in results["load"])

    print("Load the embedded snapshot into canonical MarketData (data_store.load(use_cache=False))")
    print(f"  python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), best of {args.repeat} fresh processes")
    print(f"  {'':<34}{'wall s':>8}{'rows/s':>14}{'peak RSS':>12}")
    for label, r in (("data_store.load (canonical+valid.)", load),
                     ("reference: read_table().to_pandas", ref)):
        print(f"  {label:<34}{r['wall']:>8.3f}{r['rows'] / r['wall']:>14,.0f}{_mib(r['maxrss']):>12}")
    runs = ", ".join(f"{r['wall']:.3f}" for r in results["load"])
    print(f"  all load runs (s): {runs}")
    print(f"  ratio load / reference wall time: {load['wall'] / ref['wall']:.2f}x")
    print(f"  peak memory of load: ru_maxrss {_mib(peak_rss)} (process, incl. "
          f"{_mib(load['rss_after_imports'])} after imports); tracemalloc Python-heap peak "
          f"{_mib(traced['traced_peak'])}")
    ok_time = load["wall"] <= TARGET_SECONDS
    ok_mem = peak_rss <= TARGET_BYTES
    print(f"  targets: wall <= {TARGET_SECONDS:g} s {'OK' if ok_time else 'MISSED'}; "
          f"peak <= 1 GiB {'OK' if ok_mem else 'MISSED'}")
    return 0 if ok_time and ok_mem else 1


if __name__ == "__main__":
    sys.exit(main())
