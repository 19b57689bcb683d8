"""Local executor against Ray on the same multi-window walk-forward workload, on this machine.

What is compared (the numbers are only meaningful with this stated):
- local, 1 thread: :class:`signals.execution.local.LocalExecutor` with 1 torch and 1 BLAS thread, the
  windows one after the other;
- ray, N x 1 thread: :class:`signals.execution.ray_executor.RayExecutor` on a local Ray started with N CPUs
  (default: the cores of this machine), each window one task with 1 torch and 1 BLAS thread. The
  Ray start (``ray.init``) is timed apart; worker start-up and the object-store transfer are
  inside the "cold" Ray time, as a user of ``--executor ray`` pays them on every run; a second
  ("warm") Ray run in the same session reuses the workers, as a sweep or a long study does;
- local, default threads (all cores for one window at a time), as a second reference: what a plain
  ``python -m backtests.run`` does.
The ratio is local 1-thread time / Ray time. The predictions of both 1-thread runs are checked to
be identical bit for bit. Overhead per task is reported two ways: the round trip of an empty task on
warm workers, and (Ray time x workers - compute seconds measured inside the tasks) / tasks, which
also counts worker start-up, transfers and idle time at the end.

    python bench/bench_ray.py                     # ~2 minutes on 2 cores
    python bench/bench_ray.py --n-symbols 30 --epochs 1 --skip-default-threads   # a quick look
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-symbols", type=int, default=100, help="the N most often tradable members")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--test-days", type=int, default=60, help="test days per window (60: 12 windows)")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--repeat", type=int, default=2,
                    help="runs of local 1-thread and of warm Ray; the fastest counts (the machine may be shared)")
    ap.add_argument("--skip-default-threads", action="store_true", help="skip the local run with default threads")
    return ap


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import pandas as pd
import torch

import data_store
import signals
from signals.execution.local import LocalExecutor
from signals.execution.ray_executor import RayExecutor, import_ray


def workload(n_symbols: int, hidden: int, epochs: int, test_days: int) -> tuple[data_store.MarketData, dict]:
    md = data_store.load(use_cache=False).slice("2019-01-01", "2024-12-31")
    test_start = pd.Timestamp("2022-01-01")
    tradable = md.tradable_mask()
    syms = sorted(tradable.loc[test_start:].sum().nlargest(n_symbols).index)
    kw = dict(
        features=signals.FeatureConfig(lookback=20),
        labels=signals.LabelConfig(),
        splitter=signals.WalkForwardSplit(train_days=242, val_days=40, test_days=test_days,
                                          test_start="2022-01-01"),
        estimator=signals.LSTMClassifier(hidden_size=hidden, max_epochs=epochs, patience=epochs, batch_size=512,
                                         seed=0),
        model_name="lstm",
    )
    return md.slice(symbols=syms), kw


def compute_seconds(res: signals.WalkForwardResult) -> float:
    """Seconds spent inside the window tasks: features once per window + every model's fit."""
    wm = res.window_metrics
    return float(wm.groupby("window")["feature_seconds"].first().sum() + wm["fit_seconds"].sum())


def main() -> int:
    args = build_parser().parse_args()
    logging.basicConfig(level=logging.WARNING)
    ray = import_ray()
    load0 = os.getloadavg()[0]

    md, kw = workload(args.n_symbols, args.hidden, args.epochs, args.test_days)
    prepared = signals.prepare(md, kw["features"], kw["labels"])  # shared by all runs: not timed
    n_win = len(list(kw["splitter"].split(prepared.calendar, kw["labels"].horizon)))
    print(f"workload: {n_win} windows, {len(md.symbols)} symbols, LSTM hidden {args.hidden}, {args.epochs} epochs "
          f"(+ logistic, always-up, yesterday baselines); {os.cpu_count()} cores, torch {torch.__version__}, "
          f"ray {ray.__version__}")

    t_local1 = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        r = signals.run_walk_forward(md, **kw, executor=LocalExecutor(threads=1), prepared=prepared, progress=False)
        if time.perf_counter() - t0 < t_local1:
            t_local1, local1 = time.perf_counter() - t0, r
    print(f"local, 1 thread, sequential      {t_local1:7.1f} s   (fastest of {max(1, args.repeat)})")

    t_local_def = None
    if not args.skip_default_threads:
        t0 = time.perf_counter()
        signals.run_walk_forward(md, **kw, executor=LocalExecutor(), prepared=prepared, progress=False)
        t_local_def = time.perf_counter() - t0
        print(f"local, default threads ({torch.get_num_threads()})      {t_local_def:7.1f} s")

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        rres = signals.run_walk_forward(md, **kw, executor=RayExecutor(threads=1), prepared=prepared, progress=False)
        t_ray = time.perf_counter() - t0
        print(f"ray, {args.workers} workers x 1 thread, cold {t_ray:7.1f} s   (+ {t_init:.1f} s ray.init; "
              "fresh workers import torch on their first task)")
        t_warm = float("inf")
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            r = signals.run_walk_forward(md, **kw, executor=RayExecutor(threads=1), prepared=prepared, progress=False)
            if time.perf_counter() - t0 < t_warm:
                t_warm, rwarm = time.perf_counter() - t0, r
        print(f"ray, {args.workers} workers x 1 thread, warm {t_warm:7.1f} s   (same Ray session, workers reused; "
              f"fastest of {max(1, args.repeat)})")

        # round trip of an empty task on warm workers
        noop = ray.remote(num_cpus=1)(lambda: None)
        ray.get([noop.remote() for _ in range(args.workers)])
        n = 50
        t0 = time.perf_counter()
        for _ in range(n):
            ray.get(noop.remote())
        rt = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        ref = ray.put(prepared)
        t_put = time.perf_counter() - t0
        del ref
    finally:
        ray.shutdown()

    same = local1.predictions.equals(rres.predictions)
    busy = compute_seconds(rres)
    over = (t_ray * args.workers - busy) / n_win
    over_warm = (t_warm * args.workers - compute_seconds(rwarm)) / n_win
    print()
    print(f"speed-up, local 1 thread / ray {args.workers}x1 thread: warm {t_local1 / t_warm:.2f}x, cold "
          f"{t_local1 / t_ray:.2f}x, cold including ray.init {t_local1 / (t_ray + t_init):.2f}x "
          f"(ideal {min(args.workers, n_win):.0f}x)")
    if t_local_def is not None:
        print(f"speed-up, local default threads / ray:         warm {t_local_def / t_warm:.2f}x, cold "
              f"{t_local_def / t_ray:.2f}x")
    print(f"overhead per task: empty-task round trip {1e3 * rt:.1f} ms; prepared arrays into the object store "
          f"{1e3 * t_put:.0f} ms ({prepared.panel.day.nbytes / 1e6:.0f} MB, once per run); "
          f"(ray time x workers - compute in tasks) / tasks = {over_warm:.2f} s warm, {over:.2f} s cold "
          f"(compute in tasks {busy:.1f} s cold; local 1-thread compute {compute_seconds(local1):.1f} s)")
    print(f"compute inside the warm Ray tasks / local 1-thread compute: "
          f"{compute_seconds(rwarm) / compute_seconds(local1):.2f} (1.00 = no contention between the workers)")
    print(f"load average (1 min) before / after: {load0:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(other processes on a shared machine slow the parallel run most)")
    print(f"predictions identical (local 1 thread vs ray): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
