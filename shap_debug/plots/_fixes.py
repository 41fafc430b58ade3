"""Forest plot of verified fixes: each action's change in held-out accuracy with its
interval, best first (shap-style: ``ax=None, show=True``, returns the Axes)."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from ..core import PALETTE, finish, new_axes

__all__ = ["fixes_plot"]


def _wrap(text: str, width: int = 38, lines: int = 2) -> str:
    parts = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 3].rstrip() + "..."
    return "\n".join(parts)


def fixes_plot(report: Any, scope: str = "overall", max_display: int = 12, ax: Any = None,
               show: bool = True):
    """Each action's change in held-out accuracy (points) with its interval (lines).

    Parameters
    ----------
    report : FixReport
    scope : str, default "overall"
        ``"overall"`` or a failing cohort's label (``"C1"``...): accuracy inside it.
    max_display : int, default 12
        Actions shown, best overall first.
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when the function made the figure).

    Returns
    -------
    matplotlib Axes
    """

    scopes = {"overall"} | {c.label for c in report.cohorts}
    if scope not in scopes:
        raise ValueError(f"scope must be one of {sorted(scopes)}; got {scope!r}")
    if not isinstance(max_display, int) or max_display < 1:
        raise ValueError(f"max_display must be a positive int; got {max_display!r}")
    names = list(report.ranked)[:max_display]
    labels = []
    for n in names:
        a = report.action(n)
        labels.append(_wrap(f"{n}: {a.target}" if a.cohort else n))
    n_lines = sum(lab.count("\n") + 1 for lab in labels)
    ax, own = new_axes(ax, (7.5, 1.0 + 0.32 * max(n_lines, 2) + 0.12 * len(names)))
    if not names:
        ax.text(0.5, 0.5, "no fix measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        finish(own, show)
        return ax
    rows = [report.effect(n, scope) for n in names]
    d = np.array([r["delta"] for r in rows], dtype=float) * 100
    lo = np.array([r["low"] for r in rows], dtype=float) * 100
    hi = np.array([r["high"] for r in rows], dtype=float) * 100
    y = np.arange(len(names))[::-1]
    palette = {"helps": PALETTE.red, "hurts": PALETTE.blue}
    for yi, di, a, b, r in zip(y, d, lo, hi, rows):
        if np.isnan(di):
            ax.text(0, yi, "not measured", va="center", ha="center", fontsize=8,
                    color=PALETTE.gray)
            continue
        c = palette.get(r["effect"], PALETTE.gray)
        ax.plot([a, b], [yi, yi], color=c, lw=2, solid_capstyle="round")
        ax.plot([di], [yi], "o", color=c, ms=6)
    ax.axvline(0, color=PALETTE.ink, lw=0.8, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_ylim(-0.7, len(names) - 0.3)
    where = "overall" if scope == "overall" else f"inside {scope}"
    ax.set_xlabel(f"change in held-out accuracy {where} (points, "
                  f"{report.confidence:.0%} interval)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    finish(own, show, ax)
    return ax
