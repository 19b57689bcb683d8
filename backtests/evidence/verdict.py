"""The verdict: what the evidence of a run says about skill, in plain words.

:func:`classify` decides, :func:`verdict` writes it. Both read one model's row of figures
(:mod:`backtests.evidence.outcomes` and :mod:`backtests.evidence`; NaN where undefined), so they work for any
predictions table, a run's or one given to ``python -m backtests.evaluate``. The rules:

* a prediction edge counts only when its interval (days resampled in blocks) lies above zero: the
  accuracy edge over the best constant guess, or the IC / rank IC of a cross-section;
* with the run's styles (a cross-section: :mod:`backtests.evidence.styles` and
  :mod:`backtests.evidence.attribution`), skill is what is left after them, at both ends: "skill"
  (beyond styles) needs the residual IC or rank IC of the scores above zero beyond noise AND the
  alpha after the CSI-300 and the style factors (HAC errors) above zero after costs; with the gross
  alpha after styles only, it is "skill before costs". A significant alpha over the reference
  alone that fails these is "style, not skill", naming the style factors that carried the return;
* without styles (one stock: no cross-section), out-performance counts as skill only when the
  alpha after the strategy's beta to the reference (HAC errors) has an interval above zero; gross
  alpha that costs remove is "skill before costs";
* beating the reference without significant alpha is "exposure" when the beta explains at least
  half of the excess ((beta - 1) x the reference's annual return: a beta above 1 in a rising market,
  below 1 in a falling one), and otherwise no evidence of skill (luck).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..report.formatting import fmt, pct

__all__ = ["CATEGORIES", "classify", "verdict"]

#: every verdict, from the strongest claim to none
CATEGORIES = ("skill", "skill_before_costs", "style_not_skill", "exposure", "signal_without_money", "no_evidence",
              "never_traded")
#: the least a style factor must have paid, a year, to be named as carrying a return (0.05%)
PAID = 0.0005
#: the return-side factors that are not a style of the library, in words
FACTOR_WORDS = {"equal_weight": "equal weight over the index (smaller names)"}


def _f(row: Mapping[str, Any], key: str) -> float:
    v = row.get(key)
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _above(row: Mapping[str, Any], key: str) -> bool:
    lo = _f(row, f"{key}_lo")
    return math.isfinite(lo) and lo > 0


def predictive(row: Mapping[str, Any]) -> list[str]:
    """The prediction measures whose interval lies above zero (accuracy edge, IC, rank IC, and what
    is left of them after the styles)."""
    names = {"accuracy_edge": "accuracy edge", "ic": "IC", "rank_ic": "rank IC", "residual_ic": "residual IC",
             "residual_rank_ic": "residual rank IC"}
    return [name for key, name in names.items() if _above(row, key)]


def backwards(row: Mapping[str, Any]) -> list[str]:
    """The ranking measures whose interval lies below zero (IC, rank IC): the signal ranks backwards."""
    names = {"ic": "IC", "rank_ic": "rank IC"}
    return [name for key, name in names.items() if math.isfinite(_f(row, f"{key}_hi")) and _f(row, f"{key}_hi") < 0]


def styled(row: Mapping[str, Any]) -> bool:
    """True when the row carries the style figures (a cross-section with styles)."""
    return any(math.isfinite(_f(row, k)) for k in ("residual_rank_ic", "residual_ic", "style_alpha"))


def beyond_styles(row: Mapping[str, Any]) -> bool:
    """The residual IC or rank IC (after the styles) has an interval above zero."""
    return _above(row, "residual_ic") or _above(row, "residual_rank_ic")


def style_title(name: str) -> str:
    """A style factor's name in words (``volatility`` -> ``low volatility``)."""
    from signals.styles.library import STYLES

    return FACTOR_WORDS.get(name) or (STYLES[name].title if name in STYLES else name)


def style_carriers(row: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The style factors that carried the return after costs: a loading whose interval excludes zero
    and a contribution (loading x the factor's mean return) of at least :data:`PAID` a year, largest
    first."""
    out = []
    for key in row.keys():
        if not str(key).startswith("contrib_"):
            continue
        name = str(key)[len("contrib_"):]
        c, lo, hi = _f(row, key), _f(row, f"loading_{name}_lo"), _f(row, f"loading_{name}_hi")
        if math.isfinite(c) and c >= PAID and (lo > 0 or hi < 0):
            out.append((name, c))
    return sorted(out, key=lambda x: -x[1])


def classify(row: Mapping[str, Any]) -> str:
    """One of :data:`CATEGORIES` for a traded model's row (see the module docstring)."""
    if _f(row, "trades") == 0:
        return "never_traded"
    excess, beta, ref = _f(row, "annual_excess_return"), _f(row, "beta"), _f(row, "reference_annual_return")
    if styled(row):
        if beyond_styles(row) and _above(row, "style_alpha"):
            return "skill"
        if beyond_styles(row) and _above(row, "gross_style_alpha"):
            return "skill_before_costs"
        if _above(row, "alpha") or _above(row, "gross_alpha"):
            return "style_not_skill"
    elif _above(row, "alpha"):
        return "skill"
    elif _above(row, "gross_alpha"):
        return "skill_before_costs"
    if math.isfinite(excess) and excess > 0:
        exposure = (beta - 1.0) * ref
        if math.isfinite(exposure) and exposure >= excess / 2:
            return "exposure"
    return "signal_without_money" if predictive(row) else "no_evidence"


def _ci(row: Mapping[str, Any], key: str, kind: str) -> str:
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    if not (math.isfinite(_f(row, f"{key}_lo")) and math.isfinite(_f(row, f"{key}_hi"))):
        return ""
    return f" [{fmt(lo, kind)}, {fmt(hi, kind)}]"


def verdict(model: str, row: Mapping[str, Any], windows: pd.DataFrame, *, reference: str = "the CSI-300",
            single_stock: bool = False, confidence: float = 0.95) -> str:
    """A plain-words verdict of one model's row of figures and its per-window table.

    ``row``: ``accuracy``, ``base_rate`` (always-up's accuracy), ``best_constant_accuracy``,
    ``accuracy_edge`` (+ ``_lo``/``_hi``), ``ic``, ``rank_ic`` (+ intervals), ``spread``,
    ``annual_excess_return``, ``gross_annual_excess_return``, ``alpha`` / ``gross_alpha`` (+ intervals,
    ``_t``), ``beta``, ``reference_annual_return``, ``cost_drag``, ``daily_turnover``,
    ``break_even_cost``, ``trades``; ``windows``: one row per window with ``accuracy``,
    ``best_constant_accuracy`` and ``excess_return``. ``reference``: what the strategy must beat, in
    words ("the CSI-300", "holding SH600519")."""
    level = f"{round(100 * confidence):d}%"
    acc, up, best = _f(row, "accuracy"), _f(row, "base_rate"), _f(row, "best_constant_accuracy")
    which = "always-up" if not math.isfinite(up) or up >= 0.5 else "always-down"
    parts = [
        f"{model}: accuracy {pct(acc)} vs {pct(up)} always-up ({fmt(acc - up, 'pp')}); the best constant guess "
        f"({which}) scores {pct(best)}, an edge of {fmt(row.get('accuracy_edge'), 'pp')}"
        f"{_ci(row, 'accuracy_edge', 'pp')} ({level} interval, days resampled in blocks)."]
    if not single_stock:
        parts.append(
            f"IC {fmt(row.get('ic'), 'sf3')}{_ci(row, 'ic', 'sf3')}, rank IC {fmt(row.get('rank_ic'), 'sf3')}"
            f"{_ci(row, 'rank_ic', 'sf3')}; top-minus-bottom quantile {fmt(row.get('spread'), 'bp')}"
            f"{_ci(row, 'spread', 'bp')} a period.")
        if styled(row):
            parts.append(_style_signal(row))
    cat = classify(row)
    if cat == "never_traded":
        parts.append("The strategy never traded: no prediction met its entry rule, so it sat in cash and there "
                     f"is no money to judge (holding cash is not beating {reference}).")
        return " ".join(parts)
    parts.append(
        f"Against {reference} it returned {fmt(row.get('annual_excess_return'), 'spct')} a year after costs and "
        f"{fmt(row.get('gross_annual_excess_return'), 'spct')} before; beta {fmt(row.get('beta'), 'f2')}"
        f"{_ci(row, 'beta', 'f2')}, alpha after that exposure {fmt(row.get('alpha'), 'spct')} a year"
        f"{_ci(row, 'alpha', 'spct')} (t = {fmt(row.get('alpha_t'), 'f2')}, Newey-West), before costs "
        f"{fmt(row.get('gross_alpha'), 'spct')} (t = {fmt(row.get('gross_alpha_t'), 'f2')}). Costs took "
        f"{fmt(row.get('cost_drag'), 'pct')} a year at {fmt(row.get('daily_turnover'), 'f2')} of the book traded a "
        f"day; {_break_even(row)}.")
    if math.isfinite(_f(row, "style_alpha_t")):
        parts.append(_style_money(row))
    n = len(windows)
    if n:
        beat = int((windows["accuracy"] > windows["best_constant_accuracy"]).sum())
        won = int((windows["excess_return"] > 0).sum()) if "excess_return" in windows else 0
        parts.append(f"Accuracy beat the best constant guess in {beat} of {n} windows; the strategy beat "
                     f"{reference} in {won} of {n}.")
    parts.append(_conclusion(cat, row, reference))
    return " ".join(parts)


def _style_signal(row: Mapping[str, Any]) -> str:
    """The scores after the styles: residual IC and rank IC, and what they lean on."""
    lean = sorted(((str(k)[len("exposure_"):], _f(row, k)) for k in row.keys()
                   if str(k).startswith("exposure_") and not str(k).endswith(("_lo", "_hi"))
                   and math.isfinite(_f(row, k))), key=lambda x: -abs(x[1]))[:3]
    leans = ", ".join(f"{style_title(n)} {fmt(v, 'sf2')}" for n, v in lean)
    r2 = _f(row, "score_style_r2")
    share = f"the styles explain {pct(r2)} of the scores' daily variance" if math.isfinite(r2) else ""
    lean_words = f"; the scores lean most on {leans} (rank correlation)" if leans else ""
    return (f"After each day's regression on the styles, residual IC {fmt(row.get('residual_ic'), 'sf3')}"
            f"{_ci(row, 'residual_ic', 'sf3')}, residual rank IC {fmt(row.get('residual_rank_ic'), 'sf3')}"
            f"{_ci(row, 'residual_rank_ic', 'sf3')}" + (f"; {share}" if share else "") + f"{lean_words}.")


def _style_money(row: Mapping[str, Any]) -> str:
    """The returns after the index and the style factors, and what the styles paid."""
    paid = ", ".join(f"{style_title(n)} {fmt(c, 'spct')}" for n, c in style_carriers(row)[:3])
    return (f"After the CSI-300 and the style factors the alpha is {fmt(row.get('style_alpha'), 'spct')} a year"
            f"{_ci(row, 'style_alpha', 'spct')} (t = {fmt(row.get('style_alpha_t'), 'f2')}) after costs and "
            f"{fmt(row.get('gross_style_alpha'), 'spct')} (t = {fmt(row.get('gross_style_alpha_t'), 'f2')}) before"
            + (f"; the styles that paid: {paid} a year." if paid else "; no style factor paid it significantly."))


def _break_even(row: Mapping[str, Any]) -> str:
    be = _f(row, "break_even_cost")
    if not math.isfinite(be):
        return "no break-even cost (no turnover or no gross figure)"
    if be <= 0:
        return "no cost is low enough to break even: it trails the reference before costs"
    paid = fmt(row.get("cost_per_traded"), "bp")
    return f"it breaks even at {fmt(be, 'bp')} per traded CNY and side, against {paid} paid"


def _conclusion(cat: str, row: Mapping[str, Any], reference: str) -> str:
    t, gt = fmt(row.get("alpha_t"), "f2"), fmt(row.get("gross_alpha_t"), "f2")
    found = predictive(row)
    names = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1] if found else ""
    signal = (f"the {names} {'is' if len(found) == 1 else 'are'} above zero beyond noise"
              if found else "no prediction measure is above zero beyond noise")
    if styled(row) and cat in ("skill", "skill_before_costs", "style_not_skill"):
        return _style_conclusion(cat, row, reference)
    back = backwards(row)
    if back:
        signal += (f"; the {' and the '.join(back)} {'is' if len(back) == 1 else 'are'} BELOW zero beyond noise: the "
                   "signal ranks the stocks backwards (a higher score went with a lower return), and reversing it "
                   "after seeing this is not skill")
    if cat == "skill":
        return (f"Skill: the alpha after the exposure to {reference} is significant (t = {t}) and survives costs; "
                f"{signal}.")
    if cat == "skill_before_costs":
        return (f"Skill before costs that costs remove: the gross alpha is significant (t = {gt}), the alpha after "
                f"costs is not (t = {t}); {signal}.")
    if cat == "exposure":
        market = "rising" if _f(row, "reference_annual_return") > 0 else "falling"
        return (f"Exposure, not skill: it beat {reference}, but with a beta of {fmt(row.get('beta'), 'f2')} in a "
                f"{market} market; the alpha after that exposure {_alpha_words(row, '', t)}.")
    hi, ghi = _f(row, "alpha_hi"), _f(row, "gross_alpha_hi")
    if math.isfinite(hi) and hi < 0:
        after = (f"it is significantly negative (t = {t}), as before costs" if math.isfinite(ghi) and ghi < 0
                 else f"it is significantly negative (t = {t}): costs turn it into a loss")
    else:
        after = f"it is not significant either (t = {t})"
    luck = (f" It beat {reference}, but neither its beta nor a significant alpha explains that: treat it as luck."
            if _f(row, "annual_excess_return") > 0 else "")
    if cat == "signal_without_money":
        return (f"Some information without money: {signal}, but it did not turn into significant alpha before "
                f"costs (t = {gt}); after costs {after}.{luck}")
    return (f"No evidence of skill: {signal}, and the alpha after the exposure to {reference} "
            f"{_alpha_words(row, 'gross_', gt, ' before costs')}; after costs {after}.{luck}")


def _style_conclusion(cat: str, row: Mapping[str, Any], reference: str) -> str:
    st, gst = fmt(row.get("style_alpha_t"), "f2"), fmt(row.get("gross_style_alpha_t"), "f2")
    resid = (f"residual rank IC {fmt(row.get('residual_rank_ic'), 'sf3')}{_ci(row, 'residual_rank_ic', 'sf3')}, "
             f"residual IC {fmt(row.get('residual_ic'), 'sf3')}{_ci(row, 'residual_ic', 'sf3')}")
    if cat == "skill":
        return (f"Skill beyond styles: what is left of the scores after the styles still predicts ({resid}), and the "
                f"alpha after {reference} and the style factors is significant (t = {st}) and survives costs.")
    if cat == "skill_before_costs":
        return (f"Skill beyond styles before costs that costs remove: what is left after the styles still predicts "
                f"({resid}) and the gross alpha after {reference} and the style factors is significant (t = {gst}), "
                f"the alpha after costs is not (t = {st}).")
    which = "after costs" if _above(row, "alpha") else "before costs"
    t = fmt(row.get("alpha_t" if which == "after costs" else "gross_alpha_t"), "f2")
    carried = style_carriers(row)
    by = (" The return was carried by " + ", ".join(f"{style_title(n)} ({fmt(c, 'spct')} a year)" for n, c in carried)
          + ", which anyone can hold without a model." if carried else "")
    after = ("is not significant" if not (_above(row, "style_alpha") or _above(row, "gross_style_alpha"))
             else "is still significant")
    if beyond_styles(row):
        left = f"Some information is left after the styles ({resid}), but too little to earn a significant alpha."
    elif after == "is still significant":
        left = (f"But the scores hold nothing beyond the styles ({resid}): the alpha comes from how the styles were "
                "held, not from knowing the stocks.")
    else:
        left = f"The scores hold nothing beyond the styles ({resid})."
    return (f"Style, not skill: the alpha over {reference} alone is significant {which} (t = {t}), but after the "
            f"style factors it {after} (t = {st} after costs, {gst} before).{by} {left}")


def _alpha_words(row: Mapping[str, Any], prefix: str, t: str, when: str = "") -> str:
    """'is not significant<when> (t = ..)', or significantly negative / positive, from the interval."""
    lo, hi = _f(row, f"{prefix}alpha_lo"), _f(row, f"{prefix}alpha_hi")
    if math.isfinite(hi) and hi < 0:
        return f"is significantly negative{when} (t = {t})"
    if math.isfinite(lo) and lo > 0:
        return f"is significantly positive{when} (t = {t})"
    return f"is not significant{when} (t = {t})"
