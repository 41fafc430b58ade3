"""Plots for influence functions and their leave-one-out checks.

Each takes the result first (:class:`~captum_ext.influence.KMostInfluentialResults`,
:class:`~captum_ext.influence._loo.LOOValidation`, :class:`~captum_ext.influence._loo.NeighborhoodComparison`),
then options, ``ax=None`` and ``show=True``, and returns the Axes. Only the result's
attributes are read, so this module imports no computation module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shap_debug.core import finish as _finish
from shap_debug.core import new_axes as _axes

__all__ = ["influence_plot", "loo_plot", "neighborhood_comparison_plot"]




def influence_plot(result: Any, test: int = 0, max_display: int = 10, ax: Any = None,
                   show: bool = True) -> Any:
    """Horizontal bars of the top training rows for one test point.

    Red bars: removing the row would raise the test loss (a proponent); blue: lower it.

    Parameters
    ----------
    result : KMostInfluentialResults
    test : int, default 0
        Which test point (row of ``result.indices``).
    max_display : int, default 10
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when this function created the figure).

    Returns
    -------
    matplotlib Axes
    """
    from shap.plots import colors

    if not 0 <= test < len(result.indices):
        raise ValueError(f"test must be in [0, {len(result.indices)}); got {test}")
    ax, own = _axes(ax, (6, 0.35 * max_display + 1))
    idx = result.indices[test, :max_display].cpu().numpy()
    sc = result.influence_scores[test, :max_display].cpu().numpy()
    pos = np.arange(len(idx))[::-1]
    ax.barh(pos, sc, color=[colors.red_rgb if s > 0 else colors.blue_rgb for s in sc])
    ax.set_yticks(pos, [f"row {i}" for i in idx])
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_xlabel("change of test loss if the row were removed")
    _finish(own, show)
    return ax


def loo_plot(result: Any, ax: Any = None, show: bool = True) -> Any:
    """Actual vs. predicted change of test loss, one colour per test point, and y = x.

    Parameters
    ----------
    result : LOOValidation
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when this function created the figure).

    Returns
    -------
    matplotlib Axes
    """
    from shap.plots import colors

    ax, own = _axes(ax, (4.5, 4.5))
    cmap = colors.red_blue
    t = len(result.predicted)
    for i in range(t):
        ax.scatter(result.predicted[i], result.actual[i], s=14,
                   color=cmap(i / max(1, t - 1)),
                   label=f"test {i}: ρ={result.spearman[i]:.2f}")
    lo = float(min(result.predicted.min(), result.actual.min()))
    hi = float(max(result.predicted.max(), result.actual.max()))
    ax.plot([lo, hi], [lo, hi], color="#999999", lw=0.8)
    ax.set_xlabel("predicted change of test loss (influence)")
    ax.set_ylabel("actual change (leave-one-out retraining)")
    ax.set_title(f"{result.curvature}: mean Spearman {result.mean_spearman:.3f}")
    ax.legend(fontsize=7)
    _finish(own, show)
    return ax


def neighborhood_comparison_plot(result: Any, ax: Any = None, show: bool = True) -> Any:
    """Flip rates of the neighbourhood, the top-influence rows and random rows.

    Parameters
    ----------
    result : NeighborhoodComparison
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when this function created the figure).

    Returns
    -------
    matplotlib Axes
    """
    from shap.plots import colors

    ax, own = _axes(ax, (4.5, 3))
    s = result.summary()
    names = ["neighbourhood", "top influence", "random"]
    vals = [s["flip_rate_neighborhood"], s["flip_rate_influence"], s["flip_rate_random"]]
    ax.bar(names, vals, color=[colors.blue_rgb, colors.red_rgb, "#bbbbbb"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of queries whose prediction flips")
    ax.set_title(f"mean overlap {s['mean_overlap']:.2f}")
    _finish(own, show)
    return ax
