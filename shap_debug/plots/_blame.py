"""Plots of blame evidence: the removal curve (blamed vs. random rows removed) and the sorted
suspicion scores of the suspicious-row ranking with the calibrated cut-off."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import PALETTE, finish
from ._cohorts import _axes

__all__ = ["removal_plot", "suspicious_plot"]


def removal_plot(curve: Any, metric: str = "fix_rate", ax: Any = None, show: bool = True):
    """A removal-curve metric against the share of rows removed, one line per ranking.

    Random removal is drawn dashed with a band of one standard deviation over the draws.

    Parameters
    ----------
    curve : RemovalCurve
    metric : {"fix_rate", "test_accuracy"}, default "fix_rate"
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when the function made the figure).

    Returns
    -------
    matplotlib Axes
    """
    if metric not in ("fix_rate", "test_accuracy"):
        raise ValueError(f"metric must be 'fix_rate' or 'test_accuracy'; got {metric!r}")
    ax, own = _axes(ax, (6, 4))
    f = curve.frame
    for k, name in enumerate(sorted(set(f["ranking"]) - {"random"})):
        g = f[f.ranking == name]
        ax.plot(g["fraction"], g[metric], marker="o", color=PALETTE.cycle(k),
                label=name)
    g = f[f.ranking == "random"]
    ax.plot(g["fraction"], g[metric], color=PALETTE.gray, ls="--", label="random")
    ax.fill_between(g["fraction"], g[metric] - g[f"{metric}_std"],
                    g[metric] + g[f"{metric}_std"], color=PALETTE.gray, alpha=0.25)
    ax.set_xlabel("share of training rows removed")
    ax.set_ylabel("anomalies fixed" if metric == "fix_rate" else "test accuracy")
    ax.legend(frameon=False)
    finish(own, show)
    return ax


def suspicious_plot(result: Any, ax: Any = None, show: bool = True):
    """Sorted suspicion scores (log rank) with the calibrated count of label errors marked.

    Parameters
    ----------
    result : SuspiciousRows
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when the function made the figure).

    Returns
    -------
    matplotlib Axes
    """
    ax, own = _axes(ax, (6, 3.5))
    s = result.scores[result.ranking]
    ax.plot(np.arange(1, len(s) + 1), s, color=PALETTE.blue)
    ax.axvline(result.n_flagged, color=PALETTE.red, ls="--",
               label=f"estimated label errors: {result.n_flagged}")
    ax.set_xscale("log")
    ax.set_xlabel("rank")
    ax.set_ylabel("suspicion (1 - p(label), out of sample)")
    ax.legend(frameon=False)
    finish(own, show)
    return ax
