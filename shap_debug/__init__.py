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
- One global configuration: :func:`set_config` (``progress``, ``n_jobs``),
  :func:`get_config`, :func:`config_context`.
- :mod:`shap_debug.datasets` (Adult, German credit, COMPAS, offline) and
  :mod:`shap_debug.plots` (shap-style plots).
"""

from . import datasets as datasets
from .core import ShapDebugWarning as ShapDebugWarning
from .core import config_context as config_context
from .core import get_config as get_config
from .core import lazy_getattr
from .core import set_config as set_config

_LAZY = {
    "explain": "contributions", "contribution_matrix": "contributions",
    "NeighborhoodModel": "neighborhood", "Neighborhood": "neighborhood",
    "Occurrence": "neighborhood", "space_view": "neighborhood",
    "label_flip_check": "blame", "label_flip_summary": "blame",
    "select_representatives": "explanations", "Representatives": "explanations",
    "RuleExplainer": "explanations", "Rule": "explanations", "RuleTable": "explanations", "rule_table": "explanations",
    "diversity_metrics": "explanations",
    "neighborhood_ale": "explanations", "ale_bias": "explanations", "ALEResult": "explanations",
    "error_cohorts": "audit", "ambiguity_report": "audit", "systematic_errors": "audit",
    "ErrorCohorts": "audit",
    "suspicious_rows": "audit", "SuspiciousRows": "audit",
    "integrity_flags": "audit", "collapsed_occurrence": "audit",
    "removal_curve": "blame", "blame_stability": "blame", "summary_flags": "blame",
    "to_concepts": "explanations", "explain_formula": "explanations", "Formula": "explanations",
    "logic_cross_validation": "explanations", "anomaly_formula": "explanations",
    "neighborhood_formula": "explanations",
    "Debugger": "debugger", "Inspection": "debugger", "Overview": "debugger",
    "Evidence": "debugger",
    "verify_fixes": "fixes", "diagnose": "fixes", "FixReport": "fixes", "Diagnosis": "fixes",
    "dose_response": "blame", "DoseResponse": "blame",
    "recurring_rows": "blame", "RecurringRows": "blame",
}

__all__ = sorted(["ShapDebugWarning", "config_context", "core", "datasets", "get_config",
                  "plots", "set_config", *_LAZY])
__version__ = "0.2.0.dev0"  # the one version source: pyproject reads it (setuptools dynamic)


__getattr__ = lazy_getattr(__name__, _LAZY, globals(), modules=("plots", "core"))


def __dir__():
    return __all__
