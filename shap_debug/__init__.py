"""shap-debug: debugging black-box models with SHAP contributions.

Public API (one hop from here):

- :func:`explain`, :func:`contribution_matrix` — contributions as a ``shap.Explanation``.
- :mod:`shap_debug.datasets` — bundled Adult, German credit and COMPAS, offline.
- :class:`ShapDebugWarning` — degenerate but valid input.
"""

from . import datasets
from ._validation import ShapDebugWarning
from .contributions import contribution_matrix, explain

__all__ = ["ShapDebugWarning", "contribution_matrix", "datasets", "explain"]
__version__ = "0.1.0"
