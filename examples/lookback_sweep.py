"""Sweep the LSTM's lookback window (days of history per sample) on the same test windows and
watch accuracy, AUC and IC: does a longer memory predict tomorrow's open-to-open direction better?

    python examples/lookback_sweep.py                        # lookbacks 10, 20, 40 on 40 symbols
    python examples/lookback_sweep.py --lookbacks 5,20,60 --n-symbols 0
"""

from __future__ import annotations

import argparse
import logging

from examples_common import add_study_args


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lookbacks", default="10,20,40")
    add_study_args(p)
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import pandas as pd
from examples_common import study_market

import signals
from signals.metrics import pooled


def main(argv: list[str] | None = None) -> pd.DataFrame:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    md = study_market(args)
    rows = []
    for lb in (int(x) for x in args.lookbacks.split(",")):
        res = signals.run_walk_forward(
            md,
            features=signals.FeatureConfig(lookback=lb),
            labels=signals.LabelConfig(horizon=1),
            splitter=signals.WalkForwardSplit(train_days=484, val_days=60, test_days=242, test_start=args.test_start),
            estimator=signals.LSTMClassifier(hidden_size=args.hidden, max_epochs=args.epochs, seed=0),
            model_name="lstm", baselines=("always_up",),
        )
        wm = res.window_metrics
        for model, g in wm.groupby("model"):
            rows.append({"lookback": lb, "model": model, "n": int(g["n"].sum()),
                         **{c: pooled(g, c) for c in ("accuracy", "base_rate", "roc_auc", "ic")}})
    table = pd.DataFrame(rows)
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 200, "display.max_columns", None):
        print(table.to_string(index=False))
    return table


if __name__ == "__main__":
    main()
