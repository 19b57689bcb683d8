"""``python -m backtests.compare RUN_DIR RUN_DIR...``: side-by-side metrics of several runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from data_store.errors import ConfigError

from .formatting import fmt

ROWS: tuple[tuple[str, str, str], ...] = (
    ("accuracy", "accuracy", "pct"),
    ("base_rate", "always-up accuracy", "pct"),
    ("best_constant_accuracy", "best constant guess", "pct"),
    ("balanced_accuracy", "balanced accuracy", "pct"),
    ("roc_auc", "ROC AUC", "f3"),
    ("ic", "IC", "f3"),
    ("rank_ic", "rank IC", "f3"),
    ("annual_return", "annual return", "pct"),
    ("benchmark_annual_return", "CSI-300 annual return", "pct"),
    ("annual_excess_return", "annual excess return", "spct"),
    ("sharpe", "Sharpe", "f2"),
    ("max_drawdown", "max drawdown", "pct"),
    ("fees", "fees (CNY)", "cny"),
    ("annual_turnover", "annual turnover (x)", "f2"),
)


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """The main model's figures of one run folder (metrics.json + manifest.json)."""
    d = Path(run_dir)
    mfile = d / "metrics.json"
    if not mfile.is_file():
        raise ConfigError(f"{str(d)!r} is not a run folder: it has no metrics.json (give folders under runs/)")
    m = json.loads(mfile.read_text(encoding="utf-8"))
    manifest = json.loads((d / "manifest.json").read_text(encoding="utf-8")) if (d / "manifest.json").is_file() else {}
    main: dict[str, Any] = next((r for r in m["models"] if r["model"] == m["model"]), {})
    row = {k: main.get(k) for k, _, _ in ROWS}
    row.update({k: m.get("strategy", {}).get(k, row.get(k)) for k in ("fees", "annual_turnover")})
    row["model"] = m["model"]
    row["windows"] = len({w["window"] for w in m.get("windows", []) if w["model"] == m["model"]})
    row["seconds"] = manifest.get("timings_seconds", {}).get("total")
    return row


def compare(run_dirs: list[str | Path]) -> pd.DataFrame:
    """A frame with one column per run (named by its folder) and one row per metric."""
    cols = {}
    for d in run_dirs:
        cols[Path(d).name] = read_run(d)
    return pd.DataFrame(cols)


def format_table(df: pd.DataFrame) -> str:
    kinds = {k: (title, kind) for k, title, kind in ROWS}
    out = pd.DataFrame(index=[], columns=df.columns, dtype=object)
    for key in ["model", "windows", *[k for k, _, _ in ROWS], "seconds"]:
        if key not in df.index:
            continue
        title, kind = kinds.get(key, (key, "str"))
        vals = [fmt(v, kind) if kind != "str" else ("n/a" if v is None or (isinstance(v, float) and pd.isna(v))
                                                     else str(v)) for v in df.loc[key]]
        out.loc[title] = vals
    return out.to_string()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m backtests.compare", description=__doc__)
    p.add_argument("runs", nargs="+", help="run folders (runs/<timestamp>-<name>)")
    p.add_argument("--csv", help="also write the table to this CSV file")
    args = p.parse_args(argv)
    try:
        df = compare(args.runs)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(df))
    if args.csv:
        df.to_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
