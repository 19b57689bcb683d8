"""The user cache of days beyond the embedded snapshot, and its merge into the snapshot.

- :mod:`~data_store.cache.store`: the :class:`Cache` folder (per-symbol parquet files, a manifest, a lock);
- :mod:`~data_store.cache.manifest`: where the cache lives and what its manifest records;
- :mod:`~data_store.cache.check`: verifying a cache against its manifest, repairing it, summarising it;
- :mod:`~data_store.cache.merge`: merging the cache into the (never modified) snapshot.
"""

from __future__ import annotations

from .manifest import default_cache_dir, resolve_cache_dir
from .store import Cache, CacheContents

__all__ = ["Cache", "CacheContents", "default_cache_dir", "resolve_cache_dir"]
