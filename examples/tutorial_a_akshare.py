"""Protocol A: the AKShare tutorial's "0.72 accuracy", reproduced on the real data and corrected one
fault at a time, with the baselines beside every step.

The tutorial's protocol (steps 1-5 run it with a small hand-written torch loop: that loop IS the
tutorial's, kept here and labelled as such; the toolkit has no such code):
  * the CSI-300 constituents of its END date (today's list, not the point-in-time one), daily bars
    for one year (2018-05-28 .. 2019-05-28), forward-adjusted (qfq, computed in memory from the
    snapshot's factor, never stored), only the stocks with the modal number of trading days;
  * label 1 when tomorrow's close minus today's close is >= 0 (a flat day counts as "up");
  * features: qfq open, high, low, close and volume, MinMax-scaled with one scaler fitted on all rows
    of all stocks, train and test together;
  * per stock the first 70% of days train, the last 30% test; one single-layer LSTM for all stocks,
    stateful: it reads each stock's training days carrying its hidden state, then is fed one test
    day at a time, still carrying it;
  * accuracy on the LAST label of each stock, so every test sample is the same calendar day.

Then the corrections (each step keeps the previous ones):
  1. the tutorial as written;
  2. the same predictions, with the always-up share of that one test day beside them;
  3. scored on every day of the test span instead of one;
  4. the scaler fitted on training rows only;
  5. a validation span (the last 20% of the training days) and early stopping;
  6. the toolkit: walk-forward windows with an embargo, the point-in-time universe, back-adjusted
     prices, its label (open t+1 to open t+2) and its LSTM (``signals.run_walk_forward``), on the same
     test days;
  7. traded: the toolkit's TopK under A-share rules against the CSI-300 index, with its verdict.
Plus step 1 rolled over many end dates: the distribution of its accuracy beside the distribution of
that day's always-up share.

    python examples/tutorial_a_akshare.py                    # the whole protocol, ~2-4 minutes on 2 cores
    python examples/tutorial_a_akshare.py --rolling 0        # without the rolling end dates
    python examples/tutorial_a_akshare.py --out results/     # tables (CSV, markdown), PNG, predictions
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TUTORIAL_START, TUTORIAL_END = "2018-05-28", "2019-05-28"
#: the tutorial's network size, epochs and seed (the defaults of TutorialModel below)
HIDDEN, EPOCHS, SEED = 16, 100, 0


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--end", default=TUTORIAL_END, help="the tutorial's end date (one year of data before it)")
    p.add_argument("--max-stocks", type=int, default=0, help="keep the first n stocks only (0 = all; for tests)")
    p.add_argument("--hidden", type=int, default=HIDDEN)
    p.add_argument("--epochs", type=int, default=EPOCHS, help="the tutorial loop's epochs")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--seeds", type=int, default=4, help="also run step 1 with this many other seeds")
    p.add_argument("--windows", type=int, default=2, help="step 6: walk-forward windows over the test span")
    p.add_argument("--toolkit-epochs", type=int, default=0, help="step 6: max epochs (0 = the quick preset's)")
    p.add_argument("--k", type=int, default=30, help="step 7: names held by TopK")
    p.add_argument("--rolling", type=int, default=40, help="end dates of the rolling step 1 (0 = none)")
    p.add_argument("--no-toolkit", action="store_true", help="skip steps 6-7")
    p.add_argument("--threads", type=int, default=1, help="torch threads")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_args(p)
    p.add_argument("--out", help="folder for the tables, predictions and PNG")
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import MinMaxScaler
from torch import nn
from tutorial_common import environment, forward_adjusted, markdown_table, set_threads, text_table, timed

import data_store
import signals
import strategies
from backtests.config import load_config
from backtests.evidence.assess import assess
from backtests.evidence.outcomes import ModelOutcome, summarise, with_figures
from backtests.evidence.styles import style_context
from backtests.evidence.verdict import verdict
from strategies.performance import trading_days_per_year

log = logging.getLogger("tutorial_a")

TRAIN_SHARE = 0.7           # the tutorial's 70/30 split of each stock's days
VAL_SHARE_OF_TRAIN = 0.2    # step 5: the last 20% of the training days validate
FIELDS = ("open", "high", "low", "close", "volume")


# ------------------------------------------------------------------------------------------------
# the tutorial's data set
# ------------------------------------------------------------------------------------------------
@dataclass
class TutorialData:
    """One tutorial data set: S stocks x D days (each stock's own observed days, stacked by position
    as the tutorial stacks them), features in :data:`FIELDS` order, the tutorial's labels."""

    symbols: list[str]
    dates: np.ndarray          # (S, D) datetime64: the day of each row
    feats: np.ndarray          # (S, D, 5) qfq open, high, low, close; volume (shares)
    label: np.ndarray          # (S, D-1) 1.0 when close(t+1) - close(t) >= 0
    ret: np.ndarray            # (S, D-1) close(t+1) / close(t) - 1 (qfq), the return the label is the sign of
    start: pd.Timestamp
    end: pd.Timestamp
    members_on_end: int        # constituents on the end date with bars
    modal_days: int

    @property
    def n_labelled(self) -> int:
        return self.label.shape[1]

    @property
    def n_train(self) -> int:
        return int(TRAIN_SHARE * self.n_labelled)


def tutorial_data(md_all: data_store.MarketData, end: str | pd.Timestamp, years: int = 1,
                  max_stocks: int | None = None) -> TutorialData:
    """The tutorial's data set ending on ``end`` (the last trading day on or before it).

    ``max_stocks``: keep only the first n stocks in code order (for quick tests)."""
    cal = md_all.calendar
    end_day = cal[cal.searchsorted(pd.Timestamp(end), side="right") - 1]
    start_day = cal[cal.searchsorted(end_day - pd.DateOffset(years=years))]
    md = md_all.slice(start_day, end_day)
    # survivorship: the constituents of the END date, whatever they were during the year
    members = [s for s in md_all.members(end_day) if s in set(md.symbols)]
    vol = md.panel("volume")[members]
    observed = vol.to_numpy() > 0  # the vendor returns no row for a suspended day
    counts = pd.Series(observed.sum(axis=0), index=members)
    modal = int(counts.mode().max())
    keep = [s for s in members if counts[s] == modal]
    if max_stocks:
        keep = keep[:max_stocks]
    qfq = {f: forward_adjusted(md, f)[keep].to_numpy() for f in FIELDS[:4]}
    S, D = len(keep), modal
    feats = np.empty((S, D, len(FIELDS)))
    dates = np.empty((S, D), dtype="datetime64[ns]")
    cols = [members.index(s) for s in keep]
    for j, c in enumerate(cols):
        rows = observed[:, c]
        for i, f in enumerate(FIELDS[:4]):
            feats[j, :, i] = qfq[f][rows, j]
        feats[j, :, 4] = vol.to_numpy()[rows, c]
        dates[j] = md.calendar.to_numpy()[rows]
    close = feats[:, :, 3]
    label = (close[:, 1:] - close[:, :-1] >= 0).astype(np.float64)
    ret = close[:, 1:] / close[:, :-1] - 1.0
    return TutorialData(symbols=keep, dates=dates, feats=feats, label=label, ret=ret, start=start_day, end=end_day,
                        members_on_end=len(members), modal_days=modal)


def minmax_scaled(data: TutorialData, fit_days: int | None) -> tuple[np.ndarray, MinMaxScaler]:
    """Every row MinMax-scaled by ONE scaler for all stocks, fitted on all rows (``fit_days=None``,
    the tutorial) or on each stock's first ``fit_days`` rows only (the correction)."""
    S, D, C = data.feats.shape
    fit_rows = data.feats if fit_days is None else data.feats[:, :fit_days]
    sc = MinMaxScaler().fit(fit_rows.reshape(-1, C))
    return sc.transform(data.feats.reshape(-1, C)).reshape(S, D, C).astype(np.float32), sc


# ------------------------------------------------------------------------------------------------
# the tutorial's model and training loop (steps 1-5 only; the toolkit never uses this)
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TutorialModel:
    """The tutorial's network and optimiser settings (Adam lr 1e-2 and 100 full-batch epochs, as
    protocol B's tutorial uses them)."""

    hidden: int = HIDDEN
    lr: float = 1e-2
    epochs: int = EPOCHS
    patience: int = 10     # step 5 only
    seed: int = SEED


class TutorialLSTM(nn.Module):
    """The tutorial's network: one LSTM layer, a linear read-out of every step -> P(up)."""

    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        out, state = self.lstm(x, state)
        return self.head(out).squeeze(-1), state


@dataclass
class TutorialFit:
    """A fitted tutorial model and its test-span predictions (S, T)."""

    p_up: np.ndarray
    epochs_run: int
    best_epoch: int
    train_loss: float


def fit_and_step(X: np.ndarray, y: np.ndarray, n_fit: int, n_val: int, n_test_end: int, m: TutorialModel,
                 early_stopping: bool) -> TutorialFit:
    """The tutorial's loop: fit on days ``[0, n_fit)`` of every stock (full batch, the loss of every
    step), optionally early-stop on days ``[n_fit, n_fit + n_val)``; then carry the hidden state over
    the days before the test span and feed the test days ``[n_fit + n_val, n_test_end)`` ONE AT A TIME,
    carrying the state from day to day."""
    torch.manual_seed(m.seed)
    net = TutorialLSTM(X.shape[2], m.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=m.lr)
    lossf = nn.BCEWithLogitsLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))
    best, best_state, best_epoch, bad, epochs_run, loss_v = math.inf, None, 0, 0, 0, math.nan
    for epoch in range(m.epochs):
        net.train()
        opt.zero_grad()
        logits, _ = net(Xt[:, :n_fit])
        loss = lossf(logits, yt[:, :n_fit])
        loss.backward()
        opt.step()
        epochs_run, loss_v = epoch + 1, loss.item()
        if early_stopping:
            with torch.no_grad():
                lv, _ = net(Xt[:, :n_fit + n_val])  # the state runs on through the validation days
                vloss = float(lossf(lv[:, n_fit:], yt[:, n_fit:n_fit + n_val]))
            if vloss < best - 1e-6:
                best, bad, best_epoch = vloss, 0, epoch + 1
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
                if bad > m.patience:
                    break
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = epochs_run
    net.eval()
    start = n_fit + n_val
    with torch.no_grad():
        _, state = net(Xt[:, :start])
        steps = []
        for t in range(start, n_test_end):  # one day at a time, the state carried over
            logit, state = net(Xt[:, t:t + 1], state)
            steps.append(torch.sigmoid(logit[:, 0]).double().numpy())
    return TutorialFit(p_up=np.stack(steps, axis=1), epochs_run=epochs_run, best_epoch=best_epoch,
                       train_loss=loss_v)


def tutorial_predictions(data: TutorialData, fit: TutorialFit) -> pd.DataFrame:
    """The test-span predictions as a table: date, symbol, p_up, label, ret."""
    t0 = data.n_labelled - fit.p_up.shape[1]
    sl = slice(t0, data.n_labelled)
    S, T = fit.p_up.shape
    return pd.DataFrame({
        "date": pd.to_datetime(data.dates[:, sl].ravel()), "symbol": np.repeat(data.symbols, T),
        "p_up": fit.p_up.ravel(), "label": data.label[:, sl].ravel(), "ret": data.ret[:, sl].ravel()})


def last_label_rows(preds: pd.DataFrame) -> pd.DataFrame:
    """The tutorial's test set: each stock's LAST labelled row."""
    return preds.groupby("symbol", sort=False).tail(1)


# ------------------------------------------------------------------------------------------------
# scoring (the toolkit's public metric functions)
# ------------------------------------------------------------------------------------------------
def score(preds: pd.DataFrame, ic: bool = True) -> dict[str, Any]:
    """Accuracy, always-up and best-constant accuracy, AUC, IC (daily, cross-sectional), the share
    of samples the model calls up, and the sample and day counts."""
    met = signals.classification_metrics(preds["label"].to_numpy(), preds["p_up"].to_numpy(),
                                         preds["ret"].to_numpy(), preds["date"].to_numpy())
    return {"samples": met["n"], "days": int(preds["date"].nunique()), "accuracy": met["accuracy"],
            "always_up": met["base_rate"], "best_constant": met["best_constant_accuracy"], "auc": met["roc_auc"],
            "ic": met["ic"] if ic else math.nan, "called_up": float((preds["p_up"] > 0.5).mean())}


# ------------------------------------------------------------------------------------------------
# the steps
# ------------------------------------------------------------------------------------------------
@dataclass
class ProtocolA:
    steps: pd.DataFrame
    predictions: dict[int, pd.DataFrame]
    data: TutorialData
    verdict: str = ""
    seed_spread: pd.DataFrame = field(default_factory=pd.DataFrame)
    rolling: pd.DataFrame = field(default_factory=pd.DataFrame)
    backtest: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    windows: list[str] = field(default_factory=list)


STEP_TEXT = {
    1: "the tutorial as written (last label of each stock)",
    2: "the same, with that day's always-up share beside it",
    3: "scored on every day of the test span",
    4: "scaler fitted on training rows only",
    5: "validation span + early stopping",
    6: "toolkit: walk-forward + embargo, point-in-time, hfq, open-to-open label",
    7: "traded: TopK under A-share rules vs CSI-300",
}
#: which of the tutorials' faults (or which look-ahead rule of the toolkit) each step removes; the
#: tutorial's network has separate gate weights (nn.LSTM) and carries its state, so it shows neither
#: "the same gate weights" nor "a state reset at every step"
STEP_FAULT = {
    1: "(the tutorial as written)",
    2: "accuracy on one calendar day of many stocks (the baseline shown)",
    3: "accuracy on one calendar day of many stocks (every day scored)",
    4: "a MinMax scaler fitted on train and test together",
    5: "a 70/30 split with no validation set",
    6: "no embargo; today's constituents; qfq history; a close-to-close label the trade cannot capture",
    7: "accuracy taken for money (the trade, its costs and the index)",
}


def tutorial_steps(data: TutorialData, m: TutorialModel) -> tuple[list[dict[str, Any]], dict[int, pd.DataFrame],
                                                                  TutorialFit]:
    """Steps 1-5 (the tutorial's own loop) on one data set."""
    n_lab, n_tr = data.n_labelled, data.n_train
    X_all, _ = minmax_scaled(data, None)
    fit1 = fit_and_step(X_all[:, :n_lab], data.label, n_tr, 0, n_lab, m, early_stopping=False)
    p1 = tutorial_predictions(data, fit1)
    one_day = last_label_rows(p1)
    rows, preds = [], {1: one_day, 2: one_day, 3: p1}
    s1 = score(one_day, ic=False)
    rows.append({"step": 1, **s1, "always_up": math.nan, "best_constant": math.nan, "auc": math.nan,
                 "epochs": fit1.epochs_run})
    rows.append({"step": 2, **s1, "epochs": fit1.epochs_run})
    rows.append({"step": 3, **score(p1), "epochs": fit1.epochs_run})
    X_tr, _ = minmax_scaled(data, n_tr)
    fit4 = fit_and_step(X_tr[:, :n_lab], data.label, n_tr, 0, n_lab, m, early_stopping=False)
    preds[4] = tutorial_predictions(data, fit4)
    rows.append({"step": 4, **score(preds[4]), "epochs": fit4.epochs_run})
    n_val = int(round(VAL_SHARE_OF_TRAIN * n_tr))
    n_fit = n_tr - n_val
    X_fit, _ = minmax_scaled(data, n_fit)
    fit5 = fit_and_step(X_fit[:, :n_lab], data.label, n_fit, n_val, n_lab, m, early_stopping=True)
    preds[5] = tutorial_predictions(data, fit5)
    rows.append({"step": 5, **score(preds[5]), "epochs": fit5.best_epoch})
    return rows, preds, fit1


def toolkit_windows(md_all: data_store.MarketData, test_days: pd.DatetimeIndex, n_fit: int, n_val: int,
                    windows: int) -> tuple[data_store.MarketData, signals.WalkForwardSplit]:
    """The market data and walk-forward layout of step 6: ``windows`` windows covering exactly the
    tutorial's test days, each trained on ``n_fit`` days and validated on ``n_val`` (the sizes of
    step 5) with the toolkit's embargo before validation and before test."""
    cal = md_all.calendar
    p0 = int(cal.searchsorted(test_days[0]))
    p_end = int(cal.searchsorted(test_days[-1]))
    pad = n_fit + n_val + 2 * 5 + 60  # embargoes, lookback and the 20-day features' warm-up
    md = md_all.slice(cal[max(0, p0 - pad)], cal[min(len(cal) - 1, p_end + 10)])  # +10: labels, fills
    per = math.ceil(len(test_days) / windows)
    split = signals.WalkForwardSplit(train_days=n_fit, val_days=n_val, test_days=per, test_start=test_days[0],
                                     test_end=test_days[-1])
    return md, split


def toolkit_steps(md_all: data_store.MarketData, data: TutorialData, windows: int, epochs: int | None,
                  threads: int, k: int) -> tuple[list[dict[str, Any]], pd.DataFrame, str, dict[str, Any], list[str]]:
    """Steps 6 and 7 on the toolkit's public API (the quick preset's features, label, model, strategy)."""
    cfg = load_config("quick")
    test_days = pd.DatetimeIndex(np.unique(data.dates[:, data.n_train:data.n_labelled]))
    n_val = int(round(VAL_SHARE_OF_TRAIN * data.n_train))
    md, split = toolkit_windows(md_all, test_days, data.n_train - n_val, n_val, windows)
    est = signals.build_model(cfg.model).set_params(num_threads=threads, device="cpu",
                                       **({"max_epochs": epochs} if epochs else {}))
    res = signals.run_walk_forward(md, features=cfg.features, labels=cfg.labels, splitter=split, estimator=est,
                                   model_name="lstm", baselines=(), progress=False)
    preds = res.predictions
    s6 = score(preds)
    rows = [{"step": 6, **s6, "epochs": float(res.window_metrics["best_epoch"].mean())}]
    # step 7: the toolkit's TopK under A-share rules, against the index, with its verdict
    ppy = trading_days_per_year(md_all.calendar)
    topk = strategies.TopKConfig(k=k, max_replace=max(1, k // 3), cash_buffer=cfg.strategy.topk.cash_buffer)
    bt = strategies.run_backtest(md, preds[["date", "symbol", "p_up"]], strategy=topk, costs=cfg.costs,
                                 initial_cash=cfg.strategy.initial_cash, progress=False)
    # the same trades before costs (the net costs still decide them), for the gross figures
    gross = strategies.run_backtest(md, preds[["date", "symbol", "p_up"]], strategy=topk, costs=cfg.costs.gross(),
                                    decision_costs=cfg.costs, initial_cash=cfg.strategy.initial_cash,
                                    progress=False)
    oc = ModelOutcome(model="lstm", window_metrics=res.window_metrics, predictions=preds)
    oc.attach(bt, ppy, gross)
    models, wins = summarise({"lstm": oc}, md.benchmark_returns(), md.calendar, ppy)
    # the run's evidence (intervals, alpha, costs) in the model's row, as the tearsheet's verdict reads it
    # (measured beyond the styles too, as in a run: residual IC and the alpha after the style factors)
    styles = style_context(md, cfg.styles, pd.Timestamp(test_days[0]), held=k)
    figures, _ = assess({"lstm": oc}, md, md.benchmark_returns(), ppy, cfg.evaluation, main="lstm", styles=styles)
    main = with_figures(models, figures).set_index("model").loc["lstm"]
    text = verdict("LSTM (toolkit)", main, wins[wins["model"] == "lstm"])
    bench = md.benchmark_returns().reindex(bt.returns.index).fillna(0.0)
    total, btotal = float((1 + bt.returns).prod() - 1), float((1 + bench).prod() - 1)
    summ = bt.summary(ppy)
    rows.append({"step": 7, **s6, "epochs": rows[0]["epochs"], "strategy_return": total, "index_return": btotal,
                 "excess_return": total - btotal, "annual_excess": float(main["annual_excess_return"]),
                 "fees": float(summ["fees"])})
    info = {"k": k, "max_replace": topk.max_replace, "days": len(bt.returns), "fees": float(summ["fees"]),
            "trades": int(summ.get("trades", len(bt.trades))), "rejected": summ.get("rejected", {}),
            "strategy_return": total, "index_return": btotal, **exposure(bt.returns, bench, ppy)}
    return rows, preds, text, info, [str(w) for w in res.windows]


def exposure(strategy: pd.Series, bench: pd.Series, periods_per_year: int) -> dict[str, float]:
    """The strategy's beta to the index and its alpha after that beta (annualised, simple daily
    returns), with HAC (Newey-West) standard errors: a high-beta win in a rising market is exposure,
    not skill. The example computes it itself, with statsmodels when it is installed (empty
    otherwise)."""
    try:
        import statsmodels.api as sm
    except ImportError:  # not a declared dependency of the toolkit
        return {}
    y = strategy.to_numpy(dtype=float)
    x = bench.reindex(strategy.index).fillna(0.0).to_numpy(dtype=float)
    lags = max(1, int(4 * (len(y) / 100) ** (2 / 9)))  # the usual Newey-West rule of thumb
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return {"beta": float(fit.params[1]), "beta_se": float(fit.bse[1]),
            "alpha_annual": float(fit.params[0] * periods_per_year), "alpha_t": float(fit.tvalues[0]),
            "hac_lags": float(lags)}


def seed_spread(data: TutorialData, m: TutorialModel, seeds: list[int]) -> pd.DataFrame:
    """Step 1 with other seeds: the one-day accuracy and the share of stocks called up."""
    X_all, _ = minmax_scaled(data, None)
    rows = []
    for s in seeds:
        mm = TutorialModel(hidden=m.hidden, lr=m.lr, epochs=m.epochs, patience=m.patience, seed=s)
        fit = fit_and_step(X_all[:, :data.n_labelled], data.label, data.n_train, 0, data.n_labelled, mm, False)
        one = last_label_rows(tutorial_predictions(data, fit))
        rows.append({"seed": s, **score(one, ic=False)})
    return pd.DataFrame(rows)


def rolling_end_dates(calendar: pd.DatetimeIndex, n: int, first: str = "2011-06-01") -> list[pd.Timestamp]:
    """``n`` end dates spread evenly over the calendar from ``first`` (one year of data before each)."""
    days = calendar[calendar >= pd.Timestamp(first)]
    pos = np.unique(np.linspace(0, len(days) - 1, n).round().astype(int))
    return [days[p] for p in pos]


def rolling_step1(md_all: data_store.MarketData, ends: list[pd.Timestamp], m: TutorialModel,
                  max_stocks: int | None) -> pd.DataFrame:
    """Step 1 for every end date: the tutorial's accuracy beside that day's always-up share.

    When the modal number of days is below the calendar's (most stocks were suspended on some day of
    the year), the tutorial's stacking by position puts rows of different dates side by side and the
    "last label" of the stocks falls on more than one date; ``test_dates`` counts them."""
    rows = []
    for end in ends:
        data = tutorial_data(md_all, end, max_stocks=max_stocks)
        X_all, _ = minmax_scaled(data, None)
        fit = fit_and_step(X_all[:, :data.n_labelled], data.label, data.n_train, 0, data.n_labelled, m, False)
        one = last_label_rows(tutorial_predictions(data, fit))
        s = score(one, ic=False)
        rows.append({"end": data.end.date(), "test_day": pd.Timestamp(one["date"].max()).date(),
                     "test_dates": int(one["date"].nunique()), "modal_days": data.modal_days,
                     "calendar_days": int(((md_all.calendar >= data.start) & (md_all.calendar <= data.end)).sum()),
                     "stocks": s["samples"], "accuracy": s["accuracy"],
                     "always_up": s["always_up"], "best_constant": s["best_constant"], "called_up": s["called_up"]})
        log.info("rolling end %s: accuracy %.3f, always-up %.3f", data.end.date(), s["accuracy"], s["always_up"])
    return pd.DataFrame(rows)


def run_protocol(md_all: data_store.MarketData, end: str = TUTORIAL_END, m: TutorialModel | None = None,
                 max_stocks: int | None = None, windows: int = 2, toolkit_epochs: int | None = None,
                 threads: int = 1, k: int = 30, seeds: int = 4, rolling: int = 40,
                 toolkit: bool = True) -> ProtocolA:
    """Every step of protocol A (and the rolling step 1); see the module docstring."""
    m = m or TutorialModel()
    t: dict[str, float] = {}
    with timed(t, "data"):
        data = tutorial_data(md_all, end, max_stocks=max_stocks)
    with timed(t, "steps 1-5 (tutorial loop)"):
        rows, preds, _ = tutorial_steps(data, m)
    text, bt_info, wins = "", dict[str, Any](), list[str]()
    if toolkit:
        with timed(t, "steps 6-7 (toolkit)"):
            trows, p6, text, bt_info, wins = toolkit_steps(md_all, data, windows, toolkit_epochs, threads, k)
        rows += trows
        preds[6] = preds[7] = p6
    spread = pd.DataFrame()
    if seeds:
        with timed(t, "step 1 with other seeds"):
            spread = seed_spread(data, m, list(range(m.seed + 1, m.seed + 1 + seeds)))
    roll = pd.DataFrame()
    if rolling:
        with timed(t, f"step 1 rolled over {rolling} end dates"):
            roll = rolling_step1(md_all, rolling_end_dates(md_all.calendar, rolling), m, max_stocks)
    steps = pd.DataFrame(rows)
    steps.insert(1, "change", steps["step"].map(STEP_TEXT))
    steps["fault removed"] = steps["step"].map(STEP_FAULT)
    return ProtocolA(steps=steps, predictions=preds, data=data, verdict=text, seed_spread=spread, rolling=roll,
                     backtest=bt_info, timings=t, windows=wins)


# ------------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------------
STEP_COLUMNS = [("step", "step", "int"), ("change", "change", "str"), ("samples", "samples", "int"),
                ("days", "test days", "int"), ("called_up", "called up", "pct"), ("accuracy", "accuracy", "pct"),
                ("always_up", "always-up", "pct"), ("best_constant", "best constant", "pct"), ("auc", "AUC", "f3"),
                ("ic", "IC", "sf3"), ("excess_return", "excess vs index", "spct")]


def rolling_summary(roll: pd.DataFrame) -> dict[str, float]:
    """The distribution of step 1's accuracy beside that of the day's always-up share."""
    if roll.empty:
        return {}
    acc, up = roll["accuracy"], roll["always_up"]
    # what a model whose calls are independent of which stocks rose would score that day
    indep = roll["called_up"] * up + (1 - roll["called_up"]) * (1 - up)
    return {"end_dates": float(len(roll)), "acc_median": float(acc.median()), "acc_p10": float(acc.quantile(0.1)),
            "acc_p90": float(acc.quantile(0.9)), "acc_min": float(acc.min()), "acc_max": float(acc.max()),
            "up_median": float(up.median()), "up_p10": float(up.quantile(0.1)), "up_p90": float(up.quantile(0.9)),
            "share_acc_ge_072": float((acc >= 0.72).mean()), "share_up_ge_072": float((up >= 0.72).mean()),
            "corr_acc_up": float(acc.corr(up)), "corr_acc_independent": float(acc.corr(indep)),
            "mean_acc_minus_best_constant": float((acc - roll["best_constant"]).mean())}


def describe_rolling(s: dict[str, float]) -> str:
    if not s:
        return ""
    return (f"step 1 rolled over {int(s['end_dates'])} end dates: accuracy median {100 * s['acc_median']:.1f}% "
            f"(10-90%: {100 * s['acc_p10']:.1f}-{100 * s['acc_p90']:.1f}%, range {100 * s['acc_min']:.1f}-"
            f"{100 * s['acc_max']:.1f}%); that day's always-up share median {100 * s['up_median']:.1f}% "
            f"(10-90%: {100 * s['up_p10']:.1f}-{100 * s['up_p90']:.1f}%). Accuracy >= 72% on "
            f"{100 * s['share_acc_ge_072']:.0f}% of end dates (always-up share >= 72% on "
            f"{100 * s['share_up_ge_072']:.0f}%); correlation of accuracy with the always-up share "
            f"{s['corr_acc_up']:+.2f}, with the score of calls independent of the outcome "
            f"{s['corr_acc_independent']:+.2f}; "
            f"mean edge over the best constant guess {100 * s['mean_acc_minus_best_constant']:+.1f} pp.")


def plot(res: ProtocolA, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = 3 if not res.rolling.empty else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6 * ncols, 4.2), squeeze=False)
    ax = axes[0, 0]
    st = res.steps
    x = np.arange(len(st))
    ax.bar(x - 0.27, st["accuracy"], 0.27, label="accuracy")
    ax.bar(x, st["always_up"], 0.27, label="always-up")
    ax.bar(x + 0.27, st["best_constant"], 0.27, label="best constant")
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xticks(x, [str(s) for s in st["step"]])
    ax.set_xlabel("step (1: as the tutorial reports it, no baseline)")
    ax.set_ylim(0.3, 0.85)
    ax.set_title("Protocol A: accuracy and its baselines, step by step", fontsize=10)
    ax.legend(fontsize=8)
    if ncols == 3:
        r = res.rolling
        ax = axes[0, 1]
        bins = np.linspace(0, 1, 21)
        ax.hist(r["always_up"], bins=bins, alpha=0.6, label="always-up share of the test day")
        ax.hist(r["accuracy"], bins=bins, alpha=0.6, label="step 1 accuracy")
        ax.axvline(0.72, color="k", lw=0.8, ls="--", label="the tutorial's 0.72")
        ax.set_xlabel("share")
        ax.set_ylabel("end dates")
        ax.set_title(f"Step 1 rolled over {len(r)} end dates", fontsize=10)
        ax.legend(fontsize=8)
        ax = axes[0, 2]
        sc = ax.scatter(r["always_up"], r["accuracy"], c=r["called_up"], cmap="coolwarm", vmin=0, vmax=1, s=16)
        fig.colorbar(sc, ax=ax, label="share of stocks the model calls up")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, label="= always-up share (all called up)")
        ax.plot([0, 1], [1, 0], color="grey", lw=0.8, ls=":", label="= always-down share (all called down)")
        ax.set_xlabel("share of stocks up on the test day")
        ax.set_ylabel("step 1 accuracy")
        ax.set_title("The one-day accuracy is the day's move", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report_text(res: ProtocolA, threads: int) -> str:
    d = res.data
    lines = [
        f"Protocol A: the AKShare tutorial's one-day accuracy on {len(d.symbols)} CSI-300 constituents of "
        f"{d.end.date()} ({d.members_on_end} with bars; those with the modal {d.modal_days} trading days), "
        f"{d.start.date()}..{d.end.date()}, qfq in memory; train {d.n_train} / test {d.n_labelled - d.n_train} "
        f"labelled days per stock",
        environment(threads), "",
        text_table(res.steps, STEP_COLUMNS), "",
        "fault each step removes: " + "; ".join(f"{k}: {v}" for k, v in STEP_FAULT.items() if k > 1), "",
    ]
    if not res.seed_spread.empty:
        sp = res.seed_spread
        lines.append("step 1 with other seeds (accuracy / share called up): " + ", ".join(
            f"seed {int(r.seed)}: {100 * r.accuracy:.1f}% / {100 * r.called_up:.0f}%" for r in sp.itertuples()))
    if res.windows:
        lines += ["step 6 windows: " + "; ".join(res.windows)]
    if res.verdict:
        b = res.backtest
        lines += [f"step 7: TopK k={b['k']} (at most {b['max_replace']} swaps a day) over {b['days']} days: strategy "
                  f"{100 * b['strategy_return']:+.1f}%, CSI-300 {100 * b['index_return']:+.1f}% over the same days, "
                  f"fees {b['fees']:,.0f} CNY, {b['trades']} trades"
                  + (f"; beta to the index {b['beta']:.2f} (s.e. {b['beta_se']:.2f}), alpha after beta "
                     f"{100 * b['alpha_annual']:+.1f}% a year (HAC t = {b['alpha_t']:+.2f}, {int(b['hac_lags'])} lags)"
                     if "beta" in b else ""),
                  "verdict (toolkit): " + res.verdict,
                  "(the table pools every test sample of a step; the verdict pools the per-window metrics, as the "
                  "tearsheet does, so its AUC and IC can differ slightly)"]
    if not res.rolling.empty:
        lines += [describe_rolling(rolling_summary(res.rolling))]
    lines += ["timings (s): " + ", ".join(f"{k} {v}" for k, v in res.timings.items())]
    return "\n".join(lines)


def write_outputs(res: ProtocolA, out: Path, threads: int) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"steps": out / "protocol_a_steps.csv", "markdown": out / "protocol_a_steps.md",
             "text": out / "protocol_a.txt", "png": out / "protocol_a.png", "json": out / "protocol_a.json"}
    res.steps.to_csv(files["steps"], index=False, float_format="%.6g")
    files["markdown"].write_text(markdown_table(res.steps, STEP_COLUMNS) + "\n", encoding="utf-8")
    files["text"].write_text(report_text(res, threads) + "\n", encoding="utf-8")
    for step, p in res.predictions.items():
        if step in (1, 3, 4, 5, 6):
            p.to_csv(out / f"protocol_a_predictions_step{step}.csv", index=False, float_format="%.6g")
    if not res.rolling.empty:
        files["rolling"] = out / "protocol_a_rolling.csv"
        res.rolling.to_csv(files["rolling"], index=False, float_format="%.6g")
    if not res.seed_spread.empty:
        res.seed_spread.to_csv(out / "protocol_a_seeds.csv", index=False, float_format="%.6g")
    plot(res, files["png"])
    files["json"].write_text(json.dumps({
        "environment": environment(threads), "timings_s": res.timings, "verdict": res.verdict,
        "backtest": res.backtest, "rolling": rolling_summary(res.rolling), "windows": res.windows,
        "data": {"symbols": len(res.data.symbols), "start": str(res.data.start.date()),
                 "end": str(res.data.end.date()), "modal_days": res.data.modal_days,
                 "train_days": res.data.n_train, "labelled_days": res.data.n_labelled}},
        indent=2, default=str), encoding="utf-8")
    return files


def run_from_args(args: argparse.Namespace, md_all: data_store.MarketData | None = None) -> ProtocolA:
    set_threads(args.threads)
    md_all = md_all if md_all is not None else data_store.load(use_cache=False)
    m = TutorialModel(hidden=args.hidden, epochs=args.epochs, seed=args.seed)
    return run_protocol(md_all, end=args.end, m=m, max_stocks=args.max_stocks or None, windows=args.windows,
                        toolkit_epochs=args.toolkit_epochs or None, threads=args.threads, k=args.k, seeds=args.seeds,
                        rolling=args.rolling, toolkit=not args.no_toolkit)


def main(argv: list[str] | None = None) -> ProtocolA:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    t0 = time.perf_counter()
    res = run_from_args(args)
    res.timings["total"] = round(time.perf_counter() - t0, 1)
    print(report_text(res, args.threads))
    if args.out:
        files = write_outputs(res, Path(args.out), args.threads)
        print(f"wrote {files['png']} and the tables beside it")
    return res


if __name__ == "__main__":
    main()
