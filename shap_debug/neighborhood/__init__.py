"""Influential neighbourhoods of anomalies in contribution space (Rasouli & Yu 2021): the
:class:`NeighborhoodModel`, its :class:`Neighborhood` / :class:`Occurrence` results and :func:`space_view`.

Modules: ``model`` (the kNN model over contribution, feature or probability space),
``results`` (:class:`Neighborhood`, :class:`Occurrence`), ``space_view`` (:class:`SpaceView`).
"""

from .model import SPACES, NeighborhoodModel
from .model import _numeric_view as _numeric_view
from .results import Neighborhood, Occurrence
from .space_view import SpaceView, space_view

__all__ = [
    "NeighborhoodModel",
    "Neighborhood",
    "Occurrence",
    "SpaceView",
    "space_view",
    "SPACES",
]
