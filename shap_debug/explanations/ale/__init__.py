"""Accumulated Local Effects over a neighborhood: the vectorised computation (``core``), its
results (``result``) and the neighborhood-versus-global bias view (``bias``)."""

from ._bias import ALEBias, ale_bias
from ._core import KINDS, neighborhood_ale
from ._result import ALECurve, ALEResult

__all__ = ["ALECurve", "ALEResult", "ALEBias", "neighborhood_ale", "ale_bias", "KINDS"]
