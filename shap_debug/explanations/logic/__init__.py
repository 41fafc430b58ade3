"""Global logic explanations: DNF formulas over concepts, the LEN metrics, five extraction
methods, K-fold comparison, and formulas for anomalies and neighbourhoods (see methods.py)."""

from ._anomalies import anomaly_formula, neighborhood_formula
from ._concepts import ConceptEncoder, to_concepts
from ._cross_validation import LogicCVResult, logic_cross_validation
from ._formula import (
    Formula,
    Literal,
    concept_frequency,
    consistency,
    explanation_accuracy,
    fidelity,
    simplify,
)
from ._methods import METHODS, LogicExplanation, explain_formula

__all__ = [
    "METHODS", "Formula", "Literal", "LogicCVResult", "LogicExplanation", "anomaly_formula",
    "concept_frequency", "consistency", "explain_formula", "explanation_accuracy", "fidelity",
    "logic_cross_validation", "neighborhood_formula", "simplify",
]

__all__ += ['ConceptEncoder', 'to_concepts']
