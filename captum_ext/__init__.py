"""captum_ext: Captum-side debugging tools.

- Bridge: :func:`attributions_to_explanation`, :class:`SklearnForward`,
  :class:`TorchClassifier`.
- Flip points: :class:`FlipPoints`, :func:`individual_report`, :func:`group_audit`,
  :func:`feature_dependency`, :func:`augment_with_flip_points`.
- Agnostic networks: :class:`AgnosticNetwork`, :class:`GradientReversal`,
  :func:`grad_reverse`, :func:`ganin_lambda`, :func:`probe_protected`,
  :func:`attribution_shift`.
- Influence functions: :class:`InfluenceFunction`, :func:`knn_candidates`,
  :func:`loo_validation`, :func:`compare_with_neighborhood`.
"""

from shap_debug.core import lazy_getattr

# every name is imported on first use: ``import captum_ext`` loads neither torch nor shap
_LAZY = {
    "SklearnForward": "bridge", "TorchClassifier": "bridge",
    "attributions_to_explanation": "bridge",
    "FlipPoints": "flip_points", "FlipResult": "flip_points",
    "individual_report": "flip_audit", "group_audit": "flip_audit",
    "feature_dependency": "flip_audit", "augment_with_flip_points": "flip_audit",
    "sparser_change": "flip_audit", "SparserChange": "flip_audit",
    "AgnosticNetwork": "agnostic", "GradientReversal": "agnostic", "grad_reverse": "agnostic",
    "ganin_lambda": "agnostic", "probe_protected": "agnostic", "ProbeReport": "agnostic",
    "attribution_shift": "agnostic",
    "InfluenceFunction": "influence", "KMostInfluentialResults": "influence",
    "knn_candidates": "influence",
    "loo_validation": "influence", "compare_with_neighborhood": "influence",
}

__all__ = sorted(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


def __dir__():
    return __all__
