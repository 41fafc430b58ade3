"""Agnostic networks (Jia et al. 2018): gradient-reversal training against a protected concept,
fresh probes that measure what the representation still encodes, and the attribution shift."""

from ._network import AgnosticNetwork, GradientReversal, ganin_lambda, grad_reverse
from ._probes import ProbeReport, probe_protected
from ._shift import AttributionShift, attribution_shift

__all__ = [
    "GradientReversal",
    "grad_reverse",
    "ganin_lambda",
    "AgnosticNetwork",
    "ProbeReport",
    "probe_protected",
    "AttributionShift",
    "attribution_shift",
]
