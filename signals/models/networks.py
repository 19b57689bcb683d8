"""The causal networks of the sequence models, and the check that refuses a bidirectional one.

Every network maps a batch shaped (batch, lookback, channels) to one logit per sample and reads
the lookback window forwards only: the output for a window ending on the decision day depends on
steps up to that day and on nothing later.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import LookaheadError

__all__ = ["AttentionLSTMNet", "RecurrentNet", "check_causal"]


def check_causal(module: nn.Module, where: str = "the model") -> None:
    """Raise :class:`LookaheadError` if ``module`` contains a bidirectional recurrent layer."""
    for name, sub in module.named_modules():
        if isinstance(sub, nn.RNNBase) and sub.bidirectional:
            raise LookaheadError(
                f"{where} contains a bidirectional {type(sub).__name__} ({name or 'the module itself'}): its backward "
                "direction runs from the end of the sequence towards the start, so every step's output depends on "
                "LATER steps; on price sequences that is look-ahead (the future leaks into the signal). Use "
                "bidirectional=False (a unidirectional RNN reads only steps <= t)")



class RecurrentNet(nn.Module):
    """Unidirectional LSTM/GRU over the window; the last step's output -> one logit."""

    def __init__(self, cell: str, n_features: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(n_features, hidden_size, num_layers=num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0, bidirectional=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(self.drop(out[:, -1])).squeeze(-1)


class AttentionLSTMNet(nn.Module):
    """Unidirectional LSTM; additive attention over its outputs at every step of the lookback
    window (all steps are <= the decision day), context + last output -> one logit."""

    def __init__(self, n_features: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0, bidirectional=False)
        self.proj = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)                                  # (n, L, h)
        w = torch.softmax(self.score(torch.tanh(self.proj(out))), dim=1)  # (n, L, 1)
        ctx = (w * out).sum(dim=1)
        return self.head(self.drop(torch.cat([ctx, out[:, -1]], dim=1))).squeeze(-1)
