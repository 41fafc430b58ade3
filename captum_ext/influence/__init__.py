"""Influence functions (Koh & Liang 2017): the public ``InfluenceFunction`` and its result,
the model-as-optimisation-problem front ends, and the curvature solvers behind them."""

from ._influence import CURVATURES, GRAD_RTOL, InfluenceFunction, knn_candidates
from ._loo import LOOValidation, compare_with_neighborhood, loo_validation
from ._results import KMostInfluentialResults

__all__ = [
    "CURVATURES",
    "GRAD_RTOL",
    "InfluenceFunction",
    "KMostInfluentialResults",
    "knn_candidates",
]

__all__ += ['LOOValidation', 'compare_with_neighborhood', 'loo_validation']
