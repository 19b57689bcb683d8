"""The exchange calendar: the latest closed session at a frozen moment, the next session, stale data."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from backtests.predict import session


@pytest.mark.parametrize(("moment", "latest"), [
    ("2026-05-08 06:59", "2026-05-07"),  # 14:59 in Shanghai: Friday's session has not closed
    ("2026-05-08 07:00", "2026-05-08"),  # 15:00: it has
    ("2026-05-10 12:00", "2026-05-08"),  # Sunday
    ("2026-05-04 09:00", "2026-04-30"),  # Labour Day holidays, 05-01..05-05
    ("2025-10-08 09:00", "2025-09-30"),  # National Day holidays
])
def test_latest_session_at_a_frozen_moment(moment, latest):
    day, note = session.latest_session(pd.Timestamp(moment, tz="UTC"))
    assert day == pd.Timestamp(latest) and note == ""


def test_next_session_prefers_the_data_calendar_then_the_exchange():
    data_cal = pd.DatetimeIndex(["2026-04-29", "2026-04-30"])
    assert session.next_session(pd.Timestamp("2026-04-29"), data_cal)[0] == pd.Timestamp("2026-04-30")
    day, source = session.next_session(pd.Timestamp("2026-04-30"), data_cal)
    assert day == pd.Timestamp("2026-05-06") and source == "the XSHG exchange calendar"


def test_past_the_calendar_the_next_weekday_stands_in_with_a_warning(caplog):
    last = session._calendar().last_session
    with caplog.at_level(logging.WARNING, logger="backtests.predict"):
        day, source = session.next_session(last, pd.DatetimeIndex([last]))
    assert day == last + pd.offsets.BDay(1) and "next weekday" in source
    assert "update exchange-calendars" in caplog.text


def test_stale_data_are_refused_with_the_update_command():
    at = pd.Timestamp("2026-05-08 08:00", tz="UTC")
    assert session.check_fresh(pd.Timestamp("2026-05-08"), use_cache=True, at=at) == pd.Timestamp("2026-05-08")
    with pytest.raises(session.StaleDataError) as err:
        session.check_fresh(pd.Timestamp("2026-05-07"), use_cache=True, at=at)
    text = str(err.value)
    assert "the data end on 2026-05-07 but the latest session of the exchange is 2026-05-08" in text
    assert "python -m data_store update" in text and "--as-of" in text
    with pytest.raises(session.StaleDataError, match="data.use_cache = false reads the embedded snapshot alone"):
        session.check_fresh(pd.Timestamp("2025-06-30"), use_cache=False, at=at)


def test_past_the_last_known_holidays_the_latest_session_says_so():
    last = session._calendar().last_session
    day, note = session.latest_session(last + pd.Timedelta(days=40))
    assert day == last and "update the package (pip install -U exchange-calendars)" in note
