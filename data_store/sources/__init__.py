"""Vendor sources behind one protocol. Vendor column names stay in :mod:`data_store.sources.vendors`."""

from __future__ import annotations

from core.errors import ConfigError

from .akshare_source import AkshareSource
from .base import CallPolicy, Source, call_vendor, probe_host, run_with_deadline
from .tushare_source import TushareSource

SOURCES = {"akshare": AkshareSource, "tushare": TushareSource}


def make_source(name: str, policy: CallPolicy | None = None, points: int | None = None) -> Source:
    """The source called ``name`` ('akshare' or 'tushare'); ``points``: a tushare account's
    points level, which sets its per-minute quota (ignored by akshare)."""
    if name == "tushare":
        return TushareSource(policy=policy, points=points)
    if name == "akshare":
        return AkshareSource(policy=policy)
    raise ConfigError(f"unknown source {name!r}: choose one of {sorted(SOURCES)}")


__all__ = [
    "SOURCES",
    "AkshareSource",
    "CallPolicy",
    "Source",
    "TushareSource",
    "call_vendor",
    "make_source",
    "probe_host",
    "run_with_deadline",
]
