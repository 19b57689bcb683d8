"""Point-in-time CSI-300 membership: who was a member on each day, and how the history grows.

- :mod:`~data_store.membership.universe`: :class:`Membership` (a member on day d when ``start <= d < end``);
- :mod:`~data_store.membership.history`: dated membership histories, joined to the snapshot or derived
  from member lists;
- :mod:`~data_store.membership.merge`: membership beyond the snapshot (a dated history first, observed
  lists after it);
- :mod:`~data_store.membership.update`: the membership step of ``python -m data_store update``.
"""

from __future__ import annotations

from .universe import Membership

__all__ = ["Membership"]
