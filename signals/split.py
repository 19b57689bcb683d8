"""Walk-forward windows: train | embargo | validation | embargo | test, stepping forward in time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.settings import check_settings, setting
from core.timing import label_end_offset

from .errors import ConfigError, LookaheadError

__all__ = ["WalkForwardSplit", "Window", "WindowRows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """One walk-forward window: inclusive date spans and their calendar positions.

    The model of this window is fitted on decision days ``train_start..train_end`` (early stopping
    on ``val_start..val_end``) and predicts ``test_start..test_end``. ``embargo`` trading days lie
    between train and validation and between validation and test, so that no fitted label reaches
    into the next span."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    val_start: pd.Timestamp
    val_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    embargo: int
    pos: tuple[int, int, int, int, int, int]  # calendar positions of the six dates above

    def __str__(self) -> str:
        d = lambda t: t.strftime("%Y-%m-%d")  # noqa: E731
        return (f"window {self.index}: train {d(self.train_start)}..{d(self.train_end)} | "
                f"val {d(self.val_start)}..{d(self.val_end)} | test {d(self.test_start)}..{d(self.test_end)} "
                f"(embargo {self.embargo} days)")

    def as_dict(self) -> dict[str, object]:
        return {"window": self.index, "train_start": self.train_start, "train_end": self.train_end,
                "val_start": self.val_start, "val_end": self.val_end,
                "test_start": self.test_start, "test_end": self.test_end}


@dataclass(frozen=True)
class WindowRows:
    """Sample positions (calendar day, symbol) of one window's train, validation and test sets."""

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class WalkForwardSplit:
    """Rolling (or expanding) walk-forward splitter on a trading calendar (``[walk_forward]`` of a
    run config).

    Layout of window k (all counts in trading days of the calendar)::

        [ train_days ][ embargo ][ val_days ][ embargo ][ test_days ]
                                                         ^ test_start + k * step_days

    Args:
        train_days: decision days of training data (sliding), or of the first window (expanding).
        val_days: decision days of the validation span used for early stopping.
        test_days: decision days predicted per window.
        step_days: days between consecutive test starts; None = ``test_days``. Must be
            >= ``test_days`` so that test spans never overlap (one prediction per day and stock).
        expanding: keep the first window's training start and grow the training span.
        embargo_days: days left out before validation and before test; None = the label's end
            offset (:attr:`signals.LabelConfig.end_offset`, ``horizon + 1``), the minimum for which
            no label of an earlier span reaches into the next one (a label of day t ends at the
            open, or close, of t + 1 + horizon). A smaller value raises
            :class:`LookaheadError` unless ``allow_leakage=True`` (only for demonstrating the audit).
        test_start: first test day (the next trading day on or after it); None = the first day
            that leaves room for a full train + val span.
        test_end: last test day; None = the end of the calendar.
        max_train_samples: None = every training sample; else a seeded random subsample of at most
            this many training rows per window (kept in time order). Validation and test are never
            subsampled.
        seed: seed of that subsample (window k uses ``seed + k``).
        allow_leakage: permit an embargo shorter than ``horizon + 1``.
    """

    train_days: int = setting(484, lo=1, hi=5000, doc="trading days of training data per window")
    val_days: int = setting(60, lo=1, hi=1000, doc="trading days of validation (early stopping)")
    test_days: int = setting(121, lo=1, hi=2000, doc="trading days tested per window")
    step_days: int | None = setting(None, lo=1, hi=5000, none="auto", doc="days between test starts; auto = test_days")
    expanding: bool = setting(False, doc="expanding instead of sliding training span")
    embargo_days: int | None = setting(None, lo=0, hi=250, none="auto",
                                       doc="days purged before validation and test; auto = the label's end "
                                           "offset (horizon + 1), the minimum")
    test_start: pd.Timestamp | None = setting(None, none="auto",
                                              doc="first test day (windows are laid out from it); auto = earliest")
    test_end: pd.Timestamp | None = setting(None, none="auto", doc="last test day; auto = the end of the data")
    max_train_samples: int | None = setting(None, lo=1, hi=100_000_000, none="all",
                                            doc="training rows per window: all, or a seeded random subsample")
    seed: int = setting(0, lo=0, hi=2**31 - 1, doc="seed of the training subsample (window k: seed + k)")
    allow_leakage: bool = setting(False,
                                  doc="permit an embargo shorter than horizon + 1 (only to demonstrate the audit)")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.step_days is not None and self.step_days < self.test_days:
            raise ConfigError(
                f"WalkForwardSplit.step_days = {self.step_days} is smaller than test_days = {self.test_days}: test "
                f"spans would overlap and a day would get two predictions; use step_days >= {self.test_days}")
        if self.test_start is not None and self.test_end is not None and self.test_end < self.test_start:
            raise ConfigError(f"WalkForwardSplit.test_end = {pd.Timestamp(self.test_end).date()} is before "
                              f"test_start = {pd.Timestamp(self.test_start).date()}")

    @property
    def step(self) -> int:
        return self.test_days if self.step_days is None else int(self.step_days)

    def embargo_for(self, labels: Any = 1) -> int:
        """The embargo used for a target; refuses one that lets labels leak.

        ``labels``: a :class:`signals.LabelConfig` (its ``end_offset``, the last day its target
        reads) or a label horizon H (the open-to-open end offset ``1 + H``)."""
        need = end_offset_of(labels)  # the label of day t reads a price of day t + need
        if self.embargo_days is None:
            return need
        if self.embargo_days < need:
            msg = (f"WalkForwardSplit.embargo_days = {self.embargo_days} is shorter than the label's end offset "
                   f"(horizon + 1) = {need}: "
                   f"the labels of the last {need - self.embargo_days} training/validation day(s) end inside the "
                   f"next span, so the fitted model has seen prices of the days it is tested on; use "
                   f"embargo_days >= {need} or None")
            if not self.allow_leakage:
                raise LookaheadError(msg)
            if not getattr(self, "_warned", False):
                log.warning("allow_leakage=True: %s", msg)
                object.__setattr__(self, "_warned", True)
        return int(self.embargo_days)

    def split(self, calendar: pd.DatetimeIndex, labels: Any = 1) -> Iterator[Window]:
        """Yield the windows laid out on ``calendar`` (trading days) for ``labels`` (a
        :class:`signals.LabelConfig`, or a horizon H; see :meth:`embargo_for`).

        Raises ConfigError naming the numbers when the first window does not fit in the calendar."""
        cal = pd.DatetimeIndex(calendar)
        if len(cal) == 0:
            raise ConfigError("WalkForwardSplit.split: the calendar is empty")
        emb = self.embargo_for(labels)
        before = self.train_days + emb + self.val_days + emb  # days needed before the first test day
        if self.test_start is None:
            p0 = before
        else:
            p0 = int(cal.searchsorted(self.test_start))
        last = len(cal) - 1 if self.test_end is None else int(cal.searchsorted(self.test_end, side="right")) - 1
        if p0 > last:
            raise ConfigError(
                f"WalkForwardSplit: no test day between test_start = {_d(self.test_start)} and "
                f"test_end = {_d(self.test_end)} in the calendar {cal[0].date()}..{cal[-1].date()}")
        if p0 < before:
            raise ConfigError(
                f"WalkForwardSplit: the first window needs {before} trading days before its test start "
                f"(train_days {self.train_days} + val_days {self.val_days} + 2 x embargo {emb}) but test_start = "
                f"{cal[p0].date()} has only {p0} in the data from {cal[0].date()}; start the data earlier, "
                f"move test_start later or shorten train_days/val_days")
        first_train = p0 - before
        k, t0 = 0, p0
        while t0 <= last:
            t1 = min(t0 + self.test_days - 1, last)
            v1 = t0 - 1 - emb
            v0 = v1 - self.val_days + 1
            r1 = v0 - 1 - emb
            r0 = first_train if self.expanding else r1 - self.train_days + 1
            pos = (r0, r1, v0, v1, t0, t1)
            d = [cal[p] for p in pos]
            yield Window(k, d[0], d[1], d[2], d[3], d[4], d[5], embargo=emb, pos=pos)
            k += 1
            t0 += self.step

    def rows(self, window: Window, eligible: np.ndarray, label_known: np.ndarray) -> WindowRows:
        """Sample positions of ``window``.

        ``eligible`` (calendar x symbols bool): point-in-time member AND tradable on the day.
        ``label_known`` (same shape): the label of the day is defined (finite).
        Train and validation rows are eligible days with a known label; test rows are every eligible
        day of the test span (the label may be unknown at the end of the data)."""
        r0, r1, v0, v1, t0, t1 = window.pos
        fit_ok = eligible & label_known

        def grab(mask: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            d, s = np.nonzero(mask[a: b + 1])
            return (d + a).astype(np.int64), s.astype(np.int64)

        train = grab(fit_ok, r0, r1)
        if self.max_train_samples is not None and len(train[0]) > self.max_train_samples:
            rng = np.random.default_rng(self.seed + window.index)
            keep = np.sort(rng.choice(len(train[0]), size=self.max_train_samples, replace=False))
            train = (train[0][keep], train[1][keep])
        return WindowRows(train=train, val=grab(fit_ok, v0, v1), test=grab(eligible, t0, t1))


def end_offset_of(labels: Any) -> int:
    """The end offset of a target: ``labels.end_offset`` of a :class:`signals.LabelConfig`, or
    ``1 + H`` for a bare horizon H (the open-to-open label)."""
    if hasattr(labels, "end_offset"):
        return int(labels.end_offset)
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        return label_end_offset(int(labels))
    raise ConfigError(f"labels = {labels!r} must be a LabelConfig or a horizon (an int)")


def _d(v: pd.Timestamp | None) -> str:
    return "None" if v is None else str(pd.Timestamp(v).date())
