"""What a run writes into its folder, and the summary it prints.

Files: ``config.toml``, ``returns.csv``, ``trades.csv``, ``rejected_orders.csv``, ``positions.csv``,
``corporate_actions.csv``, ``tearsheet.html``, ``metrics.json``, ``manifest.json`` (the
predictions and window metrics are written by ``signals``, the checkpoints by the walk-forward).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

import data_store
from signals.walk_forward import WalkForwardResult

from .config import RunConfig, to_toml
from .formatting import fmt
from .outcomes import ModelOutcome, label, margin_over_lightgbm
from .report import build_report
from .runfolder import RunFolder, clean_json, command_line, git_commit, library_versions

if TYPE_CHECKING:
    from .pipeline import Timings

__all__ = ["summary_table", "write_outputs"]


def _returns_table(outcomes: dict[str, ModelOutcome], main: str, bench: pd.Series) -> pd.DataFrame:
    bt = outcomes[main].backtest
    assert bt is not None
    idx = bt.returns.index
    rets = pd.DataFrame({"strategy": bt.returns, "benchmark": bench.reindex(idx).fillna(0.0),
                         "equity": bt.equity.reindex(idx), "cash": bt.cash.reindex(idx)})
    for m, oc in outcomes.items():
        if m != main and oc.backtest is not None:
            rets[m] = oc.backtest.returns.reindex(idx)
    rets.index.name = "date"
    return rets


def _stacked(outcomes: dict[str, ModelOutcome], attr: str) -> pd.DataFrame:
    """One table of every traded model's ``attr`` (trades, rejected) with a ``model`` column; an
    empty table keeps its header."""
    parts = [getattr(oc.backtest, attr).assign(model=m) for m, oc in outcomes.items() if oc.backtest is not None]
    filled = [p for p in parts if len(p)]
    return pd.concat(filled, ignore_index=True) if filled else (parts[0] if parts else pd.DataFrame())


def write_outputs(rf: RunFolder, cfg: RunConfig, md: data_store.MarketData, sig: WalkForwardResult,
                  outcomes: dict[str, ModelOutcome], ppy: int, audit_text: str | None,
                  timings: Timings, t_start: float, torch_threads: int) -> None:
    """Write every file of the run folder (besides predictions, window metrics and checkpoints)."""
    from .pipeline import rss_mb

    main = cfg.model.kind
    rf.write_text("config.toml", to_toml(cfg))
    bench = md.benchmark_returns()
    main_bt = outcomes[main].backtest
    assert main_bt is not None
    _returns_table(outcomes, main, bench).to_csv(rf.path("returns.csv"), float_format="%.12g")
    _stacked(outcomes, "trades").to_csv(rf.path("trades.csv"), index=False, float_format="%.10g")
    _stacked(outcomes, "rejected").to_csv(rf.path("rejected_orders.csv"), index=False, float_format="%.10g")
    main_bt.positions.to_csv(rf.path("positions.csv"), index=False, float_format="%.10g")
    main_bt.corporate_actions.to_csv(rf.path("corporate_actions.csv"), index=False, float_format="%.10g")
    passive = {}
    if cfg.strategy.kind == "threshold":  # a single-stock study: also show simply holding the stock
        sym = cfg.universe.symbols[0]
        close = md.panel("close", adjusted=True)[sym].ffill()  # a suspended day keeps its last price
        passive[f"Buy-and-hold {sym}"] = close.pct_change().reindex(main_bt.returns.index).fillna(0.0)
    wf = cfg.walk_forward
    title = cfg.report.title or f"{label(main)} up/down signals on the CSI-300 ({cfg.preset} preset)"
    shown = build_report(
        rf.path("tearsheet.html"), title=title, main_model=main, outcomes=outcomes, benchmark=bench,
        calendar=md.calendar, coverage=md.coverage(), periods_per_year=ppy, audit=audit_text, passive=passive,
        notes=[f"Run {rf.final.name}; config: {cfg.preset} preset, lookback {cfg.features.lookback}, "
               f"{wf.train_days}/{wf.val_days}/{wf.test_days} train/validation/test days per window.",
               *filter(None, [margin_over_lightgbm(outcomes, main)])],
    )
    main_row = next(r for r in shown["models"] if r["model"] == main)
    metrics = {
        "model": main,
        "periods_per_year": ppy,
        # the backtest's own summary (annualised on this calendar), with the excess over the index
        "strategy": {**outcomes[main].summary, "annual_excess_return": main_row.get("annual_excess_return")},
        "verdict": shown["verdict"],
        "audit": audit_text,
        "models": shown["models"],
        "windows": shown["windows"],
    }
    rf.write_json("metrics.json", clean_json(metrics))
    cov = md.coverage()
    elapsed = round(time.perf_counter() - t_start, 3)
    manifest = {
        "run": rf.final.name,
        "command": command_line(),
        "git": git_commit(),
        "data": {
            "sources": list(md.sources),
            "fingerprint_sha256": md.fingerprint(),
            "snapshot_files_sha256": _snapshot_hashes(),
            "start": str(md.start.date()), "end": str(md.end.date()),
            "symbols": len(md.symbols), "bar_rows": len(md.bars),
            "coverage_members_with_bar": [int(cov["members_with_bar"].min()), int(cov["members_with_bar"].max())],
        },
        "versions": library_versions(),
        "seeds": {"model": cfg.model.seed, "train_subsample": cfg.walk_forward.seed},
        "device": sig.device,
        "executor": sig.info.get("executor", {"executor": "local"}),
        # CPU results are bit-reproducible for the same thread count; signals picks it once per run
        "torch_threads": torch_threads,
        "windows": len(sig.windows),
        # the report stage is still running here: its time is the rest of the total
        "timings_seconds": {**timings.seconds, "report": round(elapsed - sum(timings.seconds.values()), 3),
                            "total": elapsed},
        "peak_rss_mb": {**timings.peak_rss_mb, "report": round(rss_mb(), 1)},
    }
    rf.write_json("manifest.json", clean_json(manifest))


def _snapshot_hashes() -> dict[str, str]:
    from data_store.snapshot import snapshot_sha256

    return snapshot_sha256()


SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "acc", "pct"), ("base_rate", "always-up", "pct"), ("best_constant_accuracy", "best const", "pct"),
    ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"), ("annual_return", "annual", "pct"),
    ("annual_excess_return", "excess", "spct"), ("sharpe", "Sharpe", "f2"), ("max_drawdown", "maxDD", "pct"),
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
    if m.get("audit"):
        text += "\n\nLeakage audit: " + m["audit"]
    return text

