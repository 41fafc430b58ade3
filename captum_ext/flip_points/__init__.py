"""Flip points: the closest point on a classifier's decision boundary (Yousefzadeh & O'Leary
2020): :class:`FlipPoints` (the front door, also a Captum ``Attribution``), :class:`FlipResult`.

Private modules: ``_finder`` (the front door), ``_result``, ``_scorers`` (logits and
Jacobians, :func:`mlp_to_torch`), ``_domain`` (constraints, the verifier, the KKT residual),
``_local`` (boundary projection, SLSQP), ``_polish`` (to KKT points, local descent),
``_solvers`` (the gradient path driver) and ``_trees`` (single-tree and ensemble search).
"""

from ._domain import KKT_TOL
from ._finder import FlipPoints
from ._result import STATUSES, FlipResult
from ._scorers import mlp_to_torch

__all__ = ["FlipPoints", "FlipResult", "KKT_TOL", "STATUSES", "mlp_to_torch"]
