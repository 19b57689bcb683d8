"""Training-loop throughput of ``signals`` against a bare PyTorch loop, and one full-universe window.

1. Builds the real training tensors of the first window of a preset (default ``quick``: the whole
   point-in-time CSI-300, train 2019-09..2021-09, every training sample, lookback 10 over the raw
   channels and the 157 factors, the day's rank as target) once.
2. Trains the SAME network (``signals.models.networks.RecurrentNet``, same seed, same tensors, same thread
   count, the preset's loss: MSE on the standardised target, or BCE) with ``LSTMClassifier.fit``
   and with a bare loop (randperm, forward, loss, backward, Adam), alternating, and prints
   samples/s of each and the ratio (target >= 0.9). The library's figure counts its training
   epochs (with gradient clipping and the loss bookkeeping); the per-epoch validation pass that
   early stopping needs (the daily rank IC for the quick preset) is reported beside it. Both loops
   run under the same allocator setting (``signals.execution.runtime.keep_freed_heap``).
3. Runs the preset's first walk-forward window (features, scaler, LSTM and baselines, predictions,
   metrics) and prints its wall time and the process's peak memory.

    python bench/bench_training.py                      # the quick preset, 3 epochs
    python bench/bench_training.py --preset research --epochs 2
"""

from __future__ import annotations

import argparse
import resource
import time


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="alternating runs of each loop; the best counts")
    ap.add_argument("--threads", type=int, default=0, help="0 = signals' default (1)")
    ap.add_argument("--skip-window", action="store_true", help="only the loop comparison")
    return ap


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np
import torch
from torch import nn

import data_store
import signals
from backtests.config import load_config
from signals.execution.runtime import default_threads, keep_freed_heap
from signals.models.networks import RecurrentNet

TARGET = 0.9


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_loop(X: torch.Tensor, y: torch.Tensor, hidden: int, batch: int, epochs: int, seed: int,
              objective: str) -> float:
    """The plainest correct loop: returns seconds for ``epochs`` epochs."""
    torch.manual_seed(seed)
    net = RecurrentNet("lstm", X.shape[2], hidden, 1, 0.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn: nn.Module = nn.BCEWithLogitsLoss() if objective == "bce" else nn.MSELoss()
    g = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    t0 = time.perf_counter()
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            idx = perm[i: i + batch]
            opt.zero_grad()
            loss = loss_fn(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def main() -> int:
    args = build_parser().parse_args()
    cfg = load_config(args.preset)
    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    keep_freed_heap()
    mc = cfg.model
    if mc.objective == "ic":
        raise SystemExit("bench_training compares per-sample losses (bce, mse); the ic objective batches whole days")

    t0 = time.perf_counter()
    md = data_store.load(use_cache=False).slice(cfg.universe.start, cfg.universe.end)
    feats, labels, split = cfg.features, cfg.labels, cfg.walk_forward
    prep = signals.prepare(md, feats, labels)
    w = next(split.split(prep.calendar, labels))
    rows = split.rows(w, prep.eligible, prep.fit_known())
    sc = signals.SequenceScaler().fit(prep.panel.samples(*rows.train))
    X = sc.transform(prep.panel.samples(*rows.train))
    y = prep.labels.target[rows.train].astype(np.float32)
    Xv = sc.transform(prep.panel.samples(*rows.val))
    yv = prep.labels.target[rows.val].astype(np.float32)
    ys = (y - y.mean()) / (y.std() or 1.0) if mc.objective == "mse" else y  # what the library trains on
    print(f"{args.preset} preset, window 0: train {X.shape}, val {Xv.shape}, float32, objective {mc.objective}, "
          f"early stop on {mc.early_stop}; built in {time.perf_counter() - t0:.1f} s (incl. loading the snapshot); "
          f"CPU threads {threads}; torch {torch.__version__}")
    tX, ty = torch.from_numpy(X), torch.from_numpy(ys.astype(np.float32))
    n, E = len(X), args.epochs
    fit_kw = {"groups": rows.train[0], "eval_groups": rows.val[0], "eval_returns": prep.labels.target_ret[rows.val]}

    bare, lib, lib_val = [], [], []
    for r in range(args.repeats):
        bare.append(n * E / bare_loop(tX, ty, mc.hidden_size, mc.batch_size, E, seed=0, objective=mc.objective))
        est = signals.LSTMClassifier(hidden_size=mc.hidden_size, batch_size=mc.batch_size, max_epochs=E, patience=E,
                                     seed=0, num_threads=threads, device="cpu", objective=mc.objective,
                                     early_stop=mc.early_stop)
        est.fit(X, y, eval_set=(Xv, yv), **fit_kw)
        train_s = sum(h["train_seconds"] for h in est.history_)
        val_s = sum(h["val_seconds"] for h in est.history_)
        lib.append(n * E / train_s)
        lib_val.append(n * E / (train_s + val_s))
        print(f"  run {r + 1}: bare {bare[-1]:,.0f} samples/s | signals {lib[-1]:,.0f} samples/s "
              f"(with validation passes {lib_val[-1]:,.0f})", flush=True)
    ratio = max(lib) / max(bare)
    print(f"\ntraining loop: signals {max(lib):,.0f} samples/s vs bare PyTorch {max(bare):,.0f} samples/s "
          f"-> ratio {ratio:.3f} (target >= {TARGET}: {'met' if ratio >= TARGET else 'MISSED'})")
    print(f"including the per-epoch validation pass ({len(Xv):,} rows): {max(lib_val):,.0f} samples/s, "
          f"ratio {max(lib_val) / max(bare):.3f}")

    if args.skip_window:
        return 0
    del tX, ty, X, Xv
    rss0 = rss_mb()
    t1 = time.perf_counter()
    res = signals.run_walk_forward(md, features=feats, labels=labels, splitter=split, estimator=signals.build_model(mc),
                                   model_name=mc.kind, baselines=mc.baselines, only_windows=[0], progress=False,
                                   prepared=prep)
    wall = time.perf_counter() - t1
    m = res.window_metrics.set_index("model")
    print(f"\none full-universe window ({w}):\n  {int(m.loc[mc.kind, 'train_samples']):,} train / "
          f"{int(m.loc[mc.kind, 'val_samples']):,} val / {int(m.loc[mc.kind, 'test_samples']):,} test samples, "
          f"{mc.kind} {m.loc[mc.kind, 'epochs']:.0f} epochs (best {m.loc[mc.kind, 'best_epoch']:.0f})")
    print(f"  wall {wall:.1f} s; RSS before {rss0:.0f} MB, peak RSS of the process {peak_mb():.0f} MB")
    print(f"  IC {mc.kind} {m.loc[mc.kind, 'ic']:.4f}, rank IC {m.loc[mc.kind, 'rank_ic']:.4f}; accuracy "
          f"{m.loc[mc.kind, 'accuracy']:.4f} vs always-up {m.loc[mc.kind, 'base_rate']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
