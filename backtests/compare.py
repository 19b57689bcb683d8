"""``python -m backtests.compare RUN_DIR RUN_DIR...``: side-by-side metrics of several runs.

With two or more runs it also asks whether the best of them survives having tried them all
(:func:`multiple_testing`): the deflated Sharpe ratio of the best run's daily excess over its
reference, and Hansen's SPA test (with White's Reality Check) across the runs. A sweep
(``backtests.sweep``) writes both into its comparison folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import ConfigError

from .evidence import stats
from .report.formatting import fmt

__all__ = ["compare", "format_table", "multiple_testing", "multiple_testing_text", "read_run"]

#: the deflated Sharpe ratio a best point needs to "survive", and the SPA p-value it must stay below
DSR_LEVEL, SPA_LEVEL = 0.95, 0.05

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


def excess_returns(run_dirs: list[str | Path]) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """Each run's daily return after costs minus its reference's (``returns.csv``: ``reference``
    when the run has one, e.g. a held stock, else the CSI-300 ``benchmark``), on the days all runs
    share; the first run's trading days a year and interval settings."""
    cols, ppy, settings = {}, 243, {}
    for i, d in enumerate(run_dirs):
        d = Path(d)
        f = d / "returns.csv"
        if not f.is_file():
            raise ConfigError(f"{str(d)!r} has no returns.csv: give run folders")
        r = pd.read_csv(f, index_col="date", parse_dates=True)
        ref = r["reference"] if "reference" in r else r["benchmark"]
        cols[d.name] = r["strategy"] - ref
        if i == 0:
            m = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
            ppy = int(m.get("periods_per_year", ppy))
            settings = (m.get("evaluation") or {}).get("intervals", {})
    return pd.DataFrame(cols).dropna(), ppy, settings


def multiple_testing(run_dirs: list[str | Path], reps: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Does the best of several runs (a sweep's points) beat its reference beyond what trying them all explains?

    The runs' daily excess returns over their reference (:func:`excess_returns`) give each a
    Sharpe ratio (per day); the best one's deflated Sharpe ratio (:func:`backtests.evidence.stats.deflated_sharpe`:
    number of trials, their variance, the best one's skewness and kurtosis) and Hansen's SPA test of
    all runs' excess against zero (:func:`backtests.evidence.stats.spa_test`; ``p_upper`` is White's Reality
    Check). ``survives``: DSR above :data:`DSR_LEVEL` and SPA p-value below :data:`SPA_LEVEL`.
    ``reps`` and ``seed`` default to the first run's bootstrap settings (else 1000 and 0)."""
    ex, ppy, settings = excess_returns(run_dirs)
    reps = int(reps or settings.get("replications", 1000))
    seed = int(settings.get("seed", 0) if seed is None else seed)
    sharpes = ex.mean() / ex.std(ddof=1)
    best = str(sharpes.idxmax()) if sharpes.notna().any() else None
    out: dict[str, Any] = {"trials": int(ex.shape[1]), "days": int(len(ex)), "best": best, "periods_per_year": ppy,
                           "sharpe_annual": {k: float(v) * ppy ** 0.5 for k, v in sharpes.items()}}
    if best is None:
        return {**out, "survives": False, "deflated_sharpe": {}, "spa": {}}
    out["deflated_sharpe"] = stats.deflated_sharpe(ex[best].to_numpy(), sharpes.to_numpy())
    out["spa"] = stats.spa_test(pd.Series(0.0, index=ex.index), ex, reps=reps, seed=seed)
    dsr, p = out["deflated_sharpe"]["dsr"], out["spa"]["p_spa"]
    out["survives"] = bool(pd.notna(dsr) and dsr > DSR_LEVEL and pd.notna(p) and p < SPA_LEVEL)
    return out


def multiple_testing_text(mt: dict[str, Any]) -> str:
    """:func:`multiple_testing` in words."""
    n, best = mt["trials"], mt.get("best")
    if best is None or not mt.get("deflated_sharpe"):
        return f"Multiple testing: {n} runs, no Sharpe ratio of their excess is defined."
    d, spa = mt["deflated_sharpe"], mt["spa"]
    sr = mt["sharpe_annual"][best]
    sr0 = fmt(d["sr0"] * mt["periods_per_year"] ** 0.5, "sf2")
    if mt["survives"]:
        verdict = "survives: its excess is unlikely to be the luck of the best of many"
    elif sr <= 0:
        verdict = "does not survive: even the best point trails its reference"
    else:
        verdict = f"does not survive: its excess is within what the best of {n} settings without skill reaches"
    return (f"Multiple testing over {n} runs and {mt['days']} common days: the best, {best}, has an annualised "
            f"Sharpe ratio of its excess over its reference of {fmt(sr, 'sf2')}; its deflated Sharpe ratio is "
            f"{fmt(d['dsr'], 'f3')} (the best of {n} skill-less trials reaches {sr0} "
            f"annualised; variance of the trials' daily Sharpe {d['variance']:.2e}, skew {fmt(d['skew'], 'sf2')}, "
            f"kurtosis {fmt(d['kurtosis'], 'f2')}); Hansen's SPA p = {fmt(spa['p_spa'], 'f3')}, White's Reality Check "
            f"p = {fmt(spa['p_upper'], 'f3')} ({spa['reps']} stationary-bootstrap replications, seed {spa['seed']}). "
            f"The best point {verdict} (it needs DSR > {DSR_LEVEL} and SPA p < {SPA_LEVEL}).")


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
    if len(args.runs) > 1:
        print("\n" + multiple_testing_text(multiple_testing(args.runs)))
    if args.csv:
        df.to_csv(args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
