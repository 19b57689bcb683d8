"""Per-feature scaling of (samples, lookback, channels) tensors, fitted on training rows only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, NotFittedError

__all__ = ["SequenceScaler"]


_CHUNK = 1 << 16  # rows per pass of the standard statistics (bounds the temporary memory)


def _standard_stats(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of the finite values (float64 sums, two passes in
    row chunks, no float64 copy of the data); a column without values gets (0, 1), a constant
    one the scale 1. The chunks' temporaries are allocated once and reused (a fresh gigabyte per
    chunk is mostly page faults)."""
    C = flat.shape[1]
    cnt, tot = np.zeros(C), np.zeros(C)
    rows = min(_CHUNK, len(flat))
    ok_buf = np.empty((rows, C), dtype=bool)
    val_buf = np.empty((rows, C), dtype=flat.dtype)
    for i in range(0, len(flat), _CHUNK):
        x = flat[i: i + _CHUNK]
        ok, val = ok_buf[: len(x)], val_buf[: len(x)]
        np.isfinite(x, out=ok)
        cnt += ok.sum(axis=0)
        np.copyto(val, x)
        val[~ok] = 0.0
        tot += val.sum(axis=0, dtype=np.float64)
    mean = np.divide(tot, cnt, out=np.zeros(C), where=cnt > 0)
    mean32 = mean.astype(np.float32)
    ss = np.zeros(C)
    d_buf = np.empty((rows, C), dtype=np.float64)
    for i in range(0, len(flat), _CHUNK):
        x = flat[i: i + _CHUNK]
        ok, val, d = ok_buf[: len(x)], val_buf[: len(x)], d_buf[: len(x)]
        np.isfinite(x, out=ok)
        np.subtract(x, mean32, out=val)
        val[~ok] = 0.0
        np.copyto(d, val)
        ss += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(np.divide(ss, cnt, out=np.zeros(C), where=cnt > 0))
    return mean, np.where(std > 1e-12, std, 1.0)


@dataclass
class SequenceScaler:
    """Standardise each channel with statistics pooled over the samples and steps it is fitted on.

    ``method="standard"``: (x - mean) / std; ``"robust"``: (x - median) / IQR-based scale
    (IQR / 1.349, the std of a normal). NaN (masked, unobserved) values are ignored when fitting and
    become 0 (the training centre) after scaling; scaled values are clipped to ``[-clip, clip]``.
    The window's runner fits one scaler per window on that window's TRAINING rows only and keeps it
    with the window's model (and in its checkpoint).
    """

    method: str = "standard"
    clip: float | None = 10.0

    def fit(self, X: np.ndarray) -> SequenceScaler:
        if self.method not in ("standard", "robust"):
            raise ConfigError(f"SequenceScaler.method = {self.method!r} must be 'standard' or 'robust'")
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(np.float32)
        if X.ndim != 3 or len(X) == 0:
            raise ConfigError(f"SequenceScaler.fit needs a non-empty (samples, steps, channels) array, "
                              f"got shape {X.shape}")
        flat = X.reshape(-1, X.shape[-1])
        C = flat.shape[1]
        center = np.zeros(C)
        scale = np.ones(C)
        if self.method == "standard":
            center, scale = _standard_stats(flat)
        for c in range(C) if self.method == "robust" else ():
            v = flat[:, c].astype(np.float64)
            v = v[np.isfinite(v)]
            if len(v) == 0:
                continue
            q1, center[c], q3 = np.percentile(v, [25, 50, 75])
            s = (q3 - q1) / 1.349
            if s <= 0:
                s = v.std()
            scale[c] = s if s > 1e-12 else 1.0
        self.center_ = center.astype(np.float32)
        self.scale_ = scale.astype(np.float32)
        self.n_samples_ = int(X.shape[0])
        return self

    def transform(self, X: np.ndarray, copy: bool = True) -> np.ndarray:
        """Scaled float32 copy of X (``copy=False``: scale a float32 X in place and return it)."""
        if not hasattr(self, "center_"):
            raise NotFittedError("SequenceScaler is not fitted yet: call fit(X_train) first")
        X = np.asarray(X, dtype=np.float32)
        if X.shape[-1] != len(self.center_):
            raise ConfigError(f"SequenceScaler was fitted on {len(self.center_)} channels, got {X.shape[-1]}")
        out = X.copy() if copy else X
        out -= self.center_
        out /= self.scale_
        out[~np.isfinite(out)] = 0.0
        if self.clip is not None:
            np.clip(out, -self.clip, self.clip, out=out)
        return out

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def state(self) -> dict[str, object]:
        """Plain-tensor state for a ``weights_only`` checkpoint."""
        import torch

        return {"method": self.method, "clip": -1.0 if self.clip is None else float(self.clip),
                "center": torch.from_numpy(self.center_.copy()), "scale": torch.from_numpy(self.scale_.copy())}

    @classmethod
    def from_state(cls, st: dict[str, Any]) -> SequenceScaler:
        clip = float(st["clip"])
        sc = cls(method=str(st["method"]), clip=None if clip < 0 else clip)
        sc.center_ = st["center"].numpy().astype(np.float32)
        sc.scale_ = st["scale"].numpy().astype(np.float32)
        return sc
