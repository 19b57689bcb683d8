"""The golden run (rqalpha's pattern): a small, fixed, fast run whose outputs are stored in the
repository and compared on every CI run, so that no refactor changes the trades by accident.

    python tests/golden/golden_run.py            # run it and compare with the stored values
    python tests/golden/golden_run.py --update   # store the new values (say why in the commit)

The run is ``python -m backtests.run --config tests/golden/golden.toml``: 40 symbols, two
walk-forward windows, the quick preset's LSTM (small), its baselines, TopK under A-share rules,
the evidence and the verdict. Compared, with these tolerances:

- predictions (every model's ``p_up``): absolute 1e-6 (a float32 network; the same machine and
  thread count give the same bits, another CPU may round the last bit differently);
- trades: dates, symbols, sides and shares exactly; prices, values and fees relative 1e-9;
- daily returns of every backtest: absolute 1e-9;
- every number of ``metrics.json``: relative 1e-6 (absolute 1e-9 near zero); every text exactly
  (the verdict, its class). Keys a later change adds are not compared until stored.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CONFIG = HERE / "golden.toml"
EXPECTED = HERE / "expected"

P_UP_ATOL = 1e-6
PRICE_RTOL = 1e-9
RETURN_ATOL = 1e-9
METRIC_RTOL, METRIC_ATOL = 1e-6, 1e-9
#: metrics that describe the machine or the moment, not the result
VOLATILE = ("seconds", "timings", "peak_rss", "created", "path")


def produce(out: Path) -> Path:
    """Run the golden configuration through the command line; the run folder."""
    cmd = [sys.executable, "-m", "backtests.run", "--config", str(CONFIG), "--out", str(out), "-q",
           "--name", "golden"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the golden run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    (run,) = [p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return run


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}/{k}" if prefix else str(k)))
        return out
    if isinstance(d, list):
        out = {}
        for i, v in enumerate(d):
            out.update(_flat(v, f"{prefix}[{i}]"))
        return out
    return {prefix: d}


def extract(run: Path) -> dict[str, Any]:
    """What is compared, from a run folder."""
    pred = pd.read_parquet(run / "predictions.parquet")
    pred = pred[["date", "symbol", "model", "window", "p_up"]].sort_values(["model", "date", "symbol"])
    pred["date"] = pred["date"].dt.strftime("%Y-%m-%d")
    metrics = {k: v for k, v in _flat(json.loads((run / "metrics.json").read_text())).items()
               if not any(w in k for w in VOLATILE)}
    return {"predictions": pred.reset_index(drop=True), "trades": pd.read_csv(run / "trades.csv"),
            "returns": pd.read_csv(run / "returns.csv"), "metrics": metrics}


def store(values: dict[str, Any]) -> None:
    EXPECTED.mkdir(exist_ok=True)
    values["predictions"].to_csv(EXPECTED / "predictions.csv", index=False, float_format="%.9g")
    values["trades"].to_csv(EXPECTED / "trades.csv", index=False, float_format="%.12g")
    values["returns"].to_csv(EXPECTED / "returns.csv", index=False, float_format="%.12g")
    (EXPECTED / "metrics.json").write_text(json.dumps(values["metrics"], indent=1, sort_keys=True, default=str)
                                           + "\n")


def load_expected() -> dict[str, Any]:
    return {"predictions": pd.read_csv(EXPECTED / "predictions.csv"), "trades": pd.read_csv(EXPECTED / "trades.csv"),
            "returns": pd.read_csv(EXPECTED / "returns.csv"),
            "metrics": json.loads((EXPECTED / "metrics.json").read_text())}


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) \
            or not isinstance(b, (int, float)):
        return a == b or str(a) == str(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=METRIC_RTOL, abs_tol=METRIC_ATOL)


def compare(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Every difference beyond the tolerances, in words (empty: the run is golden)."""
    out: list[str] = []
    pa, pe = actual["predictions"], expected["predictions"]
    keys = ["model", "date", "symbol", "window"]
    if len(pa) != len(pe) or not pa[keys].astype(str).reset_index(drop=True).equals(pe[keys].astype(str)):
        out.append(f"predictions: {len(pa)} rows now, {len(pe)} stored, or other (model, date, symbol) rows")
    else:
        d = np.abs(pa["p_up"].to_numpy() - pe["p_up"].to_numpy())
        if np.nanmax(d) > P_UP_ATOL or (np.isnan(pa["p_up"].to_numpy()) != np.isnan(pe["p_up"].to_numpy())).any():
            i = int(np.nanargmax(d))
            out.append(f"predictions: {int((d > P_UP_ATOL).sum())} p_up move more than {P_UP_ATOL} (largest "
                       f"{d[i]:.3g} at {pe.iloc[i][keys].to_dict()})")
    ta, te = actual["trades"], expected["trades"]
    exact = ["date", "symbol", "side", "shares", "model"]
    if len(ta) != len(te) or not ta[exact].astype(str).equals(te[exact].astype(str)):
        out.append(f"trades: {len(ta)} now, {len(te)} stored, or other dates, symbols, sides or shares")
    else:
        for c in ("price", "value", "commission", "stamp_duty"):
            if not np.allclose(ta[c], te[c], rtol=PRICE_RTOL, atol=1e-9):
                out.append(f"trades: column {c} moved beyond relative {PRICE_RTOL}")
    ra, re_ = actual["returns"], expected["returns"]
    if list(ra.columns) != list(re_.columns) or len(ra) != len(re_) or not ra["date"].equals(re_["date"]):
        out.append(f"returns: columns {list(ra.columns)} x {len(ra)} days now, {list(re_.columns)} x {len(re_)} stored")
    else:
        for c in ra.columns[1:]:
            if not np.allclose(ra[c], re_[c], rtol=0, atol=RETURN_ATOL, equal_nan=True):
                out.append(f"returns: column {c} moved beyond {RETURN_ATOL}")
    ma, me = actual["metrics"], expected["metrics"]
    missing = sorted(set(me) - set(ma))
    if missing:
        out.append(f"metrics: {len(missing)} stored figures are gone, e.g. {missing[:5]}")
    moved = [f"{k}: {me[k]!r} -> {ma[k]!r}" for k in sorted(set(me) & set(ma)) if not _close(ma[k], me[k])]
    if moved:
        out.append(f"metrics: {len(moved)} figures moved, e.g. " + "; ".join(moved[:8]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--update", action="store_true", help="store this run's values as the golden ones")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        values = extract(produce(Path(tmp)))
    if args.update:
        store(values)
        print(f"stored the golden values in {EXPECTED.relative_to(ROOT)}")
        return 0
    diffs = compare(values, load_expected())
    print("\n".join(diffs) if diffs else "golden: every stored value matches")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
