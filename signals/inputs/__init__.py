"""What a model reads and learns from, all causal: features, factors, labels, scaling, prepared arrays.

- :mod:`~signals.inputs.features`: lookback windows of per-day channels (:class:`FeatureConfig`);
- :mod:`~signals.inputs.factors`: the factor library (qlib Alpha158-like, computed from the panels);
- :mod:`~signals.inputs.labels`: the ONE labelling function (:class:`LabelConfig`, :func:`make_labels`);
- :mod:`~signals.inputs.scaling`: per-feature scaling fitted on a window's training rows only;
- :mod:`~signals.inputs.prepared`: the arrays every window of a run reads.
"""
