"""The Debugger facade and the values it computes: per-anomaly inspections, the overview,
the evidence, and the findings every sentence of the report is rendered from."""

from ._debugger import Debugger
from ._findings import (
    SCHEMA_VERSION,
    Finding,
    build_findings,
    cohort_reason,
    diagnosis_sentences,
    dose_sentence,
    flag_message,
    sparser_flip,
)
from ._inspect import influential_table
from ._values import Evidence, Inspection, Overview

__all__ = ["SCHEMA_VERSION", "Debugger", "Evidence", "Finding", "Inspection", "Overview",
           "build_findings", "cohort_reason", "diagnosis_sentences", "dose_sentence",
           "flag_message", "influential_table", "sparser_flip"]
