"""Compare LSTM, GRU, attention-LSTM and logistic regression on the SAME walk-forward windows and
samples, then trade each under the same A-share rules: does the more accurate model earn more?

    python examples/compare_models.py                      # 40 most liquid members, ~minutes
    python examples/compare_models.py --n-symbols 0         # the whole point-in-time universe
    python examples/compare_models.py --out results/       # also write the tables as CSV
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from examples_common import add_study_args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(p)
    p.add_argument("--k", type=int, default=10, help="names held by the TopK strategy")
    p.add_argument("--out", help="folder for the CSV tables")
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import pandas as pd
from examples_common import study_market

import signals
import strategies
from backtests.evidence import analysis as an
from signals.metrics import pooled


def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    md = study_market(args)
    common = dict(
        features=signals.FeatureConfig(lookback=20),
        labels=signals.LabelConfig(horizon=1),
        splitter=signals.WalkForwardSplit(train_days=484, val_days=60, test_days=242, test_start=args.test_start),
    )
    nets = {
        "lstm": signals.LSTMClassifier(hidden_size=args.hidden, max_epochs=args.epochs, seed=0),
        "gru": signals.GRUClassifier(hidden_size=args.hidden, max_epochs=args.epochs, seed=0),
        "attention": signals.AttentionLSTMClassifier(hidden_size=args.hidden, max_epochs=args.epochs, seed=0),
    }
    frames, metrics = [], []
    for i, (name, est) in enumerate(nets.items()):
        # the baselines come with the first run; the splitter and samples are identical each time
        res = signals.run_walk_forward(md, **common, estimator=est, model_name=name,
                                       baselines=("logistic", "always_up", "yesterday") if i == 0 else ())
        frames.append(res.predictions)
        metrics.append(res.window_metrics)
    preds = pd.concat(frames, ignore_index=True)
    wm = pd.concat(metrics, ignore_index=True)
    ppy = 242
    bench = md.benchmark_returns()
    rows = []
    for model, g in wm.groupby("model", sort=False):
        row = {"model": model, "n": int(g["n"].sum()),
               **{c: pooled(g, c) for c in ("accuracy", "base_rate", "roc_auc", "ic")}}
        if model != "always_up":
            res = strategies.run_backtest(
                md, preds.loc[preds["model"] == model, ["date", "symbol", "p_up"]],
                strategy=strategies.TopKConfig(k=args.k, max_replace=max(1, args.k // 3)), progress=False)
            perf = an.performance(res.returns, bench, ppy)
            row.update(annual_return=perf["annual_return"], annual_excess=perf["annual_excess_return"],
                       sharpe=perf["sharpe"], fees=res.summary()["fees"])
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 200, "display.max_columns", None):
        print(table)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        table.to_csv(Path(args.out) / "compare_models.csv")
        wm.to_csv(Path(args.out) / "window_metrics.csv", index=False)
    return table


if __name__ == "__main__":
    main()
