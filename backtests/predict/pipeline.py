"""One prediction, written as a run folder all or nothing (:class:`backtests.runfolder.RunFolder`).

:func:`predict` loads the data, finds the decision day (the data's last day, refused when stale,
or ``--as-of``) and the next session, fits the latest windows (:mod:`.latest`), scores the decision
day, plans the target portfolio and the orders from the book (:mod:`.plan`), measures the record
(:mod:`.record`), optionally runs the leakage audit as a run does, and writes:

``targets.csv``, ``orders.csv``, ``record.csv`` (the record per model), ``record_windows.csv``,
``predictions.parquet`` and ``window_metrics.csv`` (as a run writes them: the record windows and
the decision day), ``summary.txt`` (what the command prints), ``config.toml`` (the resolved
configuration of the prediction), ``manifest.json`` (command, git commit, data fingerprint and
days, book, fit facts, versions, timings), ``audit.csv`` with ``--audit``, and the checkpoints.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import data_store
from core.resources import Timings

from .. import build, runfolder
from ..config import RunConfig, to_toml
from ..runfolder import RunFolder, clean_json, command_line, git_commit, library_versions
from . import session
from .holdings import Book
from .latest import earlier_scores, fit_latest, latest_scores, predict_config
from .plan import Plan, plan_next_session
from .record import record_summary, record_windows, style_exposures

__all__ = ["Inputs", "PredictOutcome", "predict", "prepare"]

log = logging.getLogger("backtests.predict")


@dataclass(frozen=True)
class PredictOutcome:
    """The finished run folder, the summary printed, and the audit's verdict (None: not run)."""

    folder: Path
    summary: str
    audit_passed: bool | None = None


def decision_days(md: data_store.MarketData, as_of: pd.Timestamp | None, use_cache: bool,
                  at: pd.Timestamp | None = None) -> session.SessionDays:
    """The decision day (the data's last day, or ``as_of``) and the session the orders are for.

    Without ``as_of`` the data must reach the exchange's latest closed session
    (:func:`session.check_fresh`); ``as_of`` must be a trading day of the data."""
    cal = md.calendar
    latest = None
    if as_of is None:
        latest = session.check_fresh(md.end, use_cache=use_cache, at=at)
        decision = md.end
    else:
        decision = pd.Timestamp(as_of).normalize()
        if decision > md.end:
            raise data_store.ConfigError(
                f"--as-of {decision.date()} is after the data's last day {md.end.date()}: update the data "
                f"(`{session.UPDATE_COMMAND}`) or choose an earlier day")
        if decision not in cal:
            pos = int(cal.searchsorted(decision))
            near = [str(d.date()) for d in cal[max(pos - 1, 0): pos + 1]]
            raise data_store.ConfigError(f"--as-of {decision.date()} is not a trading day of the data; the nearest are "
                                         f"{' and '.join(near)}")
    fill, source = session.next_session(decision, cal)
    return session.SessionDays(decision=decision, fill=fill, fill_source=source, latest=latest)


def realised_returns(md: data_store.MarketData, symbols: list[str], cfg: RunConfig,
                     decision: pd.Timestamp) -> pd.Series:
    """The return each symbol's decision of ``decision`` captured (the labels' ``ret``: adjusted
    open of fill + horizon over the fill's open, NaN without trading at either end)."""
    from signals.inputs.labels import make_labels

    cal = md.calendar
    pos = int(cal.get_loc(decision))
    end = cal[min(pos + cfg.labels.end_offset, len(cal) - 1)]
    sub = md.slice(decision, end, [s for s in symbols if s in set(md.symbols)])
    # the traded return needs no styles: a style-neutral target (labels.neutral) is left out here
    plain = dataclasses.replace(cfg.labels, neutral=())
    lab = make_labels(sub.panel("open", adjusted=True), sub.panel("volume"), plain)
    return pd.Series(lab.ret[0], index=sub.symbols).reindex(symbols)


def _fmt(v: Any, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def summary_text(cfg: RunConfig, days: session.SessionDays, book: Book, plan: Plan, fit: dict[str, Any],
                 rec: pd.DataFrame, record: int, exposures: pd.DataFrame | None, audit: str | None) -> str:
    d, f = days.decision, days.fill
    out = [f"Orders for the open of {f.date()} ({f.day_name()}), decided after the close of {d.date()}",
           f"  model {cfg.model.kind} ({cfg.preset} preset), fitted on {fit['train'][0]}..{fit['train'][1]}, "
           f"validated on {fit['validation'][0]}..{fit['validation'][1]} (its last label ends {fit['fit_label_end']})",
           f"  book: cash {book.cash:,.2f} CNY, {len(book.symbols)} holding(s) worth {plan.facts['held_value']:,.2f}; "
           f"equity {plan.facts['equity']:,.2f}"]
    pf = plan.facts
    if "cycle_day" in pf:
        topk = cfg.strategy.topk
        if topk.hold_days > 1 or topk.rebalance_every > 1:
            which = f"tranche {pf['tranche_reviewed']} of {topk.hold_days} reviewed" if pf["tranche_reviewed"] >= 0 \
                else "no tranche reviewed (a day between rebalances: exits only)"
            out.append(f"  review cycle: day {pf['cycle_day']} from {pf['cycle_start']} (--cycle-start), {which}; "
                       "targets.csv names each position's tranche for the next holdings file")
        if topk.score_halflife > 0 or topk.cost_aware:
            slope = "-" if pf.get("gain_slope") is None else f"{pf['gain_slope']:.5f}"
            out.append(f"  pace: {pf['history_days']} earlier day(s) of scores from the record (score_halflife "
                       f"{topk.score_halflife:g}" + (f", cost-aware slope {slope}" if topk.cost_aware else "") +
                       "; more --record windows, a longer history)")
    o = plan.orders
    placed = o[o["status"] == "place"]
    out.append(f"  orders: {int((placed['side'] == 'buy').sum())} buy(s) and {int((placed['side'] == 'sell').sum())} "
               f"sell(s) to place, {plan.facts['not_placed']} not placed; {plan.facts['names_after']} names held "
               f"after the open if all fill; cash left {plan.facts['cash_after']:,.2f}")
    if plan.facts["not_placed"]:
        reasons = o.loc[o["status"] != "place", "reason"].value_counts()
        out.append("  not placed: " + ", ".join(f"{n} {r}" for r, n in reasons.items()))
    if record and len(rec):
        first, last = rec["first"].min(), rec["last"].max()
        out.append(f"\nWalk-forward record: {record} window(s) before the decision day, test days "
                   f"{pd.Timestamp(first).date()}..{pd.Timestamp(last).date()} (out of sample; 95% intervals, "
                   "stationary bootstrap of days)")
        out.append(f"  {'model':<10} {'days':>5} {'IC':>7} {'interval':>17} {'rank IC':>8} {'interval':>17} "
                   f"{'ICIR':>6} {'accuracy':>9}")
        for r in rec.itertuples():
            out.append(f"  {r.model:<10} {r.days:>5d} {_fmt(r.ic, 4):>7} "
                       f"{'[' + _fmt(r.ic_lo, 4) + ', ' + _fmt(r.ic_hi, 4) + ']':>17} {_fmt(r.rank_ic, 4):>8} "
                       f"{'[' + _fmt(r.rank_ic_lo, 4) + ', ' + _fmt(r.rank_ic_hi, 4) + ']':>17} "
                       f"{_fmt(r.ic_ir, 3):>6} {_fmt(r.accuracy, 4):>9}")
    else:
        out.append("\nWalk-forward record: none (--record 0)")
    if exposures is not None:
        lean = exposures.reindex(exposures["exposure"].abs().sort_values(ascending=False).index).head(3)
        out.append("  style exposures of the new scores (rank correlation with the style's side; all in "
                   "exposures.csv): " + ", ".join(f"{t} {e:+.2f}" for t, e in zip(lean["title"], lean["exposure"],
                                                                                     strict=True)))
    else:
        out.append("  style exposures of the new scores: not measured (fewer than 30 scored names)")
    if audit:
        out.append(f"  leakage audit: {audit}")
    show = o.head(40).astype({"rank": "Int64", "requested": "int64", "shares": "int64"})
    if len(show):
        cols = ["order", "side", "symbol", "name", "rank", "shares", "price", "status", "reason"]
        if "outcome" in o:
            cols += ["next_open", "outcome"]
        out.append("\n" + show[cols].to_string(index=False, na_rep="", float_format=lambda v: f"{v:,.2f}"))
        if len(o) > len(show):
            out.append(f"  ... {len(o) - len(show)} more in orders.csv")
    else:
        out.append("\nno orders: the book already holds what the strategy wants")
    return "\n".join(out)


@dataclass(frozen=True)
class Inputs:
    """What a prediction starts from, checked before anything is fitted: the whole market data,
    the days, the prediction's configuration and its universe's data, the book."""

    cfg: RunConfig
    full: data_store.MarketData
    days: session.SessionDays
    pcfg: RunConfig
    md: data_store.MarketData
    book: Book
    record: int
    as_of: bool
    coverage: dict[str, int]
    seconds: float


def prepare(cfg: RunConfig, book: Book, *, as_of: pd.Timestamp | None = None, record: int = 2,
            at: pd.Timestamp | None = None) -> Inputs:
    """Load the data and check everything a prediction needs before the fit (no torch): the output
    folder, the days (stale data refused: :class:`session.StaleDataError`), the book, the windows."""
    t0 = time.perf_counter()
    runfolder.check_writable(cfg.output.runs_dir)
    runfolder.report_stale(cfg.output.runs_dir)
    full = data_store.load(cfg.data.cache_dir or None, use_cache=cfg.data.use_cache)
    days = decision_days(full, as_of, cfg.data.use_cache, at)
    book.check(set(full.symbols), days.decision, days.fill)
    pcfg = predict_config(cfg, full.calendar, days.decision, record)
    md, _ = build.load_market(pcfg, data=full)
    log.info("decision day %s (data to its close), orders for the open of %s (%s)", days.decision.date(),
             days.fill.date(), days.fill_source)
    cov = full.coverage().loc[days.decision]
    # members with bars in the data but none on the decision day (members the source has no bars for
    # at all are the snapshot's known survivorship gap): not scored, as if suspended
    gap = full.membership_mask().loc[days.decision] & ~full.has_bar().loc[days.decision]
    if gap.any():
        log.warning("%d CSI-300 member(s) with bars in the data have none on %s (%s): they are not scored; an update "
                    "that did not finish leaves such gaps (run it again)", int(gap.sum()), days.decision.date(),
                    ", ".join(gap.index[gap.to_numpy()][:5]))
    return Inputs(cfg=cfg, full=full, days=days, pcfg=pcfg, md=md, book=book, record=record, as_of=as_of is not None,
                  coverage={"members": int(cov["members"]), "members_with_bar": int(cov["members_with_bar"]),
                            "members_without_bar_that_day": int(gap.sum())},
                  seconds=time.perf_counter() - t0)


def predict(inputs: Inputs, *, progress: bool = True) -> PredictOutcome:
    """Fit, score, plan and write the prediction of :func:`prepare`'s ``inputs`` (see the module)."""
    cfg, full, days, pcfg, md, book, record = (inputs.cfg, inputs.full, inputs.days, inputs.pcfg, inputs.md,
                                               inputs.book, inputs.record)
    timings = Timings()
    timings.seconds["data"] = round(inputs.seconds, 3)
    t_start = time.perf_counter() - inputs.seconds
    total = 3 if cfg.report.audit else 2
    name = f"predict-{days.decision:%Y%m%d}-{cfg.run_name}"
    audit_text, audit_passed = None, None
    with RunFolder(cfg.output.runs_dir, name) as rf:
        with timings.stage("signals (latest windows)", 1, total):
            sig = fit_latest(pcfg, md, progress=progress,
                             checkpoint_dir=rf.path("checkpoints") if cfg.output.checkpoints else None)
            sig.save(rf.tmp)
            scores, fit = latest_scores(sig, pcfg.model.kind, days.decision)
        if pcfg.report.audit:
            with timings.stage("leakage audit", 2, total):
                from ..pipeline import run_audit

                audit = run_audit(md, pcfg)
                audit.details.to_csv(rf.path("audit.csv"), index=False, float_format="%.6g")
                audit_text, audit_passed = audit.text, audit.passed
                if not audit.passed:
                    log.warning("LEAKAGE AUDIT FAILED: %s", audit.text)
        with timings.stage("targets and orders", total, total):
            plan = plan_next_session(full, scores, book, build.strategy_config(pcfg), pcfg.costs, days.decision,
                                     days.fill, history=earlier_scores(sig.predictions, pcfg.model.kind, days.decision))
            if "next_open" in plan.targets:
                plan.targets["realised_ret"] = realised_returns(full, list(plan.targets["symbol"]), pcfg,
                                                                days.decision).to_numpy()
            last = fit["window"]
            rec = record_summary(sig.predictions, sig.window_metrics, int(last), reps=pcfg.evaluation.bootstrap_reps,
                                 seed=pcfg.evaluation.seed)
            exposures = style_exposures(md, scores, days.decision)
            text = summary_text(pcfg, days, book, plan, fit, rec, record, exposures, audit_text)
            plan.targets.to_csv(rf.path("targets.csv"), index=False, float_format="%.10g")  # CNY to the fen
            plan.orders.to_csv(rf.path("orders.csv"), index=False, float_format="%.10g")
            rec.to_csv(rf.path("record.csv"), index=False, float_format="%.6g")
            record_windows(sig.window_metrics, int(last)).to_csv(rf.path("record_windows.csv"), index=False,
                                                                  float_format="%.6g")
            if exposures is not None:
                exposures.to_csv(rf.path("exposures.csv"), index=False, float_format="%.6g")
            rf.write_text("summary.txt", text + "\n")
            rf.write_text("config.toml", to_toml(pcfg))
            manifest = {
                "run": rf.final.name, "command": command_line(), "python": sys.executable, "git": git_commit(),
                "days": {"decision": str(days.decision.date()), "fill": str(days.fill.date()),
                         "fill_from": days.fill_source, "as_of": inputs.as_of,
                         "latest_session": None if days.latest is None else str(days.latest.date())},
                "data": {"sources": list(full.sources), "use_cache": pcfg.data.use_cache,
                         "fingerprint_sha256": full.fingerprint(), "start": str(full.start.date()),
                         "end": str(full.end.date()),
                         "members_on_decision_day": inputs.coverage["members"],
                         "members_with_bar_on_decision_day": inputs.coverage["members_with_bar"],
                         "members_without_bar_that_day": inputs.coverage["members_without_bar_that_day"]},
                "book": {"source": book.source, "sha256": book.sha256 or None, "cash": book.cash,
                         "holdings": len(book.symbols)},
                "plan": plan.facts, "fit": fit, "record_windows": record,
                "audit": None if audit_passed is None else {"passed": audit_passed, "text": audit_text},
                "versions": {**library_versions(), "exchange_calendars": _version("exchange-calendars")},
                "device": sig.device,
                "timings_seconds": {**timings.seconds, "total": round(time.perf_counter() - t_start, 3)},
            }
            rf.write_json("manifest.json", clean_json(manifest))
    log.info("run folder: %s", rf.final)
    return PredictOutcome(folder=rf.final, summary=text, audit_passed=audit_passed)


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
