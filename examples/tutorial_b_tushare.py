"""Protocol B: the tushare tutorial's price regression, and why its chart looks right.

The tutorial's protocol (a small hand-written torch loop, labelled as the tutorial's; the toolkit
has no such code): an index's daily close from 2019-01-01 (the CSI-300 index here, from the
snapshot), MinMax-scaled as ONE series (train and test together), the previous 5 closes predicting
the next, a 2-layer LSTM with hidden size 8, Adam lr 1e-2, 100 full-batch epochs, the first 70% of
samples train and the last 30% test; then the chart of predicted over actual price levels.

Then the honest reading, on the same test days:
  * RMSE against "tomorrow = today" (persistence), in index points;
  * direction accuracy (is the predicted close above today's?) against always-up and always-down;
  * the same chart drawn as daily returns instead of levels.

    python examples/tutorial_b_tushare.py                     # ~10 s on 2 cores
    python examples/tutorial_b_tushare.py --out results/      # table (CSV), predictions, PNG
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START = "2019-01-01"
#: the tutorial's epochs and seed (the defaults of TutorialRegression below)
EPOCHS, SEED = 100, 0


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", default=START)
    p.add_argument("--end", default=None, help="last day (default: the end of the snapshot)")
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(p)
    p.add_argument("--out", help="folder for the table, the test days and the PNG")
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import MinMaxScaler
from torch import nn
from tutorial_common import environment, set_threads, text_table

import data_store

WINDOW = 5           # previous closes that predict the next
TRAIN_SHARE = 0.7


@dataclass(frozen=True)
class TutorialRegression:
    """The tutorial's network and optimiser settings."""

    hidden: int = 8
    layers: int = 2
    lr: float = 1e-2
    epochs: int = EPOCHS
    seed: int = SEED


class PriceLSTM(nn.Module):
    """The tutorial's network: a stacked LSTM over the 5 scaled closes, the last step -> next close."""

    def __init__(self, hidden: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


def index_close(md: data_store.MarketData, start: str = START, end: str | None = None) -> pd.Series:
    """The CSI-300 index's daily close from ``start`` (the snapshot's index bars)."""
    s = pd.Series(md.index["close"].to_numpy(), index=md.calendar, name="close")
    return s.loc[pd.Timestamp(start): pd.Timestamp(end) if end else None]


@dataclass
class ProtocolB:
    test: pd.DataFrame        # date, close, prev_close, pred (index points), one row per test day
    figures: dict[str, Any]
    timings: dict[str, float]


def fit_tutorial(close: pd.Series, m: TutorialRegression) -> tuple[pd.DataFrame, int]:
    """The tutorial as written; returns every sample (date, close, prev_close, pred) and the index
    of the first test sample."""
    scaler = MinMaxScaler()  # fitted on the WHOLE series: the test span's range leaks into training
    z = scaler.fit_transform(close.to_numpy().reshape(-1, 1)).ravel().astype(np.float32)
    X = np.stack([z[i - WINDOW:i] for i in range(WINDOW, len(z))])[:, :, None]
    y = z[WINDOW:]
    n_train = int(TRAIN_SHARE * len(X))
    torch.manual_seed(m.seed)
    net = PriceLSTM(m.hidden, m.layers)
    opt = torch.optim.Adam(net.parameters(), lr=m.lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(m.epochs):  # full batch
        opt.zero_grad()
        loss = nn.functional.mse_loss(net(Xt[:n_train]), yt[:n_train])
        loss.backward()
        opt.step()
    with torch.no_grad():
        pz = net(Xt).numpy()
    pred = scaler.inverse_transform(pz.reshape(-1, 1)).ravel()
    c = close.to_numpy()
    samples = pd.DataFrame({"date": close.index[WINDOW:], "close": c[WINDOW:], "prev_close": c[WINDOW - 1:-1],
                            "pred": pred})
    return samples, n_train


def evaluate(test: pd.DataFrame) -> dict[str, Any]:
    """Every figure on ONE table of test days: the model and persistence ("tomorrow = today", i.e.
    the previous close) are scored on exactly the same rows."""
    err = test["pred"] - test["close"]
    perr = test["prev_close"] - test["close"]
    up = test["close"] > test["prev_close"]
    called_up = test["pred"] > test["prev_close"]
    r_true = test["close"] / test["prev_close"] - 1
    r_pred = test["pred"] / test["prev_close"] - 1
    return {
        "test_days": len(test), "first": str(test["date"].iloc[0].date()), "last": str(test["date"].iloc[-1].date()),
        "rmse": float(np.sqrt((err ** 2).mean())), "rmse_persistence": float(np.sqrt((perr ** 2).mean())),
        "mae": float(err.abs().mean()), "mae_persistence": float(perr.abs().mean()),
        "level_corr": float(np.corrcoef(test["pred"], test["close"])[0, 1]),
        "level_corr_persistence": float(np.corrcoef(test["prev_close"], test["close"])[0, 1]),
        "direction_accuracy": float((up == called_up).mean()), "always_up": float(up.mean()),
        "always_down": float(1 - up.mean()), "called_up": float(called_up.mean()),
        "return_corr": float(np.corrcoef(r_pred, r_true)[0, 1]),
        "pred_return_std": float(r_pred.std()), "true_return_std": float(r_true.std()),
    }


def run_protocol(md: data_store.MarketData, m: TutorialRegression | None = None, start: str = START,
                 end: str | None = None) -> ProtocolB:
    m = m or TutorialRegression()
    t0 = time.perf_counter()
    close = index_close(md, start, end)
    samples, n_train = fit_tutorial(close, m)
    test = samples.iloc[n_train:].reset_index(drop=True)
    figs = {**evaluate(test), "train_days": n_train, "series_days": len(close)}
    return ProtocolB(test=test, figures=figs, timings={"fit and score": round(time.perf_counter() - t0, 2)})


TABLE_COLUMNS = [("what", "measure (test span)", "str"), ("model", "tutorial LSTM", "str"),
                 ("reference", "reference", "str"), ("reference_name", "reference is", "str")]


def figures_table(f: dict[str, Any]) -> pd.DataFrame:
    rows = [
        ("RMSE (index points)", f"{f['rmse']:.1f}", f"{f['rmse_persistence']:.1f}", "tomorrow = today"),
        ("MAE (index points)", f"{f['mae']:.1f}", f"{f['mae_persistence']:.1f}", "tomorrow = today"),
        ("correlation of levels", f"{f['level_corr']:.4f}", f"{f['level_corr_persistence']:.4f}", "tomorrow = today"),
        ("direction accuracy", f"{100 * f['direction_accuracy']:.1f}%", f"{100 * f['always_up']:.1f}%", "always-up"),
        ("direction accuracy", "", f"{100 * f['always_down']:.1f}%", "always-down"),
        ("share of days called up", f"{100 * f['called_up']:.1f}%", f"{100 * f['always_up']:.1f}%",
         "share of up days"),
        ("correlation of daily returns", f"{f['return_corr']:+.3f}", "0", "no skill"),
    ]
    return pd.DataFrame(rows, columns=["what", "model", "reference", "reference_name"])


def plot(res: ProtocolB, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = res.test
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    ax = axes[0]
    ax.plot(t["date"], t["close"], lw=1, label="CSI-300 close")
    ax.plot(t["date"], t["pred"], lw=1, label="tutorial LSTM prediction")
    ax.set_title("As the tutorial draws it: price levels (looks right)")
    ax.legend(fontsize=8)
    ax = axes[1]
    r_true = 100 * (t["close"] / t["prev_close"] - 1)
    r_pred = 100 * (t["pred"] / t["prev_close"] - 1)
    ax.plot(t["date"], r_true, lw=0.8, label="actual daily return, %")
    ax.plot(t["date"], r_pred, lw=0.8, label="predicted daily return, %")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title(f"The same predictions as returns (correlation {res.figures['return_corr']:+.2f})")
    ax.legend(fontsize=8)
    for a in axes:
        a.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report_text(res: ProtocolB, threads: int) -> str:
    f = res.figures
    ratio = f["rmse"] / f["rmse_persistence"]
    return "\n".join([
        f"Protocol B: the tushare tutorial's price regression on the CSI-300 index close, {START} onward "
        f"({f['series_days']} days; train {f['train_days']} samples, test {f['test_days']} days "
        f"{f['first']}..{f['last']})",
        environment(threads), "",
        text_table(figures_table(f), TABLE_COLUMNS), "",
        f"RMSE is {ratio:.2f}x persistence's on the same {f['test_days']} days: the chart of levels looks right "
        "because tomorrow's close is close to today's, which persistence knows without any model.",
        "timings (s): " + ", ".join(f"{k} {v}" for k, v in res.timings.items()),
    ])


def run_from_args(args: argparse.Namespace, md: data_store.MarketData | None = None) -> ProtocolB:
    set_threads(args.threads)
    md = md if md is not None else data_store.load(use_cache=False)
    return run_protocol(md, TutorialRegression(epochs=args.epochs, seed=args.seed), args.start, args.end)


def write_outputs(res: ProtocolB, out: Path, threads: int) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"table": out / "protocol_b.csv", "test": out / "protocol_b_test_days.csv", "png": out / "protocol_b.png",
             "text": out / "protocol_b.txt", "json": out / "protocol_b.json"}
    figures_table(res.figures).to_csv(files["table"], index=False)
    res.test.to_csv(files["test"], index=False, float_format="%.6g")
    files["text"].write_text(report_text(res, threads) + "\n", encoding="utf-8")
    files["json"].write_text(json.dumps({"environment": environment(threads), "figures": res.figures,
                                         "timings_s": res.timings}, indent=2), encoding="utf-8")
    plot(res, files["png"])
    return files


def main(argv: list[str] | None = None) -> ProtocolB:
    args = build_parser().parse_args(argv)
    res = run_from_args(args)
    print(report_text(res, args.threads))
    if args.out:
        files = write_outputs(res, Path(args.out), args.threads)
        print(f"wrote {files['png']} and the tables beside it")
    return res


if __name__ == "__main__":
    main()
