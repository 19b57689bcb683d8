"""Choose TopK's trading-pace settings on a validation span, before the test span is read.

Trades one model's predictions with every setting of a grid (any ``strategies.TopKConfig``
fields; the others at ``--set`` values or the defaults) and prints one row per setting: net annual
return, annual excess over the CSI-300, Sharpe (the whole span and each half), realised turnover,
the cost drag (the same trades before costs: each day's fees added back, minus the net annual
return), fees and cash share. Then it applies the selection rule, written down before any result
was seen:

    among the settings that trade at most 0.15 of the book a day and whose costs take at most 2.5%
    a year on the validation span (the turnover and cost budget of issue 20), the highest
    net-of-cost Sharpe ratio; among the settings within 0.02 of it, the lowest turnover (less
    trading is the safer bet when figures tie). No setting within the budget: the rule of issue
    13, the highest Sharpe of all, then the lowest turnover within 0.02, and the script says so.

The predictions must end BEFORE the test span you will report (the default run tests 2022-01 ..
2025-06): ``--test-start`` is required and checked. A table whose last decision's trade would fill
on or after the first test day is refused (exit 2, nothing evaluated), so no test day counts in
the choice. E.g. the out-of-sample predictions of a walk-forward run over earlier years:

    python -m backtests.run --start 2016-01-01 --end 2021-12-31 --test-start 2018-07-01 --out /tmp/val -q
    python scripts/choose_topk_defaults.py /tmp/val/<run>/predictions.parquet --model lstm --test-start 2022-01-01

Any predictions table works (``date, symbol, p_up`` and an optional ``model`` column; parquet or
CSV), so the choice can be rerun when the default model changes. ``--settings "hold_days=10;buffer=0"
...`` evaluates given settings without choosing (to report chosen defaults on the test span
afterwards: pass a ``--test-start`` after the predictions' end, e.g. the day after the data).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: the default grid (issue 20): tranches x rank buffer x score smoothing x the cost-aware rule;
#: min_hold 0 (the tranches hold a name), gain_horizon 10 days
GRID = (("hold_days", ("1", "2", "5", "10", "20")), ("buffer", ("0", "20")), ("score_halflife", ("0", "3", "10")),
        ("cost_aware", ("false", "true")), ("min_hold", ("0",)))
#: settings always evaluated beside the grid: the defaults of issue 13 (for comparison)
EXTRA = ("hold_days=1;buffer=20;min_hold=2;score_halflife=0;cost_aware=false",)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("predictions", type=Path, help="predictions table (parquet or CSV): date, symbol, p_up[, model]")
    ap.add_argument("--test-start", required=True,
                    help="first day of the test span you will report (YYYY-MM-DD): predictions whose trades reach it "
                         "are refused")
    ap.add_argument("--model", default=None, help="the model's rows (when the table has a model column)")
    ap.add_argument("--start", default=None, help="first decision day used (default: the table's first)")
    ap.add_argument("--end", default=None, help="last decision day used (default: the table's last)")
    ap.add_argument("--grid", nargs="+", default=None, metavar="FIELD=V1,V2",
                    help="TopK fields to vary (their product); default: "
                         + " ".join(f"{k}={','.join(v)}" for k, v in GRID))
    ap.add_argument("--settings", nargs="+", default=None, metavar="POINT",
                    help="settings to evaluate instead, each 'field=value;field=value' (no choice made)")
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
from backtests.evidence.tradeoff import gross_by_accounting, parse_point, point_config
from core.errors import ConfigError
from core.timing import FILL_LAG
from strategies import TopKConfig, run_backtest, trading_days_per_year
from strategies.performance import annual_return, sharpe_ratio

SHARPE_TOLERANCE = 0.02  #: settings within this of the best Sharpe count as tied (then: least turnover)
MAX_TURNOVER = 0.15  #: most of the book traded a day (buys + sells over equity), the budget of issue 20
MAX_COST_DRAG = 0.025  #: most the costs may take a year (gross minus net annual return)
EXIT_INPUT = 2


class InputError(Exception):
    """Bad input: one line, the value and the fix."""


def read_predictions(path: Path, model: str | None) -> pd.DataFrame:
    """``date, symbol, p_up`` of one model from a parquet or CSV file."""
    if not path.is_file():
        raise InputError(f"predictions file {str(path)!r} does not exist")
    p = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, parse_dates=["date"])
    if "model" in p.columns:
        models = sorted(p["model"].unique())
        if model is None and len(models) > 1:
            raise InputError(f"{path} holds models {models}: choose one with --model")
        if model is not None:
            if model not in models:
                raise InputError(f"--model {model!r} is not in {path} (models: {models})")
            p = p.loc[p["model"] == model]
    return p[["date", "symbol", "p_up"]].assign(date=lambda d: pd.to_datetime(d["date"])).reset_index(drop=True)


def check_before_test(preds: pd.DataFrame, calendar: pd.DatetimeIndex, test_start: pd.Timestamp) -> pd.Timestamp:
    """The last fill day of the predictions' backtest; InputError when it reaches ``test_start``
    (a decision on day t fills at the open FILL_LAG trading days later, and that day's return
    counts in the choice)."""
    last = pd.Timestamp(preds["date"].max())
    pos = calendar.searchsorted(last)
    fill = calendar[min(pos + FILL_LAG, len(calendar) - 1)]
    if fill >= test_start:
        before = calendar[calendar < test_start]
        end = before[-1 - FILL_LAG] if len(before) > FILL_LAG else None
        fix = f"pass --end {end.date()}" if end is not None else "use predictions that end earlier"
        raise InputError(f"the predictions reach the test span: their last decision day {last.date()} fills on "
                         f"{fill.date()}, on or after --test-start {test_start.date()}; {fix} (the last decision "
                         "whose trade fills before the test span)")
    return fill


_MD: data_store.MarketData | None = None


def _market() -> data_store.MarketData:
    global _MD
    if _MD is None:
        _MD = data_store.load(use_cache=False)
    return _MD


def evaluate(args: tuple[pd.DataFrame, TopKConfig, str]) -> dict[str, object]:
    """The figures of one setting (a worker process loads the snapshot once)."""
    preds, cfg, name = args
    md = _market()
    ppy = trading_days_per_year(md.calendar)
    res = run_backtest(md, preds, strategy=cfg, progress=False, periods_per_year=ppy)
    s = res.summary()
    r = res.returns
    half = len(r) // 2
    gross = annual_return(gross_by_accounting(res, md), ppy)
    return {
        "setting": name,
        **{k: getattr(cfg, k) for k in ("hold_days", "buffer", "min_hold", "score_halflife", "cost_aware",
                                        "rebalance_every", "gain_horizon")},
        "annual_return": s["annual_return"],
        "annual_excess": s["annual_return"] - s["benchmark_annual_return"],
        "gross_excess": gross - s["benchmark_annual_return"],
        "sharpe": s["sharpe"],
        "sharpe_h1": sharpe_ratio(r.iloc[:half], ppy),
        "sharpe_h2": sharpe_ratio(r.iloc[half:], ppy),
        "max_drawdown": s["max_drawdown"],
        "turnover": s["turnover"],
        "cost_drag": gross - s["annual_return"],
        "fees_pct_initial": s["fees_pct_initial"],
        "avg_cash_share": s["avg_cash_share"],
        "avg_names_held": s["avg_names_held"],
    }


def pick(table: pd.DataFrame) -> tuple[pd.Series, bool]:
    """The selection rule of the module docstring: (the chosen row, whether any setting met the budget)."""
    ok = table.loc[(table["turnover"] <= MAX_TURNOVER) & (table["cost_drag"] <= MAX_COST_DRAG)]
    pool = ok if len(ok) else table
    best = pool["sharpe"].max()
    near = pool.loc[pool["sharpe"] >= best - SHARPE_TOLERANCE]
    return near.sort_values(["turnover", "setting"]).iloc[0], bool(len(ok))


def markdown(table: pd.DataFrame, chosen: pd.Series | None) -> str:
    cols = [("hold_days", "hold", "{:d}"), ("buffer", "buffer", "{:d}"), ("min_hold", "min_hold", "{:d}"),
            ("score_halflife", "half-life", "{:g}"), ("cost_aware", "cost-aware", "{}"),
            ("annual_return", "annual", "{:+.1%}"), ("annual_excess", "excess", "{:+.1%}"),
            ("gross_excess", "gross excess", "{:+.1%}"), ("sharpe", "Sharpe", "{:.2f}"),
            ("sharpe_h1", "1st half", "{:.2f}"), ("sharpe_h2", "2nd half", "{:.2f}"),
            ("max_drawdown", "maxDD", "{:.1%}"), ("turnover", "turnover/day", "{:.3f}"),
            ("cost_drag", "costs/year", "{:.2%}"), ("avg_cash_share", "cash", "{:.2%}")]
    lines = ["| " + " | ".join(t for _, t, _ in cols) + " |", "|" + " --- |" * len(cols)]
    for _, row in table.iterrows():
        cells = []
        for c, _, f in cols:
            v = row[c]
            if f == "{}":
                cells.append("yes" if v else "no")
            else:
                cells.append(f.format(int(v)) if f == "{:d}" else f.format(float(v)))
        mark = chosen is not None and row["setting"] == chosen["setting"]
        lines.append("| " + " | ".join(f"**{c}**" if mark else c for c in cells) + " |")
    return "\n".join(lines)


def grid_points(items: list[str]) -> list[str]:
    """``["hold_days=1,5", "buffer=0,20"]`` -> every combination as a point ``hold_days=1;buffer=0``."""
    keys, values = [], []
    for item in items:
        if "=" not in item:
            raise InputError(f"--grid item {item!r} must look like FIELD=V1,V2 (e.g. hold_days=1,5,10)")
        k, v = item.split("=", 1)
        keys.append(k.strip())
        values.append([x.strip() for x in v.split(",") if x.strip()])
    return [";".join(f"{k}={v}" for k, v in zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        return run(a)
    except (InputError, ConfigError, ValueError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_INPUT


def run(a: argparse.Namespace) -> int:
    try:
        test_start = pd.Timestamp(a.test_start)
    except ValueError:
        raise InputError(f"--test-start {a.test_start!r} is not a date: use YYYY-MM-DD") from None
    preds = read_predictions(a.predictions, a.model)
    if a.start:
        preds = preds.loc[preds["date"] >= pd.Timestamp(a.start)]
    if a.end:
        preds = preds.loc[preds["date"] <= pd.Timestamp(a.end)]
    if preds.empty:
        raise InputError("no predictions left between --start and --end")
    last_fill = check_before_test(preds, _market().calendar, test_start)
    base = point_config(TopKConfig(), ";".join(a.set)) if a.set else TopKConfig()
    if a.settings:
        points = list(a.settings)
    else:
        points = grid_points(a.grid or [f"{k}={','.join(v)}" for k, v in GRID]) + list(EXTRA)
    jobs, seen = [], set()
    for p in points:
        cfg = point_config(base, p)
        if cfg not in seen:
            seen.add(cfg)
            jobs.append((preds, cfg, ";".join(f"{k}={v}" for k, v in parse_point(p).items())))
    span = f"{preds['date'].min().date()}..{preds['date'].max().date()} (last fill {last_fill.date()})"
    print(f"{a.predictions} ({a.model or 'one model'}), decisions {span}, {preds['symbol'].nunique()} symbols; "
          f"{len(jobs)} settings over TopK(k={base.k}, max_replace={base.max_replace}, "
          f"cash_buffer={base.cash_buffer}); test span from {test_start.date()} not read", file=sys.stderr)
    if a.workers > 1:
        with ProcessPoolExecutor(a.workers) as ex:
            rows = list(ex.map(evaluate, jobs))
    else:
        rows = [evaluate(j) for j in jobs]
    table = pd.DataFrame(rows)
    chosen, within = (None, True) if a.settings else pick(table)
    print(markdown(table, chosen))
    if chosen is not None:
        ok_count = ((table["turnover"] <= MAX_TURNOVER) & (table["cost_drag"] <= MAX_COST_DRAG)).sum()
        budget = (f"turnover <= {MAX_TURNOVER} of the book a day and costs <= {MAX_COST_DRAG:.1%} a year "
                  f"(met by {int(ok_count)} of the {len(jobs)} settings)")
        fields = {f.name: getattr(point_config(base, chosen['setting']), f.name) for f in dataclasses.fields(TopKConfig)
                  if getattr(point_config(base, chosen['setting']), f.name) != getattr(TopKConfig(), f.name)}
        print(f"\nrule: {budget}; then the highest Sharpe, then (within {SHARPE_TOLERANCE}) the lowest turnover -> "
              f"{chosen['setting']} (Sharpe {chosen['sharpe']:.2f}, turnover {chosen['turnover']:.3f} a day, costs "
              f"{chosen['cost_drag']:.2%} a year); TopKConfig fields that differ from today's defaults: {fields}"
              + ("" if within else "; NO setting met the budget: the rule of issue 13 chose"))
    if a.out:
        table.assign(chosen=[chosen is not None and r == chosen["setting"] for r in table["setting"]]).to_csv(
            a.out, index=False)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
