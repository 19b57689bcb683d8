"""``python -m backtests.predict``: the next session's target portfolio and orders.

The options are ``python -m backtests.run``'s (preset, config file, model, symbols, strategy,
``--set``, ``--out``...) plus the day (``--as-of``), the book (``--holdings``, ``--cash``) and the
record (``--record``); the work is :func:`backtests.predict.pipeline.predict`. The data cache is
merged by default (``data.use_cache = true``, unlike a run): a prediction is for the latest data.

Only the standard library is imported at the top: ``--help`` answers at once; pandas comes with the
configuration, torch and the rest when the fit starts (Ctrl-C held back while they import).
Exit codes: :mod:`backtests.lifecycle` (2 also for stale data, with the update command to run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Any

from ..lifecycle import (
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
from ..run import add_execution_options, add_study_options, config_from_args

log = logging.getLogger("backtests.predict")

#: the prediction's own defaults over the preset's (a config file or --set still wins); universe.end and
#: walk_forward.test_start/test_end are set by the prediction itself (the decision day and its windows)
DEFAULTS: dict[str, Any] = {"data": {"use_cache": True}}
DEFAULT_RECORD = 2
MAX_RECORD = 20


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: write YYYY-MM-DD") from None


def _record(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= n <= MAX_RECORD:
        raise argparse.ArgumentTypeError(f"{n} is out of range: allowed 0..{MAX_RECORD}")
    return n


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m backtests.predict",
        description="Fit the configured model on the latest walk-forward window the data allow, score every "
        "tradable CSI-300 member for the next session, and write targets.csv (the target portfolio) and "
        "orders.csv (the buys and sells for the next open, from your holdings and cash, with the reason for "
        "every order that would not be placed) beside the model's recent walk-forward record.",
        epilog="Exit codes: 0 written; 1 a failure that is not the input's (a bug, the environment, a window that "
        "failed); 2 bad input, stale data included (the data end before the exchange's latest session: run "
        "`python -m data_store update --source akshare` first; nothing written); 3 the leakage audit found "
        "look-ahead (the folder is written); 130 Ctrl-C, 143 SIGTERM (nothing written).",
    )
    add_study_options(p)
    p.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                   help="predict after the close of this past trading day instead of the data's last day (the "
                   "next session's realised open, close and fills are shown beside each order and target)")
    p.add_argument("--holdings", metavar="FILE", help="CSV of the book's holdings: symbol, shares, bought "
                   "(YYYY-MM-DD, the day bought, for T+1 and the minimum holding period; one row per purchase); "
                   "needs --cash")
    p.add_argument("--cash", type=float, metavar="CNY", help="cash of the book (default without --holdings: "
                   "strategy.initial_cash)")
    p.add_argument("--cycle-start", type=_day, metavar="YYYY-MM-DD",
                   help="day 0 of the book's TopK review cycle (strategy.topk.hold_days, rebalance_every), as a "
                   "backtest's first decision day: the decision day of the book's first orders (default: the decision "
                   "day of the earliest purchase in --holdings, or the decision day itself for a book of cash)")
    p.add_argument("--record", type=_record, default=DEFAULT_RECORD, metavar="N",
                   help=f"walk-forward windows fitted and measured just before the decision day, the model's "
                   f"recent record: IC, rank IC, accuracy (default {DEFAULT_RECORD}; 0 = none, the fastest)")
    add_execution_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")
    return p


def _error(text: str) -> None:
    print(f"error: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return guarded(_main, argv, "nothing was written")


def _main(argv: list[str] | None, guard: SignalGuard) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr(args.quiet)
    from core.errors import ConfigError, ToolkitError

    written: Path | None = None
    try:
        # the days are the prediction's own (set from the data once loaded): until then, today
        from ..config import parse_override

        today = dt.date.today().isoformat()
        days = [parse_override(f"universe.end={today}"), parse_override(f"walk_forward.test_start={today}")]
        cfg = config_from_args(args, DEFAULTS, days)
        if args.print_config:
            from ..config import to_toml

            print(to_toml(cfg), end="")
            return EXIT_OK
        if args.holdings is not None and args.cash is None:
            raise ConfigError("--holdings needs --cash: the book's cash beside its holdings (0 if none)")
        import pandas as pd

        from .holdings import read_holdings

        book = read_holdings(args.holdings, cfg.strategy.initial_cash if args.cash is None else args.cash,
                             None if args.cycle_start is None else pd.Timestamp(args.cycle_start))

        from .pipeline import predict, prepare

        # the data, the days (stale data refused), the book and the windows, before torch is loaded
        inputs = prepare(cfg, book, as_of=None if args.as_of is None else pd.Timestamp(args.as_of),
                         record=args.record)
        with guard.held():  # an import cut by Ctrl-C leaves torch half-imported: finish them first
            from signals.execution.runtime import load_torch

            load_torch()
        out = predict(inputs, progress=not args.quiet)
        written = out.folder
        print(out.summary)
        print(f"\nrun folder: {out.folder}\n  {out.folder / 'orders.csv'}\n  {out.folder / 'targets.csv'}")
        if out.audit_passed is False:
            print(f"\nthe leakage audit FAILED: the lists are written, but their scores may use the future "
                  f"(exit code {EXIT_AUDIT})", file=sys.stderr)
            return EXIT_AUDIT
        return EXIT_OK
    except Interrupted as exc:
        return _interrupted(exc.signum, written)
    except Exception as exc:
        if guard.received is not None:
            return _interrupted(guard.received, written)
        wf = sys.modules.get("signals.walk_forward")
        if wf is not None and isinstance(exc, wf.IncompleteRunError):
            _error(str(exc))
            print("the prediction is INCOMPLETE: no run folder was written", file=sys.stderr)
            return EXIT_FAILED
        if isinstance(exc, ToolkitError):  # bad configuration, data (stale included), book, output folder
            _error(str(exc).splitlines()[0])
            return EXIT_INPUT
        if isinstance(exc, OSError):
            _error(f"{type(exc).__name__}: {exc} (no run folder was written)")
            return EXIT_FAILED
        log.exception("prediction failed")
        _error(f"{type(exc).__name__}: {exc} (no run folder was written)")
        return EXIT_FAILED


def _interrupted(signum: int, folder: Path | None) -> int:
    what = f"the run folder was complete: {folder}" if folder else "no run folder was written"
    print(f"{interrupted_text(signum)}: {what}", file=sys.stderr)
    return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
