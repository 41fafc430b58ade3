"""Contributions, the space every debugging tool here works in: :func:`explain` (a classifier's
Shapley values as a ``shap.Explanation``) and :func:`contribution_matrix` (towards each row's class).

:func:`explain` uses exact TreeSHAP / linear SHAP where they apply, otherwise the fast
model-agnostic estimator of :mod:`.estimator`; :func:`contribution_matrix` keeps, for each
row, the contributions towards the class the model predicted (Rasouli & Yu, "Explainable
Debugger for Black-box Machine Learning Models", keep ``phi[predicted class]``).
Modules: ``explainer`` (method dispatch, TreeSHAP and linear paths), ``treeshap`` (which
TreeSHAP mode explains a model), ``estimator`` (the sampling estimator), ``matrix``
(:func:`contribution_matrix`).
"""

from ..core import check_explanation
from ._explainer import explain, explain_auto
from ._matrix import (
    SINGLE_OUTPUT_OPTIONS,
    contribution_matrix,
    explanation_target,
    towards_predicted,
)
from ._treeshap import (
    ExplainPlan,
    TreeMode,
    explain_plan,
    supports_tree_explainer,
    tree_explainer_mode,
)

__all__ = ["SINGLE_OUTPUT_OPTIONS", "ExplainPlan", "TreeMode", "check_explanation",
           "contribution_matrix", "explain", "explain_auto", "explain_plan", "explanation_target",
           "supports_tree_explainer", "towards_predicted", "tree_explainer_mode"]
