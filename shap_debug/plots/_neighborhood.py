"""Plots for influential neighborhoods (Rasouli & Yu 2021, Figs. 1 and 3), in the shap style.

Every function takes the result first, ``ax=None, show=True``, returns the Axes (or an array
of two Axes for :func:`space_view_plot`) and touches no global pyplot state when ``ax`` is
given. Colours come from :data:`shap_debug.core.PALETTE`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import PALETTE, check_int, check_option
from ..core import finish as _finish
from ..core import new_axes as _new_axes

__all__ = ["neighborhood_plot", "occurrence_plot", "space_view_plot"]




def neighborhood_plot(nb: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Anomaly's contributions next to the mean contributions of its neighbours.

    Features are ordered by the neighbours' mean absolute contribution; bars point towards
    (right) or away from (left) each row's predicted class.

    Parameters
    ----------
    nb : Neighborhood
        With an ``explanation`` (the model was fitted with contributions).
    max_display : int
        Number of features shown.

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    if getattr(nb, "explanation", None) is None:
        raise ValueError("nb has no explanation: fit the NeighborhoodModel with contributions")
    vals = np.asarray(nb.explanation.values)
    names = list(nb.explanation.feature_names)
    order = np.argsort(-np.abs(vals).mean(0), kind="stable")[:max_display][::-1]
    ax, created = _new_axes(ax)
    y = np.arange(len(order))
    h = 0.38
    ax.barh(y + h / 2, vals[:, order].mean(0), height=h, color=PALETTE.blue,
            label=f"mean of {len(nb)} neighbours")
    if nb.anomaly_values is not None:
        ax.barh(y - h / 2, np.asarray(nb.anomaly_values)[order], height=h, color=PALETTE.red,
                label=f"row {nb.anomaly}")
    ax.set_yticks(y)
    ax.set_yticklabels([names[i] for i in order])
    ax.axvline(0, color=PALETTE.reference, lw=0.8)
    ax.set_xlabel("contribution towards the predicted class")
    ax.set_title(f"{nb.space}-space neighborhood of row {nb.anomaly}")
    ax.legend(loc="best", fontsize=8)
    _finish(created, show)
    return ax


def occurrence_plot(occ: Any, kind: str = "ranked", max_display: int = 50, ax: Any = None,
                    show: bool = True):
    """Occurrence of training rows in the anomalies' neighborhoods (Fig. 3).

    Parameters
    ----------
    occ : Occurrence
    kind : {"ranked", "hist"}
        ``"ranked"``: bars for the ``max_display`` most frequent rows (red where the row's
        own training label disagrees with the model, i.e. the row is itself misclassified);
        ``"hist"``: histogram of the counts over all rows that occur at least once.
    max_display : int
        Rows shown for ``kind="ranked"``.

    Returns
    -------
    matplotlib Axes
    """
    check_option(kind, "kind", ["ranked", "hist"])
    max_display = check_int(max_display, "max_display", low=1)
    ax, created = _new_axes(ax)
    frame = occ.to_frame()
    if kind == "ranked":
        top = frame.head(max_display)
        col = np.where(top["misclassified"].to_numpy(), "r", "b")
        ax.bar(np.arange(len(top)), top["count"].to_numpy(),
               color=[PALETTE.red if c == "r" else PALETTE.blue for c in col])
        step = max(1, len(top) // 10)
        ax.set_xticks(np.arange(0, len(top), step))
        ax.set_xticklabels([str(r) for r in top["row"].to_numpy()[::step]], rotation=60,
                           fontsize=7)
        ax.set_xlabel("training row (most frequent first; red: misclassified row)")
        ax.set_ylabel(f"occurrences in {len(occ.anomalies)} neighborhoods")
    else:
        counts = frame["count"].to_numpy()
        bins = np.arange(1, (counts.max() if len(counts) else 1) + 2) - 0.5
        if len(bins) > 60:
            bins = 60
        ax.hist(counts, bins=bins, color=PALETTE.blue)
        ax.set_yscale("log")
        ax.set_xlabel(f"occurrences in {len(occ.anomalies)} neighborhoods")
        ax.set_ylabel("training rows")
    ax.set_title(f"Occurrence in {occ.space}-space neighborhoods (K={occ.n_neighbors})")
    _finish(created, show)
    return ax


def space_view_plot(view: Any, ax: Any = None, show: bool = True):
    """Training data in contribution space vs feature space (Fig. 1).

    Two scatter plots of the first two principal components, coloured by the predicted
    class; anomalies (prediction != label) drawn as black-edged crosses on top.

    Parameters
    ----------
    view : SpaceView
    ax : sequence of two Axes, optional

    Returns
    -------
    ndarray of two matplotlib Axes
    """
    if ax is not None:
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) != 2:
            raise ValueError(f"ax must be a sequence of two Axes; got {len(axes)}")
        created = False
    else:
        axes, created = _new_axes(None, ncols=2, size=(5.0, 4.5))
        axes = np.asarray(axes, dtype=object).ravel()
    classes = np.unique(view.predicted)
    palette = [PALETTE.blue, PALETTE.red, PALETTE.light_blue, PALETTE.light_red,
               PALETTE.gray]
    anom = np.zeros(len(view.predicted), dtype=bool)
    anom[view.anomalies] = True
    for a, (name, pts) in zip(axes, (("contribution", view.contributions_2d),
                                     ("feature", view.features_2d))):
        for k, c in enumerate(classes):
            m = (view.predicted == c) & ~anom
            a.scatter(pts[m, 0], pts[m, 1], s=6, alpha=0.5, color=palette[k % len(palette)],
                      label=f"predicted {c}", linewidths=0)
        for k, c in enumerate(classes):
            m = (view.predicted == c) & anom
            if m.any():
                a.scatter(pts[m, 0], pts[m, 1], s=22, marker="X", edgecolors="black",
                          linewidths=0.5, color=palette[k % len(palette)],
                          label=f"anomaly, predicted {c}")
        ev = view.explained_variance.get(name + "s")
        a.set_title(f"{name} space" + (f" ({ev:.0%} variance)" if ev is not None else ""))
        a.set_xlabel("PC 1")
        a.set_ylabel("PC 2")
    axes[0].legend(frameon=False, fontsize=7, markerscale=1.5)
    _finish(created, show)
    return axes
