"""``python -m backtests.sweep``: run a grid of settings, one run folder per point, and compare them.

    python -m backtests.sweep --preset quick --grid lookback=20,40,60 model=lstm,gru
    python -m backtests.sweep --config my.toml --grid hidden_size=16,32 --executor ray --task-threads 1

Every option of ``python -m backtests.run`` applies to all points; ``--grid KEY=V1,V2,...`` (several
keys give their product) sets one field per key: ``section.field`` or a field name that is unique
across sections (``lookback``, ``hidden_size``, ``max_epochs``, ``horizon``, ...), and ``model`` for
``model.kind``. Every point is validated before anything runs; a bad value writes nothing.

Executors: ``local`` runs the points one after the other in this process. ``ray`` makes every point
one Ray task: the market data is loaded once by this process and shared through the object store,
the task runs the whole pipeline (walk-forward windows in the task, backtests, report) into a
temporary folder and sends the files back, and this process writes the run folder, so workers on
other machines need no shared disk. Each task uses the torch and BLAS thread counts of this process
(or ``--task-threads``) and asks Ray for as many CPUs, so a point's results equal the local ones bit
for bit on CPU; on a 2-core machine ``--task-threads 1`` runs two points at a time.

The comparison table (``backtests.compare``) of the finished points is printed and written to
``<runs>/<stamp>-<name>-sweep/comparison.csv`` beside ``points.csv`` (each point's settings, folder,
status and error). A point that fails after its retries is named with its error; the others finish,
and the exit code is 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
import typing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from data_store.errors import ConfigError, ToolkitError

from . import compare as cmp
from . import config as C
from . import run as R

log = logging.getLogger("backtests.sweep")

#: grid keys that are not a field name
ALIASES = {"model": "model.kind", "symbols": "universe.symbols"}


# ---------------------------------------------------------------- the grid
def _fields() -> dict[str, list[str]]:
    """field name -> the sections that have it."""
    hints = typing.get_type_hints(C.RunConfig)
    out: dict[str, list[str]] = {}
    for sec in C.SECTIONS:
        for f in dataclasses.fields(hints[sec]):
            out.setdefault(f.name, []).append(sec)
    return out


def resolve_key(key: str) -> str:
    """A grid key -> ``section.field``; ConfigError naming the choices when unknown or ambiguous."""
    key = key.strip()
    if key in ALIASES:
        return ALIASES[key]
    fields = _fields()
    if "." in key:
        sec, name = key.split(".", 1)
        if sec in C.SECTIONS and sec in fields.get(name, []):
            return key
        raise ConfigError(f"--grid key {key!r} is not a setting: use section.field as in --set "
                          "(python -m backtests.run --print-config lists them)")
    secs = fields.get(key)
    if not secs:
        short = sorted([*ALIASES, *(n for n, s in fields.items() if len(s) == 1)])
        raise ConfigError(f"--grid key {key!r} is unknown: use section.field (e.g. features.lookback) or one of "
                          f"{short}")
    if len(secs) > 1:
        raise ConfigError(f"--grid key {key!r} is in several sections ({', '.join(secs)}): write it as "
                          f"{secs[0]}.{key}")
    return f"{secs[0]}.{key}"


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
        name = k.split(".", 1)[1]
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
        points.append(Point(settings=settings, cfg=_local_windows(cfg, args.task_threads)))
    names = [p.cfg.run_name for p in points]
    if len(set(names)) != len(names):
        raise ConfigError(f"two grid points would share a run name ({names}): give distinct values")
    return points


def _local_windows(cfg: C.RunConfig, threads: int = 0) -> C.RunConfig:
    """Inside a sweep a point is the unit of work: its windows run locally (no Ray inside Ray),
    with ``threads`` torch/BLAS threads when the config has an ``[execution]`` section (without
    it, the model trains with ``run_walk_forward``'s own count: the cores of the process)."""
    ex = getattr(cfg, "execution", None)
    if ex is None:
        return cfg
    return dataclasses.replace(cfg, execution=dataclasses.replace(
        ex, executor="local", ray_address="", task_threads=threads or ex.task_threads))


def _market_key(cfg: C.RunConfig) -> tuple[Any, ...]:
    return (cfg.data, cfg.universe, cfg.walk_forward.test_start)


# ---------------------------------------------------------------- running one point
def run_point(cfg: C.RunConfig, market: tuple[Any, int] | None) -> Path:
    """``backtests.run.run(cfg)`` on already loaded market data."""
    return R.run(cfg, market=market)


def _point_task(cfg: C.RunConfig, market: tuple[Any, int], threads: tuple[int | None, int | None]) -> dict[str, Any]:
    """A whole run in a Ray worker, written to a temporary folder; its files come back as bytes.
    Errors of this toolkit (deterministic) come back as a value, so Ray does not retry them."""
    R._QUIET["on"] = True  # no progress bars in workers
    t0 = time.perf_counter()
    with _threads(*threads), tempfile.TemporaryDirectory(prefix="csi300-sweep-") as tmp:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, runs_dir=tmp))
        try:
            folder = run_point(cfg, market)
        except ToolkitError as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return {"name": folder.name, "files": files, "seconds": time.perf_counter() - t0}


@contextmanager
def _threads(torch_threads: int | None, blas_threads: int | None) -> Iterator[None]:
    """Torch and BLAS thread counts for the block (None: unchanged), restored after."""
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    limits = threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads else None
    try:
        yield
    finally:  # BLAS first: restoring OpenBLAS can reset the OpenMP count torch reads
        if limits is not None:
            limits.restore_original_limits()
        torch.set_num_threads(old)


def _write_folder(runs_dir: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write a run folder received from a worker, all or nothing (hidden name, then a rename)."""
    final = runs_dir / name
    if final.exists():
        raise FileExistsError(f"run folder {final} already exists; pass another --name")
    tmp = runs_dir / f".incomplete-{name}-{os.getpid()}"
    try:
        for rel, data in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ---------------------------------------------------------------- the sweep
@dataclass
class SweepResult:
    points: list[Point]
    table: pd.DataFrame
    folder: Path | None = None
    seconds: float = 0.0
    failures: list[Point] = field(default_factory=list)


def _markets(points: Sequence[Point]) -> dict[tuple[Any, ...], tuple[Any, int]]:
    """Load the market data once per distinct (data, universe) of the points."""
    out: dict[tuple[Any, ...], tuple[Any, int]] = {}
    for p in points:
        key = _market_key(p.cfg)
        if key not in out:
            out[key] = R.load_market(p.cfg)
    return out


def run_local(points: Sequence[Point], threads: int | None = None) -> None:
    """The points one after the other in this process (``threads``: torch and BLAS threads)."""
    markets = _markets(points)
    for i, p in enumerate(points, 1):
        log.info("sweep point %d/%d: %s", i, len(points), p.label)
        t0 = time.perf_counter()
        try:
            with _threads(threads, threads):
                p.folder = run_point(p.cfg, markets[_market_key(p.cfg)])
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - reported by point below; the other points go on
            p.error = f"{type(exc).__name__}: {exc}"
            log.error("sweep point %s failed: %s", p.label, p.error)
        p.seconds = time.perf_counter() - t0


def run_ray(points: Sequence[Point], *, address: str | None = None, max_retries: int = 2,
            threads: int | None = None) -> None:
    """Every point one Ray task; the market data put in the object store once per universe."""
    import torch

    from signals.executors import RayExecutor, _blas_threads, _error_text
    from signals.models import default_threads

    ex = RayExecutor(address=address, max_retries=max_retries)
    ray = ex.ray()
    tthreads = threads or min(torch.get_num_threads(), default_threads())
    bthreads = threads or _blas_threads()
    have_gpu = float(ray.cluster_resources().get("GPU", 0.0)) > 0
    devices = {p.cfg.model.device for p in points}
    if "cuda" in devices and not have_gpu:
        ex.shutdown()
        raise ConfigError("model.device = 'cuda' but the Ray cluster has no GPU: use --device auto or cpu, or join "
                          "a cluster with GPU nodes (--ray-address)")
    gpus = 1.0 if have_gpu and devices & {"cuda", "auto"} else 0.0
    task = ray.remote(_point_task).options(num_cpus=tthreads, num_gpus=gpus, max_retries=max_retries,
                                           retry_exceptions=True, name="sweep-point")
    pending: dict[Any, Point] = {}
    try:
        refs = {k: ray.put(m) for k, m in _markets(points).items()}
        log.info("%d sweep tasks on Ray (%d CPU, %g GPU, %s torch / %s BLAS threads each)", len(points), tthreads,
                 gpus, tthreads, bthreads)
        for d in {p.cfg.output.runs_dir for p in points}:
            Path(d).mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        pending = {task.remote(p.cfg, refs[_market_key(p.cfg)], (tthreads, bthreads)): p for p in points}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for r in done:
                p = pending.pop(r)
                p.seconds = time.perf_counter() - t0
                try:
                    out = ray.get(r)
                except Exception as exc:  # noqa: BLE001 - reported by point below
                    p.error = f"{_error_text(exc)} (after {max_retries + 1} attempts)"
                else:
                    if "error" in out:
                        p.error = out["error"]
                    else:
                        p.folder = _write_folder(Path(p.cfg.output.runs_dir), out["name"], out["files"])
                        log.info("sweep point %s done: %s", p.label, p.folder)
                if p.error:
                    log.error("sweep point %s failed: %s", p.label, p.error)
    finally:
        for r in pending:
            ray.cancel(r, force=True)
        ex.shutdown()


def sweep(points: list[Point], executor: str = "local", *, address: str | None = None, max_retries: int = 2,
          threads: int | None = None, name: str = "sweep") -> SweepResult:
    """Run every point on ``executor`` and compare the finished ones (``backtests.compare``)."""
    t0 = time.perf_counter()
    if executor == "ray":
        run_ray(points, address=address, max_retries=max_retries, threads=threads)
    elif executor == "local":
        run_local(points, threads)
    else:
        raise ConfigError(f"--executor {executor!r} is unknown: choose local or ray")
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
        (folder / "comparison.txt").write_text(cmp.format_table(table) + "\n", encoding="utf-8")
    res.folder = folder
    return res


# ---------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = R.build_parser()
    p.prog = "python -m backtests.sweep"
    p.description = "Run a grid of settings (one run folder per point) and compare the runs."
    p.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2",
                   help="settings to vary, e.g. lookback=20,40,60 model=lstm,gru (several keys: their product)")
    have = set(p._option_string_actions)
    if "--executor" not in have:  # backtests.run may already offer these
        p.add_argument("--executor", choices=("local", "ray"), help="where the points run (default local)")
    if "--ray-address" not in have:
        p.add_argument("--ray-address", help="Ray cluster to join (auto, host:6379, ray://host:10001); "
                       "default: start a local Ray")
    p.add_argument("--max-retries", type=int, default=2, help="ray: extra attempts of a failed point (default 2)")
    p.add_argument("--task-threads", type=int, default=0,
                   help="torch/BLAS threads per point (ray: also its Ray CPUs); 0 = this process's counts")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    R._QUIET["on"] = args.quiet
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    executor = args.executor or "local"
    try:
        if args.ray_address and executor != "ray":
            raise ConfigError(f"--ray-address {args.ray_address!r} needs --executor ray")
        if args.max_retries < 0 or args.task_threads < 0:
            raise ConfigError(f"--max-retries {args.max_retries} and --task-threads {args.task_threads} must be >= 0")
        if executor == "ray":
            from signals.executors import import_ray

            import_ray()
        points = build_points(args, parse_grid(args.grid))
        if args.print_config:
            for pt in points:
                print(f"# {pt.label}\n{C.to_toml(pt.cfg)}")
            return 0
        res = sweep(points, executor, address=args.ray_address, max_retries=args.max_retries,
                    threads=args.task_threads or None, name=args.name or "sweep")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished points keep their run folders; no comparison was written", file=sys.stderr)
        return 130
    if len(res.table):
        print(cmp.format_table(res.table))
    print(f"\n{len(res.points) - len(res.failures)} of {len(res.points)} points finished in {res.seconds:.0f} s "
          f"({executor} executor); comparison and points.csv in:\n  {res.folder}")
    for p in res.points:
        print(f"  {p.label}: {p.folder if p.folder else 'FAILED'}")
    if res.failures:
        print(f"\nthe sweep is INCOMPLETE: {len(res.failures)} point(s) failed after their retries:", file=sys.stderr)
        for p in res.failures:
            print(f"  - {p.label}: {p.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
