"""How each dated CSI-300 membership source agrees with the snapshot's membership, 2010-2025.

    python bench/membership_agreement.py            # prints a markdown table (about 20 s)

Measured from recorded data only (no network), in ``bench/data/``:
- every distinct release of the PyPI package ``index-constitution`` (0.1.0-0.6.1 are identical),
  its ``history('csi300')`` as CSV (MIT licence, ``bench/data/LICENSE.index-constitution``), and
  the release installed with the toolkit read through the toolkit's own adapter;
- ``instruments/csi300.txt`` of ``fr220574/Qlib-format-A-share-dataset`` at 51ee96b5 (the
  snapshot's own bar source), read as qlib reads it (first and last day in the index).

It cannot measure tushare's ``index_weight`` (needs a token with 2000 points and the network) nor
akshare's ``index_stock_hist`` (removed in akshare 1.10.37; its site no longer serves the pages):
for tushare it measures the *method* instead, on monthly lists drawn from the snapshot itself
(what the dating of changes at the review between two lists costs if tushare's lists are exact).

For each source, on the 3,760 trading days 2010-01-04..2025-06-30: days on which the member sets
differ, member-days that differ (in the source only / in the snapshot only) against the snapshot's
1,129,092 member-days, the names that differ, and the split into *timing* (a run of at most 5
trading days next to a change: the same change dated differently) and *substance*. It then
compares the sources on the months after the snapshot, and what dating membership by the
vendor's list of one update day alone (``--membership observed``) costs there.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "bench" / "data"
IC_RELEASES = ("0.1.0-0.6.1", "0.6.2", "1.0.0", "1.0.1")
QLIB_FILE = DATA / "qlib_fr220574_51ee96b5_csi300.txt.gz"
#: trading days after the snapshot (the real CSI-300 index bars the tests use)
AFTER_INDEX = ROOT / "tests" / "data_store" / "data" / "qlib_index_2025-06-16_2026-05-08.csv.gz"


def _row(name: str, a, note: str = "") -> str:
    share = a.member_days_differ / max(1, a.reference_member_days)
    return (f"| {name} | {a.days_differ:,} / {a.days:,} | {a.member_days_differ:,} ({share:.2%}) | "
            f"{a.only_source:,} / {a.only_reference:,} | {a.names_differ} | "
            f"{a.timing_member_days:,} ({a.timing_names}) | "
            f"{a.substance_member_days:,} ({a.substance_names}) | {note} |")


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    import data_store
    from data_store.membership.history import agreement, join_at_seam, spans_from_lists
    from data_store.membership.universe import Membership
    from data_store.sources import vendors
    from data_store.sources.membership import IndexConstitutionSource, QlibInstrumentsSource

    t0 = time.perf_counter()
    snap = data_store.load(use_cache=False)
    ref, cal = snap.membership, snap.calendar
    print(f"reference: snapshot membership.csv, {cal[0].date()}..{cal[-1].date()}, {len(cal)} trading days, "
          f"{int(ref.mask(cal, ref.symbols).to_numpy().sum()):,} member-days\n")
    print("| source | days that differ | member-days that differ | only source / only snapshot | names | "
          "timing: member-days (names) | substance: member-days (names) | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    histories: dict[str, Membership] = {}
    for rel in IC_RELEASES:
        df = pd.read_csv(DATA / f"index_constitution_{rel}_csi300_history.csv.gz")
        no_start = df["opt-in"].isna()
        # the adapter refuses a span without a first day; older releases have a few: left out here
        m = Membership.from_frame(vendors.index_constitution_spans(df[~no_start], rel), f"index-constitution {rel}")
        histories[rel] = m
        note = "PyPI release data" + (f"; {int(no_start.sum())} span(s) without a first day left out"
                                      if no_start.any() else "")
        print(_row(f"index-constitution {rel} (recorded)", agreement(m, ref, cal), note))
    inst = IndexConstitutionSource().history()
    installed = Membership.from_frame(inst.spans, inst.label)
    print(_row(f"{inst.label} (installed, via the adapter)", agreement(installed, ref, cal),
               "the default of `update`"))
    qtext = gzip.decompress(QLIB_FILE.read_bytes()).decode()
    tmp = Path("/tmp") / "csi300-qlib-51ee96b5.txt"
    tmp.write_text(qtext, encoding="utf-8")
    q = QlibInstrumentsSource(tmp, cal).history()
    qm = Membership.from_frame(q.spans, q.label)
    print(_row("qlib csi300.txt (fr220574 51ee96b5), all names", agreement(qm, ref, cal),
               "lists only names with bars in its data"))
    with_bars = set(snap.symbols)
    print(_row("qlib csi300.txt, names with bars only", agreement(
        Membership.from_frame(q.spans[q.spans["symbol"].isin(with_bars)], q.label),
        Membership.from_frame(ref.spans[ref.spans["symbol"].isin(with_bars)], "snapshot"), cal), "760 names"))
    # tushare index_weight, the method only: monthly lists (first trading day of each month) drawn
    # from the snapshot's own membership, turned back into spans
    firsts = pd.Series(cal, index=cal).groupby([cal.year, cal.month]).min()
    lists = pd.DataFrame([{"date": d, "symbol": s, "name": ""} for d in firsts for s in ref.members(d)])
    sim = Membership.from_frame(spans_from_lists(lists, cal, "monthly lists"), "monthly lists")
    sim_ref = Membership.from_frame(ref.spans[ref.spans["end"].isna() | (ref.spans["end"] > firsts.iloc[0])], "ref")
    print(_row("tushare index_weight: method on exact monthly lists (simulated)",
               agreement(sim, sim_ref, cal[cal >= firsts.iloc[0]]), "not tushare's data: needs a token"))
    print("| akshare index_stock_hist | not measured | | | | | | "
          "removed in akshare 1.10.37; jrj.com.cn no longer serves it |")

    # ---- after the snapshot: the sources against each other, and the list of one update day
    after = pd.DatetimeIndex(pd.read_csv(AFTER_INDEX, parse_dates=["date"])["date"])
    after = after[after > cal[-1]]
    full = cal.append(after)
    seam = cal[-1] + pd.Timedelta(days=1)
    dated = join_at_seam(ref, inst.spans, seam)
    print(f"\nafter the snapshot ({after[0].date()}..{after[-1].date()}, {len(after)} trading days), "
          f"{inst.label} as the reference:\n")
    print("| source | days that differ | member-days that differ | only source / only reference | names | "
          "timing: member-days (names) | substance: member-days (names) | note |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for rel in IC_RELEASES[:-1]:
        other = join_at_seam(ref, histories[rel].spans, seam)
        print(_row(f"index-constitution {rel}", agreement(other, dated, full, after[0], after[-1]), "older release"))
    qlib_after = join_at_seam(ref, q.spans, seam)
    print(_row("qlib csi300.txt (fr220574 51ee96b5)", agreement(qlib_after, dated, full, after[0], after[-1]),
               "independent builder"))
    day = after[-1]
    listed = dated.members(day)
    obs = ref.spans.copy()
    obs.loc[obs["end"].isna() & ~obs["symbol"].isin(listed), "end"] = day
    current = set(obs.loc[obs["end"].isna(), "symbol"])
    new = pd.DataFrame([{"symbol": s, "name": "", "start": day, "end": pd.NaT, "source": "list"}
                        for s in sorted(set(listed) - current)])
    observed = Membership.from_frame(pd.concat([obs, new], ignore_index=True), "observed")
    a = agreement(observed, dated, full, after[0], after[-1])
    print(_row(f"`--membership observed`: one update on {day.date()}", a,
               f"{a.only_source:,} member-days of leavers kept, {a.only_reference:,} of joiners missing"))
    kept = sorted(set(ref.members(cal[-1])) - set(listed))
    missing = sorted(set(listed) - set(ref.members(cal[-1])))
    print(f"\n`observed` on {day.date()}: {len(kept)} leavers kept until that day, {len(missing)} joiners missing "
          f"until that day; {a.member_days_differ / max(1, a.reference_member_days):.1%} of the member-days since "
          f"the snapshot misdated.  ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
