"""Choose TopK's turnover controls (rank buffer, minimum holding period) on a validation span.

Trades one model's predictions with every (buffer, min_hold) of a small grid, all else at the
``strategies.TopKConfig`` defaults, and prints one row per setting: net annual return, annual
excess over the CSI-300, Sharpe (the whole span and each half), realised turnover, fees and cash
share. Then it applies the selection rule, fixed before any result is seen:

    the highest net-of-cost Sharpe ratio on the span; among the settings within 0.02 of it, the
    one with the lowest realised turnover (less trading is the safer bet when figures tie).

Use it on predictions that end BEFORE the test span you will report (the default run tests
2022-01 .. 2025-06), e.g. the out-of-sample predictions of a walk-forward run over earlier years:

    python -m backtests.run --start 2016-01-01 --end 2021-12-31 --test-start 2018-07-01 --out /tmp/val -q
    python scripts/choose_topk_defaults.py /tmp/val/<run>/predictions.parquet --model lstm

Any predictions table works (``date, symbol, p_up`` and an optional ``model`` column; parquet or
CSV), so the choice can be rerun when the default model changes. ``--settings 0:0,20:5`` evaluates
given settings without choosing (to report the chosen defaults on the test span afterwards).
"""

from __future__ import annotations

import argparse
import logging
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

BUFFERS = (0, 5, 10, 20, 30, 45, 60)
MIN_HOLDS = (0, 2, 5, 10, 20)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("predictions", type=Path, help="predictions table (parquet or CSV): date, symbol, p_up[, model]")
    ap.add_argument("--model", default=None, help="the model's rows (when the table has a model column)")
    ap.add_argument("--start", default=None, help="first decision day used (default: the table's first)")
    ap.add_argument("--end", default=None, help="last decision day used (default: the table's last)")
    ap.add_argument("--buffers", default=",".join(map(str, BUFFERS)), help="rank buffers of the grid")
    ap.add_argument("--min-holds", default=",".join(map(str, MIN_HOLDS)), help="minimum holding periods of the grid")
    ap.add_argument("--settings", default=None, help="buffer:min_hold pairs to evaluate instead (no choice made)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="another TopKConfig field for every run, e.g. --set k=30")
    ap.add_argument("--workers", type=int, default=1, help="processes (each loads the snapshot)")
    ap.add_argument("--out", type=Path, default=None, help="also write the table as CSV")
    return ap


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np
import pandas as pd

import data_store
from strategies import TopKConfig, run_backtest, trading_days_per_year
from strategies.performance import sharpe_ratio

SHARPE_TOLERANCE = 0.02  #: settings within this of the best Sharpe count as tied (then: least turnover)


def read_predictions(path: Path, model: str | None) -> pd.DataFrame:
    """``date, symbol, p_up`` of one model from a parquet or CSV file."""
    p = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, parse_dates=["date"])
    if "model" in p.columns:
        models = sorted(p["model"].unique())
        if model is None and len(models) > 1:
            raise SystemExit(f"{path} holds models {models}: choose one with --model")
        if model is not None:
            if model not in models:
                raise SystemExit(f"--model {model!r} is not in {path} (models: {models})")
            p = p.loc[p["model"] == model]
    return p[["date", "symbol", "p_up"]].assign(date=lambda d: pd.to_datetime(d["date"])).reset_index(drop=True)


_MD: data_store.MarketData | None = None


def _market() -> data_store.MarketData:
    global _MD
    if _MD is None:
        _MD = data_store.load(use_cache=False)
    return _MD


def evaluate(args: tuple[pd.DataFrame, TopKConfig]) -> dict[str, float]:
    """The figures of one setting (a worker process loads the snapshot once)."""
    preds, cfg = args
    md = _market()
    res = run_backtest(md, preds, strategy=cfg, progress=False, periods_per_year=trading_days_per_year(md.calendar))
    s = res.summary()
    r = res.returns
    half = len(r) // 2
    return {
        "buffer": cfg.buffer, "min_hold": cfg.min_hold,
        "annual_return": s["annual_return"],
        "annual_excess": s["annual_return"] - s["benchmark_annual_return"],
        "sharpe": s["sharpe"],
        "sharpe_h1": sharpe_ratio(r.iloc[:half], s["periods_per_year"]),
        "sharpe_h2": sharpe_ratio(r.iloc[half:], s["periods_per_year"]),
        "max_drawdown": s["max_drawdown"],
        "turnover": s["turnover"],
        "annual_turnover": s["annual_turnover"],
        "fees_pct_initial": s["fees_pct_initial"],
        "avg_cash_share": s["avg_cash_share"],
        "avg_names_held": s["avg_names_held"],
    }


def pick(table: pd.DataFrame) -> pd.Series:
    """The selection rule of the module docstring."""
    best = table["sharpe"].max()
    near = table.loc[table["sharpe"] >= best - SHARPE_TOLERANCE]
    return near.sort_values(["turnover", "buffer", "min_hold"]).iloc[0]


def markdown(table: pd.DataFrame, chosen: pd.Series | None) -> str:
    cols = [("buffer", "buffer", "{:d}"), ("min_hold", "min_hold", "{:d}"), ("annual_return", "annual", "{:+.1%}"),
            ("annual_excess", "excess", "{:+.1%}"), ("sharpe", "Sharpe", "{:.2f}"), ("sharpe_h1", "1st half", "{:.2f}"),
            ("sharpe_h2", "2nd half", "{:.2f}"), ("max_drawdown", "maxDD", "{:.1%}"),
            ("turnover", "turnover/day", "{:.3f}"), ("fees_pct_initial", "fees/initial", "{:.1%}"),
            ("avg_cash_share", "cash", "{:.2%}")]
    lines = ["| " + " | ".join(t for _, t, _ in cols) + " |", "|" + " --- |" * len(cols)]
    for _, row in table.iterrows():
        cells = [f.format(int(row[c]) if f == "{:d}" else float(row[c])) for c, _, f in cols]
        mark = chosen is not None and (row["buffer"], row["min_hold"]) == (chosen["buffer"], chosen["min_hold"])
        lines.append("| " + " | ".join(f"**{c}**" if mark else c for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    preds = read_predictions(a.predictions, a.model)
    if a.start:
        preds = preds.loc[preds["date"] >= pd.Timestamp(a.start)]
    if a.end:
        preds = preds.loc[preds["date"] <= pd.Timestamp(a.end)]
    base = TopKConfig(**{k: int(v) if v.lstrip("-").isdigit() else v for k, v in (s.split("=", 1) for s in a.set)})
    if a.settings:
        grid = [tuple(int(x) for x in pair.split(":")) for pair in a.settings.split(",")]
    else:
        grid = [(b, m) for b in map(int, a.buffers.split(",")) for m in map(int, a.min_holds.split(","))]
    jobs = [(preds, replace(base, buffer=b, min_hold=m)) for b, m in grid]
    span = f"{preds['date'].min().date()}..{preds['date'].max().date()}"
    print(f"{a.predictions} ({a.model or 'one model'}), decisions {span}, {preds['symbol'].nunique()} symbols; "
          f"{len(jobs)} settings of TopK(k={base.k}, max_replace={base.max_replace}, cash_buffer={base.cash_buffer})",
          file=sys.stderr)
    if a.workers > 1:
        with ProcessPoolExecutor(a.workers) as ex:
            rows = list(ex.map(evaluate, jobs))
    else:
        rows = [evaluate(j) for j in jobs]
    table = pd.DataFrame(rows)
    chosen = None if a.settings else pick(table)
    print(markdown(table, chosen))
    if chosen is not None:
        print(f"\nrule: highest Sharpe, then (within {SHARPE_TOLERANCE}) the lowest turnover; {len(jobs)} settings "
              f"tried -> buffer={int(chosen['buffer'])}, min_hold={int(chosen['min_hold'])} "
              f"(Sharpe {chosen['sharpe']:.2f}, turnover {chosen['turnover']:.3f} a day)")
    if a.out:
        table.assign(chosen=[chosen is not None and (r.buffer, r.min_hold) == (chosen["buffer"], chosen["min_hold"])
                             for r in table.itertuples()]).to_csv(a.out, index=False)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
