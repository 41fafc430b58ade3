"""shap-style plots for the Captum side, one module per result family.

Every plot takes the result first, then options, ``ax=None`` and ``show=True``, returns the
Axes, and leaves global pyplot state alone when ``ax`` is given.
"""

from ._agnostic import attribution_shift_plot, probe_plot
from ._flip import (
    augmentation_plot,
    dependency_plot,
    flip_result_plot,
    group_audit_plot,
    individual_report_plot,
)
from ._influence import influence_plot, loo_plot, neighborhood_comparison_plot

__all__ = [
    "attribution_shift_plot", "augmentation_plot", "dependency_plot", "flip_result_plot",
    "group_audit_plot", "individual_report_plot", "influence_plot", "loo_plot",
    "neighborhood_comparison_plot", "probe_plot",
]
