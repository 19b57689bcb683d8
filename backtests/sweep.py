"""``python -m backtests.sweep``: run a grid of settings, one run folder per point, and compare them.

    python -m backtests.sweep --preset quick --grid lookback=20,40,60 model=lstm,gru
    python -m backtests.sweep --config my.toml --grid hidden_size=16,32 --executor ray --threads 1

Every option of ``python -m backtests.run`` applies to all points; ``--grid KEY=V1,V2,...`` (several
keys give their product) sets one field per key: ``section.field`` or a field name that is unique
across sections (``lookback``, ``hidden_size``, ``max_epochs``, ``horizon``, ...), and ``model`` for
``model.kind``. Every point is validated before anything runs; a bad value writes nothing.

Executors (:mod:`signals.execution`, the same as for the windows of a run): every point is one
task. The market data is loaded once by this process and shared with the tasks (through Ray's
object store with ``--executor ray``); a task runs the whole pipeline (its walk-forward windows
locally inside the task, backtests, report) into a temporary folder and sends the files back, and
this process writes the run folder, so workers on other machines need no shared disk. Each task
trains with the run's thread count (``--threads``, default 1) and asks Ray for as many CPUs, so a
point's results equal the local ones bit for bit on CPU; on a 2-core machine two points run at a
time on Ray. With the local executor the points run one after the other, each with its windows
on the run's worker processes (``execution.workers``); inside a Ray task a point's windows run one
after the other (Ray already spreads the points).

The comparison table (``backtests.compare``) of the finished points is printed and written to
``<runs>/<stamp>-<name>-comparison/comparison.csv`` beside ``points.csv`` (each point's settings,
folder, status and error) and ``frontier.csv``: the points' turnover against their net and gross
excess and alpha (:func:`backtests.evidence.tradeoff.runs_frontier`; a grid over turnover settings,
e.g. ``--grid strategy.topk.hold_days=1,5,10``, is a frontier; each run folder also has its own
frontier over ``[tradeoff]``'s settings, on its one set of predictions). A point that fails after
its retries is named with its error; the others finish, and the exit code is 1; otherwise a point
whose leakage audit failed makes it 3. Exit codes and signals as for ``backtests.run``
(:mod:`backtests.lifecycle`): Ctrl-C or SIGTERM keeps the points
already finished, writes no comparison and exits 130 / 143.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import ConfigError, ToolkitError
from signals.execution.factory import ExecutorConfig, make_executor
from signals.execution.local import LocalExecutor
from signals.execution.ray_executor import RayExecutor

from . import compare as cmp
from . import config as C
from . import run as R
from .build import load_market
from .lifecycle import (
    EXIT_AUDIT,
    EXIT_FAILED,
    EXIT_INPUT,
    EXIT_OK,
    Interrupted,
    SignalGuard,
    guarded,
    log_to_stderr,
)
from .runfolder import INCOMPLETE_PREFIX, check_writable, clean_json, mark_owner, report_stale

log = logging.getLogger("backtests.sweep")

#: grid keys that are not a field name
ALIASES = {"model": "model.kind", "symbols": "universe.symbols"}


# ---------------------------------------------------------------- the grid
def _paths() -> list[str]:
    """Every setting's ``section.field`` path (nested sections included)."""
    return [path for path, _, _ in C.describe_fields()]


def resolve_key(key: str) -> str:
    """A grid key -> its setting's path; ConfigError naming the choices when unknown or ambiguous."""
    key = key.strip()
    if key in ALIASES:
        return ALIASES[key]
    paths = _paths()
    if "." in key:
        if key in paths:
            return key
        raise ConfigError(f"--grid key {key!r} is not a setting: use section.field as in --set "
                          "(python -m backtests.run --print-config lists them)")
    matches = [p for p in paths if p.rsplit(".", 1)[1] == key]
    if not matches:
        short = sorted({*ALIASES, *(p.rsplit(".", 1)[1] for p in paths
                                    if sum(q.rsplit(".", 1)[1] == p.rsplit(".", 1)[1] for q in paths) == 1)})
        raise ConfigError(f"--grid key {key!r} is unknown: use section.field (e.g. features.lookback) or one of "
                          f"{short}")
    if len(matches) > 1:
        sections = ", ".join(m.rsplit(".", 1)[0] for m in matches)
        raise ConfigError(f"--grid key {key!r} is in several sections ({sections}): write it as {matches[0]}")
    return matches[0]


def parse_grid(items: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``["lookback=20,40", "model=lstm,gru"]`` -> ``[("features.lookback", ["20", "40"]), ...]``."""
    out: list[tuple[str, list[str]]] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid item {item!r} must look like KEY=V1,V2 (e.g. lookback=20,40,60)")
        key, vals = item.split("=", 1)
        path = resolve_key(key)
        values = [v.strip() for v in vals.split(",") if v.strip()]
        if path == "universe.symbols":  # a point is one symbol list: separate lists with ';'
            values = [v.strip() for v in vals.split(";") if v.strip()]
        if not values:
            raise ConfigError(f"--grid {item!r} gives no value for {key}")
        if path in {p for p, _ in out}:
            raise ConfigError(f"--grid sets {path} twice; give all its values in one item (KEY=V1,V2)")
        out.append((path, values))
    return out


def grid_points(grid: Sequence[tuple[str, list[str]]]) -> list[dict[str, str]]:
    """The product of the grid, first key slowest: ``[{"features.lookback": "20", ...}, ...]``."""
    keys = [k for k, _ in grid]
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(v for _, v in grid))]


def point_tag(point: dict[str, str]) -> str:
    """``{"features.lookback": "20", "model.kind": "gru"}`` -> ``"lookback20-gru"`` (folder-safe)."""
    parts = []
    for k, v in point.items():
        name = k.rsplit(".", 1)[1]
        parts.append(v if k == "model.kind" else f"{name}{v}")
    return "-".join(parts).replace(",", "_").replace(";", "_")


@dataclass
class Point:
    """One grid point: its settings, its validated config, and (after the run) folder or error."""

    settings: dict[str, str]
    cfg: C.RunConfig
    folder: Path | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.settings.items())


def build_points(args: argparse.Namespace, grid: Sequence[tuple[str, list[str]]]) -> list[Point]:
    """A validated config per grid point (the run options of ``args`` plus the point's settings)."""
    base = args.name or "sweep"
    points = []
    for settings in grid_points(grid):
        ns = argparse.Namespace(**vars(args))
        ns.set = [*args.set, *(f"{k}={v}" for k, v in settings.items())]
        if "universe.symbols" in settings:  # the --symbols option would override the grid's value
            ns.symbols = None
        ns.name = f"{base}-{point_tag(settings)}"
        try:
            cfg = R.config_from_args(ns)
        except ConfigError as exc:
            raise ConfigError(f"grid point {' '.join(f'{k}={v}' for k, v in settings.items())}: {exc}") from None
        points.append(Point(settings=settings, cfg=_local_windows(cfg)))
    names = [p.cfg.run_name for p in points]
    if len(set(names)) != len(names):
        raise ConfigError(f"two grid points would share a run name ({names}): give distinct values")
    return points


def _local_windows(cfg: C.RunConfig) -> C.RunConfig:
    """Inside a sweep a point is the unit of work: its windows run locally (no Ray inside Ray), with
    the run's thread count (the one the sweep's executor gives the point's task)."""
    return dataclasses.replace(cfg, execution=dataclasses.replace(cfg.execution, executor="local", ray_address=""))


def _one_process(cfg: C.RunConfig) -> C.RunConfig:
    """``cfg`` with its windows one after the other in the point's process (no pool inside Ray)."""
    return dataclasses.replace(cfg, execution=dataclasses.replace(cfg.execution, workers=1))


def _market_key(cfg: C.RunConfig) -> tuple[Any, ...]:
    return (cfg.data, cfg.universe, cfg.walk_forward.test_start)


# ---------------------------------------------------------------- running the points
def _point_task(markets: dict[tuple[Any, ...], tuple[Any, int]], cfg: C.RunConfig) -> dict[str, Any]:
    """A whole run (in this process or a Ray worker) written to a temporary folder; its files come
    back as bytes, so the driver writes the run folder and workers need no shared disk."""
    from .pipeline import run

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="csi300-sweep-") as tmp:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, runs_dir=tmp))
        try:
            folder = run(cfg, markets[_market_key(cfg)], progress=False)
        except ToolkitError as exc:  # this point's own error: reported with the point, the others go on
            return {"error": f"{type(exc).__name__}: {exc}"}
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return {"name": folder.name, "files": files, "seconds": time.perf_counter() - t0}


def _write_folder(runs_dir: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write a run folder received from a task, all or nothing (hidden name, then a rename)."""
    final = runs_dir / name
    if final.exists():
        raise FileExistsError(f"run folder {final} already exists; pass another --name")
    tmp = runs_dir / f"{INCOMPLETE_PREFIX}{name}-{os.getpid()}"
    try:
        tmp.mkdir(parents=True)
        mark_owner(tmp)
        for rel, data in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        (tmp / "owner.json").unlink(missing_ok=True)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


@dataclass
class SweepResult:
    points: list[Point]
    table: pd.DataFrame
    folder: Path | None = None
    seconds: float = 0.0
    failures: list[Point] = field(default_factory=list)
    multiple_testing: dict[str, Any] | None = None


def _markets(points: Sequence[Point]) -> dict[tuple[Any, ...], tuple[Any, int]]:
    """Load the market data once per distinct (data, universe) of the points."""
    out: dict[tuple[Any, ...], tuple[Any, int]] = {}
    for p in points:
        key = _market_key(p.cfg)
        if key not in out:
            out[key] = load_market(p.cfg)
    return out


def run_points(points: Sequence[Point], executor: LocalExecutor | RayExecutor) -> None:
    """Every point one task on ``executor``; each point gets its folder or its error."""
    if executor.kind == "ray":
        devices = {p.cfg.model.device for p in points}
        device = "cuda" if any(d.startswith("cuda") for d in devices) else "auto" if "auto" in devices else "cpu"
    else:
        device = "cpu"
    for d in {p.cfg.output.runs_dir for p in points}:
        check_writable(d)
        report_stale(d)
        Path(d).mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # on Ray a point's task runs its windows in its own process (Ray already spreads the points)
    cfgs = [p.cfg if executor.kind == "local" else _one_process(p.cfg) for p in points]
    results = executor.map(_point_task, cfgs, shared=_markets(points),
                           name=lambda i: f"sweep point {points[i].label}",
                           threads=executor.threads, device=device)
    with contextlib.closing(results):
        for r in results:
            p = points[r.key]
            p.seconds = time.perf_counter() - t0
            if r.ok and "error" in r.value:
                p.error = r.value["error"]
                log.error("sweep point %s failed: %s", p.label, p.error)
            elif r.ok:
                out = r.value
                p.folder = _write_folder(Path(p.cfg.output.runs_dir), out["name"], out["files"])
                log.info("sweep point %s done: %s", p.label, p.folder)
            else:
                p.error = f"{r.error} (after {r.attempts} attempt{'s' if r.attempts != 1 else ''})"
                log.error("sweep point %s failed: %s", p.label, p.error)


def sweep(points: list[Point], executor: LocalExecutor | RayExecutor, *, name: str = "sweep") -> SweepResult:
    """Run every point on ``executor`` and compare the finished ones (``backtests.compare``)."""
    t0 = time.perf_counter()
    try:
        run_points(points, executor)
    finally:
        if isinstance(executor, RayExecutor):
            executor.shutdown()
    done = [p for p in points if p.folder is not None]
    table = cmp.compare([p.folder for p in done if p.folder is not None]) if done else pd.DataFrame()
    res = SweepResult(points=list(points), table=table, seconds=time.perf_counter() - t0,
                      failures=[p for p in points if p.folder is None])
    runs_dir = Path(points[0].cfg.output.runs_dir)
    folder = runs_dir / f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{name}-comparison"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{**p.settings, "run_folder": p.folder.name if p.folder else "", "status": "ok" if p.folder else "failed",
             "error": p.error or "", "seconds": round(p.seconds, 1)} for p in points]
    pd.DataFrame(rows).to_csv(folder / "points.csv", index=False)
    if done:
        table.to_csv(folder / "comparison.csv")
        from .evidence.tradeoff import runs_frontier

        runs_frontier([p.folder for p in done if p.folder is not None]).to_csv(folder / "frontier.csv", index=False,
                                                                              float_format="%.6g")
        text = cmp.format_table(table)
        if len(done) > 1:  # the best point against having tried them all
            mt = cmp.multiple_testing([p.folder for p in done if p.folder is not None])
            res.multiple_testing = mt
            (folder / "multiple_testing.json").write_text(json.dumps(clean_json(mt), indent=2) + "\n",
                                                          encoding="utf-8")
            text += "\n\n" + cmp.multiple_testing_text(mt)
        (folder / "comparison.txt").write_text(text + "\n", encoding="utf-8")
    res.folder = folder
    return res


# ---------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = R.build_parser()
    p.prog = "python -m backtests.sweep"
    p.description = "Run a grid of settings (one run folder per point) and compare the runs."
    p.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2",
                   help="settings to vary, e.g. lookback=20,40,60 model=lstm,gru (several keys: their product)")
    p.add_argument("--max-retries", type=int, default=2, help="ray: extra attempts of a failed point (default 2)")
    return p


def main(argv: list[str] | None = None) -> int:
    return guarded(_main, argv, "finished points keep their run folders; no comparison was written")


def _main(argv: list[str] | None, guard: SignalGuard) -> int:
    args = build_parser().parse_args(argv)
    log_to_stderr(args.quiet)
    kind = args.executor or "local"
    try:
        # --executor and --ray-address choose where the POINTS run; each point's windows run locally
        ns = argparse.Namespace(**{**vars(args), "executor": None, "ray_address": None})
        points = build_points(ns, parse_grid(args.grid))
        if args.print_config:
            for pt in points:
                print(f"# {pt.label}\n{C.to_toml(pt.cfg)}")
            return EXIT_OK
        if args.clean:
            return R.clean(points[0].cfg.output.runs_dir)
        # local points run one after the other, each with its windows on the run's worker processes
        ex_cfg = ExecutorConfig(executor=kind, ray_address=args.ray_address or "", max_retries=args.max_retries,
                                threads=points[0].cfg.execution.threads, workers=1 if kind == "local" else None)
        executor = make_executor(ex_cfg)
        with guard.held():
            from signals.execution.runtime import load_torch

            from . import pipeline  # noqa: F401 - the heavy imports, whole, before the points run

            load_torch()
        res = sweep(points, executor, name=args.name or "sweep")
    except Interrupted:
        raise
    except ToolkitError as exc:
        if guard.received is not None:
            raise Interrupted(guard.received) from None
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # the environment: a full disk, a local Ray that did not start
        if guard.received is not None:
            raise Interrupted(guard.received) from None
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if len(res.table):
        print(cmp.format_table(res.table))
    if res.multiple_testing:
        print("\n" + cmp.multiple_testing_text(res.multiple_testing))
    print(f"\n{len(res.points) - len(res.failures)} of {len(res.points)} points finished in {res.seconds:.0f} s "
          f"({kind} executor); comparison and points.csv in:\n  {res.folder}")
    for p in res.points:
        print(f"  {p.label}: {p.folder if p.folder else 'FAILED'}")
    if res.failures:
        print(f"\nthe sweep is INCOMPLETE: {len(res.failures)} point(s) failed after their retries:", file=sys.stderr)
        for p in res.failures:
            print(f"  - {p.label}: {p.error}", file=sys.stderr)
        return EXIT_FAILED
    failed_audit = [p for p in res.points if p.folder is not None and _audit_failed(p.folder)]
    if failed_audit:
        print(f"\nthe leakage audit FAILED for {len(failed_audit)} point(s): "
              + ", ".join(p.label for p in failed_audit), file=sys.stderr)
        return EXIT_AUDIT
    return EXIT_OK


def _audit_failed(folder: Path) -> bool:
    from .outputs import audit_failed

    return audit_failed(folder)


if __name__ == "__main__":
    sys.exit(main())
