"""``python -m backtests.evaluate PREDICTIONS``: the run folder, tearsheet and verdict of any signal.

    python -m backtests.evaluate my_scores.parquet                      # TopK on the CSI-300
    python -m backtests.evaluate runs/<run>/predictions.parquet --config runs/<run>/config.toml
    python -m backtests.evaluate one_stock.csv --label close            # IC on close-to-close returns

PREDICTIONS is a parquet or CSV file with ``date`` (the decision day: the score uses data up to its
close; the trade fills at the next open), ``symbol`` (exchange-prefixed, like SH600519; read as text,
so a CSV's ``000001`` stays ``000001`` and is answered with "did you mean SZ000001?") and either
``p_up`` (a probability in [0, 1]) or ``score`` (any real number: its sign is the up/down call and
its order ranks the stocks; it is rescaled to p_up = 0.5 + score / (2 max|score|), which keeps
both); a table with both names the one to use with ``--score-column``. Optional: ``model``
(several models in one file: ``--model`` names the one judged, the others are evaluated beside it
like a run's baselines) and ``window`` (evaluation periods; without
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
Like a run, the report measures the table against the styles (its exposures, the IC left after them,
the alpha after the style factors; :mod:`backtests.evidence.styles`) and trades each style beside it.
Options are those of ``backtests.run`` that apply (strategy, costs, universe dates, --set ...);
nothing is trained, so ``--set`` refuses the settings of training (model, features, executor, the
walk-forward's spans, the audit) instead of ignoring them. The data's dates follow the table: from
the earlier of the preset's start and the first prediction to the later of the preset's end and
the last one (``--start``/``--end`` override; a prediction outside them is refused, with the fix).
Given a run folder's own predictions and config, it reproduces that run's metrics.

Only the standard library is imported at the top, so ``--help`` answers at once; pandas and the
toolkit's layers load when a table is evaluated.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, DataValidationError, ToolkitError

if TYPE_CHECKING:
    import pandas as pd

    import data_store

    from . import config as C

log = logging.getLogger("backtests.run")

__all__ = ["APPLIES", "EvaluateInput", "load_predictions", "main", "prepare_input"]


class InputError(ToolkitError, ValueError):
    """The predictions file breaks the contract (one line: what, an example, the fix)."""


#: the settings ``--set`` may change here; the others describe training (the model, its features,
#: the walk-forward's training spans, the executor, the audit), and nothing is trained. ``tradeoff``:
#: the main model's frontier and capacity table are traded here as in a run
APPLIES = ("data.", "universe.", "labels.horizon", "labels.keep_jumps", "walk_forward.test_days", "strategy.",
           "costs.", "tradeoff.", "report.title", "evaluation.", "output.", "styles.")


def check_settings_apply(settings: list[str]) -> None:
    """Refuse a ``--set`` of a setting evaluate does not use (it would be ignored silently)."""
    for text in settings:
        key = text.split("=", 1)[0].strip()
        if "=" in text and not key.startswith(APPLIES):
            raise InputError(f"--set {key}: evaluate trains nothing, so this setting does not apply; drop it (the "
                             f"settings that apply: {', '.join(a.rstrip('.') for a in APPLIES)})")


def read_table(path: str | Path) -> pd.DataFrame:
    """A parquet or CSV file as a frame, its ``symbol`` column as text (a CSV's ``000001`` is not the
    number 1; a parquet's integer codes get their leading zeros back); InputError when missing or
    unreadable."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError(f"predictions file {str(p)!r} does not exist")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        elif p.suffix.lower() in (".csv", ".txt"):
            frame = pd.read_csv(p, dtype={"symbol": str})
        else:
            frame = None
    except Exception as exc:  # a damaged file: say which and why, in one line
        raise InputError(f"predictions file {str(p)!r} cannot be read: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    if frame is None:
        raise InputError(f"predictions file {str(p)!r} must be .parquet or .csv")
    if "symbol" in frame.columns and pd.api.types.is_integer_dtype(frame["symbol"]):
        frame["symbol"] = frame["symbol"].astype(str).str.zfill(6)
    return frame


def load_predictions(path: str | Path, column: str | None = None) -> tuple[pd.DataFrame, str]:
    """The file's rows as ``date, symbol, p_up, model[, window]`` (checked: columns, dates, finite
    scores, duplicates) and the name of the score column used (``p_up`` or ``score``; ``column``
    chooses, and must, when the file has both)."""
    import numpy as np
    import pandas as pd

    raw = read_table(path)
    missing = [c for c in ("date", "symbol") if c not in raw.columns]
    if column is None and {"p_up", "score"} <= set(raw.columns):
        raise InputError("predictions have both a p_up and a score column: choose the one to evaluate with "
                         "--score-column p_up or --score-column score")
    if column is not None and column not in raw.columns:
        raise InputError(f"--score-column {column}: the predictions have no {column} column; have "
                         f"{list(raw.columns)[:10]}")
    col = column or ("p_up" if "p_up" in raw.columns else "score" if "score" in raw.columns else None)
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


def check_against_market(preds: pd.DataFrame, md: data_store.MarketData,
                         warn: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Refuse unknown symbols and dates outside the data or off its calendar; leave out (and count)
    rows on days the stock was not a tradable point-in-time member; count tradable members without
    a score on the predicted days (and, with ``warn``, log both counts)."""
    import pandas as pd

    from data_store.symbols import unknown_symbols_text

    unknown = sorted(set(preds["symbol"]) - set(md.symbols))
    if unknown:
        raise InputError(f"{len(unknown)} symbol(s) have no bars in the data: " + unknown_symbols_text(unknown,
                                                                                                      md.symbols))
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
    if not warn:
        return kept, counts
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
    import numpy as np
    import pandas as pd

    from core.timing import FILL_LAG
    from signals.inputs.labels import LabelConfig, make_labels
    from signals.inputs.prepared import crossing_jumps

    from .evidence.forward import forward_returns

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


def window_table(preds: pd.DataFrame) -> pd.DataFrame:
    """Per (window, model): the window's first and last decision day and
    :func:`signals.metrics.classification_metrics` of its rows (date, then symbol order)."""
    from .evidence.styles import window_metrics

    return window_metrics(preds)


def prepare_input(raw: pd.DataFrame, md: data_store.MarketData, cfg: C.RunConfig, main: str | None,
                  span: str) -> EvaluateInput:
    """Check ``raw`` (:func:`load_predictions`) against ``md``, choose the main model, label the
    rows, lay out windows and compute their metrics."""
    import numpy as np
    import pandas as pd

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
    return EvaluateInput(predictions=labelled, window_metrics=window_table(labelled),
                         main=main, models=order, counts=counts)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m backtests.evaluate",
                                description="Evaluate any predictions table (date, symbol, p_up or score): "
                                            "backtests after and before costs, evidence, verdict, tearsheet.",
                                epilog="Exit codes: 0 done; 1 a failure that is not the input's; 2 bad input (the "
                                       "table, an option, the output folder: one line, nothing written); 130 Ctrl-C.")
    p.add_argument("predictions", help="parquet or CSV file with date, symbol and p_up or score (optional: model, "
                                       "window)")
    p.add_argument("--score-column", choices=("p_up", "score"),
                   help="the column to evaluate when the table has both p_up and score")
    p.add_argument("--model", help="the model column's value to judge (default: the config's model.kind if "
                                   "present, else the only one)")
    p.add_argument("--label", choices=("open", "close"), default="open",
                   help="return the labels and IC are measured on: open = adjusted open(t+1+H)/open(t+1) - 1 (what "
                        "the strategy captures, default); close = close(t+H)/close(t) - 1")
    p.add_argument("--preset", help="starting configuration: quick (the default), research or full")
    p.add_argument("--config", help="TOML file of settings over the preset (a run folder's config.toml)")
    p.add_argument("--symbols", nargs="+", metavar="LIST",
                   help="only these symbols are evaluated, comma-separated (e.g. SH600519,SZ000001; one: a "
                        "threshold study)")
    p.add_argument("--start", help="first day of data used (default: the earlier of the preset's and the first "
                                   "prediction's)")
    p.add_argument("--end", help="last day of data used (default: the later of the preset's and the last "
                                 "prediction's)")
    p.add_argument("--strategy", choices=("topk", "threshold"))
    p.add_argument("--out", help="parent folder of run folders (default: runs)")
    p.add_argument("--name", help="run name (default: evaluate-<file name>)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="a setting that applies to an evaluation, e.g. --set strategy.topk.k=50 (data, universe, "
                        "labels.horizon, labels.keep_jumps, walk_forward.test_days, strategy, costs, report.title, "
                        "evaluation, output; backtests.run --print-config lists them)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    return p


def config_for(args: argparse.Namespace, raw: pd.DataFrame) -> C.RunConfig:
    """The run configuration: ``backtests.run``'s options that apply, the universe's dates widened
    to the predictions (unless given: the earlier start, the later end), the walk-forward test start
    at the first prediction (nothing is trained, so no training span is needed before it), and a
    single-stock threshold study when the table has one symbol."""
    import pandas as pd

    from core.settings import build as build_settings

    from . import config as C
    from .run import overrides

    first, last = pd.Timestamp(raw["date"].min()), pd.Timestamp(raw["date"].max())
    syms = sorted(raw["symbol"].unique())
    ns = argparse.Namespace(model=None, device=None, test_start=None, executor=None, ray_address=None, audit=False,
                            threads=None, **{k: getattr(args, k) for k in ("preset", "config", "symbols", "start",
                                                                             "end", "strategy", "out", "name", "set")})
    if ns.symbols is None and len(syms) == 1:
        ns.symbols = [syms[0]]
    data = C.merged_settings(ns.preset, ns.config, overrides(ns))
    u = build_settings(C.UniverseConfig, data.get("universe", {}), "universe")  # the preset's or the given dates
    start = u.start if args.start else min(u.start, first - pd.Timedelta(days=1))
    end = u.end if args.end else max(u.end, last)
    data["universe"] = {**data.get("universe", {}), "start": str(start.date()), "end": str(end.date())}
    data["walk_forward"] = {**data.get("walk_forward", {}),
                            "test_start": str(max(first, start + pd.Timedelta(days=1)).date())}
    if not data.get("output", {}).get("name"):
        data["output"] = {**data.get("output", {}), "name": f"evaluate-{Path(args.predictions).stem}"}
    return build_settings(C.RunConfig, data)


def check_dates(raw: pd.DataFrame, cfg: C.RunConfig, args: argparse.Namespace) -> None:
    """Refuse predictions outside the --start/--end given (the defaults always hold the table)."""
    for given, bad, side, fix in (
            (args.start, raw["date"] < cfg.universe.start, "before --start", "give --start {d} or earlier"),
            (args.end, raw["date"] > cfg.universe.end, "after --end", "give --end {d} or later")):
        if given and bool(bad.any()):
            d = (raw.loc[bad, "date"].min() if side.startswith("before") else raw.loc[bad, "date"].max()).date()
            raise InputError(f"{int(bad.sum())} row(s) are dated {side} {given}, e.g. {d}: drop them, or "
                             f"{fix.format(d=d)}, or leave it out (the data then follow the table)")


def _sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def evaluate(args: argparse.Namespace) -> Path | None:
    """Check, then run the pieces of a run on the predictions; the run folder (None for --print-config)."""
    import data_store
    from core.resources import Timings
    from signals.walk_forward import WalkForwardResult

    from . import build
    from . import config as C
    from .evidence import tradeoff
    from .evidence.outcomes import backtest_models
    from .outputs import reference_for, write_outputs
    from .pipeline import run_styles, style_traded, with_styles
    from .runfolder import RunFolder, check_writable

    t_start = time.perf_counter()
    check_settings_apply(args.set)
    raw, column = load_predictions(args.predictions, args.score_column)
    cfg = config_for(args, raw)
    if cfg.universe.symbols:
        raw = raw[raw["symbol"].isin(cfg.universe.symbols)].reset_index(drop=True)
        if raw.empty:
            raise InputError(f"no prediction is for the --symbols {list(cfg.universe.symbols)}")
    if args.print_config:
        print(C.to_toml(cfg), end="")
        return None
    check_writable(cfg.output.runs_dir)  # before any data is loaded
    check_dates(raw, cfg, args)
    full = data_store.load(cfg.data.cache_dir or None, use_cache=cfg.data.use_cache)
    check_against_market(raw, full, warn=False)  # unknown symbols, dates outside the data or off its calendar
    timings = Timings()
    with timings.stage("data", 1, 3):
        md, ppy = build.load_market(cfg)
        inp = prepare_input(raw, md, cfg, args.model, args.label)
        log.info("      %d predictions of %d model(s) on %d days, %d windows; main model %s",
                 len(inp.predictions), len(inp.models), inp.predictions["date"].nunique(),
                 inp.predictions["window"].nunique(), inp.main)
        styles = run_styles(cfg, md)  # a bad style name or table is refused before the run folder exists
    scfg = build.strategy_config(cfg)
    traded = [inp.main] + ([m for m in inp.models[1:] if m != "always_up"] if cfg.strategy.baseline_backtests else [])
    source = {"path": str(args.predictions), "sha256": _sha256(args.predictions), "score_column": column,
              "label": args.label, "main_model": inp.main, "models": inp.models, **inp.counts}
    with RunFolder(cfg.output.runs_dir, cfg.run_name) as rf:
        sig = WalkForwardResult(predictions=inp.predictions, window_metrics=inp.window_metrics, windows=[],
                                device="none (evaluated, not trained)", info={"executor": {"executor": "none"}})
        sig.save(rf.tmp)
        with timings.stage("backtests", 2, 3):
            preds, wm, style_models = with_styles(cfg, styles, inp.predictions, inp.window_metrics, inp.main)
            outcomes = backtest_models(md, preds, wm, [*inp.models, *style_models],
                                       traded + style_traded(cfg, style_models), scfg, cfg.costs,
                                       cfg.strategy.initial_cash, ppy, progress=not args.quiet,
                                       net_only=tuple(style_models), workers=cfg.strategy.backtest_workers)
            main = outcomes[inp.main]
            if main.backtest is not None:  # the main model's frontier and capacity, as in a run
                ref = reference_for(cfg, md, main.backtest.returns.index).returns
                main.tradeoff = tradeoff.for_outcome(md, main, scfg, cfg.costs, cfg.strategy.initial_cash, ppy, ref,
                                                     cfg.tradeoff, cfg.evaluation.confidence,
                                                     None if styles is None else styles.factors)
        with timings.stage("report", 3, 3):
            write_outputs(rf, cfg, md, sig, outcomes, ppy, None, timings, t_start, span=args.label,
                          source=source, main=inp.main, styles=styles)
    log.info("run folder: %s", rf.final)
    return rf.final


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .lifecycle import log_to_stderr

    log_to_stderr(args.quiet)
    from strategies.errors import PredictionsError

    from .runfolder import RunFolderError

    try:
        t0 = time.perf_counter()
        run_dir = evaluate(args)
    except (InputError, ConfigError, DataValidationError, PredictionsError, RunFolderError) as exc:
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
