"""Protocol C: the bidirectional LSTM of the "LSTM model variants" guides, and why the toolkit refuses it.

A bidirectional LSTM also reads its sequence backwards. Sequence labelling gives it a window centred
on the day it labels (days t-k .. t+k): its backward half has read the k days AFTER the decision
day. On prices that is the future, so the model scores well, and the toolkit's leakage audit,
which changes or deletes every bar after a cut date and requires every earlier prediction to stay
the same, fails it.

What is run (on the toolkit's public API: ``signals.run_walk_forward`` and ``signals.leakage_audit``):
  1. the toolkit's causal LSTM on a window ending on the decision day: the honest score; audit passes;
  2. the guide's bidirectional LSTM over a CENTRED window (the daily return of days t-k .. t+k, given
     to the toolkit as a user feature through ``FeatureConfig(extra=...)``): it scores far above
     every baseline and the audit FAILS; the toolkit's static check (which refuses
     ``bidirectional=True``) cannot see this one, because it is written as two one-way LSTMs, one
     fed the reversed window: the audit is what catches it;
  3. the same bidirectional network over the causal window (it ends on the decision day): no better
     than the causal LSTM, and the audit passes: the leak is the window that reaches past the day;
  4. what a user sees who asks the toolkit for the guide's option (``bidirectional=True``, or a
     module containing a bidirectional RNN): the refusal message of ``signals.LookaheadError``.

    python examples/tutorial_c_bidirectional.py                 # ~1-2 minutes on 2 cores
    python examples/tutorial_c_bidirectional.py --out results/  # table (CSV), audit details, PNG
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-symbols", type=int, default=20, help="the N most-traded symbols of the study")
    p.add_argument("--start", default="2020-06-01")
    p.add_argument("--test-start", default="2022-01-01")
    p.add_argument("--end", default="2022-12-31")
    p.add_argument("--train-days", type=int, default=242)
    p.add_argument("--val-days", type=int, default=40)
    p.add_argument("--test-days", type=int, default=121)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch", type=int, default=64, help="samples per mini-batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-audit", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(p)
    p.add_argument("--out", help="folder for the table, the audit details and the PNG")
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np
import pandas as pd
import torch
from examples_common import liquid_members
from torch import nn
from tutorial_common import environment, set_threads, text_table

import data_store
import signals

HALF = 10  # k: the centred window covers t-k .. t+k (21 days, the toolkit's default lookback + 1)


def centred_return(k: int) -> Callable[[Mapping[str, pd.DataFrame]], pd.DataFrame]:
    """A per-day channel whose value on day d is the daily log return of day d + k: in a lookback
    window of 2k + 1 days ending on t it holds the returns of days t-k .. t+k, a CENTRED window.
    LEAKY by construction (it exists to show the audit catching it)."""

    def fn(px: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        return np.log(px["close"]).diff().shift(-k)

    fn.__name__ = f"return_of_day_plus_{k}"
    return fn


def causal_return(px: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The same channel without the shift: the daily log return of day d (causal)."""
    return np.log(px["close"]).diff()


class GuideBiLSTM(nn.Module):
    """The guide's bidirectional LSTM written out as two one-way LSTMs: ``fwd`` reads the window
    forwards, ``bwd`` reads it reversed; the label of the step at position ``centre`` reads both
    states there (sequence labelling). Over a centred window, ``bwd``'s state at the centre has read
    every day after the decision day."""

    def __init__(self, n_in: int, hidden: int, centre: int) -> None:
        super().__init__()
        self.fwd = nn.LSTM(n_in, hidden, batch_first=True)
        self.bwd = nn.LSTM(n_in, hidden, batch_first=True)
        self.head = nn.Linear(2 * hidden, 1)
        self.centre = centre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, _ = self.fwd(x)
        b, _ = self.bwd(torch.flip(x, dims=[1]))
        b = torch.flip(b, dims=[1])
        return self.head(torch.cat([f[:, self.centre], b[:, self.centre]], dim=1)).squeeze(-1)


class FlagBiLSTM(nn.Module):
    """The guide's option as most code writes it: ``nn.LSTM(bidirectional=True)``."""

    def __init__(self, n_in: int = 7, hidden: int = 8) -> None:
        super().__init__()
        self.rnn = nn.LSTM(n_in, hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


def refusal_messages() -> dict[str, str]:
    """What the toolkit answers when asked for a bidirectional model (the user's view)."""
    out = {}
    for name, make in (("LSTMClassifier(bidirectional=True)", lambda: signals.LSTMClassifier(bidirectional=True)),
                       ("SequenceClassifier(module=nn.LSTM(..., bidirectional=True) inside)",
                        lambda: signals.SequenceClassifier(module=FlagBiLSTM()))):
        try:
            make()
        except signals.LookaheadError as e:
            out[name] = f"{type(e).__name__}: {e}"
        else:  # pragma: no cover - the toolkit refuses both
            out[name] = "(accepted: no refusal)"
    return out


@dataclass
class Variant:
    name: str
    features: signals.FeatureConfig
    estimator: Any


@dataclass
class ProtocolC:
    table: pd.DataFrame
    refusals: dict[str, str]
    audits: dict[str, signals.AuditReport]
    timings: dict[str, float] = field(default_factory=dict)
    setup: str = ""


def variants(hidden: int, epochs: int, threads: int, seed: int, batch: int = 64) -> list[Variant]:
    L = 2 * HALF + 1
    common: dict[str, Any] = dict(max_epochs=epochs, patience=2, seed=seed, num_threads=threads, device="cpu",
                                  lr=3e-3, batch_size=batch)
    causal = signals.FeatureConfig(lookback=L, engineered=(), extra=(("return", causal_return),))
    centred = signals.FeatureConfig(lookback=L, engineered=(), extra=(("return_centred", centred_return(HALF)),))

    def bi(centre: int) -> signals.SequenceClassifier:
        return signals.SequenceClassifier(module=lambda n: GuideBiLSTM(n, hidden, centre), **common)

    return [
        Variant("causal LSTM (toolkit), window t-20..t", causal,
                signals.LSTMClassifier(hidden_size=hidden, **common)),
        Variant(f"guide's bidirectional LSTM, centred window t-{HALF}..t+{HALF}", centred, bi(HALF)),
        Variant("guide's bidirectional LSTM, causal window t-20..t", causal, bi(L - 1)),
    ]


def run_protocol(md: data_store.MarketData, split: signals.WalkForwardSplit, hidden: int = 16, epochs: int = 6,
                 threads: int = 1, seed: int = 0, audit: bool = True, batch: int = 64) -> ProtocolC:
    rows, audits, t = [], {}, {}
    labels = signals.LabelConfig()
    for v in variants(hidden, epochs, threads, seed, batch):
        t0 = time.perf_counter()
        res = signals.run_walk_forward(md, features=v.features, labels=labels, splitter=split, estimator=v.estimator,
                                       model_name="model", baselines=(), progress=False)
        p = res.predictions
        met = signals.classification_metrics(p["label"].to_numpy(), p["p_up"].to_numpy(), p["ret"].to_numpy(),
                                             p["date"].to_numpy())
        row = {"model": v.name, "samples": met["n"], "accuracy": met["accuracy"], "always_up": met["base_rate"],
               "best_constant": met["best_constant_accuracy"], "auc": met["roc_auc"], "ic": met["ic"]}
        if audit:
            rep = signals.leakage_audit(md, features=v.features, labels=labels, splitter=split,
                                        estimator=v.estimator, baselines=(), max_windows=1)
            audits[v.name] = rep
            row["audit"] = "passed" if rep.passed else "FAILED"
            row["audit_changed"] = int(rep.details.loc[rep.details["check"] != "fitted labels end by the cut",
                                                       "changed"].sum())
        rows.append(row)
        t[v.name] = round(time.perf_counter() - t0, 1)
    setup = (f"{len(md.symbols)} symbols, {md.start.date()}..{md.end.date()}; windows: "
             + "; ".join(str(w) for w in split.split(md.calendar, labels.horizon)))
    return ProtocolC(table=pd.DataFrame(rows), refusals=refusal_messages(), audits=audits, timings=t, setup=setup)


TABLE_COLUMNS = [("model", "model", "str"), ("samples", "samples", "int"), ("accuracy", "accuracy", "pct"),
                 ("always_up", "always-up", "pct"), ("best_constant", "best constant", "pct"), ("auc", "AUC", "f3"),
                 ("ic", "IC", "sf3"), ("audit", "leakage audit", "str"),
                 ("audit_changed", "predictions moved by the future", "int")]


def report_text(res: ProtocolC, threads: int) -> str:
    cols = [c for c in TABLE_COLUMNS if c[0] in res.table]
    lines = ["Protocol C: the guide's bidirectional LSTM, scored and audited by the toolkit",
             environment(threads), res.setup, "", text_table(res.table, cols), ""]
    for name, rep in res.audits.items():
        lines.append(f"audit of {name}: {rep.message}")
    lines.append("")
    lines.append("What a user who asks for the guide's option sees:")
    for name, msg in res.refusals.items():
        lines.append(f"  {name}\n    -> {msg}")
    lines.append("timings (s): " + ", ".join(f"{k}: {v}" for k, v in res.timings.items()))
    return "\n".join(lines)


def plot(res: ProtocolC, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = res.table
    fig, ax = plt.subplots(figsize=(10, 3.6))
    y = np.arange(len(t))
    ax.barh(y + 0.2, t["accuracy"], 0.4, label="accuracy")
    ax.barh(y - 0.2, t["best_constant"], 0.4, label="best constant guess")
    audits = t["audit"] if "audit" in t else pd.Series("not run", index=t.index)
    ax.set_yticks(y, [f"{m}\n(audit {a})" for m, a in zip(t["model"], audits, strict=True)], fontsize=8)
    ax.axvline(0.5, color="grey", lw=0.8)
    ax.set_xlim(0.4, 1.0)
    ax.invert_yaxis()
    ax.set_title("Protocol C: a window past the decision day scores well, and fails the audit", fontsize=10,
                 loc="right")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(res: ProtocolC, out: Path, threads: int) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"table": out / "protocol_c.csv", "png": out / "protocol_c.png", "text": out / "protocol_c.txt",
             "json": out / "protocol_c.json"}
    res.table.to_csv(files["table"], index=False, float_format="%.6g")
    for i, rep in enumerate(res.audits.values()):
        rep.details.to_csv(out / f"protocol_c_audit_{i + 1}.csv", index=False)
    files["text"].write_text(report_text(res, threads) + "\n", encoding="utf-8")
    files["json"].write_text(json.dumps({"environment": environment(threads), "setup": res.setup,
                                         "refusals": res.refusals, "timings_s": res.timings,
                                         "audits": {k: v.message for k, v in res.audits.items()}}, indent=2),
                             encoding="utf-8")
    plot(res, files["png"])
    return files


def run_from_args(args: argparse.Namespace, md_all: data_store.MarketData | None = None) -> ProtocolC:
    set_threads(args.threads)
    md_all = md_all if md_all is not None else data_store.load(use_cache=False)
    md = md_all.slice(args.start, args.end)
    md = md.slice(symbols=liquid_members(md, args.n_symbols, args.test_start))
    split = signals.WalkForwardSplit(train_days=args.train_days, val_days=args.val_days, test_days=args.test_days,
                                     test_start=args.test_start)
    return run_protocol(md, split, hidden=args.hidden, epochs=args.epochs, threads=args.threads, seed=args.seed,
                        audit=not args.no_audit, batch=args.batch)


def main(argv: list[str] | None = None) -> ProtocolC:
    args = build_parser().parse_args(argv)
    res = run_from_args(args)
    print(report_text(res, args.threads))
    if args.out:
        files = write_outputs(res, Path(args.out), args.threads)
        print(f"wrote {files['png']} and the tables beside it")
    return res


if __name__ == "__main__":
    main()
