"""A single-stock study: train an LSTM on one stock's own history and trade it with a threshold
rule (long when p_up > upper, flat when p_up < lower), against simply holding the stock.

    python examples/single_stock_threshold.py                       # SH600519 (Kweichow Moutai)
    python examples/single_stock_threshold.py --symbol SZ000001 --upper 0.53 --lower 0.47
"""

from __future__ import annotations

import argparse
import logging


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--symbol", default="SH600519")
    p.add_argument("--start", default="2012-01-01")
    p.add_argument("--test-start", default="2019-01-01")
    p.add_argument("--end", default="2025-06-30")
    p.add_argument("--upper", type=float, default=0.52)
    p.add_argument("--lower", type=float, default=0.48)
    p.add_argument("--epochs", type=int, default=8)
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import pandas as pd

import data_store
import signals
import strategies
from signals.metrics import best_constant_accuracy, pooled
from strategies.performance import annual_return, trading_days_per_year


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    full = data_store.load(use_cache=False)
    ppy = trading_days_per_year(full.calendar)  # the A-share calendar's trading days a year (243), as the toolkit
    md = full.slice(args.start, args.end, symbols=[args.symbol])
    res = signals.run_walk_forward(
        md,
        features=signals.FeatureConfig(lookback=20),
        labels=signals.LabelConfig(horizon=1),
        splitter=signals.WalkForwardSplit(train_days=968, val_days=121, test_days=242, test_start=args.test_start),
        estimator=signals.LSTMClassifier(hidden_size=16, max_epochs=args.epochs, seed=0),
        model_name="lstm", baselines=("always_up",),
    )
    preds = res.predictions[res.predictions["model"] == "lstm"]
    bt = strategies.run_backtest(
        md, preds[["date", "symbol", "p_up"]],
        strategy=strategies.ThresholdConfig(symbol=args.symbol, upper=args.upper, lower=args.lower),
        progress=False,
    )
    # holding the stock: adjusted close-to-close returns over the same days (no costs)
    close = md.panel("close", adjusted=True)[args.symbol].ffill()
    hold = close.pct_change().reindex(bt.returns.index).fillna(0.0)
    wm = res.window_metrics
    lstm = wm[wm["model"] == "lstm"]
    base = pooled(lstm, "base_rate")
    out = {
        "accuracy": pooled(lstm, "accuracy"),
        "always_up_accuracy": base,
        # the comparison that counts: always-up or always-down, whichever scores more on these days
        "best_constant_accuracy": best_constant_accuracy(base),
        "edge_over_best_constant": pooled(lstm, "accuracy") - best_constant_accuracy(base),
        "periods_per_year": float(ppy),
        "strategy_annual_return": annual_return(bt.returns, ppy),
        "hold_annual_return": annual_return(hold, ppy),
        "days_long_share": float((bt.positions.groupby("date").size()
                                  .reindex(bt.equity.index, fill_value=0) > 0).mean()),
        "fees": bt.summary()["fees"],
    }
    for k, v in out.items():
        print(f"{k:>24}: {v:.4f}")
    return out


if __name__ == "__main__":
    pd.set_option("display.width", 140)
    main()
