"""Influential neighbourhoods of anomalies in contribution space (Rasouli & Yu 2021): the
:class:`NeighborhoodModel`, its :class:`Neighborhood` / :class:`Occurrence` results and :func:`space_view`.

Modules: ``model`` (the kNN model over contribution, feature or probability space),
``results`` (:class:`Neighborhood`, :class:`Occurrence`), ``space_view`` (:class:`SpaceView`).
"""

from ._dask import DaskNeighborhoodModel, read_rows
from ._model import SPACES, NeighborhoodModel, check_spaces
from ._query import index_positions
from ._results import Neighborhood, Occurrence
from ._space_view import SpaceView, space_view

__all__ = [
    "NeighborhoodModel",
    "Neighborhood",
    "Occurrence",
    "SpaceView",
    "space_view",
    "SPACES",
    "check_spaces",
]

__all__ += ['DaskNeighborhoodModel', 'index_positions', 'read_rows']
