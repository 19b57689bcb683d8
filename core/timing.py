"""The toolkit's one timing convention, as constants every layer uses.

A prediction dated ``t`` is made after the close of ``t`` from data up to that close; the orders it
leads to go in after that close and fill at the OPEN of the next trading day. A label of horizon
``H`` is therefore the return from the open of ``t + FILL_LAG`` to the open of ``t + FILL_LAG + H``.
"""

from __future__ import annotations

#: trading days from a decision (after the close of t) to its fill (the open of t + FILL_LAG)
FILL_LAG = 1

__all__ = ["FILL_LAG", "label_end_offset"]


def label_end_offset(horizon: int) -> int:
    """Trading days after the decision day whose open the label of ``horizon`` days reads last
    (``FILL_LAG + horizon``): the label of day t is known only at the open of t + this."""
    return FILL_LAG + int(horizon)
