"""Plots of flip-point results (:mod:`captum_ext.flip_points`, :mod:`captum_ext.flip_audit`).

Each function takes the result first, then ``max_display``, ``ax=None`` and ``show=True``,
returns the Axes and touches no global pyplot state when ``ax`` is given. Colours come from
:mod:`shap.plots.colors`. The results are read through their attributes only (this module
imports no computation module).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from shap.plots import colors

from shap_debug.core import check_int
from shap_debug.core import finish as _finish
from shap_debug.core import new_axes as _new_axes

__all__ = ["augmentation_plot", "dependency_plot", "flip_result_plot", "group_audit_plot",
           "individual_report_plot"]




def flip_result_plot(result: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Bar chart of the mean ``|x̂ - x|`` per feature over the rows with a flip point.

    Parameters
    ----------
    result : FlipResult
    max_display : int
        How many features (largest mean change first).
    ax : matplotlib Axes, optional
    show : bool
        Call ``plt.show()`` when the Axes were created here.

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    ok = result.valid
    mean = np.abs(result.delta[ok]).mean(axis=0) if ok.any() else np.zeros(result.x.shape[1])
    order = np.argsort(-mean)[:max_display][::-1]
    ax, own = _new_axes(ax, (6, 0.4 * len(order) + 1.2))
    ax.barh(range(len(order)), mean[order], color=colors.red_rgb)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([result.feature_names[j] for j in order])
    ax.set_xlabel("mean |flip point - x|")
    ax.set_title(f"Flip points: {int(ok.sum())}/{len(result)} verified")
    _finish(own, show)
    return ax


def individual_report_plot(report: Any, max_display: int = 10, ax: Any = None,
                           show: bool = True):
    """Distance needed by each single feature that can flip the decision alone (grey: the
    flip point lies outside the training range); the dashed line is the unconstrained
    distance.

    Parameters
    ----------
    report : IndividualReport
    max_display : int
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    singles = report.singles
    df = singles[singles["can_flip"]].sort_values("distance") if len(singles) else singles
    df = df.head(max_display).iloc[::-1]
    ax, own = _new_axes(ax, (6, 0.4 * max(len(df), 1) + 1.2))
    bar_colors = [colors.red_rgb if not o else colors.gray_rgb
                  for o in df["outside_range"]] if len(df) else []
    ax.barh(range(len(df)), df["distance"] if len(df) else [], color=bar_colors)
    ax.set_yticks(range(len(df)))
    ax.set_yticklabels(list(df["features"]) if len(df) else [])
    ax.axvline(report.flip.distance[0], color=colors.blue_rgb, ls="--", lw=1,
               label="unconstrained")
    ax.set_xlabel("distance to the flip point (grey: outside the training range)")
    ax.set_title("Single features that flip the decision")
    ax.legend(loc="lower right")
    _finish(own, show)
    return ax


def group_audit_plot(audit: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Share of flip points raising (red) / lowering (blue) each feature, in QR order.

    Parameters
    ----------
    audit : GroupAudit
    max_display : int
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    max_display = check_int(max_display, "max_display", low=1)
    order = audit.qr_order[:max_display][::-1]
    ax, own = _new_axes(ax, (6, 0.4 * len(order) + 1.2))
    y = np.arange(len(order))
    ax.barh(y, audit.increase_rate[order], color=colors.red_rgb, label="increase")
    ax.barh(y, -audit.decrease_rate[order], color=colors.blue_rgb, label="decrease")
    ax.set_yticks(y)
    ax.set_yticklabels([audit.feature_names[j] for j in order])
    ax.axvline(0, color="#999999", lw=0.8)
    ax.set_xlabel("share of flip points changing the feature")
    ax.set_title(f"Flip directions, {int(audit.result.valid.sum())} rows (QR order)")
    ax.legend(loc="lower right")
    _finish(own, show)
    return ax


def dependency_plot(dep: Any, max_display: int = 30, ax: Any = None, show: bool = True):
    """``|R_kk|`` of the pivoted QR in pivot order on a log scale; dependent columns in grey.

    Parameters
    ----------
    dep : DependencyResult
    max_display : int
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    df = dep.to_frame().head(check_int(max_display, "max_display", low=1))
    ax, own = _new_axes(ax, (7, 3))
    bar_colors = [colors.gray_rgb if d else colors.blue_rgb for d in df["dependent"]]
    ax.bar(range(len(df)), np.maximum(df["r_diag"], 1e-16), color=bar_colors)
    ax.set_yscale("log")
    ax.set_xticks(range(len(df)))
    ax.set_xticklabels(df["feature"], rotation=90, fontsize=7)
    ax.set_ylabel("|R_kk| (pivoted QR)")
    ax.set_title(f"rank {dep.rank}; condition {dep.condition:.3g} -> "
                 f"{dep.condition_independent:.3g}")
    _finish(own, show)
    return ax


def augmentation_plot(aug: Any, max_display: int = 10, ax: Any = None, show: bool = True):
    """Share of flip points changing each feature before (grey) and after (red) augmenting
    (the top features by QR order before).

    Parameters
    ----------
    aug : AugmentationResult
    max_display : int
    ax : matplotlib Axes, optional
    show : bool

    Returns
    -------
    matplotlib Axes
    """
    names = aug.audit_before.feature_names
    order = aug.audit_before.qr_order[: check_int(max_display, "max_display", low=1)][::-1]
    ax, own = _new_axes(ax, (6, 0.45 * len(order) + 1.2))
    y = np.arange(len(order))
    ax.barh(y + 0.2, aug.audit_before.change_rate[order], height=0.4, color=colors.gray_rgb,
            label="before")
    ax.barh(y - 0.2, aug.audit_after.change_rate[order], height=0.4, color=colors.red_rgb,
            label="after")
    ax.set_yticks(y)
    ax.set_yticklabels([names[j] for j in order])
    ax.set_xlabel("share of flip points changing the feature")
    ax.set_title(f"Augmenting {aug.n_added} flip points in {aug.feature}")
    ax.legend(loc="lower right")
    _finish(own, show)
    return ax
