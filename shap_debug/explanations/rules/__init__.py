"""Local IF-THEN rules for single rows (``conditions``, ``explainer``) and the quasi-global
rule table with its diversity metrics (``table``)."""

from ._conditions import Condition, Rule
from ._explainer import RuleExplainer
from ._table import RuleTable, diversity_metrics, rule_table

__all__ = ["Condition", "Rule", "RuleExplainer", "RuleTable", "diversity_metrics", "rule_table"]
