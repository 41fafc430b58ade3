"""Neighbourhoods of anomalies in contribution, feature or probability space (Rasouli & Yu
2021): the :class:`NeighborhoodModel`, its results, the space view and the Dask variant."""

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
