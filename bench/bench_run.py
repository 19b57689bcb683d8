"""Wall time and peak memory per stage of the default run (``python -m backtests.run``).

Runs the default preset (or the arguments given after ``--``) in a fresh process, exactly as a
user would, then reads the stage timings and peak resident memory the run recorded in its
manifest.json. Prints each stage's share of the total and the total against the 5-minute target.

    python bench/bench_run.py                 # default quick preset
    python bench/bench_run.py -- --model gru  # any run.py arguments
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 300.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_args", nargs=argparse.REMAINDER, metavar="-- RUN_ARGS",
                   help="after --: arguments of python -m backtests.run (e.g. -- --model gru)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    extra = args.run_args[1:] if args.run_args[:1] == ["--"] else args.run_args
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "backtests.run", "--out", tmp, "--name", "bench", "-q", *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
        wall = time.perf_counter() - t0
        child_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        run_dir = next(Path(tmp).iterdir())
        man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    secs, peaks = man["timings_seconds"], man.get("peak_rss_mb", {})
    total = secs.get("total", wall)
    print(f"{'stage':<26}{'seconds':>10}{'share':>8}{'peak RSS MB':>14}")
    for stage, s in secs.items():
        if stage == "total":
            continue
        print(f"{stage:<26}{s:>10.1f}{100 * s / total:>7.0f}%{peaks.get(stage, float('nan')):>14.0f}")
    print(f"{'run total (in process)':<26}{total:>10.1f}")
    print(f"{'wall incl. start-up':<26}{wall:>10.1f}{'':>8}{child_peak_mb:>14.0f}  (peak of the whole process)")
    print(f"\nwall / 5-minute target = {wall / TARGET_S:.2f} ({'met' if wall <= TARGET_S else 'MISSED'})")
    print(f"windows: {man.get('windows')}, device: {man.get('device')}, symbols: {man['data']['symbols']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
