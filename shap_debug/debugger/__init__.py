"""The Debugger facade and the values it computes: per-anomaly inspections, the overview,
the evidence, and the findings every sentence of the report is rendered from."""

from ._debugger import Debugger
from ._findings import influential_table, sparser_flip
from ._values import Evidence, Inspection, Overview

__all__ = ["Debugger", "Evidence", "Inspection", "Overview", "influential_table", "sparser_flip"]
