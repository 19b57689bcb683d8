"""``python -m backtests.run``: data -> walk-forward signals -> A-share backtests -> tearsheet.

This module is the command line only: its options become a :class:`~backtests.config.RunConfig`
(:func:`config_from_args`), :func:`backtests.pipeline.run` does the work, and the summary of the
run folder is printed. Exit codes and signals: :mod:`backtests.lifecycle`.

Only the standard library is imported at the top: ``--help`` answers at once, the configuration
(pandas) is loaded to check the options, and torch, scikit-learn and Backtrader only when a run
starts, with Ctrl-C and SIGTERM held back while they import.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .lifecycle import (
    EXIT_AUDIT,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    Interrupted,
    SignalGuard,
    guarded,
    interrupted_text,
    log_to_stderr,
)

if TYPE_CHECKING:
    from .config import RunConfig

log = logging.getLogger("backtests.run")

MODELS = ("lstm", "gru", "attention", "logistic")


def add_study_options(p: argparse.ArgumentParser) -> None:
    """The options that choose the study: preset, config file, model, symbols, first data day
    (``python -m backtests.predict`` shares them)."""
    p.add_argument("--preset", help="starting configuration: quick (the default), research or full "
                   "(backtests/presets/)")
    p.add_argument("--config", help="TOML file of settings over the preset")
    p.add_argument("--model", choices=MODELS, help="model traded")
    p.add_argument("--symbols", nargs="+", metavar="LIST",
                   help="symbols for a study of a few stocks, comma-separated (e.g. SH600519,SZ000001; one symbol: "
                   "a single-stock study with the threshold rule; python -m data_store symbols lists them)")
    p.add_argument("--start", help="first day of data used, YYYY-MM-DD")


def add_execution_options(p: argparse.ArgumentParser) -> None:
    """The options of where and how the windows run and what is written, the audit and any setting
    (``python -m backtests.predict`` shares them)."""
    p.add_argument("--device", choices=("auto", "cpu", "cuda"),
                   help="where the model trains: auto = CUDA when available, else CPU (default auto)")
    p.add_argument("--threads", help="torch and BLAS threads per window (default 1: the same numbers on a busy or "
                   "an idle machine); N is faster on N idle cores but rounds differently; auto = the free cores")
    p.add_argument("--workers", help="worker processes that train windows at once (default auto: the free cores, "
                   "at most one per window; 1 = one after the other in this process); any count gives the same numbers")
    p.add_argument("--executor", choices=("local", "ray"),
                   help="where walk-forward windows run (default local; ray needs pip install .[ray])")
    p.add_argument("--ray-address", help="Ray cluster to join (auto, host:6379, ray://host:10001); "
                   "default: start a local Ray")
    p.add_argument("--strategy", choices=("topk", "threshold"),
                   help="topk: hold the k best-ranked stocks of the universe; threshold: one stock, long above "
                   "an upper p_up, flat below a lower one (default: topk, threshold for one symbol)")
    p.add_argument("--out", help="parent folder of run folders (default: runs)")
    p.add_argument("--name", help="run name (default: preset-model)")
    p.add_argument("--audit", action="store_true", help="also run the leakage audit (cut dates: --set "
                   "report.audit_cuts=YYYY-MM-DD,...; default one in every window); a failed audit exits 3")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="any setting, e.g. --set model.hidden_size=64 (repeatable; --print-config lists them)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m backtests.run",
        description="Walk-forward LSTM up/down signals on the CSI-300, traded under A-share rules, "
        "with a tearsheet that puts accuracy beside the returns earned.",
        epilog="Exit codes: 0 done; 1 a failure that is not the input's (a bug, the environment, an INCOMPLETE run); "
        "2 bad input (configuration, data, cache, output folder: nothing written); 3 the leakage audit found "
        "look-ahead or did not finish (the run folder is written); 130 Ctrl-C, 143 SIGTERM (nothing written).",
    )
    add_study_options(p)
    p.add_argument("--end", help="last day of data used, YYYY-MM-DD or today")
    p.add_argument("--test-start", help="first test day, YYYY-MM-DD")
    add_execution_options(p)
    p.add_argument("--clean", action="store_true", help="remove the incomplete run folders that killed runs left "
                   "under --out (their process is gone), then exit")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    return p


def config_from_args(args: argparse.Namespace, defaults: dict[str, Any] | None = None,
                     last: list[dict[str, Any]] | None = None) -> RunConfig:
    """The run configuration of parsed command-line options: preset <- ``defaults`` (a command's
    own) <- --config <- --symbols <- --set <- options <- ``last`` (what a command sets itself).

    One symbol makes a single-stock study (threshold rule, raw direction) unless chosen otherwise later (the rule
    lives in :func:`backtests.config.load_config`, so ``--set universe.symbols=...`` behaves alike)."""
    from . import config as C

    return C.load_config(args.preset, args.config, overrides(args) + list(last or []), defaults)


def overrides(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The settings the options of ``args`` put over the preset and --config, in their order."""
    from . import config as C

    over: list[dict[str, Any]] = []
    if args.symbols is not None:
        from data_store.symbols import split_symbols

        over.append(C.parse_override(f"universe.symbols={','.join(split_symbols(args.symbols))}"))
    over += [C.parse_override(s) for s in args.set]
    direct = {
        "model.kind": args.model, "model.device": args.device, "universe.start": args.start,
        "universe.end": getattr(args, "end", None), "walk_forward.test_start": getattr(args, "test_start", None),
        "strategy.kind": args.strategy, "output.runs_dir": args.out, "output.name": args.name,
        "execution.executor": args.executor, "execution.ray_address": args.ray_address,
        "execution.threads": getattr(args, "threads", None),
        "execution.workers": getattr(args, "workers", None),
    }
    over += [C.parse_override(f"{key}={val}") for key, val in direct.items() if val is not None]
    if args.audit:
        over.append({"report": {"audit": True}})
    return over


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def clean(runs_dir: str | Path) -> int:
    """``--clean``: remove the incomplete folders of killed runs under ``runs_dir``."""
    from .runfolder import incomplete_folders, remove_stale

    removed = remove_stale(runs_dir)
    for p in removed:
        print(f"removed {p}")
    kept = [f for f in incomplete_folders(runs_dir) if f.alive is not False]
    for f in kept:
        why = "its run is still going" if f.alive else f"its owner (host {f.host}, pid {f.pid}) cannot be checked here"
        print(f"kept {f.path}: {why}")
    if not removed and not kept:
        print(f"no incomplete run folders under {runs_dir}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    return guarded(_main, argv, "nothing was written")


def _main(argv: list[str] | None, guard: SignalGuard) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr(args.quiet)
    from core.errors import ToolkitError

    run_dir: Path | None = None
    try:
        cfg = config_from_args(args)
        if args.print_config:
            from .config import to_toml

            print(to_toml(cfg), end="")
            return EXIT_OK
        if args.clean:
            return clean(cfg.output.runs_dir)
        with guard.held():  # an import cut by Ctrl-C leaves torch half-imported: finish them first
            from signals.execution.runtime import load_torch

            from .outputs import audit_failed, summary_table
            from .pipeline import run

            load_torch()
        t0 = time.perf_counter()
        run_dir = run(cfg, progress=not args.quiet)
        print()
        print(summary_table(run_dir))
        print(f"\nfinished in {time.perf_counter() - t0:.0f} s; open the tearsheet:\n  {run_dir / 'tearsheet.html'}")
        if audit_failed(run_dir):
            print("\nthe leakage audit FAILED (or did not finish): the run folder is written, but its numbers are not "
                  "evidence of skill "
                  f"(exit code {EXIT_AUDIT})", file=sys.stderr)
            return EXIT_AUDIT
        return EXIT_OK
    except Interrupted as exc:
        return _interrupted(exc.signum, run_dir)
    except Exception as exc:
        if guard.received is not None:  # the interrupt surfaced as another error (a library's cleanup)
            return _interrupted(guard.received, run_dir)
        wf = sys.modules.get("signals.walk_forward")  # not imported: exc cannot be one of its errors
        if wf is not None and isinstance(exc, wf.IncompleteRunError):  # windows failed for good: write nothing
            _error(str(exc))
            print("the run is INCOMPLETE: no run folder and no tearsheet were written, so no partial "
                  "result can pass for the whole study", file=sys.stderr)
            return EXIT_FAILED
        if isinstance(exc, ToolkitError):  # bad configuration, data, cache or output folder
            _error(str(exc))
            return EXIT_INPUT
        if isinstance(exc, OSError):  # the environment (a full disk, ...): the message names the file
            _error(f"{type(exc).__name__}: {exc}" + ("" if run_dir else " (no run folder was written)"))
            return EXIT_FAILED
        log.exception("run failed")  # a bug: keep the traceback in the log
        _error(f"{type(exc).__name__}: {exc}" + ("" if run_dir else " (no run folder was written)"))
        return EXIT_FAILED


def _interrupted(signum: int, run_dir: Path | None) -> int:
    what = (f"the run folder was complete: {run_dir}" if run_dir else
            "no run folder was written (the incomplete one was removed)")
    print(f"{interrupted_text(signum)}: {what}", file=sys.stderr)
    return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
