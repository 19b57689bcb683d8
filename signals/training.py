"""The training loop of the sequence models: mini-batch Adam, early stopping, batched inference."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

__all__ = ["evaluate_loss", "predict_logits", "train_network"]


def train_network(net: nn.Module, X: torch.Tensor, y: torch.Tensor, X_val: torch.Tensor | None,
                  y_val: torch.Tensor | None, *, lr: float, batch_size: int, max_epochs: int, patience: int,
                  weight_decay: float, grad_clip: float, generator: torch.Generator,
                  progress: bool = False, desc: str = "fit") -> dict[str, Any]:
    """Mini-batch Adam on BCE-with-logits; early stopping on validation loss, best weights restored.

    Every sample is used every epoch (the last batch may be smaller). Returns the history."""
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    n = X.shape[0]
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, bad = math.inf, 0, None, 0
    # disable=None: off when stderr is no terminal
    bar = tqdm(range(1, max_epochs + 1), desc=desc, leave=False, disable=None if progress else True, unit="epoch")
    for epoch in bar:
        t_ep = time.perf_counter()
        net.train()
        perm = torch.randperm(n, generator=generator).to(X.device)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i: i + batch_size]
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            if grad_clip and grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
            opt.step()
            total += loss.detach() * len(idx)
        rec = {"epoch": epoch, "train_loss": float(total) / n, "train_seconds": time.perf_counter() - t_ep}
        if X_val is not None and y_val is not None and len(X_val):
            t_val = time.perf_counter()
            rec["val_loss"] = evaluate_loss(net, X_val, y_val, batch_size=max(batch_size, 4096))
            rec["val_seconds"] = time.perf_counter() - t_val
            if rec["val_loss"] < best_loss - 1e-7:
                best_loss, best_epoch, bad = rec["val_loss"], epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        bar.set_postfix({k: f"{v:.4f}" for k, v in rec.items() if k.endswith("loss")})
        if best_state is not None and bad > patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = len(history)
        best_loss = history[-1].get("val_loss", math.nan) if history else math.nan
    return {"history": history, "best_epoch": best_epoch, "best_val_loss": best_loss, "epochs_run": len(history)}


@torch.no_grad()
def evaluate_loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 8192) -> float:
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
