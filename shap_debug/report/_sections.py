"""The report's sections, each defined once: key (the part of the evidence it shows and the
anchor of its ``<section>``), title and the short name the navigation bar uses."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SECTIONS", "Section", "section_of"]


class Section(NamedTuple):
    """One report section: ``key`` is also its HTML anchor."""

    key: str
    title: str
    nav: str


SECTIONS: tuple[Section, ...] = (
    Section("diagnosis", "Diagnosis", "Diagnosis"),
    Section("summary", "Summary", "Summary"),
    Section("fixes", "Fixes, verified on held-out data", "Fixes"),
    Section("dose", "Label-flip dose-response", "Label-flip dose-response"),
    Section("recurring", "Rows that recur in anomaly neighbourhoods, by lift",
            "Rows that recur in anomaly neighbourhoods"),
    Section("occurrence", "Rows that recur in anomaly neighbourhoods", "Recurring rows"),
    Section("cohorts", "Where the model fails: error cohorts", "Cohorts"),
    Section("suspicious", "Suspicious training rows (confident learning)", "Suspicious rows"),
    Section("integrity", "Data integrity", "Integrity"),
    Section("label-flip", "Evidence: label-flip influence check", "Label flips"),
    Section("global", "Global view", "Global view"),
    Section("timings", "How long each step took", "Timings"),
)

_BY_KEY = {s.key: s for s in SECTIONS}


def section_of(key: str) -> Section:
    """The section called ``key`` (an anomaly's is built from its row).

    >>> section_of("cohorts").title
    'Where the model fails: error cohorts'
    >>> section_of("anomaly-7").nav
    'Anomaly 7'
    """
    if key.startswith("anomaly-"):
        row = key.split("-", 1)[1]
        return Section(key, f"Anomaly {row}", f"Anomaly {row}")
    return _BY_KEY[key]
