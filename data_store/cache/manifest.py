"""Where the user cache lives, what its manifest records, and the messages about damaged files.

The manifest (``manifest.json``) lists every committed file with its sha256, rows, date range,
source, fetch time and library versions; its top-level figures (sources, range, symbols, row
counts) are recomputed by :func:`totals` on every write. :mod:`data_store.cache` writes it.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from ..errors import CacheError

APP_NAME = "csi300-toolkit"
ENV_VAR = "CSI300_CACHE_DIR"
MANIFEST = "manifest.json"
LOCK_FILE = ".lock"
BARS_DIR = "bars"
INDEX_FILE = "index.parquet"
MEMBERSHIP_FILE = "membership.parquet"
#: a dated membership history (spans with their source), see data_store.sources.membership
SPANS_FILE = "membership_spans.parquet"
#: vendor characteristics, one file per symbol (data_store.characteristics), and the industry spans
CHARACTERISTICS_DIR = "characteristics"
INDUSTRY_FILE = "industry.parquet"
FORMAT_VERSION = 1
#: The command printed in every corruption message; see :meth:`Cache.repair`.
REPAIR_COMMAND = "python -m data_store update --repair"
MEMBERSHIP_COLUMNS: tuple[str, ...] = ("date", "symbol", "name")
SPANS_COLUMNS: tuple[str, ...] = ("symbol", "name", "start", "end", "source")

# ---------------------------------------------------------------- locations
def default_cache_dir() -> Path:
    """The per-user cache folder of this toolkit (platformdirs), e.g. ``~/.cache/csi300-toolkit``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``$CSI300_CACHE_DIR`` if set, else :func:`default_cache_dir`."""
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return default_cache_dir()


def bars_path(symbol: str) -> str:
    """Relative path of a symbol's bar file inside the cache."""
    return f"{BARS_DIR}/{symbol}.parquet"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def runtime_versions() -> dict[str, str]:
    import platform

    return {"python": platform.python_version(), "pandas": pd.__version__, "pyarrow": pa.__version__}


def empty_manifest() -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "created_at": now(), "updated_at": None, "files": {}, "updates": [],
            "no_bars": {}}


def characteristics_path(symbol: str) -> str:
    """Relative path of a symbol's characteristics file inside the cache."""
    return f"{CHARACTERISTICS_DIR}/{symbol}.parquet"


def kind_of(relpath: str) -> str:
    """The kind of a cache file from its path: index, membership, spans, industry, characteristics or bars."""
    if relpath.startswith(CHARACTERISTICS_DIR + "/"):
        return "characteristics"
    return {INDEX_FILE: "index", MEMBERSHIP_FILE: "membership", SPANS_FILE: "spans",
            INDUSTRY_FILE: "industry"}.get(relpath, "bars")


def corrupt_error(path: Path, problem: str) -> CacheError:
    return CacheError(
        f"cache file {path} is unusable ({problem}). Repair with `{REPAIR_COMMAND}` "
        f"(drops the damaged file from the cache; then run `python -m data_store update` again to "
        f"refetch it) or delete that file; the other cache files stay usable, and "
        f"data_store.load(use_cache=False) ignores the cache."
    )


def totals(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Top-level manifest figures: sources, date range, symbols, row counts."""
    bars = [e for e in files.values() if e.get("kind") == "bars"]
    starts = [e["start"] for e in files.values() if e.get("start")]
    ends = [e["end"] for e in files.values() if e.get("end")]
    return {
        "sources": sorted({str(e.get("source")) for e in files.values()}),
        "start": min(starts) if starts else None,
        "end": max(ends) if ends else None,
        "symbols": sorted(e.get("symbol", "") for e in bars),
        "rows": {
            "bars": sum(int(e.get("rows", 0)) for e in bars),
            "index": sum(int(e.get("rows", 0)) for e in files.values() if e.get("kind") == "index"),
            "membership": sum(int(e.get("rows", 0)) for e in files.values() if e.get("kind") == "membership"),
            "spans": sum(int(e.get("rows", 0)) for e in files.values() if e.get("kind") == "spans"),
        },
    }

