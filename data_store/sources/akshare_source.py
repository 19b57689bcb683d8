"""akshare (eastmoney bars, sina index, csindex constituents) behind the :class:`Source` protocol."""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

import pandas as pd

from ..errors import SourceError
from ..schema import validate_bars, validate_index
from . import vendors
from .base import CallPolicy, call_vendor, probe_host
from .pacing import AKSHARE_CALLS_PER_MINUTE, Pacer

log = logging.getLogger(__name__)

#: Host of ``stock_zh_a_hist`` (eastmoney's kline API); probed before an update starts.
PROBE_HOST = ("push2his.eastmoney.com", 443)


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _fmt(d: pd.Timestamp) -> str:
    return pd.Timestamp(d).strftime("%Y%m%d")


class AkshareSource:
    """akshare: raw daily bars via ``stock_zh_a_hist(adjust='')``, the back-adjustment factor from
    the ``adjust='hfq'`` series of the same call, the index via ``stock_zh_index_daily('sh000300')``
    and the CURRENT constituents via ``index_stock_cons_csindex('000300')`` (the list as of the
    day it is fetched: a cross-check of the dated membership history, see
    :mod:`data_store.sources.membership`).

    Forward-adjusted (qfq) prices are never requested: they rewrite history after each dividend.
    """

    name = "akshare"

    def __init__(self, policy: CallPolicy | None = None, module: Any = None) -> None:
        self.policy = policy or CallPolicy()
        self._ak = module  # injected in tests; imported lazily (akshare imports slowly)
        rate = self.policy.calls_per_minute
        #: spaces calls (akshare documents no limit: :data:`~.pacing.AKSHARE_CALLS_PER_MINUTE`)
        self.pacer = Pacer(AKSHARE_CALLS_PER_MINUTE if rate is None else rate)
        #: shared by every call of this source: stops an update on a run of failures
        self.breaker = self.policy.breaker(self.name)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> pd.DataFrame:
        return call_vendor(what, fn, policy=self.policy, pacer=self.pacer, breaker=self.breaker, **kwargs)

    @property
    def ak(self) -> Any:
        if self._ak is None:
            self._ak = importlib.import_module("akshare")
        return self._ak

    def library_versions(self) -> dict[str, str]:
        return {"akshare": str(getattr(self.ak, "__version__", "unknown"))}

    def probe(self) -> None:
        probe_host(self.name, *PROBE_HOST)

    def bars(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        sym = vendors.to_symbol(symbol)
        code = vendors.to_plain(sym)
        what = f"akshare stock_zh_a_hist({code}, {_fmt(start)}..{_fmt(end)}"
        fn = self.ak.stock_zh_a_hist
        kw: dict[str, Any] = {"symbol": code, "period": "daily", "start_date": _fmt(start), "end_date": _fmt(end)}
        if _accepts(fn, "timeout"):  # the HTTP timeout of newer akshare; the deadline applies anyway
            kw["timeout"] = self.policy.timeout
        raw = self._call(what + ", adjust='')", fn, **{**kw, "adjust": ""})
        hfq = self._call(what + ", adjust='hfq')", fn, **{**kw, "adjust": "hfq"})
        source = f"akshare stock_zh_a_hist({code})"
        out = vendors.akshare_bars(raw, hfq, sym, source)
        validate_bars(out, source)
        return out

    def characteristics(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Canonical characteristics of one symbol from ``stock_zh_a_hist(adjust='')``: the float
        shares (volume / 换手率) and their value; akshare has no total value, pb or pe."""
        code = vendors.to_plain(symbol)
        what = f"akshare stock_zh_a_hist({code}, {_fmt(start)}..{_fmt(end)}, adjust='')"
        fn = self.ak.stock_zh_a_hist
        kw: dict[str, Any] = {"symbol": code, "period": "daily", "start_date": _fmt(start), "end_date": _fmt(end),
                              "adjust": ""}
        if _accepts(fn, "timeout"):
            kw["timeout"] = self.policy.timeout
        return vendors.akshare_characteristics(self._call(what, fn, **kw), symbol, what)

    def industry(self, symbol: str) -> pd.DataFrame:
        """akshare serves no dated industry classification: use tushare for the industry style."""
        raise SourceError("akshare has no point-in-time industry classification: fetch the industry with "
                          "--source tushare (index_member_all, 2000 points)")

    def index_bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        what = f"akshare stock_zh_index_daily({vendors.AK_INDEX_SYMBOL})"
        df = self._call(what, self.ak.stock_zh_index_daily, symbol=vendors.AK_INDEX_SYMBOL)
        out = vendors.akshare_index(df, what)
        out = out[(out["date"] >= pd.Timestamp(start)) & (out["date"] <= pd.Timestamp(end))].reset_index(drop=True)
        validate_index(out, what)
        return out

    def constituents(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        what = f"akshare index_stock_cons_csindex({vendors.AK_INDEX_CODE})"
        df = self._call(what, self.ak.index_stock_cons_csindex, symbol=vendors.AK_INDEX_CODE)
        return vendors.akshare_constituents(df, what)
