"""Run folders written all-or-nothing: built under a hidden temporary name, renamed when complete.

A run builds ``<runs>/.incomplete-<stamp>-<name>-<pid>/`` and renames it to ``<runs>/<stamp>-<name>/``
when every file is written; an error, Ctrl-C or SIGTERM removes it. Only SIGKILL (or a power cut)
can leave one behind: its ``owner.json`` names the process (pid, host, start time), so a later run
reports the folders whose process is gone (:func:`report_stale`) and ``--clean`` removes them
(:func:`remove_stale`); a folder of a run still going, or of another host, is never touched.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import ToolkitError

log = logging.getLogger("backtests.run")

INCOMPLETE_PREFIX = ".incomplete-"
OWNER_FILE = "owner.json"

LIBRARIES = ("torch", "numpy", "pandas", "pyarrow", "scikit-learn", "backtrader", "quantstats",
             "matplotlib", "akshare", "tushare")


class RunFolderError(ToolkitError, OSError):
    """The run folder cannot be made where asked (read-only, not a folder, already there)."""


def _cannot_write(runs_dir: Path, exc: OSError) -> RunFolderError:
    why = exc.strerror or str(exc)
    return RunFolderError(f"cannot write run folders under {str(runs_dir)!r}: {why}; choose another folder with "
                          "--out (output.runs_dir)")


def check_writable(runs_dir: str | Path) -> None:
    """Raise :class:`RunFolderError` unless a run folder can be written under ``runs_dir``; tried
    for real (a probe file), and any folder made for the probe is removed again."""
    root = Path(runs_dir)
    missing = []
    p = root
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    made: list[Path] = []
    try:
        for d in reversed(missing):
            d.mkdir()
            made.append(d)
        if not root.is_dir():
            raise NotADirectoryError(20, "it is not a folder")
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _cannot_write(root, exc) from None
    finally:
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()


class RunFolder:
    """``with RunFolder(runs_dir, name) as rf: ...`` writes into ``rf.tmp``; on a clean exit the
    folder is renamed to ``runs_dir/<timestamp>-<name>`` (``rf.final``); on any exception,
    Ctrl-C and SIGTERM included, the temporary folder is removed and nothing is left behind."""

    def __init__(self, runs_dir: str | Path, name: str, stamp: str | None = None) -> None:
        self.runs_dir = Path(runs_dir)
        self.stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.final = self.runs_dir / f"{self.stamp}-{safe}"
        self.tmp = self.runs_dir / f"{INCOMPLETE_PREFIX}{self.stamp}-{safe}-{os.getpid()}"

    def __enter__(self) -> RunFolder:
        self._made_runs_dir = not self.runs_dir.exists()
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            if self.final.exists():
                raise RunFolderError(f"run folder {self.final} already exists; pass another --name or wait a second")
            self.tmp.mkdir()
            mark_owner(self.tmp)
        except RunFolderError:
            raise
        except OSError as exc:
            raise _cannot_write(self.runs_dir, exc) from None
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            (self.tmp / OWNER_FILE).unlink(missing_ok=True)
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
    """The command as the user typed it: ``python -m backtests.run --symbols SH600519`` for a module
    run with ``-m`` (``sys.argv[0]`` is then the module's file), quoted for a shell."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    name = spec.name.removesuffix(".__main__") if spec is not None and spec.name else ""  # a package's __main__
    head = ["python", "-m", name] if name else ["python", sys.argv[0]]
    return shlex.join([*head, *sys.argv[1:]])


# ---------------------------------------------------------------- folders left by killed runs
def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, /proc), None if unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def mark_owner(folder: Path) -> None:
    """Write ``owner.json`` (pid, host, start time) into an incomplete folder."""
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "start_time": _start_time(os.getpid()),
             "command": command_line(), "since": datetime.now().isoformat(timespec="seconds")}
    (folder / OWNER_FILE).write_text(json.dumps(owner) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Incomplete:
    """An ``.incomplete-*`` folder and whether the process that writes it is still running
    (None: unknown, e.g. another host's)."""

    path: Path
    pid: int | None
    host: str | None
    alive: bool | None


def _alive(pid: int, start_time: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that pid
        pass
    now = _start_time(pid)
    return start_time is None or now is None or now == start_time  # a reused pid has another start time


def incomplete_folders(runs_dir: str | Path) -> list[Incomplete]:
    """Every ``.incomplete-*`` folder under ``runs_dir`` with its owner's state."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.glob(f"{INCOMPLETE_PREFIX}*")):
        if not p.is_dir():
            continue
        pid: int | None
        try:
            owner = json.loads((p / OWNER_FILE).read_text(encoding="utf-8"))
            pid, host, start = int(owner["pid"]), owner.get("host"), owner.get("start_time")
        except (OSError, ValueError, KeyError, TypeError):  # no owner file (older runs): the pid ends the name
            tail = p.name.rsplit("-", 1)[-1]
            pid, host, start = (int(tail) if tail.isdigit() else None), None, None
        if pid is None or (host is not None and host != socket.gethostname()):
            out.append(Incomplete(p, pid, host, None))
        else:
            out.append(Incomplete(p, pid, host, _alive(pid, start)))
    return out


def stale_folders(runs_dir: str | Path) -> list[Path]:
    """The incomplete folders whose process is gone (killed runs)."""
    return [f.path for f in incomplete_folders(runs_dir) if f.alive is False]


def report_stale(runs_dir: str | Path) -> list[Path]:
    """Log a warning naming the incomplete folders of killed runs under ``runs_dir``."""
    stale = stale_folders(runs_dir)
    if stale:
        names = ", ".join(p.name for p in stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
        log.warning("%s: %d incomplete run folder(s) left by runs that were killed (%s); remove them with "
                    "python -m backtests.run --clean --out %s", runs_dir, len(stale), names, shlex.quote(str(runs_dir)))
    return stale


def remove_stale(runs_dir: str | Path) -> list[Path]:
    """Remove the incomplete folders of killed runs under ``runs_dir``; the removed paths."""
    removed = []
    for p in stale_folders(runs_dir):
        shutil.rmtree(p, ignore_errors=True)
        if not p.exists():
            removed.append(p)
    return removed
