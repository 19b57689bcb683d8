"""What a run writes into its folder, and the summary it prints.

Files: ``config.toml``, ``returns.csv``, ``trades.csv``, ``rejected_orders.csv``, ``positions.csv``,
``corporate_actions.csv``, ``tearsheet.html``, ``metrics.json``, ``manifest.json`` (the
predictions and window metrics are written by ``signals``, the checkpoints by the walk-forward).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import data_store
from core.resources import Timings, rss_mb
from data_store.cache.manifest import resolve_cache_dir
from signals.walk_forward import WalkForwardResult

from .config import RunConfig, to_toml
from .evidence.alarms import look_ahead_allowed, too_good
from .evidence.assess import assess, evaluation_record
from .evidence.outcomes import ModelOutcome, label, margin_over_lightgbm
from .evidence.styles import StyleContext
from .report.formatting import fmt
from .report.tearsheet import Reference, build_report
from .runfolder import RunFolder, clean_json, command_line, git_commit, library_versions

__all__ = ["AuditOutcome", "audit_failed", "audit_lead", "summary_table", "write_outputs"]


@dataclass(frozen=True)
class AuditOutcome:
    """The leakage audit of a run: passed or not, its one-paragraph ``text``, its ``details`` table;
    ``finished`` False when the audit itself stopped on an error (then ``passed`` is False too:
    nothing was shown)."""

    passed: bool
    text: str
    details: pd.DataFrame = field(default_factory=pd.DataFrame)
    finished: bool = True


def audit_lead(audit: AuditOutcome | None) -> str:
    """The words a verdict starts with when the leakage audit failed (empty otherwise): the one
    place of that wording, put before the verdict in metrics.json, the terminal and the tearsheet."""
    if audit is None or audit.passed:
        return ""
    if not audit.finished:
        return ("LEAKAGE AUDIT DID NOT FINISH: nothing shows that the figures below are free of look-ahead, so they "
                "are no evidence of skill yet. ")
    return ("LEAKAGE AUDIT FAILED: predictions changed when only data after their date changed, so the figures "
            "below may use the future and are no evidence of skill; fix the leak before reading them. ")


def audit_failed(run_dir: Path) -> bool:
    """True when the run in ``run_dir`` ran the leakage audit and it failed."""
    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return m.get("audit_passed") is False


def _returns_table(outcomes: dict[str, ModelOutcome], main: str, bench: pd.Series, ref: Reference) -> pd.DataFrame:
    """Daily returns: the main model after costs (``strategy``) and before (``strategy_gross``), the
    CSI-300 (``benchmark``), the reference when it is another (``reference``: the held stock),
    equity and cash, then each traded baseline after costs (its name) and before (``<name>_gross``)."""
    bt = outcomes[main].backtest
    assert bt is not None
    idx = bt.returns.index
    rets = pd.DataFrame({"strategy": bt.returns, "benchmark": bench.reindex(idx).fillna(0.0),
                         "equity": bt.equity.reindex(idx), "cash": bt.cash.reindex(idx)})
    g = outcomes[main].gross
    if g is not None:
        rets["strategy_gross"] = g.returns.reindex(idx)
    if ref.symbol:
        rets["reference"] = ref.returns.reindex(idx)
    for m, oc in outcomes.items():
        if m != main and oc.backtest is not None:
            rets[m] = oc.backtest.returns.reindex(idx)
            if oc.gross is not None:
                rets[f"{m}_gross"] = oc.gross.returns.reindex(idx)
    rets.index.name = "date"
    return rets


def _stacked(outcomes: dict[str, ModelOutcome], attr: str) -> pd.DataFrame:
    """One table of every traded model's ``attr`` (trades, rejected) with a ``model`` column; an
    empty table keeps its header."""
    parts = [getattr(oc.backtest, attr).assign(model=m) for m, oc in outcomes.items() if oc.backtest is not None]
    filled = [p for p in parts if len(p)]
    return pd.concat(filled, ignore_index=True) if filled else (parts[0] if parts else pd.DataFrame())


def reference_for(cfg: RunConfig, md: data_store.MarketData, days: pd.DatetimeIndex) -> Reference:
    """What the strategy must beat: the CSI-300 index, or in a single-stock (threshold) study
    holding that stock (adjusted closes, no costs; a suspended day keeps its last price), with the
    index as an extra passive row."""
    bench = md.benchmark_returns()
    if cfg.strategy.kind != "threshold":
        return Reference(returns=bench)
    sym = cfg.universe.symbols[0]
    close = md.panel("close", adjusted=True)[sym].ffill()
    hold = close.pct_change().reindex(days).fillna(0.0)
    return Reference(returns=hold, name=sym, words=f"holding {sym}", symbol=sym,
                     extra={"index": bench.reindex(days).fillna(0.0)})


def write_outputs(rf: RunFolder, cfg: RunConfig, md: data_store.MarketData, sig: WalkForwardResult,
                  outcomes: dict[str, ModelOutcome], ppy: int, audit: AuditOutcome | None,
                  timings: Timings, t_start: float, *, span: str = "open",
                  source: dict[str, Any] | None = None, main: str | None = None,
                  styles: StyleContext | None = None) -> None:
    """Write every file of the run folder (besides predictions, window metrics and checkpoints).

    ``audit``: the leakage audit's outcome when it ran (a failure leads the title and the verdict);
    ``span``: the return the predictions' labels and IC are measured on (``open``: what the
    strategy captures; ``close``: ``python -m backtests.evaluate --label close``); ``source``: what
    ``evaluate`` read (recorded in the manifest); ``main``: the model judged (default ``model.kind``)."""

    main = main or cfg.model.kind
    rf.write_text("config.toml", to_toml(cfg))
    bench = md.benchmark_returns()
    main_bt = outcomes[main].backtest
    assert main_bt is not None
    ref = reference_for(cfg, md, main_bt.returns.index)
    _returns_table(outcomes, main, bench, ref).to_csv(rf.path("returns.csv"), float_format="%.12g")
    _stacked(outcomes, "trades").to_csv(rf.path("trades.csv"), index=False, float_format="%.10g")
    _stacked(outcomes, "rejected").to_csv(rf.path("rejected_orders.csv"), index=False, float_format="%.10g")
    main_bt.positions.to_csv(rf.path("positions.csv"), index=False, float_format="%.10g")
    main_bt.corporate_actions.to_csv(rf.path("corporate_actions.csv"), index=False, float_format="%.10g")
    wf, ev_cfg = cfg.walk_forward, cfg.evaluation
    figures, evidence = assess(outcomes, md, ref.returns, ppy, ev_cfg, main=main, span=span,
                               horizon=cfg.labels.horizon, keep_jumps=cfg.labels.keep_jumps, styles=styles)
    where = f"on {ref.symbol}" if ref.symbol else "on the CSI-300"
    rule = f", threshold rule vs holding {ref.symbol}" if ref.symbol else ""
    made = (f"predictions from {Path(source['path']).name} {where} (evaluated{rule})" if source else
            f"up/down signals {where} ({cfg.preset} preset{rule})")
    title = cfg.report.title or f"{label(main)} {made}"
    stock = None
    if ref.symbol:
        stock = (md.panel("close", adjusted=True)[ref.symbol], md.tradable_mask()[ref.symbol])
    origin = (f"predictions from {source['path']}" if source else
              f"config: {cfg.preset} preset, lookback {cfg.features.lookback}, "
              f"{wf.train_days}/{wf.val_days}/{wf.test_days} train/validation/test days per window")
    lead = audit_lead(audit)
    # what leads the report, before the verdict wherever it is shown: a failed audit's words first
    # (look-ahead found), then the alarms (look-ahead allowed, figures too good to be true), then an
    # audit that did not finish (nothing found either way): what is known before what is not
    alarms = [a for a in (look_ahead_allowed(wf, cfg.labels), too_good(figures)) if a]
    found = bool(lead) and audit is not None and audit.finished
    leads = [lead.strip()] if found else []
    leads += [*alarms, *([lead.strip()] if lead and not found else [])]
    for a in reversed(leads):
        title = f"{a.split(':')[0]} - {title}"
    audit_text = None if audit is None else lead + audit.text
    shown = build_report(
        rf.path("tearsheet.html"), title=title, main_model=main, outcomes=outcomes, reference=ref,
        calendar=md.calendar, coverage=md.coverage(), periods_per_year=ppy, audit=audit_text,
        figures=figures, evidence=evidence, confidence=ev_cfg.confidence, rolling_days=ev_cfg.rolling_days,
        stock=stock, notes=[f"Run {rf.final.name}; {origin}.", *filter(None, [margin_over_lightgbm(outcomes, main)])],
        alarms=alarms, evaluated=source is not None,
        style_words=_style_words(cfg, styles, main),
    )
    main_row = next(r for r in shown["models"] if r["model"] == main)
    gross = outcomes[main].gross
    metrics = {
        "model": main,
        "periods_per_year": ppy,
        "reference": ref.name,
        # the backtest's own summary (annualised on this calendar), with the excess over the reference
        "strategy": {**outcomes[main].summary, "annual_excess_return": main_row.get("annual_excess_return")},
        "strategy_gross": gross.summary(ppy) if gross is not None else None,
        "verdict": "".join(f"{a} " for a in leads) + shown["verdict"],
        "verdict_class": shown["verdict_class"],
        # the alarms, then what the money figures mean when the settings make them say little (a small universe)
        "warnings": [*alarms, *main_bt.warnings],
        # turnover against net and gross excess and alpha; the strategy at larger capitals
        "tradeoff": outcomes[main].tradeoff.record() if outcomes[main].tradeoff is not None else None,
        "audit": audit_text,
        "audit_passed": None if audit is None else audit.passed,
        "models": shown["models"],
        "windows": shown["windows"],
        "evaluation": evaluation_record(ev_cfg, evidence, span=span, horizon=cfg.labels.horizon,
                                        reference=ref.words),
    }
    if styles is not None:
        metrics["styles"] = style_record(cfg, styles, evidence.styles, main)
    if source:
        metrics["source"] = source
    rf.write_json("metrics.json", clean_json(metrics))
    cov = md.coverage()
    elapsed = round(time.perf_counter() - t_start, 3)
    executor = dict(sig.info.get("executor", {"executor": "local"}))
    executor["tasks"] = dict(sorted(executor.get("tasks", {}).items(), key=_window))  # window order
    manifest = {
        "run": rf.final.name,
        "command": command_line(),
        "python": sys.executable,
        "git": git_commit(),
        "data": {
            "sources": list(md.sources),
            "use_cache": cfg.data.use_cache,
            # the cache folder merged into the snapshot (None: the snapshot alone)
            "cache_dir": str(resolve_cache_dir(cfg.data.cache_dir or None)) if cfg.data.use_cache else None,
            "fingerprint_sha256": md.fingerprint(),
            "snapshot_files_sha256": _snapshot_hashes(),
            "start": str(md.start.date()), "end": str(md.end.date()),
            "symbols": len(md.symbols), "bar_rows": len(md.bars),
            "coverage_members_with_bar": [int(cov["members_with_bar"].min()), int(cov["members_with_bar"].max())],
        },
        "versions": library_versions(),
        "seeds": {"model": cfg.model.seed, "train_subsample": cfg.walk_forward.seed, "bootstrap": ev_cfg.seed},
        "device": sig.device,
        "executor": executor,
        # the torch and BLAS thread counts measured inside the windows while they trained (CPU results
        # are bit-reproducible for the same counts); the setting they came from
        "threads": {**measured_threads(executor), "setting": cfg.execution.threads or "auto"},
        "attempts": {k: t.get("attempts", 1) for k, t in sorted(executor.get("tasks", {}).items(), key=_window)},
        "windows": len(sig.windows) or int(sig.window_metrics["window"].nunique()),
        # the report stage is still running here: its time is the rest of the total
        "timings_seconds": {**timings.seconds, "report": round(elapsed - sum(timings.seconds.values()), 3),
                            "total": elapsed},
        "peak_rss_mb": {**timings.peak_rss_mb, "report": round(rss_mb(), 1)},
        # this process and the worker processes it started (the windows' pool), every shared page once
        "peak_memory_all_processes_mb": {**timings.peak_total_mb, "report": round(rss_mb(), 1)},
    }
    if source:
        manifest["source"] = source
    rf.write_json("manifest.json", clean_json(manifest))


def _style_words(cfg: RunConfig, styles: StyleContext | None, main: str) -> str:
    """Which styles the run used, and the style options it traded or trained with, in words."""
    if styles is None:
        return ""
    text = styles.used_words()
    if cfg.styles.neutral_scores:
        text += (f" {label(main)}'s scores were made neutral to {', '.join(cfg.styles.neutral_scores)} before the "
                 "strategy ranked them (styles.neutral_scores): its figures are those of what was left.")
    if cfg.labels.neutral:
        text += f" It was trained on a target neutral to {', '.join(cfg.labels.neutral)} (labels.neutral)."
    return text


def style_record(cfg: RunConfig, styles: StyleContext, table: list[dict[str, Any]], main: str) -> dict[str, Any]:
    """The styles section of ``metrics.json``: what was used and how, each style's row, the options."""
    return {
        "used": styles.names,
        "unavailable": styles.unavailable,
        "words": _style_words(cfg, styles, main),
        "table": table,
        "user_table": styles.table_path or None,
        "neutral_scores": list(cfg.styles.neutral_scores),
        "neutral_target": list(cfg.labels.neutral),
        "baselines": [f"style_{r['name']}" for r in table if r.get("side") != "category"] if cfg.styles.baselines
        else [],
        "method": {
            "exposure": "mean over days of the rank correlation of the scores with the style (+ = its premium side)",
            "residual": "each day: OLS of the scores' centred ranks on an intercept, every style's centred rank "
                        "(industry as 0/1 columns) and a cubic spline of that first fit, over the day's scored names; "
                        "residual IC = IC of what is left",
            "factors": f"the held side's top {styles.share:.3f} of the tradable members by the style (the strategy's "
                       "breadth: k names over the median tradable members), equal-weighted, minus all the tradable "
                       "members, formed at the close of t, bought at the open of t+1, earning the close-to-close "
                       "return of t+2; equal_weight = the equal-weighted tradable members minus the CSI-300",
            "attribution": "OLS of the strategy's daily returns on the CSI-300 and the style factors, Newey-West "
                           "(HAC) errors (statsmodels); style_alpha = intercept x trading days a year",
            "verdict": "skill needs a residual IC or rank IC above zero beyond noise and an alpha after styles above "
                       "zero after costs (before costs: skill_before_costs); a significant alpha over the CSI-300 "
                       "alone that fails this is style_not_skill",
        },
        "missing_per_day": {n: {"mean": float(styles.missing[n].mean()), "max": int(styles.missing[n].max())}
                            for n in styles.missing.columns} if len(styles.missing) else {},
    }


def _window(item: tuple[str, Any]) -> int:
    return int(item[0]) if str(item[0]).isdigit() else -1


def measured_threads(executor: dict[str, Any]) -> dict[str, list[int]]:
    """The distinct torch and BLAS thread counts the executor's tasks measured while they ran."""
    tasks = executor.get("tasks", {}).values()
    return {kind: sorted({n for t in tasks for n in t.get(f"{kind}_threads", [])}) for kind in ("torch", "blas")}


def _snapshot_hashes() -> dict[str, str]:
    from data_store.snapshot import snapshot_sha256

    return snapshot_sha256()


SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "acc", "pct"), ("base_rate", "always-up", "pct"), ("best_constant_accuracy", "best const", "pct"),
    ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"), ("residual_rank_ic", "resid RIC", "f3"),
    ("annual_return", "annual", "pct"),
    ("annual_excess_return", "excess", "spct"), ("style_alpha", "alpha/styles", "spct"), ("sharpe", "Sharpe", "f2"),
    ("max_drawdown", "maxDD", "pct"),
)


def summary_table(run_dir: Path) -> str:
    """The terminal summary of a run folder: one row per model, then the verdict (and audit)."""
    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    rows = [("model", *(title for _, title, _ in SUMMARY_COLUMNS))]
    for r in m["models"]:
        rows.append((label(r["model"]), *(fmt(r.get(key), kind) for key, _, kind in SUMMARY_COLUMNS)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    text = "\n".join(lines) + "\n\n" + m["verdict"]
    for w in m.get("warnings") or []:
        text += "\n\nWarning: " + w
    if m.get("audit"):
        text += "\n\nLeakage audit: " + m["audit"]
    return text

