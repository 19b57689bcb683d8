"""Point-in-time membership (start <= d < end) on real rebalance days of the real snapshot."""

from __future__ import annotations

import pandas as pd
import pytest

from data_store.info import membership_quirks


def _span(snap, symbol: str, start: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    sp = snap.membership.spans
    row = sp[(sp["symbol"] == symbol) & (sp["start"] == pd.Timestamp(start))]
    assert len(row) == 1, f"membership.csv no longer has {symbol} from {start}"
    return row["start"].item(), row["end"].item()


def _prev_trading_day(snap, day: pd.Timestamp) -> pd.Timestamp:
    return snap.calendar[snap.calendar.get_loc(day) - 1]


@pytest.mark.parametrize(
    "symbol, start, end",
    [
        ("SZ000629", "2019-06-17", "2020-06-15"),  # 攀钢钒钛: joins at the June 2019 rebalance
        ("SZ000999", "2009-07-01", "2016-12-12"),  # 华润三九: leaves at the Dec 2016 rebalance
        ("SZ000999", "2023-12-08", None),  # ... and rejoins (open span)
        ("SZ000792", "2005-04-08", "2019-06-17"),  # 盐湖股份
    ],
)
def test_half_open_spans_on_real_rebalance_days(snap, symbol, start, end):
    s, e = _span(snap, symbol, start)
    assert (str(e.date()) if pd.notna(e) else None) == end
    if s >= snap.start:
        before = _prev_trading_day(snap, s)
        assert symbol not in snap.members(before)
        assert symbol in snap.members(s)
        if symbol in snap.symbols:
            assert not snap.membership_mask().loc[before, symbol] and snap.membership_mask().loc[s, symbol]
    if pd.notna(e):
        last = _prev_trading_day(snap, e)
        assert symbol in snap.members(last)
        assert symbol not in snap.members(e)
        if symbol in snap.symbols:
            assert snap.membership_mask().loc[last, symbol] and not snap.membership_mask().loc[e, symbol]
    else:
        assert symbol in snap.members(snap.end)


def test_rebalance_day_swaps_thirty_names(snap):
    day = pd.Timestamp("2016-12-12")
    before = set(snap.members(_prev_trading_day(snap, day)))
    after = set(snap.members(day))
    assert len(after - before) == 30 and len(before - after) == 30
    assert "SZ000999" in before - after
    assert len(before) == len(after) == 300


def test_members_mask_and_coverage_agree(snap):
    day = pd.Timestamp("2019-06-17")
    members = snap.members(day)
    mask = snap.membership_mask().loc[day]
    assert sorted(mask[mask].index) == sorted(set(members) & set(snap.symbols))
    cov = snap.coverage().loc[day]
    assert cov["members"] == len(members) == 300
    assert cov["members_with_bar"] + cov["missing"] == 300


def test_source_quirks_found(snap):
    """The spans give 301 names every day 2010-01-04..2014-07-09 (SH600357 ends a day late, with
    nobody leaving when it should) and 299 on 2017-02-13 (SH600549 joins a day after SH600005
    leaves). Reported, not fixed."""
    q = membership_quirks(snap)
    assert q.to_dict("list") == {
        "first": [pd.Timestamp("2010-01-04").date(), pd.Timestamp("2017-02-13").date()],
        "last": [pd.Timestamp("2014-07-09").date(), pd.Timestamp("2017-02-13").date()],
        "days": [1093, 1],
        "members": [301, 299],
        "on entry": ["(edge of the data)", "-SH600005"],
        "on exit": ["-SH600357", "+SH600549"],
    }


def test_headline_figures(snap):
    s = snap.summary()
    assert (s["start"], s["end"], s["trading_days"]) == ("2010-01-04", "2025-06-30", 3760)
    assert s["symbols_with_bars"] == 760 and s["bar_rows"] == 2_443_983
    assert s["members_without_bars"] == 187 and s["days_with_301_members"] == 1093
    assert (s["members_with_bar_min"], s["members_with_bar_max"]) == (279, 299)
    a = snap.anomalies
    assert (a.suspended, a.nan_volume, a.beyond_21pct) == (61_920, 787, 19)
