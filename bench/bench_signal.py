"""Signal strength of the presets: walk-forward IC, rank IC, ICIR and decile spread, with wall time.

    python bench/bench_signal.py                       # quick and research on 2017-01..2020-07, then 2022-2025
    python bench/bench_signal.py --presets quick --spans test
    python bench/bench_signal.py --presets research --spans validation   # how the presets were chosen
    python bench/bench_signal.py --presets quick --set model.hidden_size=64 --spans validation

Spans (the walk-forward layout of the preset, only the dates moved):

* ``test``: tested 2017-01-03..2020-07-31 in 8 half-year windows, the span of the reference
  figures below (measured with qlib 0.9.7 on the same data, label and days);
* ``default``: the preset's own span (2022-01..2025-06 for quick and research);
* ``validation``: tested 2015-01..2016-12 (4 windows), data from 2011: the span the presets'
  hyperparameters were chosen on (never the test spans).

Every model of the run (the preset's LSTM and its baselines, LightGBM among them) is scored on the
same (date, symbol) pairs: IC = mean daily cross-sectional Pearson correlation of ``p_up`` with the
traded return open(t+2)/open(t+1) - 1 of every tradable member; RankIC with Spearman; ICIR = mean /
std of the daily IC; spread = mean daily return of the top decile by ``p_up`` minus the bottom
decile (before costs). Wall and CPU time (user + sys of this process) and the 1-minute load
average before and after are printed beside them; the machine is shared, so compare CPU time too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="quick,research")
    ap.add_argument("--spans", default="test,default", help="test, default, validation (comma-separated)")
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="section.field=value")
    ap.add_argument("--close-ic", action="store_true", help="also score against close(t+2)/close(t+1) - 1")
    ap.add_argument("--log", default="", help="append each result as a JSON line to this file")
    return ap


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import data_store  # noqa: E402
import signals  # noqa: E402
from backtests.config import load_config, parse_override  # noqa: E402
from signals.metrics import daily_ic_series, decile_spread, icir  # noqa: E402

#: measured with qlib 0.9.7 on the toolkit's data, the same label (open-to-open) and days, 2017-01..2020-07
REFERENCE = [("qlib 0.9.7 LSTM, Alpha360", 0.045, 0.057), ("qlib 0.9.7 LightGBM, Alpha158 (best peer)", 0.060, 0.064)]
TARGETS = {"quick": (0.045, 0.055, 300.0), "research": (0.065, 0.070, 1800.0)}
SPANS = {
    "test": {"universe.start": "2013-01-01", "universe.end": "2020-07-31", "walk_forward.test_start": "2017-01-01",
             "walk_forward.test_end": "2020-07-31"},
    "validation": {"universe.start": "2011-01-01", "universe.end": "2016-12-31",
                   "walk_forward.test_start": "2015-01-01", "walk_forward.test_end": "2016-12-31"},
    "default": {},
}


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def score(pred, model: str) -> dict[str, float]:
    p = pred[(pred["model"] == model) & pred["ret"].notna()]
    d, s, r = p["date"].to_numpy(), p["p_up"].to_numpy(), p["ret"].to_numpy()
    ic = daily_ic_series(d, s, r, "pearson")
    ric = daily_ic_series(d, s, r, "spearman")
    acc = float(((s > 0.5) == (r > 0)).mean())
    return {"ic": float(ic.mean()), "rank_ic": float(ric.mean()), "icir": icir(ic), "rank_icir": icir(ric),
            "spread": decile_spread(d, s, r), "accuracy": acc, "always_up": float((r > 0).mean()), "n": len(p)}


def run_one(md_full, preset: str, span: str, extra: list[str], close_ic: bool) -> dict:
    over = [f"{k}={v}" for k, v in SPANS[span].items()] + list(extra)
    cfg = load_config(preset, None, [parse_override(o) for o in over])
    md = md_full.slice(cfg.universe.start, cfg.universe.end)
    load0, cpu0, t0 = os.getloadavg()[0], cpu_seconds(), time.perf_counter()
    res = signals.run_walk_forward(md, features=cfg.features, labels=cfg.labels, splitter=cfg.walk_forward,
                                   estimator=signals.build_model(cfg.model), model_name=cfg.model.kind,
                                   baselines=[b for b in cfg.model.baselines if b != "always_up"], progress=False)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    pred = res.predictions
    rows = {m: score(pred, m) for m in pred["model"].unique()}
    wm = res.window_metrics
    for m in rows:
        g = wm[wm["model"] == m]
        rows[m]["epochs"] = float(g["epochs"].mean())
        rows[m]["best_epoch"] = float(g["best_epoch"].mean())
        rows[m]["fit_s"] = float(g["fit_seconds"].sum())
    if close_ic:  # the same predictions scored against qlib's close(t+2)/close(t+1) - 1
        cl = signals.make_labels(md.panel("close", adjusted=True), md.panel("volume"), signals.LabelConfig())
        pos_d = md.calendar.get_indexer(pred["date"])
        sym_pos = {s: i for i, s in enumerate(md.symbols)}
        pos_s = pred["symbol"].map(sym_pos).to_numpy()
        cc = pred.assign(ret=cl.ret[pos_d, pos_s])
        for m in rows:
            sc = score(cc, m)
            rows[m]["close_ic"], rows[m]["close_rank_ic"] = sc["ic"], sc["rank_ic"]
    wins = len(res.windows)
    return {"preset": preset, "span": span, "overrides": extra, "windows": wins,
            "tests": f"{res.windows[0].test_start.date()}..{res.windows[-1].test_end.date()}",
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": round(load0, 2),
            "load_after": round(os.getloadavg()[0], 2), "models": rows, "main": cfg.model.kind}


def show(r: dict) -> None:
    print(f"\n== {r['preset']} preset, {r['span']} span ({r['tests']}, {r['windows']} windows)"
          + (f", overrides {r['overrides']}" if r["overrides"] else ""))
    print(f"   wall {r['wall_s']:.0f} s, CPU {r['cpu_s']:.0f} s (user+sys), load average {r['load_before']:.2f} "
          f"before / {r['load_after']:.2f} after")
    close = any("close_ic" in m for m in r["models"].values())
    head = (f"   {'model':<34}{'IC':>8}{'RankIC':>8}{'ICIR':>7}{'spread':>9}{'acc':>7}{'up':>7}"
            f"{'epochs/best':>13}{'fit s':>7}")
    print(head + (f"{'cc IC':>8}" if close else ""))
    for name, m in r["models"].items():
        line = (f"   {name:<34}{m['ic']:>8.4f}{m['rank_ic']:>8.4f}{m['icir']:>7.3f}{100 * m['spread']:>8.3f}%"
                f"{100 * m['accuracy']:>6.1f}%{100 * m['always_up']:>6.1f}%"
                f"{m.get('epochs', np.nan):>7.1f}/{m.get('best_epoch', np.nan):<5.1f}{m.get('fit_s', np.nan):>7.0f}")
        print(line + (f"{m.get('close_ic', float('nan')):>8.4f}" if close else ""))
    if r["span"] == "test":
        for name, ic, ric in REFERENCE:
            print(f"   {name + ' (reference)':<34}{ic:>8.3f}{ric:>8.3f}")
        main = r["models"][r["main"]]
        if r["preset"] in TARGETS and not r["overrides"]:
            t_ic, t_ric, t_s = TARGETS[r["preset"]]
            ok = main["ic"] >= t_ic and main["rank_ic"] >= t_ric and r["wall_s"] <= t_s
            print(f"   target: IC >= {t_ic}, RankIC >= {t_ric}, <= {t_s / 60:.0f} min: {'met' if ok else 'MISSED'}")
        if "lightgbm" in r["models"]:
            lg = r["models"]["lightgbm"]
            print(f"   {r['main']} - LightGBM: IC {main['ic'] - lg['ic']:+.4f}, "
                  f"RankIC {main['rank_ic'] - lg['rank_ic']:+.4f}")


def main() -> int:
    args = build_parser().parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    md_full = data_store.load(use_cache=False)
    for preset in args.presets.split(","):
        for span in args.spans.split(","):
            if span not in SPANS:
                print(f"unknown span {span!r}: choose from {list(SPANS)}", file=sys.stderr)
                return 2
            try:
                r = run_one(md_full, preset, span, args.overrides, args.close_ic)
            except data_store.errors.ConfigError as exc:
                print(f"bench_signal: {exc}", file=sys.stderr)
                return 2
            show(r)
            if args.log:
                with open(args.log, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
