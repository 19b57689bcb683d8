"""Figures for ``python -m data_store info``: ranges, coverage, membership quirks, anomalies,
provenance and cache state, as plain-text tables (pure functions; the CLI prints them)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .market import MarketData

#: The index has this many constituents; other daily member counts are quirks of the source.
INDEX_SIZE = 300
#: Suspect jumps listed by ``info`` (the latest ones).
JUMPS_SHOWN = 20


def membership_quirks(md: MarketData) -> pd.DataFrame:
    """Runs of consecutive trading days whose member count is not :data:`INDEX_SIZE`, and the
    symbols that explain each run: at its first day, changes versus the day before; at its last
    day, changes versus the day after (``+SYM`` joins, ``-SYM`` leaves)."""
    counts = md.coverage()["members"]
    cal = md.calendar
    off = (counts != INDEX_SIZE).to_numpy()
    rows: list[dict[str, Any]] = []
    i = 0
    while i < len(off):
        if not off[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(off) and off[j + 1] and counts.iloc[j + 1] == counts.iloc[i]:
            j += 1

        def diff(a: int, b: int) -> str:
            if a < 0 or b >= len(cal):
                return "(edge of the data)"
            sa, sb = set(md.members(cal[a])), set(md.members(cal[b]))
            parts = [f"+{s}" for s in sorted(sb - sa)] + [f"-{s}" for s in sorted(sa - sb)]
            return " ".join(parts) or "(no change)"

        rows.append({
            "first": cal[i].date(), "last": cal[j].date(), "days": j - i + 1, "members": int(counts.iloc[i]),
            "on entry": diff(i - 1, i), "on exit": diff(j, j + 1),
        })
        i = j + 1
    return pd.DataFrame(rows, columns=["first", "last", "days", "members", "on entry", "on exit"])


def _spans_of(md: MarketData, symbols: list[str]) -> str:
    sp = md.membership.spans
    sp = sp[sp["symbol"].isin(symbols)]
    return "; ".join(
        f"{r.symbol} {r.name} member {r.start.date()}..{'' if pd.isna(r.end) else r.end.date()}"
        for r in sp.itertuples()
    )


def provenance_lines(md: MarketData) -> list[str]:
    """The bullet lines of the snapshot README's Provenance section plus the cache line."""
    lines: list[str] = []
    on = False
    for line in md.provenance.splitlines():
        if line.startswith("## "):
            on = line.strip() in ("## Provenance", "## Cache")
            continue
        if on and line.strip():
            text = line.strip()
            if lines and not text.startswith(("- ", "* ")) and lines[-1].startswith(("- ", "* ")):
                lines[-1] += " " + text  # a wrapped bullet
            else:
                lines.append(text)
    return lines


def _table(df: pd.DataFrame, index: bool = True) -> str:
    return df.to_string(index=index)


def info_text(md: MarketData, snapshot_sha: dict[str, str], cache_state: dict[str, Any]) -> str:
    """The whole ``info`` report as text."""
    s = md.summary()
    cov = md.coverage()
    out: list[str] = []
    add = out.append

    add("CSI-300 market data")
    add("===================")
    add(_table(pd.DataFrame({"value": [
        f"{s['start']} .. {s['end']}", s["trading_days"], s["symbols_with_bars"], f"{s['bar_rows']:,}",
        len(md.index), s["membership_symbols"], s["members_without_bars"], ", ".join(s["sources"]),
    ]}, index=["date range", "trading days (index dates)", "stocks with bars", "bar rows", "index rows",
               "symbols in membership", "members without any bar", "sources"])))
    add("")
    add("Coverage per trading day (point-in-time members)")
    desc = pd.DataFrame({
        "min": cov[["members", "members_with_bar", "tradable", "missing"]].min(),
        "median": cov[["members", "members_with_bar", "tradable", "missing"]].median(),
        "max": cov[["members", "members_with_bar", "tradable", "missing"]].max(),
    }).astype(int)
    desc.index = ["members", "members with a bar", "tradable (bar, volume > 0)", "members without a bar"]
    add(_table(desc))
    by_year = cov.groupby(cov.index.year)[["members_with_bar", "tradable"]].agg(["min", "max"])
    by_year.columns = [f"{a} {b}" for a, b in by_year.columns]
    add("")
    add("Coverage by year (members with a bar / tradable, min and max per day)")
    add(_table(by_year))
    add("")
    quirks = membership_quirks(md)
    add(f"Days whose member count is not {INDEX_SIZE} (the source's span off-by-ones)")
    if quirks.empty:
        add("  none")
    else:
        add(_table(quirks, index=False))
        culprits = sorted({tok[1:] for col in ("on entry", "on exit") for cell in quirks[col]
                           for tok in str(cell).split() if tok[:1] in "+-"})
        add(f"  spans involved: {_spans_of(md, culprits)}")
    add("")
    add(f"Members without any bar: {s['members_without_bars']} symbols (delisted or members only before 2010), "
        f"e.g. {', '.join(md.members_without_bars()[:8])}")
    add("")
    add("Anomalies (real market facts: counted, never dropped or filled)")
    add(_table(md.anomalies.as_frame()))
    jumps = md.anomalies.jumps
    if len(jumps):
        add("")
        add(f"Suspect jumps: {len(jumps)} open/close beyond the board's limit with the factor unchanged (a missed "
            "ex-rights adjustment or a wrong bar; MarketData.suspect_jumps() is the mask, data_store.jumps.spanning() "
            "keeps samples that span one out)")
        shown = jumps.tail(JUMPS_SHOWN).assign(move=lambda f: (f["move"] * 100).round(1).astype(str) + "%")
        add(_table(shown[["date", "symbol", "prev_close", "open", "close", "move", "limit"]]
                   .assign(date=lambda f: f["date"].dt.date, limit=lambda f: f["limit"].map("{:.0%}".format)),
                   index=False))
        if len(jumps) > JUMPS_SHOWN:
            add(f"  ... the latest {JUMPS_SHOWN} of {len(jumps)} shown; all are in MarketData.anomalies.jumps")
    if len(md.merge_report):
        add("")
        add(f"Snapshot/cache disagreements (snapshot kept): {len(md.merge_report)}")
        add(_table(md.merge_report.groupby(["kind", "field"]).size().rename("count").to_frame()))
    add("")
    add("Provenance")
    for line in provenance_lines(md):
        add(f"  {line}")
    add("")
    add("Snapshot files (sha256)")
    for name, digest in snapshot_sha.items():
        add(f"  {name:<22} {digest}")
    add(f"  canonical data fingerprint  {md.fingerprint()}")
    add("")
    add("Cache")
    add(f"  folder   {cache_state['dir']}")
    if not cache_state.get("exists"):
        add("  state    empty (no manifest.json): the snapshot alone is loaded")
    else:
        rows = cache_state.get("rows", {})
        sources = ", ".join(cache_state.get("sources", []))
        add(f"  range    {cache_state.get('start')} .. {cache_state.get('end')}   sources {sources}")
        add(f"  files    {cache_state.get('files')}   symbols {len(cache_state.get('symbols', []))}   rows "
            f"bars {rows.get('bars', 0):,} / index {rows.get('index', 0):,} / membership {rows.get('membership', 0):,}")
        add(f"  updated  {cache_state.get('updated_at')}   manifest sha256 {cache_state.get('manifest_sha256')}")
        last = cache_state.get("last_update")
        if last:
            add(f"  last update {last.get('source')} {last.get('start')}..{last.get('end')}: ok {last.get('ok')}, "
                f"skipped {last.get('skipped')}, failed {len(last.get('failed', {}))}, "
                f"no bars {len(last.get('no_bars', []))}")
            if last.get("stopped"):
                add(f"  stopped  {last['stopped'].splitlines()[0]}")
        hist = cache_state.get("membership_history")
        if hist:
            agree = hist.get("agreement_with_snapshot") or {}
            add(f"  membership after the snapshot: {hist.get('label')} (known to {hist.get('as_of')}); on "
                f"{agree.get('range')} it differs from the snapshot on {agree.get('member_days_differ', 0)} "
                f"member-day(s) of {agree.get('names_differ', 0)} name(s)")
            for ch in hist.get("changes_after_snapshot") or []:
                add(f"    {ch['date']}: +{len(ch['joined'])} -{len(ch['left'])}  {' '.join(ch['joined'][:6])}"
                    f"{' ...' if len(ch['joined']) > 6 else ''}  ({ch['source']})")
        elif cache_state.get("rows", {}).get("membership"):
            add("  membership after the snapshot: dated by the vendor's member list of each update day only "
                "(no dated history cached: changes between updates are dated late)")
        for sym, why in sorted((cache_state.get("no_bars") or {}).items()):
            add(f"  no bars  {sym}: last bar {why.get('last_bar') or 'none cached'}; {why.get('reason')}")
    problems = cache_state.get("problems") or []
    if problems:
        add(f"  DAMAGED  {len(problems)} file(s) (data_store.load() refuses the cache; `python -m data_store update "
            "--repair` fixes it):")
        for rel, msg in problems:
            add(f"    {rel}: {msg}")
    elif cache_state.get("exists"):
        add("  check    every file matches its manifest sha256")
    return "\n".join(out)

