"""Backtest throughput: the strategies layer's array feed vs Backtrader's stock PandasData.

Both runs trade the same TopK strategy (A-share broker, same predictions, same market) through
``strategies.run_backtest``; only the feed differs (``feed="array"`` vs ``feed="pandas"``). The
script checks that both give the same equity, then prints stock-bars per second (symbols x days
/ wall seconds of the whole ``run_backtest`` call) and their ratio (target >= 2), and the wall
time of a 300-stock x 1000-day backtest (target <= 60 s).

    python bench/bench_backtest.py                 # 300 stocks x 1000 days, both feeds
    python bench/bench_backtest.py --n-symbols 100 --days 250 --repeat 3
"""

from __future__ import annotations

import argparse
import logging
import time


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-symbols", type=int, default=300, help="the N most often tradable members")
    ap.add_argument("--days", type=int, default=1000)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--max-replace", type=int, default=5)
    ap.add_argument("--hold-days", type=int, default=None,
                    help="TopK tranches (default: TopKConfig's; 1 reviews every holding daily, more trades)")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per feed")
    ap.add_argument("--skip-pandas", action="store_true", help="time the array feed only")
    return ap


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np
import pandas as pd

import data_store
from strategies import TopKConfig, run_backtest
from strategies.scores import momentum_predictions


def workload(md: data_store.MarketData, n_symbols: int, n_days: int) -> pd.DataFrame:
    """Momentum predictions of the ``n_symbols`` most often tradable members, decided on the
    ``n_days - 1`` days before the data's last day (so the run spans ``n_days`` days)."""
    days = md.calendar[-n_days:-1]
    preds = momentum_predictions(md, 20, start=days[0], end=days[-1])
    top = preds["symbol"].value_counts().sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    keep = sorted(top.index[:n_symbols])
    return preds.loc[preds["symbol"].isin(keep), ["date", "symbol", "p_up"]].reset_index(drop=True)


def timed(md, preds, feed: str, repeat: int, cfg: TopKConfig):
    best, res = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = run_backtest(md, preds, strategy=cfg, progress=False, feed=feed)
        best = min(best, time.perf_counter() - t0)
    return best, res


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    md = data_store.load(use_cache=False)
    preds = workload(md, args.n_symbols, args.days)
    n_sym = preds["symbol"].nunique()
    cfg = TopKConfig(k=args.k, max_replace=args.max_replace,
                     **({} if args.hold_days is None else {"hold_days": args.hold_days}))

    t_arr, res_arr = timed(md, preds, "array", args.repeat, cfg)
    n_days = len(res_arr.equity)
    bars = n_sym * n_days
    print(f"workload: {n_sym} stocks x {n_days} days = {bars:,} stock-bars, TopK k={args.k}, "
          f"max_replace={args.max_replace}, hold_days={cfg.hold_days}, {len(res_arr.trades):,} trades")
    tm = res_arr.timings
    print(f"array feed   : {t_arr:7.2f} s wall  {bars / t_arr:12,.0f} stock-bars/s  "
          f"(prepare {tm['prepare_s']:.2f} s, backtrader {tm['backtrader_s']:.2f} s)")
    if not args.skip_pandas:
        t_pd, res_pd = timed(md, preds, "pandas", args.repeat, cfg)
        same = np.array_equal(res_arr.equity.to_numpy(), res_pd.equity.to_numpy())
        tp = res_pd.timings
        print(f"PandasData   : {t_pd:7.2f} s wall  {bars / t_pd:12,.0f} stock-bars/s  "
              f"(prepare {tp['prepare_s']:.2f} s, backtrader {tp['backtrader_s']:.2f} s)")
        print(f"ratio (array / PandasData stock-bars/s): {t_pd / t_arr:.1f}x  (target >= 2)  "
              f"identical equity: {same}")
        if not same:
            print("ERROR: the two feeds gave different results")
            return 1
    print(f"wall time of {n_sym} stocks x {n_days} days on the array feed: {t_arr:.1f} s (target <= 60 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
