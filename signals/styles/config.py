"""The style settings (``[styles]`` of a run config) and the names of the library's styles.

Torch-free and free of any computation, so a command line builds, prints and refuses a
configuration at once; the styles themselves are :mod:`signals.styles.library`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import check_settings, setting

__all__ = ["AUTO", "BAR_STYLES", "STYLE_NAMES", "StyleConfig", "VENDOR_STYLES"]

#: the styles every run has: computed from the bars and the index of the snapshot
BAR_STYLES = ("beta", "volatility", "reversal", "momentum", "liquidity", "size_proxy", "price")
#: the styles that need a vendor's fields in the user cache (``python -m data_store update --characteristics``)
VENDOR_STYLES = ("size", "value", "industry")
#: every style of the library, in its order
STYLE_NAMES = BAR_STYLES + VENDOR_STYLES
#: ``styles.names = ["auto"]``: the bar styles, and each vendor style whose fields the data carry
AUTO = "auto"
#: a user's own characteristic (a column of ``styles.table``): a lower-case name
USER_NAME = r"[a-z][a-z0-9_]{0,39}"


@dataclass(frozen=True)
class StyleConfig:
    """Which styles a run measures its models against, and what it does with them (``[styles]``).

    The styles are free: anyone can hold them without a model. A run measures each model's
    exposure to them and what is left after them (residual IC, alpha after styles), and trades
    each as a zero-training baseline beside the model."""

    names: tuple[str, ...] = setting(
        (AUTO,), choices=(AUTO, *STYLE_NAMES),
        doc="styles of the library used: auto = the seven bar styles plus size, value and industry when the data "
            "carry the vendor fields (the user cache after `data_store update --characteristics`)")
    table: str = setting("", doc="a parquet or CSV file of your own characteristics (date, symbol, one column "
                                 "each, known at the date's close); each column joins the styles under its name; "
                                 "empty = none")
    baselines: bool = setting(True, doc="trade each style (industry excepted) as a zero-training baseline, after "
                                        "costs, beside the model")
    neutral_scores: tuple[str, ...] = setting(
        (), pattern=USER_NAME,
        doc="styles the model's scores are regressed on each day before the strategy ranks them (what is left is "
            "traded and judged); empty = the raw scores")

    def __post_init__(self) -> None:
        check_settings(self)
