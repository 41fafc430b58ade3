"""Flip points: the closest point on a classifier's decision boundary (Yousefzadeh & O'Leary
2020), with the result type, the scorers, the constraint set, the solvers and the tree paths.

Modules: :mod:`.finder` (the front door :class:`FlipPoints`), :mod:`.result`
(:class:`FlipResult`), :mod:`.scorers` (logits and Jacobians, :func:`mlp_to_torch`),
:mod:`.domain` (constraints, the independent verifier, the KKT residual), :mod:`.local`
(boundary projection, SLSQP), :mod:`.polish` (to KKT points), :mod:`.solvers` (the gradient
path driver) and :mod:`.trees` (exact single-tree and approximate ensemble search).
"""

from ._domain import KKT_TOL
from ._domain import _dist as _dist
from ._domain import _Domain as _Domain
from ._domain import _domain_errors as _domain_errors
from ._domain import _stationarity as _stationarity
from ._domain import _vector as _vector
from ._domain import _verify as _verify
from ._finder import _ENSEMBLES as _ENSEMBLES
from ._finder import _SINGLE_TREE as _SINGLE_TREE
from ._finder import FlipPoints
from ._local import _SLSQP_MAXITER as _SLSQP_MAXITER
from ._local import _project as _project
from ._local import _slsqp as _slsqp
from ._polish import _polish as _polish
from ._result import STATUSES, FlipResult
from ._scorers import _FDScorer as _FDScorer
from ._scorers import _Scorer as _Scorer
from ._scorers import _SequentialScorer as _SequentialScorer
from ._scorers import _to_binary_scores as _to_binary_scores
from ._scorers import mlp_to_torch
from ._solvers import _bisect as _bisect
from ._solvers import _candidates as _candidates
from ._solvers import _multistarts as _multistarts
from ._solvers import _round_integers as _round_integers
from ._solvers import _search_start as _search_start
from ._solvers import _solve as _solve
from ._trees import _above as _above
from ._trees import _below as _below
from ._trees import _leaf_boxes as _leaf_boxes
from ._trees import _snap as _snap
from ._trees import _tree_exact as _tree_exact
from ._trees import _tree_finish as _tree_finish
from ._trees import _tree_search as _tree_search

__all__ = ["FlipPoints", "FlipResult", "KKT_TOL", "STATUSES", "mlp_to_torch"]
