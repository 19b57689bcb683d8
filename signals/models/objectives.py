"""Training objectives of the sequence models and how their batches are drawn.

* ``bce``: binary cross-entropy on the binary target (the network's output is a logit);
* ``mse``: mean squared error on the target standardised with the training rows' mean and std;
* ``ic``: minus the mean over the batch's days of the cross-sectional Pearson correlation between
  the output and the target, on batches of WHOLE days (the ranking a TopK strategy uses; the
  output's scale and the day's mean are free).

Early stopping watches one validation number: the objective's own ``loss``, or the validation
``ic`` / ``rank_ic`` (daily Pearson / Spearman of the output against the target's return).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .config import EARLY_STOP, OBJECTIVES

__all__ = ["OBJECTIVES", "EARLY_STOP", "batch_indices", "ic_loss", "loss_function", "validation_score"]



def ic_loss(out: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """-mean over groups (days) of corr(out, y) within the group; ``group`` holds 0..k-1."""
    k = int(group.max()) + 1
    zeros = torch.zeros(k, dtype=out.dtype, device=out.device)
    cnt = zeros.index_add(0, group, torch.ones_like(out))
    mo = zeros.index_add(0, group, out) / cnt
    my = zeros.index_add(0, group, y) / cnt
    do, dy = out - mo[group], y - my[group]
    cov = zeros.index_add(0, group, do * dy)
    vo = zeros.index_add(0, group, do * do)
    vy = zeros.index_add(0, group, dy * dy)
    ic = cov / torch.sqrt(vo * vy + 1e-12)
    return -ic[cnt >= 3].mean() if bool((cnt >= 3).any()) else (out * 0.0).sum()


def loss_function(objective: str) -> nn.Module | None:
    """The per-batch loss ``(output, target) -> scalar`` of ``bce`` / ``mse``; None for ``ic``
    (its loss also needs the batch's days: :func:`ic_loss`)."""
    if objective == "bce":
        return nn.BCEWithLogitsLoss()
    if objective == "mse":
        return nn.MSELoss()
    if objective == "ic":
        return None
    raise ConfigError(f"objective = {objective!r} must be one of {list(OBJECTIVES)}")



def batch_indices(n: int, batch_size: int, generator: torch.Generator, groups: np.ndarray | None,
                  device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """One epoch of mini-batches: ``(sample indices, local day ids or None)``.

    Without ``groups``: a random permutation cut into ``batch_size`` pieces. With ``groups`` (a
    day id per sample): the days are shuffled and each batch holds whole days, as many as make
    about ``batch_size`` samples (at least one)."""
    if groups is None:
        perm = torch.randperm(n, generator=generator).to(device)
        for i in range(0, n, batch_size):
            yield perm[i: i + batch_size], None
        return
    order = np.argsort(groups, kind="stable")
    days, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    per_batch = max(1, int(round(batch_size / max(1.0, counts.mean()))))
    day_perm = torch.randperm(len(days), generator=generator).numpy()
    for i in range(0, len(days), per_batch):
        pick = day_perm[i: i + per_batch]
        idx = np.concatenate([order[starts[j]: starts[j] + counts[j]] for j in pick])
        gid = np.repeat(np.arange(len(pick)), counts[pick])
        yield torch.from_numpy(idx).to(device), torch.from_numpy(gid).to(device)


def validation_score(kind: str, output: np.ndarray, days: np.ndarray | None, returns: np.ndarray | None,
                     loss: float) -> float:
    """The number early stopping minimises: the validation ``loss``, or minus the validation
    ``ic`` / ``rank_ic`` of ``output`` against ``returns`` by day (NaN when undefined)."""
    if kind == "loss":
        return loss
    if days is None or returns is None:
        raise ConfigError(f"early_stop = {kind!r} needs the validation rows' days and target returns")
    from ..metrics import daily_ic

    ic = daily_ic(days, output, returns, "spearman" if kind == "rank_ic" else "pearson")
    return -ic if np.isfinite(ic) else float("inf")
