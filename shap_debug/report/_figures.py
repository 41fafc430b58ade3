"""The figures the report embeds, one builder per figure, each sized by what it shows.

:func:`report_figures` returns every figure the report would embed for an
:class:`~shap_debug.debugger._values.Evidence` (so a test can draw them and check their labels);
:mod:`shap_debug.report._render` calls the same builders and embeds their PNGs. Builders take
values and return a matplotlib ``Figure``; they compute nothing.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402

from ..core import escape  # noqa: E402
from ..plots import (  # noqa: E402
    ambiguity_plot,
    category_width,  # noqa: E402
    cohort_plot,
)

__all__ = ["figure_html", "report_figures", "cohort_figure", "ambiguity_figure",
           "occurrence_figure", "suspicious_figure", "space_view_figure", "ale_figures",
           "extra_figure", "report_cohorts", "COHORT_ROWS", "EXTRA_PARTS"]

#: Cohorts shown in the report's chart and table (the same ones, numbered alike).
COHORT_ROWS = 8


def figure_html(fig: Any, alt: str = "figure", dpi: int = 90) -> str:
    """Embed a matplotlib figure as a base64 PNG and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}"/>'


def _own(plot: Callable[[], Any]) -> Any:
    """The figure of a plot function that made its own (``ax=None``)."""
    out = plot()
    ax = out[0] if isinstance(out, (list, tuple)) or getattr(out, "ndim", 0) else out
    fig = ax.figure
    fig.tight_layout()
    return fig


def report_cohorts(cohorts: Any) -> list:
    """The cohorts the report shows: significant top slices first, at most COHORT_ROWS."""
    return list(cohorts.slices)[:COHORT_ROWS]


def cohort_figure(cohorts: Any) -> Any:
    """Bars of the shown cohorts' share of rows and of errors, numbered like the table."""
    return _own(lambda: cohort_plot(cohorts, max_display=COHORT_ROWS, show=False,
                                    kind="slices", numbered=True))


def ambiguity_figure(ambiguity: Any) -> Any:
    """Each cohort's errors split into ambiguous, fixable and confident mistakes."""
    return _own(lambda: ambiguity_plot(ambiguity, max_display=COHORT_ROWS, show=False,
                                       numbered=True))


def occurrence_figure(occurrence: Any) -> Any:
    """How often the most frequent rows land in anomaly neighbourhoods."""
    return _own(lambda: occurrence.plot(show=False))


def suspicious_figure(suspicious: Any) -> Any:
    """Sorted suspicion scores with the estimated number of label errors."""
    return _own(lambda: suspicious.plot(show=False))


def space_view_figure(view: Any) -> Any:
    """Contribution space vs feature space (PCA), anomalies highlighted."""
    return _own(lambda: view.plot(show=False))


def ale_figures(ins: Any, k: int = 4) -> list:
    """One figure per feature whose neighbourhood ALE varies most (global curve overlaid),
    each as wide as its category labels need."""
    out = []
    curves = {c.feature: c for c in ins.ale.curves}
    for feat in ins.top_ale_features(k):
        curve = curves[feat]
        n = len(curve.grid) if curve.kind == "categorical" else 0
        fig, ax = plt.subplots(figsize=(category_width(n), 3.4))
        try:
            ins.ale.plot(features=[feat], global_result=ins.ale_global, ax=ax, show=False)
            fig.tight_layout()
        except Exception:
            plt.close(fig)
            raise
        out.append(fig)
    return out


def report_figures(evidence: Any) -> list[tuple[str, Any]]:
    """Every figure the report embeds for ``evidence``, as ``(name, Figure)`` pairs.

    The caller owns the figures (close them with ``matplotlib.pyplot.close``). A figure
    whose part is missing is left out, as in the report.

    Parameters
    ----------
    evidence : Evidence

    Returns
    -------
    list of (str, matplotlib.figure.Figure)
    """
    ov = evidence.overview
    out: list[tuple[str, Any]] = []
    if ov.occurrence is not None:
        out.append(("occurrence", occurrence_figure(ov.occurrence)))
    test = getattr(ov, "test_cohorts", None)  # the held-out errors' cohorts come first
    if test is not None and test.n_errors and report_cohorts(test):
        out.append(("test cohorts", cohort_figure(test)))
    if ov.cohorts is not None and ov.cohorts.n_errors and report_cohorts(ov.cohorts):
        out.append(("cohorts", cohort_figure(ov.cohorts)))
    if ov.ambiguity is not None and ov.ambiguity.cohorts:
        out.append(("ambiguity", ambiguity_figure(ov.ambiguity)))
    if ov.suspicious is not None:
        out.append(("suspicious", suspicious_figure(ov.suspicious)))
    for i in evidence.anomalies:
        ins = evidence.inspections.get(i)
        if ins is not None and ins.ale is not None:
            out += [(f"anomaly-{i} ALE {n}", f) for n, f in enumerate(ale_figures(ins))]
    if ov.space_view is not None:
        out.append(("space view", space_view_figure(ov.space_view)))
    for name in EXTRA_PARTS:
        fig = extra_figure(getattr(evidence, name, None))
        if fig is not None:
            out.append((name, fig))
    return out


#: Evidence fields rendered generically (their ``_repr_html_`` and ``plot``) until their
#: modules bring their own renderers: fixes verified on held-out data, the label-flip
#: dose-response, recurring rows ranked by lift.
EXTRA_PARTS = ("fixes", "dose", "recurring")


def extra_figure(value: Any) -> Any:
    """The ``plot()`` of an extra part, or None (no value, or no ``plot`` method)."""
    if value is None or not hasattr(value, "plot"):
        return None
    return _own(lambda: value.plot(show=False))
