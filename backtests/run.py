"""``python -m backtests.run``: data -> walk-forward signals -> A-share backtests -> tearsheet.

This module is the one place that wires the layers together. Everything it calls is usable on its
own from a research script (see ``examples/``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import data_store
from data_store.errors import ConfigError, ToolkitError
from signals.errors import LookaheadError

from . import analysis as an
from . import config as C
from .report import ModelOutcome, build_report, label
from .runfolder import RunFolder, clean_json, command_line, git_commit, library_versions

log = logging.getLogger("backtests.run")


# ---------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m backtests.run",
        description="Walk-forward LSTM up/down signals on the CSI-300, traded under A-share rules, "
        "with a tearsheet that puts accuracy beside the returns earned.",
    )
    p.add_argument("--preset", choices=C.PRESETS, help="starting configuration (default: quick)")
    p.add_argument("--config", help="TOML file of settings over the preset")
    p.add_argument("--model", choices=("lstm", "gru", "attention", "logistic"), help="model traded")
    p.add_argument("--symbols", help="comma-separated symbols for a study of a few stocks (e.g. SH600519)")
    p.add_argument("--start", help="first day of data used, YYYY-MM-DD")
    p.add_argument("--end", help="last day of data used, YYYY-MM-DD")
    p.add_argument("--test-start", help="first test day, YYYY-MM-DD")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"))
    p.add_argument("--executor", choices=("local", "ray"),
                   help="where walk-forward windows run (default local; ray needs pip install .[ray])")
    p.add_argument("--ray-address", help="Ray cluster to join (auto, host:6379, ray://host:10001); "
                   "default: start a local Ray")
    p.add_argument("--strategy", choices=("topk", "threshold"))
    p.add_argument("--out", help="parent folder of run folders (default: runs)")
    p.add_argument("--name", help="run name (default: preset-model)")
    p.add_argument("--audit", action="store_true", help="run the leakage audit and record its verdict")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="any setting, e.g. --set model.hidden_size=64 (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    return p


def config_from_args(args: argparse.Namespace) -> C.RunConfig:
    over: list[dict[str, Any]] = []
    if args.symbols is not None and len([s for s in args.symbols.split(",") if s.strip()]) == 1:
        # a single-stock study trades with the one-instrument rule unless told otherwise
        over.append({"strategy": {"kind": "threshold"}})
    over += [C.parse_override(s) for s in args.set]
    direct = {
        ("model", "kind"): args.model,
        ("model", "device"): args.device,
        ("universe", "start"): args.start,
        ("universe", "end"): args.end,
        ("walk_forward", "test_start"): args.test_start,
        ("strategy", "kind"): args.strategy,
        ("output", "runs_dir"): args.out,
        ("output", "name"): args.name,
        ("execution", "executor"): args.executor,
        ("execution", "ray_address"): args.ray_address,
    }
    for (sec, key), val in direct.items():
        if val is not None:
            over.append({sec: {key: val}})
    if args.symbols is not None:
        syms = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if not syms:
            raise ConfigError(f"--symbols {args.symbols!r} names no symbol")
        over.append({"universe": {"symbols": syms}})
    if args.audit:
        over.append({"report": {"audit": True}})
    return C.load_config(args.preset, args.config, over)


# ---------------------------------------------------------------- stages
def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


@dataclass
class Timings:
    """Wall time and peak resident memory of each stage (a sampler thread reads RSS every 0.1 s)."""

    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, number: int, total: int) -> Iterator[None]:
        log.info("[%d/%d] %s ...", number, total, name)
        peak = [_rss_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                peak[0] = max(peak[0], _rss_mb())

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            stop.set()
            th.join()
            self.seconds[name] = round(time.perf_counter() - t0, 3)
            self.peak_rss_mb[name] = round(max(peak[0], _rss_mb()), 1)
        log.info("[%d/%d] %s done in %.1f s (peak memory %.0f MB)", number, total, name,
                 self.seconds[name], self.peak_rss_mb[name])


def load_market(cfg: C.RunConfig) -> tuple[data_store.MarketData, int]:
    """The market data of the configured universe and dates, and the calendar's trading days per
    year (measured on the whole calendar, before slicing)."""
    from .qs_adapter import trading_days_per_year

    md = data_store.load(cfg.data.cache_dir or None, use_cache=cfg.data.use_cache)
    ppy = trading_days_per_year(md.calendar)
    u = cfg.universe
    start, end = pd.Timestamp(u.start), pd.Timestamp(u.end)
    # a start on a holiday just before the first trading day (2010-01-01) is fine; years before it are not
    if (md.start - start).days > 7 or (end - md.end).days > 7:
        raise ConfigError(
            f"universe.start..end = {u.start}..{u.end} reaches outside the data "
            f"({md.start.date()}..{md.end.date()}); choose dates inside it or update the cache"
        )
    md = md.slice(start, end, list(u.symbols) or None)
    test_start = pd.Timestamp(cfg.walk_forward.test_start)
    tradable = md.tradable_mask()
    if not tradable.loc[tradable.index >= test_start].to_numpy().any():
        who = ", ".join(u.symbols) if u.symbols else "the CSI-300"
        raise ConfigError(
            f"empty universe: {who} has no tradable point-in-time member day from "
            f"walk_forward.test_start = {cfg.walk_forward.test_start} to universe.end = {u.end}"
        )
    return md, ppy


def make_estimator(m: C.ModelConfig, features: C.FeaturesConfig) -> Any:
    import signals

    common: dict[str, Any] = dict(
        hidden_size=m.hidden_size, num_layers=m.num_layers, dropout=m.dropout, lr=m.lr,
        batch_size=m.batch_size, max_epochs=m.max_epochs, patience=m.patience,
        weight_decay=m.weight_decay, grad_clip=m.grad_clip, device=m.device, seed=m.seed,
    )
    classes = {"lstm": signals.LSTMClassifier, "gru": signals.GRUClassifier,
               "attention": signals.AttentionLSTMClassifier}
    if m.kind == "logistic":
        return signals.LogisticBaseline(seed=m.seed)
    return classes[m.kind](**common)


def signal_configs(cfg: C.RunConfig) -> dict[str, Any]:
    import signals

    wf = cfg.walk_forward
    return dict(
        features=signals.FeatureConfig(lookback=cfg.features.lookback, engineered=cfg.features.engineered),
        labels=signals.LabelConfig(horizon=cfg.labels.horizon, excess=cfg.labels.excess),
        splitter=signals.WalkForwardSplit(
            train_days=wf.train_days, val_days=wf.val_days, test_days=wf.test_days,
            step_days=wf.step_days or None, expanding=wf.expanding,
            embargo_days=wf.embargo_days or None, test_start=wf.test_start,
            max_train_samples=wf.max_train_samples or None, seed=cfg.model.seed,
        ),
    )


def strategy_config(cfg: C.RunConfig) -> Any:
    import strategies

    s = cfg.strategy
    if s.kind == "threshold":
        return strategies.ThresholdConfig(symbol=cfg.universe.symbols[0], upper=s.upper, lower=s.lower,
                                          cash_buffer=s.cash_buffer)
    return strategies.TopKConfig(k=s.k, max_replace=s.max_replace, cash_buffer=s.cash_buffer)


def traded_models(cfg: C.RunConfig) -> list[str]:
    """The main model, then the baselines whose p_up ranks stocks (always-up gives every stock the
    same p_up, so its traded analogue is the buy-and-hold index row)."""
    out = [cfg.model.kind]
    if cfg.strategy.baseline_backtests:
        out += [b for b in cfg.model.baselines if b != "always_up" and b != cfg.model.kind]
    return out


def make_window_executor(cfg: C.RunConfig) -> Any:
    """The executor of the walk-forward windows (imports Ray only when it is chosen)."""
    from signals.executors import make_executor

    ex = cfg.execution
    return make_executor(ex.executor, address=ex.ray_address or None,
                         max_retries=ex.max_retries if ex.executor == "ray" else 0,
                         threads=ex.task_threads or None)


def run(cfg: C.RunConfig, market: tuple[data_store.MarketData, int] | None = None) -> Path:
    """Run the whole pipeline for ``cfg`` and return the finished run folder.

    ``market``: the ``load_market(cfg)`` result when the caller already has it (a sweep loads the
    data once for all its points). Raises :class:`signals.executors.IncompleteRunError` (and writes
    no run folder) when a walk-forward window failed for good."""
    import signals
    import strategies
    from signals.executors import run_windows

    total = 5 if cfg.report.audit else 4
    timings = Timings()
    t_start = time.perf_counter()
    with timings.stage("data", 1, total):
        md, ppy = market if market is not None else load_market(cfg)
        log.info("      %d symbols, %s..%s, %d trading days", len(md.symbols), md.start.date(), md.end.date(), len(md.calendar))
    # every object built from the config is made, and the windows laid out, before the run
    # folder exists, so a bad value writes nothing
    sig_cfg, estimator = signal_configs(cfg), make_estimator(cfg.model, cfg.features)
    windows = list(sig_cfg["splitter"].split(md.calendar, cfg.labels.horizon))
    log.info("      %d walk-forward windows, tests %s..%s", len(windows),
             windows[0].test_start.date(), windows[-1].test_end.date())
    scfg = strategy_config(cfg)
    costs = strategies.CostModel(commission_rate=cfg.costs.commission_rate,
                                 min_commission=cfg.costs.min_commission, slippage=cfg.costs.slippage)
    baselines = tuple(b for b in cfg.model.baselines if b != cfg.model.kind)
    executor = make_window_executor(cfg)
    if cfg.execution.executor == "ray":
        executor.ray()  # start or join Ray before the run folder exists: a bad address writes nothing
    with RunFolder(cfg.output.runs_dir, cfg.run_name) as rf:
        with timings.stage("signals (walk-forward)", 2, total):
            wf_kwargs = dict(
                **sig_cfg, estimator=estimator, model_name=cfg.model.kind, baselines=baselines,
                checkpoint_dir=rf.path("checkpoints") if cfg.output.checkpoints else None,
                progress=not _quiet(),
            )
            if cfg.execution.executor == "local" and not cfg.execution.task_threads:
                sig = signals.run_walk_forward(md, **wf_kwargs)
            else:  # one task per window; a window that fails for good raises IncompleteRunError
                sig = run_windows(executor, md, **wf_kwargs)
            sig.save(rf.tmp)
            torch_threads = _torch_threads()
        preds = sig.predictions
        wm = sig.window_metrics
        outcomes: dict[str, ModelOutcome] = {}
        with timings.stage("backtests", 3, total):
            for model in [cfg.model.kind, *baselines]:
                oc = ModelOutcome(model=model, window_metrics=wm[wm["model"] == model])
                if model in traded_models(cfg):
                    log.info("      backtest of %s", label(model))
                    res = strategies.run_backtest(
                        md, preds.loc[preds["model"] == model, ["date", "symbol", "p_up"]],
                        strategy=scfg, costs=costs, initial_cash=cfg.strategy.initial_cash,
                        progress=not _quiet(),
                    )
                    oc.attach(res, ppy)
                outcomes[model] = oc
        audit_text = None
        if cfg.report.audit:
            with timings.stage("leakage audit", 4, total):
                audit_text = run_audit(md, cfg)
        with timings.stage("report", total, total):
            write_outputs(rf, cfg, md, sig, outcomes, ppy, audit_text, timings, t_start, torch_threads)
    log.info("run folder: %s", rf.final)
    return rf.final


def run_audit(md: data_store.MarketData, cfg: C.RunConfig) -> str:
    import signals

    syms = sorted(md.tradable_mask().loc[pd.Timestamp(cfg.walk_forward.test_start):].sum().nlargest(cfg.report.audit_symbols).index)
    small = md.slice(symbols=syms)
    rep = signals.leakage_audit(small, **signal_configs(cfg), estimator=make_estimator(cfg.model, cfg.features))
    verdict = "PASSED" if rep.passed else "FAILED"
    return f"{verdict} on {len(syms)} symbols: {rep.message}"


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def write_outputs(rf: RunFolder, cfg: C.RunConfig, md: data_store.MarketData, sig: Any,
                  outcomes: dict[str, ModelOutcome], ppy: int, audit_text: str | None,
                  timings: Timings, t_start: float, torch_threads: int) -> None:
    main = cfg.model.kind
    rf.write_text("config.toml", C.to_toml(cfg))
    bench = md.benchmark_returns()
    traded = {m: oc for m, oc in outcomes.items() if oc.returns is not None}
    main_oc = traded[main]
    assert main_oc.returns is not None and main_oc.equity is not None and main_oc.cash is not None
    main_ret = main_oc.returns
    rets = pd.DataFrame({"strategy": main_ret, "benchmark": bench.reindex(main_ret.index).fillna(0.0),
                         "equity": main_oc.equity.reindex(main_ret.index),
                         "cash": main_oc.cash.reindex(main_ret.index)})
    for m, oc in traded.items():
        if m != main and oc.returns is not None:
            rets[m] = oc.returns.reindex(main_ret.index)
    rets.index.name = "date"
    rets.to_csv(rf.path("returns.csv"), float_format="%.12g")
    frames = []
    for name, attr in (("trades.csv", "trades"), ("rejected_orders.csv", "rejected")):
        parts = [getattr(oc, attr).assign(model=m) for m, oc in traded.items() if getattr(oc, attr) is not None]
        filled = [p for p in parts if len(p)]
        # an empty table still gets its header
        df = pd.concat(filled, ignore_index=True) if filled else (parts[0] if parts else pd.DataFrame())
        df.to_csv(rf.path(name), index=False, float_format="%.10g")
        frames.append(df)
    assert main_oc.positions is not None and main_oc.corporate_actions is not None
    main_oc.positions.to_csv(rf.path("positions.csv"), index=False, float_format="%.10g")
    main_oc.corporate_actions.to_csv(rf.path("corporate_actions.csv"), index=False, float_format="%.10g")
    passive = {}
    if cfg.strategy.kind == "threshold":  # a single-stock study: also show simply holding the stock
        sym = cfg.universe.symbols[0]
        close = md.panel("close", adjusted=True)[sym].ffill()  # a suspended day keeps its last price
        passive[f"Buy-and-hold {sym}"] = close.pct_change().reindex(main_ret.index).fillna(0.0)
    title = cfg.report.title or f"{label(main)} up/down signals on the CSI-300 ({cfg.preset} preset)"
    shown = build_report(
        rf.path("tearsheet.html"), title=title, main_model=main, outcomes=outcomes, benchmark=bench,
        calendar=md.calendar, coverage=md.coverage(), periods_per_year=ppy, audit=audit_text, passive=passive,
        notes=[f"Run {rf.final.name}; config: {cfg.preset} preset, lookback {cfg.features.lookback}, "
               f"{cfg.walk_forward.train_days}/{cfg.walk_forward.val_days}/{cfg.walk_forward.test_days} "
               "train/validation/test days per window."],
    )
    perf = an.performance(main_ret, bench, ppy)
    metrics = {
        "model": main,
        "periods_per_year": ppy,
        # the backtest's own summary first; the figures annualised on this calendar win
        "strategy": {**traded[main].summary, **perf},
        "verdict": shown["verdict"],
        "audit": audit_text,
        "models": shown["models"],
        "windows": shown["windows"],
    }
    rf.write_json("metrics.json", clean_json(metrics))
    cov = md.coverage()
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
        "seeds": {"model": cfg.model.seed},
        "device": getattr(sig, "device", cfg.model.device),
        "executor": getattr(sig, "info", {}).get("executor", {"executor": "local"}),
        # CPU results are bit-reproducible for the same thread count; signals picks it once per run
        "torch_threads": torch_threads,
        "windows": len(sig.windows),
        # the report stage is still running here: its time is the rest of the total
        "timings_seconds": {**timings.seconds, "report": round(time.perf_counter() - t_start - sum(timings.seconds.values()), 3),
                            "total": round(time.perf_counter() - t_start, 3)},
        "peak_rss_mb": {**timings.peak_rss_mb, "report": round(_rss_mb(), 1)},
    }
    rf.write_json("manifest.json", clean_json(manifest))


def _snapshot_hashes() -> dict[str, str]:
    from data_store.snapshot import snapshot_sha256

    return snapshot_sha256()


# ---------------------------------------------------------------- terminal summary
def summary_table(run_dir: Path) -> str:
    import json

    m = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    rows = [("model", "acc", "always-up", "best const", "AUC", "IC", "annual", "excess", "Sharpe", "maxDD")]
    for r in m["models"]:
        rows.append((
            label(r["model"]), an.pct(_f(r.get("accuracy"))), an.pct(_f(r.get("always_up_accuracy"))),
            an.pct(_f(r.get("majority_accuracy"))),
            _n(r.get("roc_auc"), 3), _n(r.get("ic"), 3), an.pct(_f(r.get("annual_return"))),
            an.pct(_f(r.get("annual_excess_return")), sign=True), _n(r.get("sharpe"), 2),
            an.pct(_f(r.get("max_drawdown"))),
        ))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    text = "\n".join(lines) + "\n\n" + m["verdict"]
    if m.get("audit"):
        text += "\n\nLeakage audit: " + m["audit"]
    return text


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _n(v: Any, d: int) -> str:
    return "n/a" if v is None else f"{float(v):.{d}f}"


_QUIET = {"on": False}


def _quiet() -> bool:
    return _QUIET["on"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _QUIET["on"] = args.quiet
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    try:
        cfg = config_from_args(args)
        if args.print_config:
            print(C.to_toml(cfg), end="")
            return 0
        t0 = time.perf_counter()
        run_dir = run(cfg)
    except (ConfigError, data_store.DataValidationError, LookaheadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no run folder was written (the incomplete one was removed)", file=sys.stderr)
        return 130
    except ToolkitError as exc:
        from signals.executors import IncompleteRunError

        if isinstance(exc, IncompleteRunError):  # some windows failed for good: say so, write nothing
            print(f"error: {exc}", file=sys.stderr)
            print("the run is INCOMPLETE: no run folder and no tearsheet were written, so no partial "
                  "result can pass for the whole study", file=sys.stderr)
            return 1
        print(f"error: {exc} (no run folder was written)", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug or an environment problem: keep the traceback in the log
        log.exception("run failed")
        print(f"error: {type(exc).__name__}: {exc} (no run folder was written)", file=sys.stderr)
        return 1
    print()
    print(summary_table(run_dir))
    print(f"\nfinished in {time.perf_counter() - t0:.0f} s; open the tearsheet:\n  {run_dir / 'tearsheet.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
