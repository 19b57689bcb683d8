"""Which session the data should reach, and which one the orders are for: the exchange calendar.

The Shanghai Stock Exchange's calendar (``exchange-calendars``, ``XSHG``: rules and recorded
holidays, no download) says which session closed last before now; data that end before it are
stale and refused with their fix (:class:`StaleDataError`). The session after the decision day is
the data's own next trading day where the data have it (the CSI-300 index's dates, the vendor
calendar), else the exchange calendar's. ``exchange-calendars`` records the Chinese holidays a year
ahead at most (up to 2026 in its 4.x releases); past them it cannot answer, and the next weekday
stands in, with a warning to update the package.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import pandas as pd

from core.errors import ToolkitError

log = logging.getLogger("backtests.predict")

__all__ = ["CALENDAR", "SessionDays", "StaleDataError", "check_fresh", "latest_session", "next_session", "now"]

#: the exchange calendar of ``exchange-calendars`` used (the Shanghai Stock Exchange)
CALENDAR = "XSHG"
#: the command that brings the data up to date
UPDATE_COMMAND = "python -m data_store update --source akshare"


class StaleDataError(ToolkitError, ValueError):
    """The data end before the latest session the exchange calendar knows."""


def now() -> pd.Timestamp:
    """The present moment in UTC (tests freeze it)."""
    return pd.Timestamp.now(tz="UTC")


@cache
def _calendar() -> Any:
    import exchange_calendars as xc

    return xc.get_calendar(CALENDAR, start="2005-01-04")


def latest_session(at: pd.Timestamp | None = None) -> tuple[pd.Timestamp, str]:
    """The last session whose close (15:00 in Shanghai) is at or before ``at`` (default :func:`now`),
    and a note: empty, or why the answer is the calendar's last known session."""
    t = now() if at is None else pd.Timestamp(at)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    closes = _calendar().closes
    done = closes[closes <= t]
    if done.empty:
        raise ToolkitError(f"the {CALENDAR} calendar has no session closed before {t}")
    day = pd.Timestamp(done.index[-1]).normalize()
    note = ""
    if len(done) == len(closes):
        note = (f"the {CALENDAR} calendar of exchange-calendars knows sessions only up to {day.date()}: "
                "update the package (pip install -U exchange-calendars) for later holidays")
    return day, note


def next_session(day: pd.Timestamp, data_calendar: pd.DatetimeIndex) -> tuple[pd.Timestamp, str]:
    """The session after ``day`` and where it comes from: the data's calendar when it has a later
    day, else the exchange calendar, else (past the holidays the calendar knows) the next weekday."""
    day = pd.Timestamp(day).normalize()
    cal = pd.DatetimeIndex(data_calendar)
    pos = int(cal.searchsorted(day, side="right"))
    if pos < len(cal):
        return pd.Timestamp(cal[pos]), "the data's calendar"
    xc = _calendar()
    if day < xc.last_session:
        return pd.Timestamp(xc.date_to_session(day, direction="next") if not xc.is_session(day)
                            else xc.next_session(day)), f"the {CALENDAR} exchange calendar"
    guess = day + pd.offsets.BDay(1)
    log.warning("%s is the last session the %s calendar knows: the next session is taken as the next weekday, "
                "%s (a holiday would move it); update exchange-calendars", day.date(), CALENDAR, guess.date())
    return pd.Timestamp(guess), f"the next weekday (the {CALENDAR} calendar ends on {xc.last_session.date()})"


@dataclass(frozen=True)
class SessionDays:
    """The days of one prediction: ``decision`` (the last day of data used: scores after its
    close), ``fill`` (the next session: the orders fill at its open), where ``fill`` comes from,
    and ``latest`` (the exchange's latest closed session; None for a past day)."""

    decision: pd.Timestamp
    fill: pd.Timestamp
    fill_source: str
    latest: pd.Timestamp | None = None
    note: str = ""


def check_fresh(data_end: pd.Timestamp, *, use_cache: bool, at: pd.Timestamp | None = None) -> pd.Timestamp:
    """The latest closed session; raises :class:`StaleDataError`, naming the update command, when
    the data end before it."""
    latest, note = latest_session(at)
    if note:
        log.warning("%s", note)
    if pd.Timestamp(data_end) < latest:
        fix = f"update the data first with `{UPDATE_COMMAND}` (or --source tushare)"
        if not use_cache:
            fix = "data.use_cache = false reads the embedded snapshot alone: drop it, then " + fix
        raise StaleDataError(
            f"the data end on {pd.Timestamp(data_end).date()} but the latest session of the exchange is "
            f"{latest.date()} ({CALENDAR} calendar): orders from stale data would be for a day long gone; {fix}, "
            "or predict for a past day with --as-of YYYY-MM-DD")
    return latest
