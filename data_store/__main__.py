"""Command line of the data layer.

    python -m data_store info   [--cache-dir DIR] [--no-cache]
    python -m data_store symbols [--on YYYY-MM-DD] [--symbols SH600519,SZ000001] [--csv] [--cache-dir DIR] [--no-cache]
    python -m data_store update --source akshare|tushare
                                [--membership index-constitution|tushare|akshare|qlib:PATH|observed]
                                [--symbols SH600519,SZ000001] [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--cache-dir DIR]
                                [--tushare-points N] [--calls-per-minute N] [--max-failures N] [--max-silence S]
    python -m data_store update --source akshare|tushare --characteristics [--symbols ...] [--start] [--end]
    python -m data_store update --repair [--cache-dir DIR]

Exit codes: 0 done (symbols the vendor has no bars for are listed, not failures); 1 update
finished with per-symbol failures or calendar gaps (listed; run again to resume); 2 error, one
line on stderr (bad input, vendor unreachable, or a vendor that stopped answering: what was
fetched before stays committed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from core.errors import ToolkitError

from .cache.merge import merge_cache
from .cache.store import ENV_VAR, Cache, resolve_cache_dir

log = logging.getLogger("data_store")


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write YYYY-MM-DD") from exc


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m data_store", description="CSI-300 data: snapshot + user cache")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details (INFO)")
    sub = p.add_subparsers(dest="command", required=True)
    cache_help = f"cache folder (default ${ENV_VAR}, else the user cache dir: {resolve_cache_dir(None)})"

    info = sub.add_parser("info", help="ranges, coverage, anomalies, provenance and cache state")
    info.add_argument("--cache-dir", default=None, help=cache_help)
    info.add_argument("--no-cache", action="store_true", help="the snapshot alone")

    sym = sub.add_parser("symbols", help="every code with its name, first and last bar, and CSI-300 membership",
                         description="Every symbol of the data: its exchange-prefixed code (what --symbols and a "
                                     "predictions table take), name, first and last bar, number of bars, and its "
                                     "CSI-300 membership spans (first..last member day; 'start..' = still a member).")
    sym.add_argument("--on", type=_date, default=None, help="only the point-in-time members of this day, YYYY-MM-DD")
    sym.add_argument("--symbols", nargs="+", default=None, metavar="LIST",
                     help="only these codes (comma-separated, e.g. SH600519,SZ000001)")
    sym.add_argument("--csv", action="store_true", help="write CSV (codes as text) instead of a table")
    sym.add_argument("--cache-dir", default=None, help=cache_help)
    sym.add_argument("--no-cache", action="store_true", help="the snapshot alone")

    up = sub.add_parser("update", help="fetch days beyond the snapshot into the cache",
                        description="Fetch days beyond the snapshot into the cache. Each symbol is committed "
                                    "on its own: an interrupted or stopped update resumes when run again.")
    up.add_argument("--source", choices=["akshare", "tushare"],
                    help="vendor of bars and index (tushare needs $TUSHARE_TOKEN)")
    up.add_argument("--membership", default="index-constitution", metavar="SOURCE",
                    help="dated membership history for days after the snapshot: index-constitution (default; "
                         "the snapshot's own source, a local package), tushare (index_weight, 2000 points), "
                         "akshare (index_stock_hist, akshare <= 1.10.36), qlib:PATH (a qlib instruments file), "
                         "or observed (only the vendor's member list of the day, dated the day you update)")
    up.add_argument("--symbols", nargs="+", default=None, metavar="LIST",
                    help="symbols, comma-separated (SH600519,SZ000001; 600519.SH or 600519 also read); default: every "
                         "member on a day of the range plus the vendor's member list of the day")
    up.add_argument("--start", type=_date, default=None,
                    help="first day (default: 14 days before the snapshot ends, so the seam is checked)")
    up.add_argument("--end", type=_date, default=None, help="last day (default: today)")
    up.add_argument("--cache-dir", default=None, help=cache_help)
    up.add_argument("--timeout", type=_positive(float), default=30.0, help="seconds per vendor call (default 30)")
    up.add_argument("--retries", type=int, default=3, help="retries per vendor call, with backoff (default 3)")
    up.add_argument("--tushare-points", type=_positive(int), default=None,
                    help="your tushare account's points, which set its per-minute quota (120: 50/min, 2000: 200/min, "
                         "5000: 500/min, 10000: 1000/min); default $TUSHARE_POINTS, else 120")
    up.add_argument("--calls-per-minute", type=_positive(float), default=None,
                    help="pace vendor calls to this rate instead (default: the vendor's quota; akshare 120/min)")
    up.add_argument("--max-failures", type=_positive(int), default=6,
                    help="stop after this many vendor calls in a row failed (default 6)")
    up.add_argument("--max-silence", type=_positive(float), default=45.0,
                    help="stop when no vendor call succeeded for this many seconds since failures began (default 45)")
    up.add_argument("--no-progress", action="store_true", help="no progress bar")
    up.add_argument("--characteristics", action="store_true",
                    help="fetch the vendor characteristics the snapshot lacks instead of bars: tushare daily_basic "
                         "(market values, pb, pe; 2000 points) and index_member_all (Shenwan industry), or akshare's "
                         "turnover rate (float shares and value); for the styles size, value and industry. Default "
                         "range: the snapshot's first day to today; default symbols: every symbol of the data")
    up.add_argument("--repair", action="store_true",
                    help="check every cache file against the manifest and the calendar; drop what data_store.load() "
                         "refuses (then update again to refetch)")
    return p


def cmd_info(args: argparse.Namespace) -> int:
    from .info import info_text
    from .loader import load_snapshot
    from .snapshot import snapshot_sha256

    snap = load_snapshot()
    md = snap
    cache = Cache(args.cache_dir)
    error = ""
    if not args.no_cache:
        try:
            md = merge_cache(snap, cache.root, on_corrupt="skip")
        except (ToolkitError, OSError) as exc:  # info reports, it never dies on a cache
            error = str(exc).splitlines()[0]
            log.warning("cache not merged: %s", error)
    state: dict[str, Any] = {"dir": str(cache.root), "exists": False}
    if not args.no_cache:
        state = cache.state(snap.calendar)
    if error:
        state.setdefault("problems", []).append(("(merge)", error))
    print(info_text(md, snapshot_sha256(), state))
    return 0


def _market(args: argparse.Namespace) -> Any:
    """The snapshot, with the cache merged unless ``--no-cache`` (a damaged cache is skipped with a warning)."""
    from .loader import load_snapshot

    snap = load_snapshot()
    if args.no_cache:
        return snap
    try:
        return merge_cache(snap, Cache(args.cache_dir).root, on_corrupt="skip")
    except (ToolkitError, OSError) as exc:
        log.warning("cache not merged: %s", str(exc).splitlines()[0])
        return snap


def cmd_symbols(args: argparse.Namespace) -> int:
    from .symbols import split_symbols, symbol_table, unknown_symbols_text

    wanted = split_symbols(args.symbols)
    md = _market(args)
    if args.on is not None and not md.calendar[0] <= args.on <= md.calendar[-1] + pd.Timedelta(days=7):
        raise ToolkitError(f"--on {args.on.date()} is outside the data ({md.calendar[0].date()}.."
                           f"{md.calendar[-1].date()}): choose a day inside it")
    table = symbol_table(md, on=args.on, symbols=wanted or None)
    known = set(symbol_table(md)["symbol"]) if wanted else set()
    missing = [s for s in wanted if s not in known]
    if missing:
        raise ToolkitError(unknown_symbols_text(missing, known))
    if args.csv:
        sys.stdout.write(table.to_csv(index=False))
        return 0
    print(table.to_string(index=False) if len(table) else "no symbol matches")
    where = f" that were CSI-300 members on {args.on.date()}" if args.on is not None else ""
    print(f"\n{len(table)} symbol(s){where}; data {md.calendar[0].date()}..{md.calendar[-1].date()}")
    return 0


def cmd_repair(cache: Cache) -> int:
    from .loader import load_snapshot

    if not cache.root.is_dir():
        raise ToolkitError(f"no cache at {cache.root}: the folder does not exist (check --cache-dir or ${ENV_VAR}); "
                           "nothing to repair")
    if not cache.exists() and not any(cache.root.iterdir()):
        print(f"{cache.root}: empty folder, no cache files; nothing to repair")
        return 0
    done = cache.repair(load_snapshot(validate=False).calendar)
    if done:
        print(f"repaired {cache.root}: {len(done)} file(s):")
        for item in done:
            print(f"  {item}")
        print("run `python -m data_store update --source ...` to refetch what was dropped")
    else:
        n = len(cache.read_manifest()["files"])
        print(f"{cache.root}: all {n} file(s) match the manifest and the calendar; nothing to repair")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    cache = Cache(args.cache_dir)
    if args.repair:
        return cmd_repair(cache)
    if args.source is None:
        raise ToolkitError("update needs --source akshare or --source tushare (or --repair)")
    if args.retries < 0:
        raise ToolkitError(f"--retries must be >= 0 (got {args.retries})")
    from .loader import load_snapshot
    from .sources import CallPolicy, make_source
    from .sources.membership import make_membership_source
    from .update import run_update

    policy = CallPolicy(timeout=args.timeout, retries=args.retries, calls_per_minute=args.calls_per_minute,
                        max_consecutive_failures=args.max_failures, max_silence=args.max_silence)
    source = make_source(args.source, policy, points=args.tushare_points)
    source.probe()  # offline: fail here, in seconds, before loading anything
    snap = load_snapshot(validate=False)
    if args.characteristics:
        return cmd_characteristics(args, source, cache, snap)
    membership = make_membership_source(args.membership, calendar=snap.calendar, bar_source=source, policy=policy,
                                        progress=not args.no_progress)
    from .symbols import split_symbols

    symbols = split_symbols(args.symbols) or None
    report = run_update(source, cache, snapshot=snap, default_symbols=snap.members(snap.end), symbols=symbols,
                        start=args.start, end=args.end, membership=membership, progress=not args.no_progress,
                        probe=False)
    if report.stopped:
        raise ToolkitError(f"{report.stopped.splitlines()[0]} [{len(report.ok)} symbol(s) committed, "
                           f"{len(report.not_attempted)} not attempted]")
    print(f"{args.source} -> {cache.root}: {report.start.date()}..{report.end.date()}; "
          f"{len(report.ok)} symbol(s) updated ({report.bar_rows:,} bar rows), {len(report.skipped)} already "
          f"current, index rows {report.index_rows}, membership rows {report.membership_rows}")
    m = report.membership
    if m is not None and m.label:
        diff = (m.agreement or {}).get("member_days_differ", 0)
        print(f"membership history: {m.label} (known to {m.as_of}), {len(m.changes or [])} change day(s) after the "
              f"snapshot; {diff} member-day(s) differ from the snapshot's membership")
    if report.no_bars:
        print(f"{len(report.no_bars)} symbol(s) have no bars in the range (recorded in the manifest, not retried):")
        for sym, nob in sorted(report.no_bars.items()):
            print(f"  {sym}: last bar {nob.get('last_bar') or 'none cached'}; {nob['reason']}")
    problems: dict[str, str] = dict(report.failed)
    for day, n in sorted(report.calendar_gaps.items()):
        problems[f"<calendar {day}>"] = (f"{n} symbol(s) have bars on {day}, which the index lacks: those rows "
                                         "were not cached; run again once the index vendor has the day")
    if problems:
        print(f"{len(problems)} failure(s); the cache is consistent, run the same command again to resume:",
              file=sys.stderr)
        for what, why in sorted(problems.items()):
            print(f"  {what}: {why.splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def cmd_characteristics(args: argparse.Namespace, source: Any, cache: Cache, snap: Any) -> int:
    from .update import _today, run_characteristics

    symbols = args.symbols or snap.symbols
    start = args.start if args.start is not None else snap.start
    end = args.end if args.end is not None else _today()
    report = run_characteristics(source, cache, symbols, start, end, industry=args.source == "tushare",
                                 progress=not args.no_progress)
    if report.stopped:
        raise ToolkitError(f"{report.stopped.splitlines()[0]} [{len(report.ok)} symbol(s) committed, "
                           f"{len(report.not_attempted)} not attempted]")
    print(f"{args.source} characteristics -> {cache.root}: {start.date()}..{end.date()}; {len(report.ok)} symbol(s) "
          f"({report.bar_rows:,} rows), {len(report.skipped)} already current, {len(report.no_bars)} without data")
    if report.failed:
        print(f"{len(report.failed)} failure(s); run the same command again to resume:", file=sys.stderr)
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
        if args.command == "symbols":
            return cmd_symbols(args)
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
