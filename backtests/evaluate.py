"""``python -m backtests.evaluate PREDICTIONS``: the run folder, tearsheet and verdict of any signal.

    python -m backtests.evaluate my_scores.parquet                      # TopK on the CSI-300
    python -m backtests.evaluate runs/<run>/predictions.parquet --config runs/<run>/config.toml
    python -m backtests.evaluate one_stock.csv --label close            # IC on close-to-close returns

PREDICTIONS is a parquet or CSV file with ``date`` (the decision day: the score uses data up to its
close; the trade fills at the next open), ``symbol`` (exchange-prefixed, like SH600519) and either
``p_up`` (a probability in [0, 1]) or ``score`` (any real number: its sign is the up/down call and
its order ranks the stocks; it is rescaled to p_up = 0.5 + score / (2 max|score|), which keeps
both). Optional: ``model`` (several models in one file: ``--model`` names the one judged, the
others are evaluated beside it like a run's baselines) and ``window`` (evaluation periods; without
it, consecutive blocks of ``walk_forward.test_days`` prediction days). Columns ``label`` and
``ret`` are ignored: they are recomputed from the market data with the toolkit's labelling
function (``--label open``) or on close-to-close spans (``--label close``).

The file is checked against the calendar and the point-in-time universe before anything is
written: unknown symbols, dates outside the data or off the trading calendar, repeated (date,
symbol) pairs and non-finite scores stop with one line and exit code 2; rows on days a stock was
not a tradable member are left out and counted; tradable members without a score are counted.
Then the same pieces as ``python -m backtests.run`` write the same run folder: backtests after
costs and gross (:func:`backtests.evidence.outcomes.backtest_models`), evidence, report and files
(:func:`backtests.outputs.write_outputs`), all or nothing (:class:`backtests.runfolder.RunFolder`).
Options are those of ``backtests.run`` that apply (strategy, costs, universe dates, --set ...).
Given a run folder's own predictions and config, it reproduces that run's metrics.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import data_store
from core.errors import ConfigError, DataValidationError, ToolkitError
from core.settings import build as build_settings
from core.timing import FILL_LAG
from signals.inputs.labels import LabelConfig, make_labels
from signals.inputs.prepared import crossing_jumps
from signals.metrics import classification_metrics
from signals.walk_forward import WalkForwardResult
from strategies.errors import PredictionsError

from . import build
from . import config as C
from .evidence import tradeoff
from .evidence.forward import forward_returns
from .evidence.outcomes import backtest_models
from .runfolder import RunFolder

log = logging.getLogger("backtests.run")

__all__ = ["EvaluateInput", "load_predictions", "main", "prepare_input"]


class InputError(ToolkitError, ValueError):
    """The predictions file breaks the contract (one line: what, an example, the fix)."""


def read_table(path: str | Path) -> pd.DataFrame:
    """A parquet or CSV file as a frame; InputError when missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"predictions file {str(p)!r} does not exist")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if p.suffix.lower() in (".csv", ".txt"):
            return pd.read_csv(p)
    except Exception as exc:  # a damaged file: say which and why, in one line
        raise InputError(f"predictions file {str(p)!r} cannot be read: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    raise InputError(f"predictions file {str(p)!r} must be .parquet or .csv")


def load_predictions(path: str | Path) -> tuple[pd.DataFrame, str]:
    """The file's rows as ``date, symbol, p_up, model[, window]`` (checked: columns, dates, finite
    scores, duplicates) and the name of the score column used (``p_up`` or ``score``)."""
    raw = read_table(path)
    missing = [c for c in ("date", "symbol") if c not in raw.columns]
    col = "p_up" if "p_up" in raw.columns else "score" if "score" in raw.columns else None
    if missing or col is None:
        need = missing + ([] if col else ["p_up or score"])
        raise InputError(f"predictions lack column(s) {need}; have {list(raw.columns)[:10]}: give date, symbol and "
                         "p_up (a probability) or score (any real number)")
    if len(raw) == 0:
        raise InputError("predictions file has no rows")
    dates = pd.to_datetime(raw["date"], errors="coerce")
    if dates.isna().any():
        bad = raw.loc[dates.isna(), "date"].iloc[0]
        raise InputError(f"{int(dates.isna().sum())} row(s) have no readable date, e.g. {bad!r}: use YYYY-MM-DD")
    values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} {col} value(s) are missing or not finite, e.g. row {i} "
                         f"({raw['symbol'].iloc[i]} on {dates.iloc[i].date()}: {raw[col].iloc[i]!r}): "
                         "drop those rows or give a number")
    if col == "p_up" and ((values < 0) | (values > 1)).any():
        i = int(np.flatnonzero((values < 0) | (values > 1))[0])
        raise InputError(f"p_up = {float(values[i]):g} ({raw['symbol'].iloc[i]} on {dates.iloc[i].date()}) is not a "
                         "probability in [0, 1]: name the column score for any real number")
    out = pd.DataFrame({"date": dates.dt.normalize().to_numpy(), "symbol": raw["symbol"].astype(str).str.upper(),
                        "p_up": values,
                        "model": raw["model"].astype(str).to_numpy() if "model" in raw.columns else Path(path).stem})
    if "window" in raw.columns:
        w = pd.to_numeric(raw["window"], errors="coerce")
        if w.isna().any():
            raise InputError(f"{int(w.isna().sum())} row(s) have no window number: give integers or drop the column")
        out["window"] = w.astype("int64").to_numpy()
    dup = out.duplicated(["model", "date", "symbol"], keep=False)
    if dup.any():
        r = out.loc[dup].iloc[0]
        raise InputError(f"{int(dup.sum())} rows repeat a (date, symbol) of one model, e.g. {r['symbol']} on "
                         f"{r['date'].date()}: keep one row per stock and day (or add a model column)")
    if col == "score":
        for m, g in out.groupby("model", sort=False):
            scale = float(np.abs(g["p_up"]).max())
            out.loc[g.index, "p_up"] = 0.5 + g["p_up"] / (2.0 * scale * (1 + 1e-9)) if scale > 0 else 0.5
            log.info("      %s: score rescaled to p_up = 0.5 + score / (2 x %.6g)", m, scale)
    return out, col


@dataclasses.dataclass
class EvaluateInput:
    """The checked predictions of every model (with ``label``, ``ret``, ``window``), their window
    metrics, the main model, the others, and what was counted while checking."""

    predictions: pd.DataFrame
    window_metrics: pd.DataFrame
    main: str
    models: list[str]
    counts: dict[str, Any]


def check_against_market(preds: pd.DataFrame, md: data_store.MarketData) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Refuse unknown symbols and dates outside the data or off its calendar; leave out (and count)
    rows on days the stock was not a tradable point-in-time member; count tradable members without
    a score on the predicted days."""
    unknown = sorted(set(preds["symbol"]) - set(md.symbols))
    if unknown:
        raise InputError(f"{len(unknown)} symbol(s) have no bars in the data, e.g. {unknown[:5]}: use "
                         "exchange-prefixed codes of the CSI-300 data (python -m data_store info lists them)")
    outside = (preds["date"] < md.start) | (preds["date"] > md.end)
    if outside.any():
        d = preds.loc[outside, "date"].iloc[0]
        span = f"{md.start.date()}..{md.end.date()}"
        raise InputError(f"{int(outside.sum())} row(s) are dated outside the data ({span}), e.g. {d.date()}: drop "
                         "them or update the data (python -m data_store update)")
    off = ~preds["date"].isin(md.calendar)
    if off.any():
        d = preds.loc[off, "date"].iloc[0]
        raise InputError(f"{int(off.sum())} row(s) are dated on days that are not trading days, e.g. {d.date()}: "
                         "date each prediction by the trading day whose close it uses")
    tradable = md.tradable_mask()
    ok = tradable.stack()
    keys = pd.MultiIndex.from_arrays([preds["date"], preds["symbol"]])
    inside = ok.reindex(keys).fillna(False).to_numpy(dtype=bool)
    days = pd.DatetimeIndex(sorted(preds["date"].unique()))
    counts: dict[str, Any] = {"rows": int(len(preds)), "left_out_not_tradable_member": int((~inside).sum())}
    without: dict[str, int] = {}
    kept = preds.loc[inside].reset_index(drop=True)
    if kept.empty:
        raise InputError("no prediction falls on a day its stock was a tradable CSI-300 member: nothing to evaluate")
    for m, g in kept.groupby("model", sort=False):
        scored = pd.MultiIndex.from_arrays([g["date"], g["symbol"]])
        block = tradable.loc[days]
        members = int(block.to_numpy().sum())
        without[str(m)] = members - len(scored)
    counts["members_without_score"] = without
    if counts["left_out_not_tradable_member"]:
        log.warning("      %d row(s) on days their stock was not a tradable member were left out",
                    counts["left_out_not_tradable_member"])
    for m, n in without.items():
        if n:
            log.warning("      %s: %d tradable member-days on the predicted days have no score", m, n)
    return kept, counts


def label_rows(preds: pd.DataFrame, md: data_store.MarketData, cfg: C.RunConfig, span: str) -> pd.DataFrame:
    """``label`` and ``ret`` of every row from the market data, as a run's predictions carry them
    (the raw return and its direction, whatever the training target): the labelling function
    (``open``: adjusted open(t+1+H)/open(t+1) - 1) or the close-to-close span (``close``)."""
    if span == "open":  # the labelling function, and the run's rule for suspect jumps
        lab = make_labels(md.panel("open", adjusted=True), md.panel("volume"), LabelConfig(horizon=cfg.labels.horizon))
        crossed = None if cfg.labels.keep_jumps else crossing_jumps(md, FILL_LAG + 1, cfg.labels.end_offset)
        ret = lab.ret if crossed is None else np.where(crossed, np.nan, lab.ret)
    else:
        ret = forward_returns(md, cfg.labels.horizon, "close", keep_jumps=cfg.labels.keep_jumps).to_numpy()
    d = md.calendar.get_indexer(pd.DatetimeIndex(preds["date"]))
    s = pd.Index(md.symbols).get_indexer(preds["symbol"])
    r = ret[d, s]
    return preds.assign(label=np.where(np.isfinite(r), (r > 0).astype(float), np.nan), ret=r)


def window_table(preds: pd.DataFrame, test_days: int) -> pd.DataFrame:
    """Per (window, model): the window's first and last decision day and
    :func:`signals.metrics.classification_metrics` of its rows (date, then symbol order)."""
    rows = []
    for (model, w), g in preds.groupby(["model", "window"], sort=False):
        met = classification_metrics(g["label"].to_numpy(), g["p_up"].to_numpy(), g["ret"].to_numpy(),
                                     g["date"].to_numpy())
        rows.append({"window": int(w), "model": model, "test_start": g["date"].min(), "test_end": g["date"].max(),
                     **met})
    return pd.DataFrame(rows)


def prepare_input(raw: pd.DataFrame, md: data_store.MarketData, cfg: C.RunConfig, main: str | None,
                  span: str) -> EvaluateInput:
    """Check ``raw`` (:func:`load_predictions`) against ``md``, choose the main model, label the
    rows, lay out windows and compute their metrics."""
    models = list(pd.unique(raw["model"]))
    if main is None:
        main = cfg.model.kind if cfg.model.kind in models else models[0] if len(models) == 1 else None
        if main is None:
            raise InputError(f"predictions hold models {models}: choose the one to judge with --model")
    if main not in models:
        raise InputError(f"--model {main!r} is not in the predictions' model column {models}")
    kept, counts = check_against_market(raw, md)
    order = [main, *[m for m in models if m != main]]
    kept["model"] = pd.Categorical(kept["model"], categories=order)
    kept = kept.sort_values(["model", "date", "symbol"], kind="stable", ignore_index=True)
    kept["model"] = kept["model"].astype(str)
    if "window" not in kept.columns:
        days = pd.DatetimeIndex(sorted(kept["date"].unique()))
        block = pd.Series(np.arange(len(days)) // cfg.walk_forward.test_days, index=days)
        kept["window"] = block.reindex(kept["date"]).to_numpy()
    kept = kept.sort_values(["model", "window", "date", "symbol"], key=lambda c: c.map({m: i for i, m in
                                                                                        enumerate(order)})
                            if c.name == "model" else c, kind="stable", ignore_index=True)
    labelled = label_rows(kept, md, cfg, span)
    labelled = labelled[["date", "symbol", "p_up", "label", "ret", "window", "model"]]
    return EvaluateInput(predictions=labelled, window_metrics=window_table(labelled, cfg.walk_forward.test_days),
                         main=main, models=order, counts=counts)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backtests.evaluate",
                                description="Evaluate any predictions table (date, symbol, p_up or score): "
                                            "backtests after and before costs, evidence, verdict, tearsheet.")
    p.add_argument("predictions", help="parquet or CSV file with date, symbol and p_up or score (optional: model, "
                                       "window)")
    p.add_argument("--model", help="the model column's value to judge (default: the config's model.kind if "
                                   "present, else the only one)")
    p.add_argument("--label", choices=("open", "close"), default="open",
                   help="return the labels and IC are measured on: open = adjusted open(t+1+H)/open(t+1) - 1 (what "
                        "the strategy captures, default); close = close(t+H)/close(t) - 1")
    p.add_argument("--preset", choices=C.PRESETS, help="starting configuration (default: quick)")
    p.add_argument("--config", help="TOML file of settings over the preset (a run folder's config.toml)")
    p.add_argument("--symbols", help="comma-separated symbols: only these are evaluated (one: a threshold study)")
    p.add_argument("--start", help="first day of data used (default: the earlier of the preset's and the first "
                                   "prediction's)")
    p.add_argument("--end", help="last day of data used (default: the later of the preset's and the last "
                                 "prediction's)")
    p.add_argument("--strategy", choices=("topk", "threshold"))
    p.add_argument("--out", help="parent folder of run folders (default: runs)")
    p.add_argument("--name", help="run name (default: evaluate-<file name>)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="any setting, e.g. --set strategy.topk.k=50 (backtests.run --print-config lists them)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    return p


def run_namespace(args: argparse.Namespace, raw: pd.DataFrame) -> argparse.Namespace:
    """``backtests.run``'s options from evaluate's (the ones that apply), with the walk-forward test
    start on the first prediction (after --start when that is given), so the run config's rule
    "test start inside the universe" holds for any prediction dates."""
    first = pd.Timestamp(raw["date"].min())
    if args.start and pd.Timestamp(args.start) >= first:
        first = pd.Timestamp(args.start) + pd.Timedelta(days=1)
    return argparse.Namespace(model=None, device=None, test_start=str(first.date()), executor=None, ray_address=None,
                              audit=False, **{k: getattr(args, k) for k in ("preset", "config", "symbols", "start",
                                                                            "end", "strategy", "out", "name", "set")})


def config_for(args: argparse.Namespace, raw: pd.DataFrame) -> C.RunConfig:
    """The run configuration: ``backtests.run``'s options, with the universe's dates widened to the
    predictions (unless given), the walk-forward test start at the first prediction, and a
    single-stock threshold study when the table has one symbol."""
    from .run import config_from_args

    first, last = raw["date"].min(), raw["date"].max()
    syms = sorted(raw["symbol"].unique())
    ns = run_namespace(args, raw)
    if ns.symbols is None and len(syms) == 1:
        ns.symbols = syms[0]
    base = config_from_args(ns)
    u = base.universe
    start = u.start if args.start else min(u.start, pd.Timestamp(first))
    end = u.end if args.end else max(u.end, pd.Timestamp(last))
    data = C.to_dict(base)
    data["universe"].update(start=str(start.date()), end=str(end.date()))
    data["walk_forward"]["test_start"] = str(max(pd.Timestamp(first), start + pd.Timedelta(days=1)).date())
    if not base.output.name:
        data["output"]["name"] = f"evaluate-{Path(args.predictions).stem}"
    return build_settings(C.RunConfig, data)


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def evaluate(args: argparse.Namespace) -> Path | None:
    """Check, then run the pieces of a run on the predictions; the run folder (None for --print-config)."""
    from core.resources import Timings

    from .outputs import reference_for, write_outputs
    from .run import config_from_args

    t_start = time.perf_counter()
    raw, column = load_predictions(args.predictions)
    ns = run_namespace(args, raw)
    base = config_from_args(ns)
    if base.universe.symbols:
        raw = raw[raw["symbol"].isin(base.universe.symbols)].reset_index(drop=True)
        if raw.empty:
            raise InputError(f"no prediction is for the --symbols {list(base.universe.symbols)}")
    full = data_store.load(base.data.cache_dir or None, use_cache=base.data.use_cache)
    check_against_market(raw, full)  # unknown symbols, dates outside the data or off its calendar
    cfg = config_for(args, raw)
    if args.print_config:
        print(C.to_toml(cfg), end="")
        return None
    timings = Timings()
    with timings.stage("data", 1, 3):
        md, ppy = build.load_market(cfg)
        inp = prepare_input(raw, md, cfg, args.model, args.label)
        log.info("      %d predictions of %d model(s) on %d days, %d windows; main model %s",
                 len(inp.predictions), len(inp.models), inp.predictions["date"].nunique(),
                 inp.predictions["window"].nunique(), inp.main)
    scfg = build.strategy_config(cfg)
    traded = [inp.main] + ([m for m in inp.models[1:] if m != "always_up"] if cfg.strategy.baseline_backtests else [])
    source = {"path": str(args.predictions), "sha256": _sha256(args.predictions), "score_column": column,
              "label": args.label, "main_model": inp.main, "models": inp.models, **inp.counts}
    with RunFolder(cfg.output.runs_dir, cfg.run_name) as rf:
        sig = WalkForwardResult(predictions=inp.predictions, window_metrics=inp.window_metrics, windows=[],
                                device="none (evaluated, not trained)", info={"executor": {"executor": "none"}})
        sig.save(rf.tmp)
        with timings.stage("backtests", 2, 3):
            outcomes = backtest_models(md, inp.predictions, inp.window_metrics, inp.models, traded, scfg, cfg.costs,
                                       cfg.strategy.initial_cash, ppy, progress=not args.quiet)
            main = outcomes[inp.main]
            if main.backtest is not None:  # the main model's frontier and capacity, as in a run
                ref = reference_for(cfg, md, main.backtest.returns.index).returns
                main.tradeoff = tradeoff.for_outcome(md, main, scfg, cfg.costs, cfg.strategy.initial_cash, ppy, ref,
                                                     cfg.tradeoff, cfg.evaluation.confidence)
        with timings.stage("report", 3, 3):
            write_outputs(rf, cfg, md, sig, outcomes, ppy, None, timings, t_start, span=args.label,
                          source=source, main=inp.main)
    log.info("run folder: %s", rf.final)
    return rf.final


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    try:
        t0 = time.perf_counter()
        run_dir = evaluate(args)
    except (InputError, ConfigError, DataValidationError, PredictionsError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no run folder was written (the incomplete one was removed)", file=sys.stderr)
        return 130
    except ToolkitError as exc:
        print(f"error: {exc} (no run folder was written)", file=sys.stderr)
        return 1
    if run_dir is None:
        return 0
    from .outputs import summary_table

    print()
    print(summary_table(run_dir))
    print(f"\nfinished in {time.perf_counter() - t0:.0f} s; open the tearsheet:\n  {run_dir / 'tearsheet.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
