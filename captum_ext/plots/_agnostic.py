"""Plots of the agnostic-network results: fresh-probe recovery of the protected concept and
the share of attribution on its proxies.

Both take the result first, then options, ``ax=None`` and ``show=True``, return the Axes and
leave global pyplot state alone when ``ax`` is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["attribution_shift_plot", "probe_plot"]


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def probe_plot(report: Any, ax: Any = None, show: bool = True) -> Any:
    """Bars of each probe's ROC-AUC and balanced accuracy, with chance marked.

    Parameters
    ----------
    report : ProbeReport
        From :func:`captum_ext.agnostic.probe_protected`.
    ax : matplotlib Axes, optional
        Draw here; by default a new figure.
    show : bool
        Call ``plt.show()`` (only when the figure was created here).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from shap.plots import colors

    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(5, 2.6))
    probes = report.probes
    names = list(probes.index)
    pos = np.arange(len(names))
    ax.barh(pos - 0.2, probes["roc_auc"], height=0.38, color=colors.red_rgb, label="ROC-AUC")
    ax.barh(pos + 0.2, probes["balanced_accuracy"], height=0.38, color=colors.blue_rgb,
            label="balanced accuracy")
    ax.axvline(report.chance_auc, color="#888888", ls="--", lw=1, label="chance (AUC 0.5)")
    ax.set_yticks(pos)
    ax.set_yticklabels([f"{n} probe" for n in names])
    ax.set_xlim(0, 1)
    ax.set_xlabel("recovery of the protected concept from the representation")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    _tidy(ax)
    if own and show:
        plt.show()
    return ax


def attribution_shift_plot(shift: Any, max_display: int = 10, ax: Any = None,
                           show: bool = True) -> Any:
    """Grouped bars of each model's share of mean |attribution|, focus features first.

    Parameters
    ----------
    shift : AttributionShift
        From :func:`captum_ext.agnostic.attribution_shift`.
    max_display : int
        Features shown (the focus features, then the largest mean share).
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt
    from shap.plots import colors

    own = ax is None
    share = shift.share
    feats = list(shift.focus) + [f for f in share.mean(1).sort_values(ascending=False).index
                                 if f not in shift.focus]
    feats = feats[:max_display]
    if own:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(feats) + 1))
    models = list(share.columns)
    palette = [colors.blue_rgb, colors.red_rgb, "#888888", "#2ca02c", "#9467bd"]
    h = 0.8 / len(models)
    pos = np.arange(len(feats))[::-1]
    for k, m in enumerate(models):
        ax.barh(pos + 0.4 - h * (k + 0.5), share.loc[feats, m], height=h,
                color=palette[k % len(palette)], label=str(m))
    ax.set_yticks(pos)
    ax.set_yticklabels([f + (" *" if f in shift.focus else "") for f in feats])
    ax.set_xlabel(f"share of mean |attribution| ({shift.method}); * = proxy")
    ax.legend(fontsize=8, frameon=False)
    _tidy(ax)
    if own and show:
        plt.show()
    return ax
