"""The embedded CSI-300 snapshot shipped inside the package (read with importlib.resources)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import DataValidationError

SNAPSHOT_FILES = ("bars.parquet", "index_000300.parquet", "membership.csv", "events.csv", "README.md")


def snapshot_dir() -> Traversable:
    """The package folder holding the snapshot files."""
    return resources.files("data_store") / "snapshot"


@dataclass(frozen=True)
class RawSnapshot:
    bars: pd.DataFrame
    index: pd.DataFrame
    membership: pd.DataFrame
    events: pd.DataFrame
    readme: str


def _read_parquet(entry: Traversable, dictionary: list[str] | None = None) -> pd.DataFrame:
    with resources.as_file(entry) as path:
        try:
            table = pq.read_table(path, read_dictionary=dictionary)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataValidationError(
                f"snapshot file {path}", "readable parquet (reinstall the package or re-clone)", 0
            ) from exc
    # self_destruct + split_blocks: pandas takes over arrow's buffers column by column instead of
    # holding a second full copy; nanosecond dates directly (the canonical unit)
    df = table.to_pandas(self_destruct=True, split_blocks=True, coerce_temporal_nanoseconds=True)
    del table
    pa.default_memory_pool().release_unused()  # decompression scratch back to the OS
    return df


def read_snapshot() -> RawSnapshot:
    """Read the five snapshot files as they are (no validation here; see :mod:`.schema`)."""
    root = snapshot_dir()
    missing = [f for f in SNAPSHOT_FILES if not (root / f).is_file()]
    if missing:
        raise DataValidationError(
            f"snapshot folder {root}", "all snapshot files present (re-clone or reinstall)", len(missing), str(missing)
        )
    with (root / "membership.csv").open("r", encoding="utf-8") as fh:
        membership = pd.read_csv(fh, dtype={"symbol": str, "name": str})
    with (root / "events.csv").open("r", encoding="utf-8") as fh:
        events = pd.read_csv(fh, parse_dates=["event_date"])
    return RawSnapshot(
        bars=_read_parquet(root / "bars.parquet", dictionary=["symbol"]),
        index=_read_parquet(root / "index_000300.parquet"),
        membership=membership,
        events=events,
        readme=(root / "README.md").read_text(encoding="utf-8"),
    )


def snapshot_sha256() -> dict[str, str]:
    """sha256 of every snapshot file, for run manifests and ``info``."""
    out = {}
    for name in SNAPSHOT_FILES:
        h = hashlib.sha256()
        with (snapshot_dir() / name).open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        out[name] = h.hexdigest()
    return out
