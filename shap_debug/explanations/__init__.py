"""Explanations of a neighbourhood: representatives chosen by a genetic algorithm, their
IF-THEN rules, ALE over the neighbourhood and logic formulas over readable concepts."""

from ._representatives import Representatives, representative_fitness, select_representatives
from .ale import KINDS, ALEBias, ALECurve, ALEResult, ale_bias, neighborhood_ale
from .logic import (
    METHODS,
    ConceptEncoder,
    Formula,
    Literal,
    LogicCVResult,
    LogicExplanation,
    anomaly_formula,
    concept_frequency,
    consistency,
    explain_formula,
    explanation_accuracy,
    fidelity,
    logic_cross_validation,
    neighborhood_formula,
    simplify,
    to_concepts,
)
from .rules import Condition, Rule, RuleExplainer, RuleTable, diversity_metrics, rule_table

__all__ = [
    "KINDS", "METHODS", "ALEBias", "ALECurve", "ALEResult", "ConceptEncoder", "Condition",
    "Formula", "Literal", "LogicCVResult", "LogicExplanation", "Representatives", "Rule",
    "RuleExplainer", "RuleTable", "ale_bias", "anomaly_formula", "concept_frequency",
    "consistency", "diversity_metrics", "explain_formula", "explanation_accuracy", "fidelity",
    "logic_cross_validation", "neighborhood_ale", "neighborhood_formula", "representative_fitness",
    "rule_table", "select_representatives", "simplify", "to_concepts",
]
