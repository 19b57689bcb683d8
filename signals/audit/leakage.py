"""Leakage audit: the future must not move anything of the past.

For each cut date T, every bar after T is CHANGED (each field by its own random factor, so an
intraday ratio such as tomorrow's close/open or high/close changes too; some days made untradable)
and, separately, REMOVED. What the pipeline computes for days <= T must come out the same:

* **channels**: every feature channel of every day <= T, compared channel by channel, so a leak is
  named by its channel (a centred window, tomorrow's high); cheap, so it runs at cuts spread over
  every window (training and validation spans) and over the WHOLE test span: its first day, at
  most ``probe_days`` trading days apart, and its last days (the latest cut is the day before the
  data's last day), so a leak that starts late in the test span is seen too;
* **labels**: every label whose declared end (:attr:`Labels.end_offset`) is <= T; a label that reads
  further than it declares is caught here, and how far it really reads is measured from the data;
* **fitted labels** (structural, per window): no sample used in fitting (training or early
  stopping) may have a label that ends, by the measured reach, after the window's first test day;
  this makes the catch of a too-short embargo certain (a changed label only sometimes changes a
  fitted weight by enough to see);
* **extra features read their input** (structural): a user feature whose values do not move when
  the bars it is given change was computed elsewhere, out of the audit's sight;
* **styles** and **neutralisation** (when styles are given: :mod:`signals.audit.styles`): every
  style of every day <= T, named when it moves, and the residual of a fixed score table after each
  day's regression on the styles;
* **predictions**: the whole walk-forward (features, labels, scaler, training, prediction) is rerun
  on the changed and on the truncated data, and every prediction for a date <= T of EVERY model
  (the estimator and each baseline) must be unchanged. By default there is one such cut in the test
  span of every window (its middle day), and each reruns that window; a cut given explicitly reruns
  every window tested on or before it. A leak seen only here (features and labels passed) sits in
  what is fitted or computed after the features: preprocessing fitted on test rows, a
  normalisation over a batch or a span that holds later days, or model-side fitting (early
  stopping, calibration) on test rows. It is caught when it moves a prediction dated before the
  cut, which a model-side leak does only when the changed future changes what was fitted.

What no perturbation audit can see: anything fixed before the data reach the pipeline. A
statistic computed from the full history outside it (a mean or scaler baked into a constant, a
universe picked with hindsight, hyperparameters tuned on the test results) does not change when
the audit changes the future, so it passes. The structural check on extra features catches a
feature that ignores its input; constants inside a feature that does read its input stay invisible.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_store.market import MarketData

from ..errors import ConfigError
from ..execution.runtime import pin_threads
from ..inputs.features import FeatureConfig
from ..inputs.labels import LabelConfig
from ..inputs.prepared import Prepared, prepare
from ..split import WalkForwardSplit, Window
from ..walk_forward import run_walk_forward
from .checks import compare_channels, compare_labels, compare_predictions, extra_reads_input, perturb_after
from .styles import StyleAudit, compare_neutralisation, compare_styles

__all__ = ["AuditReport", "leakage_audit", "perturb_after"]

log = logging.getLogger(__name__)

CHECKS = ("channels", "labels", "fitted labels", "extra features read their input", "styles", "neutralisation",
          "predictions")


@dataclass
class AuditReport:
    """Verdict of :func:`leakage_audit`: ``passed``, one row of ``details`` per (cut, check,
    variant), ``leaking_channels`` (the feature channels that read the future), ``unchecked_features``
    (user features that ignore the bars they are given, so the audit cannot see what they read),
    ``label_reach`` (how many days after its decision day a label reads, measured), ``models`` (the
    models whose predictions were rerun: the estimator and every baseline), ``covered`` (the first
    and last cut date of the feature and label checks: every day up to the last one was checked),
    ``leaking_styles`` (the styles that read the future), and a one-paragraph ``message`` that says
    all of it."""

    passed: bool
    details: pd.DataFrame = field(default_factory=pd.DataFrame)
    message: str = ""
    leaking_channels: list[str] = field(default_factory=list)
    unchecked_features: list[str] = field(default_factory=list)
    label_reach: int = 0
    models: list[str] = field(default_factory=list)
    covered: tuple[pd.Timestamp, pd.Timestamp] | None = None
    leaking_styles: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


def _mid(cal: pd.DatetimeIndex, a: int, b: int) -> pd.Timestamp:
    """The trading day in the middle of calendar positions a..b."""
    return pd.Timestamp(cal[(a + b) // 2])


def _probe_cuts(cal: pd.DatetimeIndex, windows: list[Window], cuts: list[pd.Timestamp],
                every: int) -> list[pd.Timestamp]:
    """Where the cheap checks look: in every window's training and validation span; over its whole
    test span (the first day, then at most ``every`` trading days apart, and the last two days, so
    the latest cut is the day before the data's last day when the test span reaches it); and at
    every prediction cut."""
    out = set(cuts)
    last = len(cal) - 2  # the latest day with a day after it to change
    for w in windows:
        r0, r1, v0, _, t0, t1 = w.pos
        out |= {_mid(cal, r0, r1), cal[v0]}
        out |= {cal[min(p, last)] for p in [*range(t0, t1 + 1, max(1, every)), t1 - 1, t1] if p >= t0}
    return sorted(c for c in out if c < cal[-1])


def leakage_audit(md: MarketData, features: FeatureConfig | None = None, labels: LabelConfig | None = None,
                  splitter: WalkForwardSplit | None = None, estimator: Any = None,
                  baselines: Sequence[str] = ("logistic",), cut_dates: Sequence[Any] | None = None,
                  max_windows: int | None = None, symbols: Sequence[str] | None = None, atol: float = 1e-6,
                  seed: int = 0, progress: bool = False, probe_days: int = 20,
                  model_name: str | None = None, styles: Sequence[str] = (),
                  style_functions: Mapping[str, Callable[[MarketData], np.ndarray]] | None = None,
                  predictions: bool = True) -> AuditReport:
    """Prove (or disprove) that what the pipeline computes for dates <= T depends on data up to T only.

    Run it on a small universe (it retrains): e.g. ``md.slice(symbols=[...20 names])``.

    Args:
        md: the market data under audit (a small universe: the audit retrains).
        features: the inputs under audit, as given to :func:`run_walk_forward`.
        labels: the target under audit.
        splitter: the windows under audit.
        estimator: the model under audit.
        baselines: the baselines under audit; every model's predictions are compared, the
            baselines' too (pass the run's baselines: a leak in a baseline's own input passes
            unseen otherwise).
        model_name: the ``model`` value of the estimator's rows, as given to :func:`run_walk_forward`.
        cut_dates: the dates T of the prediction reruns (each reruns every window tested on or before
            it); default: the middle day of every audited window's test span, each rerunning its window.
        max_windows: audit only the first windows (default: all).
        symbols: restrict ``md`` to these symbols first.
        atol: largest |p_up difference| still counted as unchanged. Training is deterministic, but
            a shorter test set changes the batch shapes of prediction and with them the last float32
            bit (differences ~6e-8 are seen); leaks move p_up by orders of magnitude more.
        seed: seed of the scrambled data.
        probe_days: the feature and label checks look at least this often (trading days) over
            the test span, up to the day before the data's last day.
        styles: the library styles under audit (names, or ``auto``): each is checked at every cut,
            and so is the neutralisation on them. The styles of a style-neutral target
            (``labels.neutral``) are checked whether listed or not.
        style_functions: styles of your own, name -> f(MarketData) -> calendar x symbols array,
            checked like the library's.
        predictions: rerun the walk-forward (the expensive check); False runs the cheap checks only.

    Returns:
        :class:`AuditReport`: ``passed``, ``details`` (cut, check, variant, windows, rows compared and
        changed, max |difference|, channels, an example), the leaking channels and a ``message``.
    """
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    splitter = splitter or WalkForwardSplit()
    if symbols is not None:
        md = md.slice(symbols=list(symbols))
    from ..models.sequence import LSTMClassifier

    all_windows = list(splitter.split(md.calendar, labels))
    windows = all_windows[: max(1, int(max_windows))] if max_windows else all_windows
    last = md.calendar[-1]
    explicit = cut_dates is not None
    cuts = sorted({pd.Timestamp(c) for c in cut_dates} if cut_dates is not None else
                  {_mid(md.calendar, w.pos[4], w.pos[5]) for w in windows})
    early = [c for c in cuts if c < windows[0].test_start]
    if early:
        raise ConfigError(f"cut date(s) {[str(c.date()) for c in early]} lie before the first test day "
                          f"{windows[0].test_start.date()}: no prediction to check; choose later cut dates")
    late = [c for c in cuts if c >= last]
    if late:
        raise ConfigError(f"cut date(s) {[str(c.date()) for c in late]} are not before the last data day "
                          f"{last.date()}: nothing after them to change")

    def rerun(cut: pd.Timestamp) -> list[int]:
        if explicit:
            return [w.index for w in all_windows if w.test_start <= cut]
        return [w.index for w in windows if w.test_start <= cut <= w.test_end]

    estimator = pin_threads(estimator if estimator is not None else LSTMClassifier())
    common = dict(features=features, labels=labels, splitter=splitter, estimator=estimator, baselines=baselines,
                  progress=progress, model_name=model_name)
    ref_prep = prepare(md, features, labels)
    variants: dict[tuple[pd.Timestamp, str], tuple[MarketData, Prepared]] = {}

    def variant(cut: pd.Timestamp, kind: str) -> tuple[MarketData, Prepared]:
        if (cut, kind) not in variants:
            data = perturb_after(md, cut, seed + cut.toordinal()) if kind == "changed" else md.slice(end=cut)
            variants[(cut, kind)] = (data, prepare(data, features, labels))
        return variants[(cut, kind)]

    rows: list[dict[str, Any]] = []
    style_names = list(dict.fromkeys([*styles, *labels.neutral]))
    saudit = StyleAudit(md, style_names, style_functions, seed) if (style_names or style_functions) else None
    reach = labels_declared = ref_prep.labels.end_offset
    extra_moved = {name: False for name, _ in features.extra}
    probes = _probe_cuts(md.calendar, windows, cuts, probe_days)
    for cut in probes:
        for kind in ("changed", "removed"):
            data, prep = variant(cut, kind)
            ch = compare_channels(ref_prep, prep, cut)
            rows.append({"cut": cut, "check": "channels", "variant": kind, **ch, "passed": ch["changed"] == 0})
            lab = compare_labels(ref_prep, prep, cut)
            reach = max(reach, lab.pop("reads_days_ahead"))
            rows.append({"cut": cut, "check": "labels", "variant": kind, **lab, "passed": lab["changed"] == 0})
            if kind == "changed":
                for name, moved in extra_reads_input(ref_prep, prep, cut).items():
                    extra_moved[name] |= moved
            if saudit is not None and saudit.active:
                new_panel = saudit.panel(data)
                st = compare_styles(saudit.ref, new_panel, cut)
                rows.append({"cut": cut, "check": "styles", "variant": kind, **st, "passed": st["changed"] == 0})
                nt = compare_neutralisation(saudit, new_panel, cut)
                rows.append({"cut": cut, "check": "neutralisation", "variant": kind, **nt,
                             "passed": nt["changed"] == 0})
        if cut not in cuts:  # kept only for the cuts the predictions are rerun at
            variants.pop((cut, "changed"), None)
            variants.pop((cut, "removed"), None)
    for name, moved in extra_moved.items():
        rows.append({"cut": pd.NaT, "check": "extra features read their input", "variant": "", "compared": 1,
                     "changed": int(not moved), "channels": "" if moved else name, "passed": moved,
                     "example": "" if moved else f"feature {name!r} did not change when the bars it is given changed: "
                     "it is computed outside the pipeline (the audit cannot see what it reads)"})
    label_known = ref_prep.fit_known()
    for w in windows:  # structural: with the measured reach, every fitted label ends by the first test day
        r = splitter.rows(w, ref_prep.eligible, label_known)
        last_fit = int(max(r.train[0].max(initial=-1), r.val[0].max(initial=-1)))
        ends = last_fit + reach
        end_day = ref_prep.calendar[min(ends, len(ref_prep.calendar) - 1)]
        ok = last_fit < 0 or ends <= w.pos[4]
        rows.append({"cut": w.test_start, "check": "fitted labels", "variant": "", "windows": 1, "compared": 1,
                     "changed": int(not ok), "passed": ok, "example": "" if ok else
                     f"window {w.index} fits a label ending {end_day.date()} (its last fitted day "
                     f"{ref_prep.calendar[last_fit].date()} + {reach} days), after its first test day "
                     f"{w.test_start.date()}"})
    needed = sorted({i for c in cuts for i in rerun(c)}) if predictions else []
    ref = run_walk_forward(md, **common, prepared=ref_prep, only_windows=needed) if needed else None
    for cut in cuts:
        if ref is None:
            break
        wins = rerun(cut)
        for kind in ("changed", "removed"):
            data, prep = variant(cut, kind)
            new = run_walk_forward(data, **common, prepared=prep, only_windows=wins)
            mine = ref.predictions[ref.predictions["window"].isin(wins)]
            cmp = compare_predictions(mine, new.predictions, cut, atol)
            ok = cmp["changed"] == 0 and cmp["rows_missing_or_extra"] == 0 and cmp["compared"] > 0
            rows.append({"cut": cut, "check": "predictions", "variant": kind, "windows": len(wins), **cmp,
                         "passed": ok})
            log.info("audit cut %s, bars after it %s: %d predictions compared, %d changed", cut.date(), kind,
                     cmp["compared"], cmp["changed"])
    details = pd.DataFrame(rows)
    for col in ("windows", "rows_missing_or_extra"):
        details[col] = details.get(col, pd.Series(0, index=details.index)).fillna(0).astype(int)
    details["channels"] = details.get("channels", pd.Series("", index=details.index)).fillna("")
    bad = details[~details["passed"]]
    leaking = sorted({c.strip() for v in bad.loc[bad["check"] == "channels", "channels"] for c in str(v).split(",")
                      if c.strip()})
    leaking_styles = sorted({c.strip() for v in bad.loc[bad["check"] == "styles", "channels"]
                             for c in str(v).split(",") if c.strip()})
    unchecked = [name for name, moved in extra_moved.items() if not moved]
    models = [str(m) for m in pd.unique(ref.predictions["model"])] if ref is not None else []
    covered = (probes[0], probes[-1]) if probes else None
    test_span = (windows[0].test_start, windows[-1].test_end)
    return AuditReport(passed=bool(details["passed"].all()), details=details, leaking_channels=leaking,
                       unchecked_features=unchecked, label_reach=reach, models=models, covered=covered,
                       leaking_styles=leaking_styles,
                       message=_message(details, cuts, leaking, reach, labels_declared, models, covered, test_span,
                                        leaking_styles))


def _coverage_words(details: pd.DataFrame, covered: tuple[pd.Timestamp, pd.Timestamp] | None,
                    test_span: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    probes = int(details.loc[details["check"] == "channels", "cut"].nunique())
    if covered is None:
        return "no cut date"
    return (f"{probes} cut dates from {covered[0].date()} to {covered[1].date()} (every window's spans; the test "
            f"span {test_span[0].date()}..{test_span[1].date()} to its end)")


def _message(details: pd.DataFrame, cuts: list[pd.Timestamp], leaking: list[str], reach: int, declared: int,
             models: list[str], covered: tuple[pd.Timestamp, pd.Timestamp] | None,
             test_span: tuple[pd.Timestamp, pd.Timestamp], leaking_styles: list[str] | None = None) -> str:
    preds = details[details["check"] == "predictions"]
    cut_txt = ", ".join(str(c.date()) for c in cuts)
    where = _coverage_words(details, covered, test_span)
    if details["passed"].all():
        styles = details[details["check"] == "styles"]
        style_txt = (f", every style ({int(styles['compared'].sum())} values compared) and the style-neutral scores"
                     if len(styles) else "")
        rerun = (f"; and rerunning the walk-forward at {cut_txt} left all {int(preds['compared'].sum())} compared "
                 f"predictions of {', '.join(models)} unchanged "
                 f"(max |diff| {np.nanmax(preds['max_abs_diff'].to_numpy(float)):.2g})"
                 if len(preds) else " (the walk-forward was not rerun)")
        return (f"no look-ahead found: at {where}, changing or removing the bars after the cut left every feature "
                f"channel{style_txt} and every label of the days before it unchanged (labels read {reach} days "
                f"ahead, as declared); every fitted label ended by its window's first test day{rerun}")
    parts = []
    if leaking:
        parts.append(f"feature channel(s) {', '.join(leaking)} read data after their day")
    if leaking_styles:
        parts.append(f"style(s) {', '.join(leaking_styles)} read data after their day")
    if reach > declared:
        parts.append(f"labels read {reach} days after their decision day but declare {declared}")
    bad = details[~details["passed"]]
    for check in CHECKS:
        sub = bad[bad["check"] == check]
        if sub.empty:
            continue
        r = sub.iloc[0]
        at = f" at cut {pd.Timestamp(r['cut']).date()} (bars after it {r['variant']})" if r["variant"] else ""
        what = (f"{int(sub['changed'].sum())} of {int(sub['compared'].sum())} predictions changed"
                if check == "predictions" else f"failed {len(sub)} time(s)")
        parts.append(f"[{check}] {what}{at}" + (f", e.g. {r['example']}" if r.get("example") else ""))
    if set(bad["check"]) == {"predictions"}:
        hint = ("Every feature channel, label and fitted label passed, so the leak is in what is fitted or computed "
                "after the features: preprocessing fitted on test rows (a scaler, an imputer), a normalisation over "
                "a batch or a span that holds later days (batch normalisation, a statistic of the test set), or "
                "model-side fitting on test rows (early stopping, calibration, a threshold chosen on them); the "
                "changed predictions name the model.")
    else:
        hint = ("Check custom features and styles for centred/forward windows, the labels, and the embargo "
                "(>= horizon + 1).")
    rerun = f"predictions of {', '.join(models)} rerun at {cut_txt}" if models else "the walk-forward was not rerun"
    return ("LOOK-AHEAD: results depend on data after their date; " + "; ".join(parts)
            + f". Checked at {where}; {rerun}. " + hint)
