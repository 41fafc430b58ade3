"""shap-style plots, one module per plot.

Every plot takes the result first, then ``max_display``/options, ``ax=None`` and
``show=True``, returns the Axes, and leaves global pyplot state alone when ``ax`` is given.
"""

from ._ale import ale, ale_bias_plot, category_width
from ._blame import removal_plot, suspicious_plot
from ._cohorts import ambiguity_plot, cohort_plot, error_heatmap
from ._evidence import dose_response_plot, recurring_rows_plot
from ._fixes import fixes_plot
from ._logic import formula_terms_plot, logic_cv_plot
from ._neighborhood import neighborhood_plot, occurrence_plot, space_view_plot
from ._rules import representatives_plot, rule_table_plot

__all__ = [
    "ale", "ale_bias_plot", "ambiguity_plot", "cohort_plot", "dose_response_plot", "error_heatmap", "fixes_plot", "formula_terms_plot", "logic_cv_plot",
    "neighborhood_plot",
    "occurrence_plot", "recurring_rows_plot", "removal_plot", "representatives_plot", "rule_table_plot", "space_view_plot", "suspicious_plot",
]

__all__ += ['category_width']
