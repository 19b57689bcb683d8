"""Training-loop throughput of ``signals`` against a bare PyTorch loop, and one full-universe window.

1. Builds the real training tensors of the first quick-preset window (whole point-in-time CSI-300,
   train 2020-2021, 60,000 sampled training rows, lookback 20) once.
2. Trains the SAME network (``signals.models.RecurrentNet``, same seed, same tensors, same thread
   count) with ``LSTMClassifier.fit`` and with a bare loop (randperm, forward, BCE, backward, Adam),
   alternating, and prints samples/s of each and the ratio (target >= 0.9). The library's figure
   counts its training epochs (with gradient clipping and the loss bookkeeping); the per-epoch
   validation pass that early stopping needs is reported beside it.
3. Runs one full-universe walk-forward window (features, scaler, LSTM, logistic and trivial
   baselines, predictions, metrics) and prints its wall time and the process's peak memory.

    python bench/bench_training.py                      # defaults: hidden 32, batch 1024, 3 epochs
    python bench/bench_training.py --hidden 16 --threads 1
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from torch import nn

import data_store
import signals
from signals.networks import RecurrentNet
from signals.runtime import default_threads

TARGET = 0.9


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_loop(X: torch.Tensor, y: torch.Tensor, hidden: int, batch: int, epochs: int, seed: int) -> float:
    """The plainest correct loop: returns seconds for ``epochs`` epochs."""
    torch.manual_seed(seed)
    net = RecurrentNet("lstm", X.shape[2], hidden, 1, 0.0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="alternating runs of each loop; the best counts")
    ap.add_argument("--threads", type=int, default=0, help="0 = signals' load-aware default")
    ap.add_argument("--max-train-samples", type=int, default=60000)
    ap.add_argument("--skip-window", action="store_true", help="only the loop comparison")
    args = ap.parse_args()
    threads = args.threads or default_threads()
    torch.set_num_threads(threads)

    t0 = time.perf_counter()
    md = data_store.load(use_cache=False).slice("2019-01-01", "2025-06-30")
    feats, labels = signals.FeatureConfig(lookback=20), signals.LabelConfig()
    split = signals.WalkForwardSplit(train_days=484, val_days=60, test_days=121, test_start="2022-01-01",
                                     max_train_samples=args.max_train_samples)
    prep = signals.prepare(md, feats, labels)
    w = next(split.split(prep.calendar, labels.horizon))
    rows = split.rows(w, prep.eligible, np.isfinite(prep.labels.label))
    sc = signals.SequenceScaler().fit(prep.panel.samples(*rows.train))
    X = sc.transform(prep.panel.samples(*rows.train))
    y = prep.labels.label[rows.train].astype(np.float32)
    Xv = sc.transform(prep.panel.samples(*rows.val))
    yv = prep.labels.label[rows.val].astype(np.float32)
    print(f"tensors: train {X.shape}, val {Xv.shape}, float32; built in {time.perf_counter() - t0:.1f} s "
          f"(incl. loading the snapshot); CPU threads {threads}; torch {torch.__version__}")
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    n, E = len(X), args.epochs

    bare, lib, lib_val = [], [], []
    for r in range(args.repeats):
        bare.append(n * E / bare_loop(tX, ty, args.hidden, args.batch, E, seed=0))
        est = signals.LSTMClassifier(hidden_size=args.hidden, batch_size=args.batch, max_epochs=E, patience=E,
                                     seed=0, num_threads=threads, device="cpu")
        est.fit(X, y, eval_set=(Xv, yv))
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
    res = signals.run_walk_forward(
        md, features=feats, labels=labels, splitter=split,
        estimator=signals.LSTMClassifier(hidden_size=args.hidden, batch_size=args.batch, max_epochs=6, patience=2,
                                         seed=0, num_threads=threads, device="cpu"),
        baselines=("logistic", "always_up", "yesterday"), only_windows=[0], progress=False, prepared=prep)
    wall = time.perf_counter() - t1
    m = res.window_metrics.set_index("model")
    print(f"\none full-universe window ({w}):\n  {int(m.loc['lstm', 'train_samples']):,} train / "
          f"{int(m.loc['lstm', 'val_samples']):,} val / {int(m.loc['lstm', 'test_samples']):,} test samples, "
          f"LSTM {int(m.loc['lstm', 'epochs'])} epochs (best {int(m.loc['lstm', 'best_epoch'])})")
    print(f"  wall {wall:.1f} s; RSS before {rss0:.0f} MB, peak RSS of the process {peak_mb():.0f} MB")
    print(f"  accuracy lstm {m.loc['lstm', 'accuracy']:.4f}, logistic {m.loc['logistic', 'accuracy']:.4f}, "
          f"always-up {m.loc['lstm', 'base_rate']:.4f}; AUC lstm {m.loc['lstm', 'roc_auc']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
