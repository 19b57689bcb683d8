"""Dated CSI-300 membership histories (entries AND exits with their days) behind one protocol.

| name                 | where the dates come from                                              |
| -------------------- | ---------------------------------------------------------------------- |
| `index-constitution` | the PyPI package (csindex announcements; the snapshot's own source),    |
|                      | installed locally: no network, each release adds the later reviews      |
| `tushare`            | ``index_weight`` member lists (monthly), each change dated at its review |
| `akshare`            | ``index_stock_hist('sh000300')`` (jrj.com.cn), removed in akshare 1.10.37 |
| `qlib:PATH`          | a qlib ``instruments/csi300.txt`` file (inclusive first/last days)      |

Every source answers a :class:`MembershipHistory`: spans ``symbol, name, start, end, source``
(half-open) and the last day it knows of (``as_of``). The update stores it in the cache; the
merge uses it from the day after the snapshot (``data_store.membership.history.join_at_seam``).
How each agrees with the snapshot on 2010-2025 is measured by ``bench/membership_agreement.py``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from core.errors import ConfigError

from ..errors import SourceError
from ..membership.history import spans_from_lists
from . import vendors
from .base import CallPolicy, call_vendor
from .compat_pickle import read_pandas3_pickle

log = logging.getLogger(__name__)

#: The first day of the CSI-300 (its base day): a history never needs anything earlier.
CSI300_LAUNCH = pd.Timestamp("2005-04-08")
DEFAULT_MEMBERSHIP = "index-constitution"


@dataclass(frozen=True)
class MembershipHistory:
    """Spans ``symbol, name, start, end, source`` of one source, and the last day it knows of."""

    spans: pd.DataFrame
    label: str
    as_of: pd.Timestamp
    versions: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class MembershipSource(Protocol):
    name: str

    def history(self) -> MembershipHistory: ...


def _finish(spans: pd.DataFrame, label: str, versions: dict[str, str]) -> MembershipHistory:
    spans = spans.assign(source=label)
    days = pd.concat([spans["start"], spans["end"]]).dropna()
    return MembershipHistory(spans=spans, label=label, as_of=days.max(), versions=versions)


class IndexConstitutionSource:
    """``index_constitution.history('csi300')``. The package's releases are pickled by pandas 3;
    under this toolkit's pandas 2 the same data file is read by :mod:`data_store.sources.compat_pickle`."""

    name = "index-constitution"

    def __init__(self, module: Any = None) -> None:
        self._ic = module

    def version(self) -> str:
        try:
            return importlib.metadata.version("index-constitution")
        except importlib.metadata.PackageNotFoundError:
            return str(getattr(self._ic, "__version__", "unknown"))

    def _frame(self) -> pd.DataFrame:
        try:
            ic = self._ic or importlib.import_module("index_constitution")
        except ImportError as exc:
            raise SourceError("index-constitution is not installed: pip install 'index-constitution>=1.0.1' "
                              "(it is a dependency of this toolkit)") from exc
        try:
            return ic.history("csi300")
        except (NotImplementedError, TypeError, AttributeError, ValueError) as exc:
            if self._ic is not None:  # an injected module: nothing on disk to fall back to
                raise SourceError(f"index_constitution.history('csi300') failed: {exc!r}") from exc
            log.debug("index_constitution.history failed under pandas %s (%s): reading its data file",
                      pd.__version__, type(exc).__name__)
            with (resources.files("index_constitution") / "_data" / "history" / "csi300.pkl").open("rb") as fh:
                return read_pandas3_pickle(fh)

    def history(self) -> MembershipHistory:
        version = self.version()
        label = f"index-constitution {version}"
        spans = vendors.index_constitution_spans(self._frame(), f"{label} history('csi300')")
        return _finish(spans, label, {"index-constitution": version})


class AkshareHistorySource:
    """akshare's historical constituents, ``index_stock_hist(symbol='sh000300')`` (columns
    ``stock_code, in_date, out_date``). akshare removed it in 1.10.37 (2023-07) when its site,
    jrj.com.cn, stopped serving the pages; with a newer akshare this source says so and names the
    alternatives instead of failing obscurely."""

    name = "akshare"
    FUNCTION = "index_stock_hist"

    def __init__(self, policy: CallPolicy | None = None, module: Any = None) -> None:
        self.policy = policy or CallPolicy()
        self._ak = module

    def history(self) -> MembershipHistory:
        ak = self._ak or importlib.import_module("akshare")
        version = str(getattr(ak, "__version__", "unknown"))
        fn = getattr(ak, self.FUNCTION, None)
        if fn is None:
            raise SourceError(
                f"akshare {version} has no {self.FUNCTION}() (removed in akshare 1.10.37): use "
                "--membership index-constitution (the default) or --membership tushare")
        what = f"akshare {self.FUNCTION}(sh000300)"
        df = call_vendor(what, fn, policy=self.policy, symbol="sh000300")
        spans = vendors.akshare_index_hist(df, what)
        return _finish(spans, f"akshare {self.FUNCTION} {version}", {"akshare": version})


class TushareWeightsSource:
    """tushare's ``index_weight`` member lists since the index began, turned into spans whose
    changes are dated at the review between two lists (:func:`spans_from_lists`). Needs an
    account with 2000 points; calls are paced and cut off by the tushare source's pacer and
    breaker (about 260 monthly calls)."""

    name = "tushare"

    def __init__(self, tushare: Any, calendar: pd.DatetimeIndex, end: pd.Timestamp | None = None,
                 progress: bool = False) -> None:
        self.tushare = tushare
        self.calendar = pd.DatetimeIndex(calendar)
        self.end = pd.Timestamp(end) if end is not None else pd.Timestamp.today().normalize()
        self.progress = progress

    def history(self) -> MembershipHistory:
        lists = self.tushare.weight_lists(CSI300_LAUNCH, self.end, progress=self.progress)
        versions = self.tushare.library_versions()
        label = f"tushare index_weight {versions.get('tushare', '')}".strip()
        spans = spans_from_lists(lists, self.calendar, label)
        out = _finish(spans[list(vendors.MEMBERSHIP_SPAN_COLUMNS)], label, versions)
        return MembershipHistory(out.spans, label, pd.Timestamp(lists["date"].max()), versions)


class QlibInstrumentsSource:
    """A qlib instruments file, e.g. ``~/.qlib/qlib_data/cn_data/instruments/csi300.txt``."""

    name = "qlib"

    def __init__(self, path: str | Path, calendar: pd.DatetimeIndex) -> None:
        self.path = Path(path).expanduser()
        self.calendar = pd.DatetimeIndex(calendar)

    def history(self) -> MembershipHistory:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--membership qlib:{self.path}: cannot read the file ({exc.strerror}); "
                              "give the path of a qlib instruments/csi300.txt") from exc
        spans = vendors.qlib_instrument_spans(text, self.calendar, f"qlib {self.path}")
        out = _finish(spans, f"qlib {self.path.name}", {})
        # the file knows membership up to its last 'last day', also where nothing changed then
        last = max(pd.Timestamp(line.split("\t")[2]) for line in text.splitlines() if line.strip())
        return MembershipHistory(out.spans, out.label, max(out.as_of, last), out.versions)


MEMBERSHIP_SOURCES = ("index-constitution", "tushare", "akshare", "qlib:PATH", "observed")


def make_membership_source(spec: str, *, calendar: pd.DatetimeIndex, bar_source: Any = None,
                           policy: CallPolicy | None = None, progress: bool = False) -> MembershipSource | None:
    """The membership source named by ``spec`` (see :data:`MEMBERSHIP_SOURCES`); ``None`` for
    ``observed`` (no history: the bar source's member list of the day is all there is)."""
    if spec == "observed":
        return None
    if spec == "index-constitution":
        return IndexConstitutionSource()
    if spec == "akshare":
        return AkshareHistorySource(policy)
    if spec == "tushare":
        from .tushare_source import TushareSource

        ts = bar_source if isinstance(bar_source, TushareSource) else TushareSource(policy=policy)
        return TushareWeightsSource(ts, calendar, progress=progress)
    if spec.startswith("qlib:") and len(spec) > 5:
        return QlibInstrumentsSource(spec[5:], calendar)
    raise ConfigError(f"--membership {spec!r}: choose one of {', '.join(MEMBERSHIP_SOURCES)}")
