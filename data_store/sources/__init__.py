"""Vendor sources behind one protocol. Vendor column names stay in :mod:`data_store.vendors`."""

from __future__ import annotations

from ..errors import ConfigError
from .akshare_source import AkshareSource
from .base import CallPolicy, Source, call_vendor, probe_host, run_with_deadline
from .tushare_source import TushareSource

SOURCES = {"akshare": AkshareSource, "tushare": TushareSource}


def make_source(name: str, policy: CallPolicy | None = None) -> Source:
    """The source called ``name`` ('akshare' or 'tushare')."""
    try:
        cls = SOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown source {name!r}: choose one of {sorted(SOURCES)}") from None
    return cls(policy=policy)


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
