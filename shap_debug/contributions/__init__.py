"""Contributions, the space every debugging tool here works in: :func:`explain` (a classifier's
Shapley values as a ``shap.Explanation``) and :func:`contribution_matrix` (towards each row's class).

:func:`explain` uses exact TreeSHAP / linear SHAP where they apply, otherwise the fast
model-agnostic estimator of :mod:`.estimator`; :func:`contribution_matrix` keeps, for each
row, the contributions towards the class the model predicted (Rasouli & Yu, "Explainable
Debugger for Black-box Machine Learning Models", keep ``phi[predicted class]``).
Modules: ``explainer`` (method dispatch, TreeSHAP and linear paths), ``estimator`` (the
sampling estimator), ``matrix`` (:func:`contribution_matrix`), ``codec`` (mixed-type frames).
"""

from ..core import check_explanation
from ._codec import _Codec as _Codec
from ._estimator import _PACKED_BITS as _PACKED_BITS
from ._estimator import _sampling_values as _sampling_values
from ._explainer import explain, explain_auto
from ._matrix import SINGLE_OUTPUT_OPTIONS, contribution_matrix, explanation_target

__all__ = ["SINGLE_OUTPUT_OPTIONS", "explain", "explain_auto", "contribution_matrix", "explanation_target", "check_explanation"]
