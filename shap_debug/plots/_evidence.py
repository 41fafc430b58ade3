"""Plots for the evidence behind neighbourhoods: the label-flip dose-response and the
recurring rows ranked by lift, in the shap style.

Each function takes the result first, ``ax=None, show=True``, returns the Axes and touches
no global pyplot state when ``ax`` is given. The results are read by duck typing (this
module imports no computation module).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import PALETTE, check_int, finish, new_axes

__all__ = ["dose_response_plot", "recurring_rows_plot"]

_SPACE_STYLE = {
    "contributions": ("o", PALETTE.red, "contributions"),
    "features": ("s", PALETTE.blue, "features"),
    "probabilities": ("D", PALETTE.gray, "probabilities"),
}

_SPACE_NOUN = {"contributions": "contribution", "features": "feature",
               "probabilities": "probability"}


def dose_response_plot(result: Any, max_display: int = 20, ax: Any = None, show: bool = True):
    """Relabelled neighbours needed to flip each anomaly's prediction, per space.

    One line per anomaly (the first ``max_display``), one marker per space, on a log scale
    from 1 to the cap; a prediction that did not flip within the cap is drawn as an open
    marker beyond the dashed cap line (labelled "> cap"), one a plain refit already changed
    as an open marker at the left edge (below 1). A ladder search's bracket is drawn as a
    bar from ``k_below + 1`` to the marker at ``k_min``. Markers of different spaces are offset vertically so
    they never hide each other.

    Parameters
    ----------
    result : DoseResponse
    max_display : int
        Anomalies shown (in the result's order).

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    anomalies = list(np.asarray(result.anomalies)[:max_display])
    spaces = list(result.spaces)
    cap = int(result.k_max)
    rec = result.records
    ax, created = new_axes(ax, (7.0, 1.2 + 0.42 * len(anomalies) * max(1, len(spaces) / 2)))
    beyond = cap * 1.6
    ladder = getattr(result, "search", "") == "ladder"
    step = 0.7 / max(len(spaces), 1)
    for j, s in enumerate(spaces):
        marker, color, label = _SPACE_STYLE.get(s, ("o", PALETTE.gray, s))
        off = ((len(spaces) - 1) / 2 - j) * step  # first space on top
        r = rec[rec.space == s].set_index("anomaly")
        xs, ys, open_x, open_y, spans = [], [], [], [], []
        for i, a in enumerate(anomalies):
            row = r.loc[a]
            y = len(anomalies) - 1 - i + off
            if bool(row["refit_changed"]):
                open_x.append(0.7)
                open_y.append(y)
            elif bool(row["flipped"]):
                xs.append(int(row["k_min"]))
                ys.append(y)
                if ladder and int(row["k_min"]) > int(row["k_below"]) + 1:
                    spans.append((y, int(row["k_below"]) + 1, int(row["k_min"])))
            else:
                open_x.append(beyond)
                open_y.append(y)
        ax.scatter(xs, ys, marker=marker, color=color, s=36, label=label, zorder=3)
        for y, lo, hi in spans:  # the ladder's bracket: the minimum lies in [lo, hi]
            ax.plot([max(lo, 0.8), hi], [y, y], color=color, lw=1.6, alpha=0.6, zorder=2)
        if open_x:
            ax.scatter(open_x, open_y, marker=marker, facecolors="none", edgecolors=color,
                       s=36, zorder=3)
    ax.set_xscale("log")
    ax.axvline(cap, color=PALETTE.reference, ls="--", lw=0.8, zorder=1)
    for i in range(len(anomalies) - 1):
        ax.axhline(i + 0.5, color=PALETTE.grid, lw=0.6, zorder=0)
    ax.text(beyond, len(anomalies) - 0.4, f"> {cap}", ha="center", va="bottom", fontsize=7,
            color=PALETTE.ink)
    ax.set_xlim(0.55, cap * 2.4)
    ax.set_ylim(-0.6, len(anomalies) - 0.1)
    ax.set_yticks(np.arange(len(anomalies)))
    ax.set_yticklabels([f"row {a}" for a in anomalies[::-1]], fontsize=8)
    ax.set_xlabel(f"relabelled nearest neighbours needed to flip the prediction "
                  f"({'bar: the ladder bracket; ' if ladder else ''}open: not within the cap "
                  f"of {cap}, right of the dashed line)", fontsize=8)
    ax.grid(axis="x", color=PALETTE.grid, lw=0.6, zorder=0)
    ax.set_title("Label-flip dose-response", fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    finish(created, show, ax)
    return ax


def recurring_rows_plot(result: Any, max_display: int = 15, ax: Any = None,
                        show: bool = True):
    """Lift of the top-ranked recurring rows, with ``c_a`` / ``c_r`` beside each bar.

    Bars are red where the row's own label disagrees with the model (it is misclassified),
    blue otherwise; the dotted line marks lift 1 (as common near correct rows as near
    anomalies).

    Parameters
    ----------
    result : RecurringRows
    max_display : int
        Rows shown, highest lift at the top.

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    frame = result.to_frame().head(max_display)
    m = len(frame)
    ax, created = new_axes(ax, (7.0, 1.4 + 0.3 * max(m, 3)))
    y = np.arange(m)[::-1]
    lift = frame["lift"].to_numpy(dtype=np.float64)
    mis = frame["misclassified"].to_numpy(bool)
    ax.barh(y, lift, color=[PALETTE.red if v else PALETTE.blue for v in mis],
            height=0.7, zorder=2)
    right = float(np.max(lift)) if m else 1.0
    for yi, v, ca, cr in zip(y, lift, frame["anomaly_count"], frame["reference_count"]):
        ax.text(v + right * 0.02, yi, f"{int(ca)} / {int(cr)}", va="center", fontsize=7)
    ax.axvline(1.0, color=PALETTE.ink, ls=":", lw=0.9, zorder=1)
    ax.set_xlim(0, max(right, 1.0) * 1.25)
    labels = [f"row {int(r)}" + (f" (x{int(c)})" if int(c) > 1 else "")
              for r, c in zip(frame["row"], frame["copies"])]
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"lift: share of {len(result.anomalies)} anomaly neighbourhoods / share of "
                  f"{len(result.reference)} reference ones (text: counts c_a / c_r)",
                  fontsize=8)
    space = _SPACE_NOUN.get(result.space, result.space)
    ax.set_title(f"Rows recurring near anomalies ({space} space, "
                 f"K={result.n_neighbors}; red: misclassified row)", fontsize=10)
    if m == 0:
        ax.text(0.5, 0.5, f"no row is in at least {result.min_count} anomaly neighbourhoods",
                transform=ax.transAxes, ha="center", va="center", fontsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    finish(created, show, ax)
    return ax
