"""shap-style plots, one module per plot.

Every plot takes the result first, then ``max_display``/options, ``ax=None`` and
``show=True``, returns the Axes, and leaves global pyplot state alone when ``ax`` is given.
"""

from .ale import ale, ale_bias_plot
from .blame import removal_plot, suspicious_plot
from .cohorts import ambiguity_plot, cohort_plot, error_heatmap
from .logic import formula_terms_plot, logic_cv_plot
from .neighborhood import neighborhood_plot, occurrence_plot, space_view_plot
from .rules import representatives_plot, rule_table_plot

__all__ = [
    "ale", "ale_bias_plot", "ambiguity_plot", "cohort_plot", "error_heatmap", "formula_terms_plot", "logic_cv_plot",
    "neighborhood_plot",
    "occurrence_plot", "removal_plot", "representatives_plot", "rule_table_plot", "space_view_plot", "suspicious_plot",
]
