"""Local IF-THEN rules for single rows (``conditions``, ``explainer``) and the quasi-global
rule table with its diversity metrics (``table``)."""

from .conditions import Condition, Rule
from .explainer import RuleExplainer
from .table import RuleTable, diversity_metrics, rule_table

__all__ = ["Condition", "Rule", "RuleExplainer", "RuleTable", "diversity_metrics", "rule_table"]
