"""The training loop of the sequence models: mini-batch Adam, early stopping, batched inference."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .objectives import batch_indices, ic_loss, loss_function, validation_score

__all__ = ["evaluate_loss", "predict_logits", "train_network"]


def train_network(net: nn.Module, X: torch.Tensor, y: torch.Tensor, X_val: torch.Tensor | None,
                  y_val: torch.Tensor | None, *, lr: float, batch_size: int, max_epochs: int, patience: int,
                  weight_decay: float, grad_clip: float, generator: torch.Generator,
                  progress: bool = False, desc: str = "fit", objective: str = "bce",
                  groups: np.ndarray | None = None, early_stop: str = "loss", val_days: np.ndarray | None = None,
                  val_returns: np.ndarray | None = None) -> dict[str, Any]:
    """Mini-batch Adam on ``objective`` (:mod:`signals.models.objectives`); early stopping on the
    validation ``early_stop`` number, best weights restored.

    Every sample is used every epoch (the last batch may be smaller); ``objective='ic'`` draws
    batches of whole days (``groups``: a day id per training sample). Returns the history."""
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = loss_function(objective)
    day_batches = groups if objective == "ic" else None
    n = X.shape[0]
    history: list[dict[str, float]] = []
    best_score, best_epoch, best_state, bad = math.inf, 0, None, 0
    best_loss = math.nan
    # disable=None: off when stderr is no terminal
    bar = tqdm(range(1, max_epochs + 1), desc=desc, leave=False, disable=None if progress else True, unit="epoch")
    for epoch in bar:
        t_ep = time.perf_counter()
        net.train()
        total = torch.zeros((), device=X.device)
        for idx, gid in batch_indices(n, batch_size, generator, day_batches, X.device):
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = net(xb)
            if loss_fn is not None:
                loss = loss_fn(out, yb)
            else:
                assert gid is not None  # the ic objective draws day batches
                loss = ic_loss(out, yb, gid)
            loss.backward()
            if grad_clip and grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
            opt.step()
            total += loss.detach() * len(idx)
        rec = {"epoch": epoch, "train_loss": float(total) / n, "train_seconds": time.perf_counter() - t_ep}
        if X_val is not None and y_val is not None and len(X_val):
            t_val = time.perf_counter()
            out_v = predict_logits(net, X_val, batch_size=max(batch_size, 4096))
            rec["val_loss"] = _loss_of(objective, out_v, y_val, val_days)
            score = validation_score(early_stop, out_v.double().cpu().numpy(), val_days, val_returns, rec["val_loss"])
            if early_stop != "loss":
                rec[f"val_{early_stop}"] = -score
            rec["val_seconds"] = time.perf_counter() - t_val
            if score < best_score - 1e-7:
                best_score, best_loss, best_epoch, bad = score, rec["val_loss"], epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        bar.set_postfix({k: f"{v:.4f}" for k, v in rec.items() if k.startswith(("train_loss", "val_")) and
                         not k.endswith("seconds")})
        if best_state is not None and bad > patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = len(history)
        best_loss = history[-1].get("val_loss", math.nan) if history else math.nan
    return {"history": history, "best_epoch": best_epoch, "best_val_loss": best_loss, "epochs_run": len(history)}


def _loss_of(objective: str, out: torch.Tensor, y: torch.Tensor, days: np.ndarray | None) -> float:
    """The objective's loss on a whole (validation) set; ``ic`` uses its days."""
    if objective == "bce":
        return float(nn.functional.binary_cross_entropy_with_logits(out, y))
    if objective == "mse":
        return float(nn.functional.mse_loss(out, y))
    if days is None:
        return math.nan
    _, gid = np.unique(days, return_inverse=True)
    return float(ic_loss(out, y, torch.from_numpy(gid.astype(np.int64)).to(out.device)))


@torch.no_grad()
def evaluate_loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 8192) -> float:
    """Mean binary cross-entropy of ``net``'s logits on (X, y)."""
    net.eval()
    tot = 0.0
    for i in range(0, X.shape[0], batch_size):
        tot += float(nn.functional.binary_cross_entropy_with_logits(net(X[i: i + batch_size]), y[i: i + batch_size],
                                                                    reduction="sum"))
    return tot / max(1, X.shape[0])


@torch.no_grad()
def predict_logits(net: nn.Module, X: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    net.eval()
    return torch.cat([net(X[i: i + batch_size]) for i in range(0, X.shape[0], batch_size)]) if X.shape[0] else \
        torch.zeros(0, device=X.device)
