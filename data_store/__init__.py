"""data_store: the real CSI-300 data (embedded snapshot + user cache), in one canonical schema.

Research scripts start with::

    import data_store
    md = data_store.load()          # MarketData: bars, index, calendar, universe, tradable mask
"""

from core.errors import ConfigError, DataValidationError, ToolkitError

from .boards import board_of, limit_pct
from .cache.merge import merge_cache
from .cache.store import Cache, default_cache_dir, resolve_cache_dir
from .errors import CacheError, SourceError
from .loader import load, load_snapshot
from .market import MarketData
from .membership.universe import Membership
from .schema import AnomalyReport, canonical_bars, validate_bars

__all__ = [
    "AnomalyReport",
    "Cache",
    "CacheError",
    "ConfigError",
    "DataValidationError",
    "MarketData",
    "Membership",
    "SourceError",
    "ToolkitError",
    "board_of",
    "canonical_bars",
    "default_cache_dir",
    "limit_pct",
    "load",
    "load_snapshot",
    "merge_cache",
    "resolve_cache_dir",
    "validate_bars",
]
