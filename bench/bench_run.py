"""Wall time and peak memory per stage of the default run (``python -m backtests.run``).

Runs the default preset (or the arguments given after ``--``) in a fresh process, exactly as a
user would, then reads the stage timings and peak memory the run recorded in its manifest.json.
Prints each stage's share of the total and the total against the 5-minute target.

    python bench/bench_run.py                             # default quick preset
    python bench/bench_run.py -- --model gru              # any run.py arguments
    python bench/bench_run.py --compare-workers 1,2       # one process against two workers

``--compare-workers A,B`` runs the same command twice, with ``--workers A`` and then ``--workers B``,
prints both, the speed-up of B over A (target for the default run on 2 cores: 1.6x) and whether
the two runs wrote the same predictions, trades, daily returns and metrics (they must).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 300.0
TARGET_SPEEDUP = 1.6
#: keys of metrics.json that describe the machine or the moment, not the result
VOLATILE = ("seconds", "timings", "peak", "created", "path", "run_folder")


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This script's own options, and the run.py arguments after ``--``."""
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    p = argparse.ArgumentParser(prog="python bench/bench_run.py",
                                description="Wall time and peak memory per stage of the default run.",
                                epilog="Arguments after -- go to python -m backtests.run.")
    p.add_argument("--compare-workers", metavar="A,B",
                   help="run twice, with --workers A and --workers B (e.g. 1,2): the speed-up of B over A and "
                        "whether both runs wrote the same predictions, trades, returns and metrics")
    args = p.parse_args(own)
    if args.compare_workers is not None:
        try:
            a, b = (int(x) for x in args.compare_workers.split(","))
            assert a >= 1 and b >= 1
        except (ValueError, AssertionError):
            p.error(f"--compare-workers {args.compare_workers!r}: give two worker counts >= 1, e.g. 1,2")
        args.compare_workers = (a, b)
    return args, extra


def run_once(extra: list[str], out: Path, name: str) -> dict[str, Any]:
    """One run in a fresh process: its wall time, run folder and manifest (None on failure)."""
    cmd = [sys.executable, "-m", "backtests.run", "--out", str(out), "--name", name, "-q", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"rc": proc.returncode}
    run_dir = next(p for p in out.iterdir() if p.is_dir() and p.name.endswith(name))
    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return {"rc": 0, "wall": wall, "dir": run_dir, "manifest": man, "command": " ".join(cmd[1:])}


def show(run: dict[str, Any]) -> None:
    man, wall = run["manifest"], run["wall"]
    secs, peaks = man["timings_seconds"], man.get("peak_rss_mb", {})
    peaks_all = man.get("peak_memory_all_processes_mb", peaks)
    total = secs.get("total", wall)
    print(f"{'stage':<26}{'seconds':>10}{'share':>8}{'peak MB':>10}{'with workers':>14}")
    for stage, s in secs.items():
        if stage == "total":
            continue
        print(f"{stage:<26}{s:>10.1f}{100 * s / total:>7.0f}%{peaks.get(stage, float('nan')):>10.0f}"
              f"{peaks_all.get(stage, float('nan')):>14.0f}")
    print(f"{'run total (in process)':<26}{total:>10.1f}")
    print(f"{'wall incl. start-up':<26}{wall:>10.1f}{'':>8}{max(peaks_all.values(), default=0):>24.0f}  "
          "(peak of all the run's processes)")
    ex = man.get("executor", {})
    workers = ex.get("processes", 1)
    print(f"windows: {man.get('windows')} on {workers} process(es)"
          + (f" (peak of a worker {ex['worker_peak_rss_mb']:.0f} MB)" if "worker_peak_rss_mb" in ex else "")
          + f", device: {man.get('device')}, symbols: {man['data']['symbols']}")


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        return {k2: v2 for k, v in d.items() for k2, v2 in _flat(v, f"{prefix}/{k}").items()}
    if isinstance(d, list):
        return {k2: v2 for i, v in enumerate(d) for k2, v2 in _flat(v, f"{prefix}[{i}]").items()}
    return {prefix: d}


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two run folders' predictions, trades, returns and metrics (bit for bit)."""
    import pandas as pd

    out = []
    pa, pb = pd.read_parquet(a / "predictions.parquet"), pd.read_parquet(b / "predictions.parquet")
    if not pa.equals(pb):
        out.append(f"predictions.parquet differ ({len(pa)} vs {len(pb)} rows)")
    for name in ("trades.csv", "returns.csv", "positions.csv", "window_metrics.csv"):
        if not (a / name).is_file():
            continue
        fa, fb = pd.read_csv(a / name), pd.read_csv(b / name)
        if name == "window_metrics.csv":  # wall-clock columns aside
            fa, fb = (f.drop(columns=[c for c in f.columns if c.endswith("_seconds")]) for f in (fa, fb))
        if not fa.equals(fb):
            out.append(f"{name} differ")
    ma, mb = (_flat(json.loads((d / "metrics.json").read_text(encoding="utf-8"))) for d in (a, b))
    keys = [k for k in sorted(set(ma) | set(mb)) if not any(w in k for w in VOLATILE)]
    out += [f"metrics.json {k}: {ma.get(k)!r} vs {mb.get(k)!r}" for k in keys if ma.get(k) != mb.get(k)]
    return out


def main(argv: list[str] | None = None) -> int:
    args, extra = parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.compare_workers is None:
            run = run_once(extra, Path(tmp), "bench")
            if run["rc"]:
                return int(run["rc"])
            show(run)
            wall = run["wall"]
            print(f"\nwall / 5-minute target = {wall / TARGET_S:.2f} ({'met' if wall <= TARGET_S else 'MISSED'})")
            return 0
        runs = []
        for w in args.compare_workers:
            print(f"--- --workers {w}", flush=True)
            run = run_once([*extra, "--workers", str(w)], Path(tmp), f"bench-w{w}")
            if run["rc"]:
                return int(run["rc"])
            show(run)
            used = run["manifest"].get("executor", {}).get("processes", 1)
            if used != w:
                print(f"NOTE: --workers {w} ran on {used} process(es): no more than the windows, or than the "
                      "available memory holds (see the run's warning); the speed-up below is not that of "
                      f"{w} workers")
            runs.append(run)
        (a, b), (wa, wb) = runs, args.compare_workers
        speedup = a["wall"] / b["wall"]
        print(f"\nspeed-up of --workers {wb} over --workers {wa}: {a['wall']:.1f} s / {b['wall']:.1f} s = "
              f"{speedup:.2f}x (target for the default run on 2 cores: {TARGET_SPEEDUP}x; "
              f"{'met' if speedup >= TARGET_SPEEDUP else 'MISSED'})")
        diff = differences(a["dir"], b["dir"])
        if diff:
            print("the two runs DIFFER:\n  " + "\n  ".join(diff[:20]))
            return 1
        print("predictions, trades, positions, daily returns, window metrics and metrics.json: identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
