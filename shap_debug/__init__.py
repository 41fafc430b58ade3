"""shap-debug: debugging black-box classifiers with SHAP contributions.

The public API, one hop from here (names load lazily, so ``import shap_debug`` stays fast):

- Contributions: :func:`explain`, :func:`contribution_matrix`.
- Influential neighbourhoods: :class:`NeighborhoodModel`, :func:`label_flip_check`,
  :func:`label_flip_summary`, :func:`space_view`.
- Quasi-global explanation: :func:`select_representatives`, :class:`RuleExplainer`,
  :func:`rule_table`, :func:`diversity_metrics`.
- ALE over a neighbourhood: :func:`neighborhood_ale`, :func:`ale_bias`.
- Where and why the model fails: :func:`error_cohorts`, :func:`ambiguity_report`,
  :func:`systematic_errors`, :func:`suspicious_rows`, :func:`integrity_flags`,
  :func:`collapsed_occurrence`, :func:`removal_curve`, :func:`blame_stability`,
  :func:`summary_flags`.
- Logic explanations: :func:`to_concepts`, :func:`explain_formula`, :class:`Formula`,
  :func:`logic_cross_validation`, :func:`anomaly_formula`, :func:`neighborhood_formula`.
- Fixes verified on held-out data: :func:`verify_fixes`, :func:`diagnose`; evidence that
  discriminates: :func:`dose_response`, :func:`recurring_rows`.
- The facade: :class:`Debugger` (``inspect``, ``report``); the ``shap-debug`` command.
- :mod:`shap_debug.datasets` (Adult, German credit, COMPAS, offline) and
  :mod:`shap_debug.plots` (shap-style plots).
"""

from . import datasets as datasets
from .core.lazy import lazy_getattr
from .core.validation import ShapDebugWarning as ShapDebugWarning

_LAZY = {
    "explain": "contributions", "contribution_matrix": "contributions",
    "NeighborhoodModel": "neighborhood", "Neighborhood": "neighborhood",
    "Occurrence": "neighborhood", "space_view": "neighborhood",
    "label_flip_check": "label_flip", "label_flip_summary": "label_flip",
    "select_representatives": "representatives", "Representatives": "representatives",
    "RuleExplainer": "rules", "Rule": "rules", "RuleTable": "rules", "rule_table": "rules",
    "diversity_metrics": "rules",
    "neighborhood_ale": "ale", "ale_bias": "ale", "ALEResult": "ale",
    "error_cohorts": "cohorts", "ambiguity_report": "cohorts", "systematic_errors": "cohorts",
    "ErrorCohorts": "cohorts",
    "suspicious_rows": "suspicious", "SuspiciousRows": "suspicious",
    "integrity_flags": "integrity", "collapsed_occurrence": "integrity",
    "removal_curve": "blame", "blame_stability": "blame", "summary_flags": "blame",
    "to_concepts": "concepts", "explain_formula": "logic", "Formula": "logic",
    "logic_cross_validation": "logic", "anomaly_formula": "logic",
    "neighborhood_formula": "logic",
    "Debugger": "debugger", "Inspection": "debugger", "Overview": "evidence",
    "Evidence": "evidence",
    "verify_fixes": "fixes", "diagnose": "fixes", "FixReport": "fixes", "Diagnosis": "fixes",
    "dose_response": "dose_response", "DoseResponse": "dose_response",
    "recurring_rows": "recurrence", "RecurringRows": "recurrence",
}

__all__ = sorted(["ShapDebugWarning", "core", "datasets", "plots", *_LAZY])
__version__ = "0.1.0"


__getattr__ = lazy_getattr(__name__, _LAZY, globals(), modules=("plots", "core"))


def __dir__():
    return __all__
