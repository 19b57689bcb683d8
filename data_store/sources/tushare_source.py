"""tushare pro behind the :class:`Source` protocol. The token comes from ``TUSHARE_TOKEN`` and is
never logged, printed, put in a message or written anywhere (not even with ``ts.set_token``,
which would save it to a file in the home folder)."""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Callable
from typing import Any

import pandas as pd

from core.errors import ConfigError

from ..errors import NoDataError, SourceError
from ..schema import validate_bars, validate_index
from . import vendors
from .base import CallPolicy, call_vendor, probe_host
from .pacing import TUSHARE_DEFAULT_POINTS, Pacer, tushare_calls_per_minute

log = logging.getLogger(__name__)

TOKEN_ENV = "TUSHARE_TOKEN"
#: the account's points level, which sets its per-minute quota (:data:`~.pacing.TUSHARE_QUOTAS`)
POINTS_ENV = "TUSHARE_POINTS"
#: tushare pro's HTTP endpoint host (``tushare.pro.client.DataApi``); probed before an update.
PROBE_HOST = ("api.waditu.com", 80)


def _fmt(d: pd.Timestamp) -> str:
    return pd.Timestamp(d).strftime("%Y%m%d")


def _env_points() -> int:
    text = os.environ.get(POINTS_ENV, "").strip()
    if not text:
        return TUSHARE_DEFAULT_POINTS
    try:
        return int(float(text))
    except ValueError:
        raise ConfigError(f"${POINTS_ENV}={text!r} is not a number: give your tushare account's points") from None


#: tushare pro's error texts (``DataApi.query`` raises ``Exception(msg)``) that no retry changes,
#: with the fix each message gets
_FATAL = (
    ("token不对", f"the token is wrong: check ${TOKEN_ENV} (your token is at https://tushare.pro/user/token)"),
    ("没有接口访问权限", "the account lacks the points this API needs (index_weight, daily_basic, index_member_all: "
                        "2000); see "
                        "https://tushare.pro/document/1?doc_id=108"),
    ("没有访问该接口的权限", "the account lacks the points this API needs; see https://tushare.pro/document/1?doc_id=108"),
    ("每天最多访问", "the account's daily quota for this API is used up: run again tomorrow (the cache resumes)"),
)
_PER_MINUTE = re.compile(r"每分钟最多访问该接口(\d+)次")


def _fatal(exc: BaseException) -> str | None:
    text = str(exc)
    return next((fix for key, fix in _FATAL if key in text), None)


def _throttled(exc: BaseException) -> float | None:
    m = _PER_MINUTE.search(str(exc))
    return float(m.group(1)) if m else None


class TushareSource:
    """tushare pro: ``daily`` (raw bars) + ``adj_factor``, ``index_daily(ts_code='000300.SH')`` and
    the historical constituent lists of ``index_weight(index_code='000300.SH')``, which become
    point-in-time membership observations (one member list per weight date)."""

    name = "tushare"

    def __init__(self, token: str | None = None, policy: CallPolicy | None = None, module: Any = None,
                 points: int | None = None) -> None:
        self.policy = policy or CallPolicy()
        self._token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        self._ts = module  # injected in tests
        self._pro: Any = None
        self.points = points if points is not None else _env_points()
        rate = self.policy.calls_per_minute
        #: paced to the account's quota (``points``) unless the policy gives a rate
        self.pacer = Pacer(tushare_calls_per_minute(self.points) if rate is None else rate)
        self.breaker = self.policy.breaker(self.name)

    def __repr__(self) -> str:  # never show the token
        return f"TushareSource(token={'set' if self._token else 'missing'}, policy={self.policy})"

    __str__ = __repr__

    @property
    def ts(self) -> Any:
        if self._ts is None:
            self._ts = importlib.import_module("tushare")
        return self._ts

    def library_versions(self) -> dict[str, str]:
        return {"tushare": str(getattr(self.ts, "__version__", "unknown"))}

    def _client(self) -> Any:
        if not self._token:
            raise SourceError(
                f"tushare needs an API token: set the environment variable {TOKEN_ENV} "
                "(get one at https://tushare.pro); it is read from the environment only"
            )
        if self._pro is None:
            self._pro = self.ts.pro_api(self._token, timeout=self.policy.timeout)
        return self._pro

    def _redacted(self, fn: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        """Wrap a client method so that no exception text can carry the token."""
        token = self._token

        def call(**kwargs: Any) -> pd.DataFrame:
            try:
                return fn(**kwargs)
            except Exception as exc:
                text = str(exc)
                if token and token in text:
                    raise RuntimeError(text.replace(token, "***")) from None
                raise

        call.__name__ = getattr(fn, "__name__", "tushare_call")
        return call

    def _call(self, api: str, what: str, **kwargs: Any) -> pd.DataFrame:
        pro = self._client()
        return call_vendor(what, self._redacted(getattr(pro, api)), policy=self.policy, pacer=self.pacer,
                           breaker=self.breaker, fatal=_fatal, throttled=_throttled, **kwargs)

    def probe(self) -> None:
        self._client()  # a missing token fails before any network use
        probe_host(self.name, *PROBE_HOST)

    def bars(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        code = vendors.to_tushare(symbol)
        rng = dict(ts_code=code, start_date=_fmt(start), end_date=_fmt(end))
        span = f"{code}, {_fmt(start)}..{_fmt(end)}"
        daily = self._call("daily", f"tushare daily({span})", **rng)
        adj = self._call("adj_factor", f"tushare adj_factor({span})", **rng)
        source = f"tushare daily+adj_factor({code})"
        out = vendors.tushare_bars(daily, adj, source)
        validate_bars(out, source)
        return out

    def characteristics(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Canonical characteristics of one symbol from ``daily_basic`` (total and float market
        value, float shares, pb, pe; needs 2000 points)."""
        code = vendors.to_tushare(symbol)
        what = f"tushare daily_basic({code}, {_fmt(start)}..{_fmt(end)})"
        df = self._call("daily_basic", what, ts_code=code, start_date=_fmt(start), end_date=_fmt(end))
        return vendors.tushare_characteristics(df, what)

    def industry(self, symbol: str) -> pd.DataFrame:
        """Canonical Shenwan level-1 industry spans of one symbol from ``index_member_all``: its
        current classification (``is_new='Y'``) and its earlier ones (``'N'``; none is no error)."""
        code = vendors.to_tushare(symbol)
        frames = []
        for is_new in ("Y", "N"):
            what = f"tushare index_member_all({code}, is_new={is_new})"
            try:
                frames.append(self._call("index_member_all", what, ts_code=code, is_new=is_new))
            except NoDataError:
                log.info("%s: no rows", what)
        if not frames:
            raise NoDataError(f"tushare index_member_all({code}) has no industry for this symbol")
        return vendors.tushare_industry(pd.concat(frames, ignore_index=True), f"tushare index_member_all({code})")

    def index_bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        what = f"tushare index_daily({vendors.TS_INDEX_CODE})"
        df = self._call("index_daily", what, ts_code=vendors.TS_INDEX_CODE, start_date=_fmt(start), end_date=_fmt(end))
        out = vendors.tushare_index(df, what)
        validate_index(out, what)
        return out

    def constituents(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Member lists ``date, symbol, name`` from ``index_weight``, one per weight date, starting
        with the list in force on ``start`` (weight lists are monthly: a month is looked back)."""
        return self.weight_lists(pd.Timestamp(start) - pd.Timedelta(days=31), pd.Timestamp(end))

    def weight_lists(self, start: pd.Timestamp, end: pd.Timestamp, progress: bool = False) -> pd.DataFrame:
        """Every ``index_weight`` list dated in ``[start, end]``, asked one calendar month per call
        as tushare's documentation advises (a call's answer is capped in rows)."""
        months = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M")
        frames = []
        from tqdm import tqdm

        for month in tqdm(months, desc="tushare index_weight", unit="month", disable=None if progress else True):
            lo = max(pd.Timestamp(start), month.start_time)
            hi = min(pd.Timestamp(end), month.end_time.normalize())
            what = f"tushare index_weight({vendors.TS_INDEX_CODE}, {_fmt(lo)}..{_fmt(hi)})"
            try:
                frames.append(self._call("index_weight", what, index_code=vendors.TS_INDEX_CODE,
                                         start_date=_fmt(lo), end_date=_fmt(hi)))
            except NoDataError:
                log.info("%s: no weight list in this month", what)
        if not frames:
            raise NoDataError(
                f"tushare index_weight({vendors.TS_INDEX_CODE}) returned no constituent list between "
                f"{_fmt(start)} and {_fmt(end)}; widen --start/--end"
            )
        return vendors.tushare_weights(pd.concat(frames, ignore_index=True), "tushare index_weight")
