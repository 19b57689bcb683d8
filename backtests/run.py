"""``python -m backtests.run``: data -> walk-forward signals -> A-share backtests -> tearsheet.

This module is the command line only: its options become a :class:`~backtests.config.RunConfig`
(:func:`config_from_args`), :func:`backtests.pipeline.run` does the work, and the summary of the
run folder is printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

import data_store
from data_store.errors import ConfigError, ToolkitError
from signals.errors import LookaheadError
from signals.walk_forward import IncompleteRunError

from . import config as C

log = logging.getLogger("backtests.run")

MODELS = ("lstm", "gru", "attention", "logistic")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m backtests.run",
        description="Walk-forward LSTM up/down signals on the CSI-300, traded under A-share rules, "
        "with a tearsheet that puts accuracy beside the returns earned.",
    )
    p.add_argument("--preset", choices=C.PRESETS, help="starting configuration (default: quick)")
    p.add_argument("--config", help="TOML file of settings over the preset")
    p.add_argument("--model", choices=MODELS, help="model traded")
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
                   help="any setting, e.g. --set model.hidden_size=64 (repeatable; --print-config lists them)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    return p


def config_from_args(args: argparse.Namespace) -> C.RunConfig:
    """The run configuration of parsed command-line options: preset <- --config <- --set <- options."""
    over: list[dict[str, Any]] = []
    if args.symbols is not None and len([s for s in args.symbols.split(",") if s.strip()]) == 1:
        # a single-stock study trades with the one-instrument rule and asks the tutorials' question (the
        # raw direction: a cross-sectional target needs a cross-section) unless told otherwise
        over.append({"strategy": {"kind": "threshold"}, "labels": {"relative": "none", "target": "updown"},
                     "model": {"objective": "bce", "early_stop": "loss"}})
    over += [C.parse_override(s) for s in args.set]
    direct = {
        "model.kind": args.model, "model.device": args.device, "universe.start": args.start,
        "universe.end": args.end, "walk_forward.test_start": args.test_start, "strategy.kind": args.strategy,
        "output.runs_dir": args.out, "output.name": args.name, "execution.executor": args.executor,
        "execution.ray_address": args.ray_address,
    }
    over += [C.parse_override(f"{key}={val}") for key, val in direct.items() if val is not None]
    if args.symbols is not None:
        syms = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
        if not syms:
            raise ConfigError(f"--symbols {args.symbols!r} names no symbol")
        over.append({"universe": {"symbols": tuple(syms)}})
    if args.audit:
        over.append({"report": {"audit": True}})
    return C.load_config(args.preset, args.config, over)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    try:
        cfg = config_from_args(args)
        if args.print_config:
            print(C.to_toml(cfg), end="")
            return 0
        from .outputs import summary_table
        from .pipeline import run

        t0 = time.perf_counter()
        run_dir = run(cfg, progress=not args.quiet)
    except (ConfigError, data_store.DataValidationError, LookaheadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: no run folder was written (the incomplete one was removed)", file=sys.stderr)
        return 130
    except IncompleteRunError as exc:  # some windows failed for good: say so, write nothing
        print(f"error: {exc}", file=sys.stderr)
        print("the run is INCOMPLETE: no run folder and no tearsheet were written, so no partial "
              "result can pass for the whole study", file=sys.stderr)
        return 1
    except ToolkitError as exc:
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
