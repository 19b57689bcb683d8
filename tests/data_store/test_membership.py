"""Dated membership histories: the sources (recorded frames in the vendors' own columns), lists
turned into spans, joining at the seam, and agreement with the snapshot."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from core.errors import ConfigError, DataValidationError
from data_store.errors import SourceError
from data_store.membership.history import agreement, changes, join_at_seam, review_days, spans_from_lists
from data_store.membership.universe import Membership
from data_store.sources import CallPolicy, TushareSource
from data_store.sources.membership import (
    AkshareHistorySource,
    IndexConstitutionSource,
    QlibInstrumentsSource,
    TushareWeightsSource,
    make_membership_source,
)

from .recorded import FakeAkshare
from .recorded_after import AfterAkshare, AfterTushare, ic_membership, members_on, weight_lists

BENCH = Path(__file__).parents[2] / "bench" / "data"
FAST = CallPolicy(timeout=2.0, retries=0, calls_per_minute=float("inf"))


def test_index_constitution_is_the_snapshots_source(snap):
    """The installed release agrees with the snapshot's membership on every day 2010-2025 (the
    snapshot was built from it), and carries the later reviews with their days."""
    h = IndexConstitutionSource().history()
    assert h.label.startswith("index-constitution ") and h.as_of >= pd.Timestamp("2026-06-12")
    a = agreement(Membership.from_frame(h.spans, h.label), snap.membership, snap.calendar)
    assert (a.days, a.member_days_differ, a.names_differ) == (3760, 0, 0)
    joined = join_at_seam(snap.membership, h.spans, snap.end + pd.Timedelta(days=1))
    after = {c["date"]: c for c in changes(joined, snap.end)}
    assert after["2025-08-04"]["left"] == ["SH601989"] and after["2025-08-04"]["joined"] == ["SH601298"]
    assert len(after["2025-12-08"]["joined"]) == len(after["2025-12-08"]["left"]) == 11
    assert after["2025-12-08"]["source"].startswith("index-constitution")


def test_index_constitution_reads_pandas3_pickles_under_pandas2():
    """index-constitution's own history() fails under pandas 2 (its data is pickled by pandas 3);
    the source reads the same file with data_store.sources.compat_pickle instead."""
    import index_constitution as ic

    if int(pd.__version__.split(".")[0]) < 3:
        with pytest.raises(NotImplementedError):
            ic.history("csi300")
    spans = IndexConstitutionSource().history().spans
    assert len(spans) == 1225 and spans["symbol"].str.match(r"^(SH|SZ)\d{6}$").all()
    assert spans.loc[spans["symbol"] == "SZ000001", "start"].min() == pd.Timestamp("2005-04-08")


def test_akshare_index_stock_hist_recorded(snap):
    """akshare <= 1.10.36: index_stock_hist('sh000300') in jrj's columns (stock_code, in_date,
    out_date; '--' while a member) becomes the same spans."""
    ak = AfterAkshare()
    h = AkshareHistorySource(FAST, module=ak).history()
    assert ak.calls == [("index_stock_hist", {"symbol": "sh000300"})]
    m = Membership.from_frame(h.spans, h.label)
    assert m.members("2025-12-08") == members_on("2025-12-08")
    assert agreement(m, snap.membership, snap.calendar).member_days_differ == 0


def test_akshare_without_index_stock_hist_names_the_fix():
    with pytest.raises(SourceError, match=r"akshare 1.19.5 has no index_stock_hist\(\) \(removed in akshare "
                                          r"1.10.37\): use --membership index-constitution"):
        AkshareHistorySource(FAST, module=FakeAkshare()).history()


def test_review_days_are_the_monday_after_the_second_friday():
    cal = pd.bdate_range("2025-01-01", "2026-12-31")
    assert [str(d.date()) for d in review_days(cal)] == ["2025-06-16", "2025-12-15", "2026-06-15", "2026-12-14"]


def test_monthly_lists_date_each_change_at_its_review(snap):
    """tushare's index_weight lists (monthly) become spans; a change between two lists is dated at
    the scheduled review between them, an ad-hoc one (SH601989, Aug 2025) at the later list."""
    cal = pd.DatetimeIndex(list(snap.calendar) + list(pd.bdate_range("2025-07-01", "2026-02-27")))
    lists = weight_lists(["2025-07-01", "2025-08-01", "2025-09-01", "2025-12-01", "2026-01-05", "2026-02-02"])
    obs = pd.DataFrame([{"date": pd.Timestamp(d), "symbol": s, "name": ""} for d, syms in lists.items() for s in syms])
    spans = spans_from_lists(obs, cal, "tushare index_weight")
    m = Membership.from_frame(spans, "t")
    joiner = sorted(set(members_on("2025-12-08")) - set(members_on("2025-12-05")))[0]
    start = spans.loc[spans["symbol"] == joiner, "start"].item()
    assert start == pd.Timestamp("2025-12-15")  # the review day, not the list day (2026-01-05)
    left = spans.loc[spans["symbol"] == "SH601989", "end"].item()
    assert left == pd.Timestamp("2025-09-01")  # no review in Aug: dated at the list that shows it
    assert m.members("2026-01-05") == members_on("2026-01-05")


def test_tushare_weights_source_calls_one_month_at_a_time(snap):
    ts = AfterTushare(weights=weight_lists(["2025-11-03", "2025-12-01", "2026-01-05"]))
    src = TushareSource(token="t", policy=FAST, module=ts)
    h = TushareWeightsSource(src, snap.calendar, end=pd.Timestamp("2026-01-31")).history()
    months = [c for c in ts.pro.calls if c[0] == "index_weight"]
    assert len(months) == 250 and months[0][1]["start_date"] == "20050408"  # 2005-04 .. 2026-01
    assert months[-1][1] == {"index_code": "000300.SH", "start_date": "20260101", "end_date": "20260131"}
    assert h.as_of == pd.Timestamp("2026-01-05") and h.label == "tushare index_weight 1.4.29"
    assert Membership.from_frame(h.spans, h.label).members("2026-01-05") == members_on("2026-01-05")


def test_qlib_instruments_recorded(snap, tmp_path):
    """The real csi300.txt of the snapshot's own qlib source (inclusive last days)."""
    path = tmp_path / "csi300.txt"
    path.write_bytes(gzip.decompress((BENCH / "qlib_fr220574_51ee96b5_csi300.txt.gz").read_bytes()))
    h = QlibInstrumentsSource(path, snap.calendar).history()
    sp = h.spans[h.spans["symbol"] == "SH601991"]
    # "SH601991  2010-01-04  2010-12-13": a member through 2010-12-13, not from 2010-12-14
    assert sp["end"].iloc[0] == pd.Timestamp("2010-12-14")
    assert h.as_of == pd.Timestamp("2026-05-08")
    with pytest.raises(ConfigError, match="cannot read the file"):
        QlibInstrumentsSource("/nonexistent/csi300.txt", snap.calendar).history()


def test_bad_spans_are_refused():
    from data_store.sources import vendors

    bad = pd.DataFrame({"symbol": ["SH600000"], "name": ["x"], "opt-in": ["2020-06-15"], "opt-out": ["2019-06-17"]})
    with pytest.raises(DataValidationError, match="every span has a start before its end"):
        vendors.index_constitution_spans(bad, "ic")


def test_make_membership_source():
    cal = pd.bdate_range("2025-01-01", "2025-12-31")
    assert isinstance(make_membership_source("index-constitution", calendar=cal), IndexConstitutionSource)
    assert make_membership_source("observed", calendar=cal) is None
    assert isinstance(make_membership_source("qlib:/x/csi300.txt", calendar=cal), QlibInstrumentsSource)
    with pytest.raises(ConfigError, match="--membership 'wind': choose one of index-constitution, tushare"):
        make_membership_source("wind", calendar=cal)


def test_join_at_seam_keeps_sources_and_one_span_per_membership(snap):
    joined = join_at_seam(snap.membership, ic_membership().spans.assign(source="ic"), pd.Timestamp("2025-07-01"))
    sp = joined.spans
    one = sp[sp["symbol"] == "SZ000001"]
    assert len(one) == 1 and pd.isna(one["end"].item()) and one["source"].item() == "snapshot membership.csv + ic"
    assert joined.members("2025-06-30") == snap.members("2025-06-30")
    assert joined.members("2026-01-05") == members_on("2026-01-05")


def test_agreement_tells_timing_from_substance(snap):
    """A history whose reviews are dated one trading day late differs only in timing; one that
    drops a member for a year differs in substance."""
    sp = snap.membership.spans.copy()
    late = sp.copy()
    moved = late["start"] == pd.Timestamp("2019-06-17")
    late.loc[moved, "start"] = pd.Timestamp("2019-06-18")
    a = agreement(Membership.from_frame(late, "late"), snap.membership, snap.calendar)
    assert a.member_days_differ == int(moved.sum()) and a.substance_member_days == 0 and a.timing_names == moved.sum()
    cut = sp[~((sp["symbol"] == "SZ000629") & (sp["start"] == pd.Timestamp("2019-06-17")))]
    b = agreement(Membership.from_frame(cut, "cut"), snap.membership, snap.calendar)
    assert b.substance_names == 1 and b.worst[0][0] == "SZ000629" and b.only_reference == b.member_days_differ
