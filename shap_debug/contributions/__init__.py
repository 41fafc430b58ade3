"""Contributions, the space every tool here works in: :func:`explain` (Shapley values as a
``shap.Explanation``: TreeSHAP, linear or our sampling estimator) and :func:`contribution_matrix`."""

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
