"""tushare pro behind the :class:`Source` protocol. The token comes from ``TUSHARE_TOKEN`` and is
never logged, printed, put in a message or written anywhere (not even with ``ts.set_token``,
which would save it to a file in the home folder)."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

import pandas as pd

from .. import vendors
from ..errors import SourceError
from ..schema import validate_bars, validate_index
from .base import CallPolicy, call_vendor, probe_host

log = logging.getLogger(__name__)

TOKEN_ENV = "TUSHARE_TOKEN"
#: tushare pro's HTTP endpoint host (``tushare.pro.client.DataApi``); probed before an update.
PROBE_HOST = ("api.waditu.com", 80)
#: index_weight answers are capped per call; one year of monthly lists (~3,600 rows) fits.
_WEIGHT_CHUNK_DAYS = 366


def _fmt(d: pd.Timestamp) -> str:
    return pd.Timestamp(d).strftime("%Y%m%d")


class TushareSource:
    """tushare pro: ``daily`` (raw bars) + ``adj_factor``, ``index_daily(ts_code='000300.SH')`` and
    the historical constituent lists of ``index_weight(index_code='000300.SH')``, which become
    point-in-time membership observations (one member list per weight date)."""

    name = "tushare"

    def __init__(self, token: str | None = None, policy: CallPolicy | None = None, module: Any = None) -> None:
        self.policy = policy or CallPolicy()
        self._token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        self._ts = module  # injected in tests
        self._pro: Any = None

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
        return call_vendor(what, self._redacted(getattr(pro, api)), policy=self.policy, **kwargs)

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

    def index_bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        what = f"tushare index_daily({vendors.TS_INDEX_CODE})"
        df = self._call("index_daily", what, ts_code=vendors.TS_INDEX_CODE, start_date=_fmt(start), end_date=_fmt(end))
        out = vendors.tushare_index(df, what)
        validate_index(out, what)
        return out

    def constituents(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        frames = []
        lo = pd.Timestamp(start)
        hi = pd.Timestamp(end)
        # weight lists are published about monthly: look back a month so the list in force on
        # ``start`` is included
        lo = lo - pd.Timedelta(days=31)
        while lo <= hi:
            chunk_end = min(hi, lo + pd.Timedelta(days=_WEIGHT_CHUNK_DAYS - 1))
            what = f"tushare index_weight({vendors.TS_INDEX_CODE}, {_fmt(lo)}..{_fmt(chunk_end)})"
            try:
                frames.append(self._call("index_weight", what, index_code=vendors.TS_INDEX_CODE,
                                         start_date=_fmt(lo), end_date=_fmt(chunk_end)))
            except SourceError as exc:
                if "no rows" not in str(exc):
                    raise
                log.info("%s: no weight list in this range", what)
            lo = chunk_end + pd.Timedelta(days=1)
        if not frames:
            raise SourceError(
                f"tushare index_weight({vendors.TS_INDEX_CODE}) returned no constituent list between "
                f"{_fmt(start)} and {_fmt(end)}; widen --start/--end"
            )
        return vendors.tushare_weights(pd.concat(frames, ignore_index=True), "tushare index_weight")
