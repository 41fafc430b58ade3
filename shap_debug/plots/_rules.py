"""Plots for quasi-global explanations (Rasouli & Yu 2021, Table I), in the shap style.

Each function takes the result first, then ``max_display``, ``ax=None``, ``show=True``,
returns the Axes and touches no global pyplot state when ``ax`` is given. Colours come from
:data:`shap_debug.core.PALETTE`.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from ..core import PALETTE, check_int, check_option
from ..core import finish as _finish
from ..core import new_axes as _new_axes

__all__ = ["representatives_plot", "rule_table_plot"]




def representatives_plot(rep: Any, kind: str = "history", *, max_display: int = 10,
                         ax: Any = None, show: bool = True):
    """Convergence of the search, or the chosen rows' top-feature weights.

    Parameters
    ----------
    rep : Representatives
    kind : {"history", "weights"}
        ``"history"``: best fitness per GA generation (per added row for greedy).
        ``"weights"``: heat map of ``W`` (|contribution| at each row's top features) for the
        chosen rows, the ``max_display`` features with the largest total weight.
    max_display : int
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    check_option(kind, "kind", ["history", "weights"])
    max_display = check_int(max_display, "max_display", low=1)
    ax, created = _new_axes(ax)
    if kind == "history":
        h = np.asarray(rep.history, dtype=float)
        ax.plot(np.arange(len(h)), h, color=PALETTE.blue, marker="o" if len(h) < 20 else None)
        ax.set_xlabel("generation" if rep.method == "ga" else "step")
        ax.set_ylabel("best fitness")
        ax.set_title(f"{rep.method} ({rep.dispersion}): fitness {rep.fitness:.4g}")
    else:
        W = np.asarray(rep.weights, dtype=float)
        order = np.argsort(-W.sum(axis=0), kind="stable")[:max_display]
        cmap = PALETTE.white_to(PALETTE.red, "white_red")
        img = ax.imshow(W[:, order].T, aspect="auto", cmap=cmap, vmin=0.0)
        ax.set_yticks(np.arange(len(order)))
        ax.set_yticklabels([rep.feature_names[j] for j in order])
        ax.set_xticks(np.arange(len(rep.indices)))
        ax.set_xticklabels([str(i) for i in rep.indices], rotation=90)
        ax.set_xlabel("representative (training index)")
        ax.figure.colorbar(img, ax=ax, label="|contribution| at top features")
    _finish(created, show)
    return ax


def rule_table_plot(table: Any, max_display: int = 11, ax: Any = None, show: bool = True):
    """The rule table as a figure: one line per row, mispredicted rows in red.

    Parameters
    ----------
    table : RuleTable
    max_display : int
        Rows shown (the anomaly and then the first representatives).
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    df = table.to_frame().head(max_display)
    n_lines = sum(len(textwrap.wrap(r, 66)) or 1 for r in df["rule"]) + 1
    from matplotlib.colors import to_rgba

    ax, created = _new_axes(ax, size=(11.0, 0.3 * n_lines + 0.8))
    ax.axis("off")
    cells, fills = [], []
    for k, rec in enumerate(df.to_dict("records")):
        rule = "\n".join(textwrap.wrap(rec["rule"], 66)) or "TRUE"
        cells.append([("anomaly " if k == 0 else "") + str(rec["index"]), rule,
                      str(rec["rule prediction"]), str(rec["true label"]),
                      str(rec["prediction"]), f"{rec['fidelity']:.2f}",
                      f"{rec['coverage']:.3f}"])
        base = PALETTE.light_red if rec["mispredicted"] else PALETTE.light_blue
        fills.append([to_rgba(base, 0.35)] * 7)
    tab = ax.table(cellText=cells, cellColours=fills,
                   colLabels=["row", "rule (IF ...)", "THEN", "true", "predicted", "fidelity",
                              "coverage"],
                   colWidths=[0.1, 0.52, 0.08, 0.07, 0.08, 0.08, 0.08], cellLoc="left",
                   bbox=[0.0, 0.0, 1.0, 1.0])
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    # row heights proportional to the wrapped lines, filling the axes
    lines = [1] + [c[1].count("\n") + 1 for c in cells]
    unit = 1.0 / sum(lines)
    for (r, _), cell in tab.get_celld().items():
        cell.set_height(unit * lines[r])
        cell.PAD = 0.03  # matplotlib's default (0.1 of the cell width) wastes the rule column
    m = getattr(table, "metrics", None)
    if m:
        ax.set_title(f"representatives: SD {m['SD']:.2f}   FS {m['FS']:.2f}   "
                     f"LD {m['LD']:.2f}", fontsize=9, pad=8)
    _finish(created, show)
    return ax
