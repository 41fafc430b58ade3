"""Flip points: the closest point on a classifier's decision boundary (Yousefzadeh & O'Leary
2020), with the result type, the scorers, the constraint set, the solvers and the tree paths.

Modules: :mod:`.finder` (the front door :class:`FlipPoints`), :mod:`.result`
(:class:`FlipResult`), :mod:`.scorers` (logits and Jacobians, :func:`mlp_to_torch`),
:mod:`.domain` (constraints, the independent verifier, the KKT residual), :mod:`.local`
(boundary projection, SLSQP), :mod:`.polish` (to KKT points), :mod:`.solvers` (the gradient
path driver) and :mod:`.trees` (exact single-tree and approximate ensemble search).
"""

from .domain import KKT_TOL
from .domain import _dist as _dist
from .domain import _Domain as _Domain
from .domain import _domain_errors as _domain_errors
from .domain import _stationarity as _stationarity
from .domain import _vector as _vector
from .domain import _verify as _verify
from .finder import _ENSEMBLES as _ENSEMBLES
from .finder import _SINGLE_TREE as _SINGLE_TREE
from .finder import FlipPoints
from .local import _SLSQP_MAXITER as _SLSQP_MAXITER
from .local import _project as _project
from .local import _slsqp as _slsqp
from .polish import _polish as _polish
from .result import STATUSES, FlipResult
from .scorers import _FDScorer as _FDScorer
from .scorers import _Scorer as _Scorer
from .scorers import _SequentialScorer as _SequentialScorer
from .scorers import _to_binary_scores as _to_binary_scores
from .scorers import mlp_to_torch
from .solvers import _bisect as _bisect
from .solvers import _candidates as _candidates
from .solvers import _multistarts as _multistarts
from .solvers import _round_integers as _round_integers
from .solvers import _search_start as _search_start
from .solvers import _solve as _solve
from .trees import _above as _above
from .trees import _below as _below
from .trees import _leaf_boxes as _leaf_boxes
from .trees import _snap as _snap
from .trees import _tree_exact as _tree_exact
from .trees import _tree_finish as _tree_finish
from .trees import _tree_search as _tree_search

__all__ = ["FlipPoints", "FlipResult", "KKT_TOL", "STATUSES", "mlp_to_torch"]
