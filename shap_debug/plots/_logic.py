"""Plots for logic explanations (:mod:`shap_debug.explanations.logic`), in the shap style.

Each function takes the result first, then ``max_display``, ``ax=None``, ``show=True``,
returns the Axes and touches no global pyplot state when ``ax`` is given. Colours come from
:data:`shap_debug.core.PALETTE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import PALETTE, check_int
from ..core import finish as _finish
from ..core import new_axes as _new_axes

__all__ = ["formula_terms_plot", "logic_cv_plot"]




def _shorten(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _wrap_term(term: str, width: int = 45) -> str:
    """Break a term after " & " so each line stays near ``width`` characters."""
    lines, cur = [], ""
    for lit in term.split(" & "):
        if cur and len(cur) + len(lit) + 3 > width:
            lines.append(cur + " &")
            cur = lit
        else:
            cur = f"{cur} & {lit}" if cur else lit
    lines.append(cur)
    return "\n".join(_shorten(line, width + 10) for line in lines[:4])


def formula_terms_plot(res: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Horizontal bars: target-class rows (right) and other rows (left) each term covers.

    Parameters
    ----------
    res : LogicExplanation
    max_display : int
        Terms shown, those covering the most target rows first.
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    frame = res.terms_frame().sort_values("target_covered", ascending=False)
    frame = frame.head(check_int(max_display, "max_display", low=1)).iloc[::-1]
    labels = [_wrap_term(t) for t in frame["term"]]
    lines = sum(lab.count("\n") + 1 for lab in labels)
    ax, created = _new_axes(ax, (9, 0.3 * max(lines, 2) + 0.35 * len(frame) + 1.6))
    y = np.arange(len(frame))
    ax.barh(y, frame["target_covered"], color=PALETTE.red,
            label=f"class {res.target_class}")
    ax.barh(y, -frame["other_covered"], color=PALETTE.blue, label="other rows")
    ax.set_yticks(y, labels, fontsize=9)
    ax.axvline(0, color=PALETTE.reference, lw=0.8)
    ax.set_xlabel("rows covered by each term (other rows to the left)")
    ax.set_title(f"{res.method}: explanation accuracy {res.explanation_accuracy:.2f}, "
                 f"fidelity {res.fidelity:.2f}, complexity {res.complexity}", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    _finish(created, show)
    return ax


def logic_cv_plot(cv: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Grouped bars: model accuracy, explanation accuracy and fidelity per method.

    Parameters
    ----------
    cv : LogicCVResult
    max_display : int
        Methods shown.
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    frame = cv.to_frame().head(check_int(max_display, "max_display", low=1))
    ax, created = _new_axes(ax, (1.4 * len(frame) + 3, 4))
    x = np.arange(len(frame))
    palette = (PALETTE.blue, PALETTE.red, PALETTE.reference)
    for i, (col, c) in enumerate(zip(("model_accuracy", "explanation_accuracy", "fidelity"),
                                     palette)):
        ax.bar(x + (i - 1) * 0.27, frame[col], 0.27, yerr=frame[f"{col}_sem"], color=c,
               label=col.replace("_", " "))
    ax.set_xticks(x, [f"{m}\n({c:.0f} lit.)" for m, c in zip(frame.index, frame["complexity"])])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("held-out score")
    ax.legend(loc="lower right", frameon=False)
    _finish(created, show)
    return ax
