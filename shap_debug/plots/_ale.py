"""ALE curves of a neighborhood, with the feature's distribution and the global curve.

The layout follows Rasouli & Yu (2021), Fig. 4: the accumulated local effect with its
confidence band, the feature's distribution among the neighborhood's rows as bars along the
x-axis, categorical features as points with their labels, and optionally the curve over the
whole training set for contrast. :func:`ale_bias_plot` draws the bias view (neighborhood
versus global ALE range per feature).

This module never imports :mod:`shap_debug.explanations.ale`: it reads the result's attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import PALETTE, check_columns, check_int, finish, new_axes

__all__ = ["ale", "ale_bias_plot", "category_width"]

_ALE_RESULT_ATTRS = ("curves", "feature_names", "ranges", "target_label", "confidence")


def category_width(n_levels: int) -> float:
    """Inches of panel width that fit ``n_levels`` vertical 8-point category labels.

    >>> category_width(2), category_width(41)
    (4.2, 7.79)
    """
    return max(4.2, round(0.17 * n_levels + 0.82, 2))


def _is_ale_result(obj: Any) -> bool:
    """Duck type of :class:`shap_debug.explanations.ale.ALEResult` (no import of the computation)."""
    return all(hasattr(obj, a) for a in _ALE_RESULT_ATTRS)


def _resolve_axes(ax: Any, k: int):
    import matplotlib.pyplot as plt

    if ax is None:
        ncols = min(3, k)
        nrows = -(-k // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows),
                                 squeeze=False)
        flat = list(axes.ravel())
        for extra in flat[k:]:
            extra.set_visible(False)
        return flat[:k], True
    if hasattr(ax, "plot"):
        if k != 1:
            raise ValueError(f"ax is a single Axes but {k} features were asked for; pass "
                             "one feature, or a sequence of Axes, or ax=None")
        return [ax], False
    flat = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(flat) < k:
        raise ValueError(f"ax has {len(flat)} Axes but {k} features were asked for")
    return flat[:k], False


def _draw(ax, curve, global_curve, anomaly_value, target_label, conf):

    kind = curve.kind
    lo = np.where(np.isfinite(curve.lower), curve.lower, curve.values)
    hi = np.where(np.isfinite(curve.upper), curve.upper, curve.values)
    hist = ax.twinx()
    hist.set_zorder(ax.get_zorder() - 1)
    ax.patch.set_visible(False)
    if kind == "continuous":
        x = np.asarray(curve.grid, dtype=np.float64)
        if len(x) >= 2:
            hist.bar((x[:-1] + x[1:]) / 2, curve.counts[1:], width=np.diff(x) * 0.9,
                     color=PALETTE.light_blue, alpha=0.6)
        ax.fill_between(x, lo, hi, color=PALETTE.blue, alpha=0.18, linewidth=0,
                        label=f"{conf:.0%} band")
        ax.plot(x, curve.values, color=PALETTE.blue, linewidth=2, label="neighborhood")
        positions = None
    else:
        if kind == "categorical":
            x = np.arange(len(curve.grid), dtype=np.float64)
            positions = {str(g): i for i, g in enumerate(curve.grid)}
        else:
            x = np.asarray(curve.grid, dtype=np.float64)
            positions = None
        width = (np.min(np.diff(x)) if len(x) > 1 else 1.0) * 0.7
        hist.bar(x, curve.counts, width=width, color=PALETTE.light_blue, alpha=0.6)
        ax.errorbar(x, curve.values, yerr=[curve.values - lo, hi - curve.values],
                    color=PALETTE.blue, marker="o", linestyle="-" if kind == "discrete"
                    else "--", linewidth=1.2, capsize=3, label="neighborhood")
        if kind == "categorical":
            # upright labels only when few and short; else vertical (never overlapping as
            # long as the panel is at least category_width(len(x)) wide)
            labels = [str(g) for g in curve.grid]
            upright = len(x) <= 3 and max(len(t) for t in labels) <= 12
            ax.set_xticks(x)
            ax.set_xticklabels(labels, rotation=0 if upright else 90,
                               fontsize=None if upright else 8)
    if global_curve is not None:
        if kind == "categorical" and positions is not None:
            pts = [(positions[str(g)], v) for g, v in zip(global_curve.grid, global_curve.values)
                   if str(g) in positions]
            if pts:
                gx, gv = zip(*sorted(pts))
                ax.plot(gx, gv, color=PALETTE.gray, marker="s", linestyle=":",
                        label="global")
        elif global_curve.kind != "categorical":
            ax.plot(np.asarray(global_curve.grid, dtype=np.float64), global_curve.values,
                    color=PALETTE.gray, linestyle="--", linewidth=1.5, label="global")
    if anomaly_value is not None:
        if kind == "categorical":
            xv = positions.get(str(anomaly_value)) if positions else None
        else:
            xv = float(anomaly_value)
        if xv is not None:
            ax.axvline(xv, color=PALETTE.red, linestyle=":", linewidth=1.5, label="anomaly")
    if kind != "categorical":  # at most 5 numeric ticks: wide numbers never touch
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    top = max(float(np.max(curve.counts)) if len(curve.counts) else 1.0, 1.0)
    hist.set_ylim(0, top * 4)
    hist.set_yticks([])
    ax.axhline(0, color=PALETTE.reference, linewidth=0.6, zorder=0)
    ax.set_title(curve.feature)
    ax.set_ylabel(f"ALE of P({target_label})")
    if global_curve is not None or anomaly_value is not None:
        ax.legend(fontsize=7, frameon=False)


def ale(result: Any, features: Any = None, *, global_result: Any = None,
        max_display: int = 6, ax: Any = None, show: bool = True):
    """Plot neighborhood ALE curves.

    Parameters
    ----------
    result : ALEResult
        From :func:`shap_debug.explanations.ale.neighborhood_ale`.
    features : name, index or list of them, optional
        Default: the ``max_display`` features with the largest ALE range.
    global_result : ALEResult, optional
        The same model's ALE over the whole training set, drawn dashed in grey.
    max_display : int
        How many features when ``features`` is None.
    ax : matplotlib Axes or sequence of Axes, optional
        One Axes per feature; by default a new figure with a grid of panels.
    show : bool
        Call ``plt.show()`` at the end.

    Returns
    -------
    Axes (one feature) or list of Axes.

    Examples
    --------
    >>> import numpy as np, matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.linear_model import LogisticRegression
    >>> from shap_debug.explanations.ale import neighborhood_ale
    >>> X = np.random.default_rng(0).normal(size=(200, 2)); y = (X[:, 0] > 0).astype(int)
    >>> res = neighborhood_ale(LogisticRegression().fit(X, y), X, progress=False)
    >>> ax = ale(res, "Feature 0", show=False)
    """
    if not _is_ale_result(result):
        raise TypeError(f"result must be an ALEResult; got {type(result).__name__}")
    if global_result is not None and not _is_ale_result(global_result):
        raise TypeError(f"global_result must be an ALEResult; got {type(global_result).__name__}")
    max_display = check_int(max_display, "max_display", low=1)
    names = result.feature_names
    if features is None:
        chosen = list(result.ranges().index[:max_display])
        idx = [names.index(f) for f in chosen]
    else:
        idx = check_columns(features, names, "features")
    if not idx:
        raise ValueError("no features to plot")
    axes, _created = _resolve_axes(ax, len(idx))
    glob = {} if global_result is None else {c.feature: c for c in global_result.curves}
    anomaly = result.anomaly or {}
    for a, j in zip(axes, idx):
        curve = result.curves[j]
        _draw(a, curve, glob.get(curve.feature), anomaly.get(curve.feature),
              result.target_label, result.confidence)
    finish(_created, show, axes[0])
    return axes[0] if len(axes) == 1 else axes


def ale_bias_plot(bias: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Horizontal bars: neighborhood vs global ALE range, flagged features in red.

    Parameters
    ----------
    bias : ALEBias
        From :func:`shap_debug.explanations.ale.ale_bias`.
    max_display : int
        The features with the largest neighborhood range.
    ax : matplotlib Axes, optional
    show : bool
        Call ``plt.show()`` at the end.

    Returns
    -------
    matplotlib Axes
    """
    check_int(max_display, "max_display", low=1)
    tab = bias.table.head(max_display).iloc[::-1]
    ax, created = new_axes(ax, (6, 0.45 * len(tab) + 1.2))
    y = np.arange(len(tab))
    nb_col = [PALETTE.red if f else PALETTE.blue for f in tab["flagged"]]
    ax.barh(y + 0.2, tab["range_neighborhood"], height=0.4, color=nb_col,
            label="neighborhood")
    ax.barh(y - 0.2, tab["range_global"], height=0.4, color=PALETTE.gray,
            label="global")
    ax.axvline(bias.threshold, color=PALETTE.red, linestyle=":", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels([f + (" (protected)" if p else "")
                        for f, p in zip(tab.index, tab["protected"])])
    ax.set_xlabel("ALE range (max - min effect on the probability)")
    ax.legend(loc="lower right", frameon=False)
    finish(created, show)
    return ax
