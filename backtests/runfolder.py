"""Run folders written all-or-nothing: built under a hidden temporary name, renamed when complete."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

LIBRARIES = ("torch", "numpy", "pandas", "pyarrow", "scikit-learn", "backtrader", "quantstats",
             "matplotlib", "akshare", "tushare")


class RunFolder:
    """``with RunFolder(runs_dir, name) as rf: ...`` writes into ``rf.tmp``; on a clean exit the
    folder is renamed to ``runs_dir/<timestamp>-<name>`` (``rf.final``); on any exception,
    Ctrl-C included, the temporary folder is removed and nothing is left behind."""

    def __init__(self, runs_dir: str | Path, name: str, stamp: str | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.final = self.runs_dir / f"{self.stamp}-{safe}"
        self.tmp = self.runs_dir / f".incomplete-{self.stamp}-{safe}-{os.getpid()}"

    def __enter__(self) -> RunFolder:
        self._made_runs_dir = not self.runs_dir.exists()
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        if self.final.exists():
            raise FileExistsError(f"run folder {self.final} already exists; pass another --name or wait a second")
        self.tmp.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.final)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self._made_runs_dir:  # leave no empty parent folder behind either
                with contextlib.suppress(OSError):
                    self.runs_dir.rmdir()

    def path(self, name: str) -> Path:
        return self.tmp / name

    def write_text(self, name: str, text: str) -> Path:
        p = self.path(name)
        p.write_text(text, encoding="utf-8")
        return p

    def write_json(self, name: str, obj: Any) -> Path:
        return self.write_text(name, json.dumps(obj, indent=2, default=_json_default, allow_nan=False) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, (pd.Timestamp, datetime)):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def clean_json(obj: Any) -> Any:
    """Replace NaN/inf floats by None, recursively (JSON has no NaN)."""
    import math

    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def git_commit() -> dict[str, Any]:
    """The toolkit's git commit and whether the work tree had changes (None outside a checkout)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if head.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def library_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            out[lib] = None
    return out


def command_line() -> str:
    return " ".join([Path(sys.executable).name, *sys.argv])
