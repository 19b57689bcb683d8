"""Command line of the data layer.

    python -m data_store info   [--cache-dir DIR] [--no-cache]
    python -m data_store update --source akshare|tushare [--symbols SH600519 ...]
                                [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--cache-dir DIR]
    python -m data_store update --repair [--cache-dir DIR]

Exit codes: 0 done; 1 update finished with per-symbol failures (listed; run again to resume);
2 error (one line on stderr).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import pandas as pd

from .cache import ENV_VAR, Cache, resolve_cache_dir
from .errors import ToolkitError
from .merge import merge_cache

log = logging.getLogger("data_store")


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from exc


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m data_store", description="CSI-300 data: snapshot + user cache")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details (INFO)")
    sub = p.add_subparsers(dest="command", required=True)
    cache_help = f"cache folder (default ${ENV_VAR}, else the user cache dir: {resolve_cache_dir(None)})"

    info = sub.add_parser("info", help="ranges, coverage, anomalies, provenance and cache state")
    info.add_argument("--cache-dir", default=None, help=cache_help)
    info.add_argument("--no-cache", action="store_true", help="the snapshot alone")

    up = sub.add_parser("update", help="fetch days beyond the snapshot into the cache")
    up.add_argument("--source", choices=["akshare", "tushare"], help="vendor (tushare needs $TUSHARE_TOKEN)")
    up.add_argument("--symbols", nargs="+", default=None,
                    help="symbols (SH600519, 600519.SH or 600519); default: the latest constituents "
                         "plus the snapshot's last-day members")
    up.add_argument("--start", type=_date, default=None, help="first day (default: 14 days before the snapshot ends)")
    up.add_argument("--end", type=_date, default=None, help="last day (default: today)")
    up.add_argument("--cache-dir", default=None, help=cache_help)
    up.add_argument("--timeout", type=float, default=30.0, help="seconds per vendor call (default 30)")
    up.add_argument("--retries", type=int, default=3, help="retries per vendor call, with backoff (default 3)")
    up.add_argument("--no-progress", action="store_true", help="no progress bar")
    up.add_argument("--repair", action="store_true",
                    help="check every cache file against the manifest; drop damaged ones (then update again)")
    return p


def cmd_info(args: argparse.Namespace) -> int:
    from .info import info_text
    from .loader import load_snapshot
    from .snapshot import snapshot_sha256

    md = load_snapshot()
    cache = Cache(args.cache_dir)
    if not args.no_cache:
        md = merge_cache(md, cache.root, on_corrupt="skip")
    print(info_text(md, snapshot_sha256(), cache.state()))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    cache = Cache(args.cache_dir)
    if args.repair:
        removed = cache.repair()
        if removed:
            print(f"repaired {cache.root}: removed {len(removed)} damaged file(s): {', '.join(removed)}")
            print("run `python -m data_store update --source ...` to refetch them")
        else:
            print(f"{cache.root}: every file matches the manifest; nothing to repair")
        return 0
    if args.source is None:
        raise ToolkitError("update needs --source akshare or --source tushare (or --repair)")
    if args.retries < 0 or args.timeout <= 0:
        raise ToolkitError(f"--timeout must be > 0 and --retries >= 0 (got {args.timeout}, {args.retries})")
    from .loader import load_snapshot
    from .sources import CallPolicy, make_source
    from .update import run_update

    source = make_source(args.source, CallPolicy(timeout=args.timeout, retries=args.retries))
    source.probe()  # offline: fail here, in seconds, before loading anything
    snap = load_snapshot(validate=False)
    report = run_update(
        source, cache, snapshot_end=snap.end, default_symbols=snap.members(snap.end),
        symbols=args.symbols, start=args.start, end=args.end, progress=not args.no_progress, probe=False,
    )
    print(f"{args.source} -> {cache.root}: {report.start.date()}..{report.end.date()}; "
          f"{len(report.ok)} symbol(s) updated ({report.bar_rows:,} bar rows), {len(report.skipped)} already "
          f"current, index rows {report.index_rows}, membership rows {report.membership_rows}")
    if report.failed:
        print(f"{len(report.failed)} failure(s); the cache is consistent, run the same command again to resume:",
              file=sys.stderr)
        for what, why in sorted(report.failed.items()):
            print(f"  {what}: {why.splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "info":
            return cmd_info(args)
        return cmd_update(args)
    except (ToolkitError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"data_store {args.command}: error: {first}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"data_store {args.command}: interrupted; the cache is consistent, run again to resume",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
