"""From a model's score to ``p_up``: seed ensembles and calibration on the validation span.

Every model publishes ``p_up``, the probability of the target's event (its relative return > 0).
A network trained with BCE outputs that probability's logit already. A regression (MSE) or ranking
(IC) score has no probability scale, so it is calibrated with Platt scaling (scikit-learn's
logistic regression of the event on the score) fitted on the VALIDATION rows of the window: a
strictly increasing map, so the ranking of the day, and with it the rank IC, is unchanged.

An ensemble of seeds is one model: each member's score is standardised with its validation mean
and standard deviation (BCE members keep their logits) and the members' scores are averaged.
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

log = logging.getLogger(__name__)

#: the smallest calibration slope, per standard deviation of the score: p_up moves by about
#: 2.5e-5 per standard deviation, enough to keep the ranking in float32
MIN_SLOPE = 1e-4

__all__ = ["ScoredEnsemble", "platt"]


def platt(score: np.ndarray, event: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of ``p = sigmoid(a * score + b)`` fitted to the binary ``event`` (NaN rows left
    out). ``a`` is kept > 0 (a higher score never means a lower p_up, and the day's ranking is
    kept): a slope that is not positive on the validation span becomes :data:`MIN_SLOPE` per
    standard deviation of the score around the base rate; ``(0, logit(base rate))`` when the score
    or the event is constant."""
    s = np.asarray(score, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64)
    ok = np.isfinite(s) & np.isfinite(e)
    s, e = s[ok], e[ok]
    if len(s) == 0:
        return 0.0, 0.0
    rate = float(np.clip(e.mean(), 1e-4, 1 - 1e-4))
    if np.ptp(s) <= 0 or len(np.unique(e)) < 2:
        return 0.0, float(np.log(rate / (1 - rate)))
    mu, sd = float(s.mean()), float(s.std())
    lr = LogisticRegression(C=1e4, max_iter=200).fit(((s - mu) / sd)[:, None], e.astype(int))
    a = float(lr.coef_[0, 0]) / sd
    if a <= MIN_SLOPE / sd:
        # the validation span shows no (or a reversed) relation: p_up stays at the base rate, but a
        # tiny positive slope keeps the day's ranking (a TopK strategy trades the ranking)
        log.warning("calibration: the score's validation slope is %.3g (not positive); p_up kept at the base rate "
                    "%.3f with the ranking of the score", a, rate)
        a = MIN_SLOPE / sd
        return a, float(np.log(rate / (1 - rate))) - a * mu
    return a, float(lr.intercept_[0]) - a * mu


class ScoredEnsemble(nn.Module):
    """Members averaged into one calibrated logit: ``a * mean_k((net_k(x) - center_k) / scale_k) + b``.

    The standardisation and calibration constants are buffers, so the module's state dict (a
    window checkpoint) holds the whole scoring path."""

    def __init__(self, members: list[nn.Module], center: list[float] | None = None,
                 scale: list[float] | None = None, calib: tuple[float, float] = (1.0, 0.0)) -> None:
        super().__init__()
        k = len(members)
        self.members = nn.ModuleList(members)
        self.register_buffer("center", torch.tensor(center if center is not None else [0.0] * k))
        self.register_buffer("scale", torch.tensor(scale if scale is not None else [1.0] * k))
        self.register_buffer("calib", torch.tensor(list(calib)))

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The averaged, standardised member scores (before calibration)."""
        center, scale = cast(torch.Tensor, self.center), cast(torch.Tensor, self.scale)
        outs = torch.stack([m(x) for m in self.members], dim=0)
        return ((outs - center[:, None]) / scale[:, None]).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        calib = cast(torch.Tensor, self.calib)
        return calib[0] * self.score(x) + calib[1]

    def set_calibration(self, a: float, b: float) -> None:
        """Set the Platt constants of the output logit ``a * score + b``."""
        calib = cast(torch.Tensor, self.calib)
        calib.copy_(torch.tensor([a, b], dtype=calib.dtype))
