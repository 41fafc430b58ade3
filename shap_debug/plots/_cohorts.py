"""Plots of error cohorts: leaves by share of errors, the two-feature error heatmap, and the
ambiguous / fixable split of each cohort's errors."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from ..core import PALETTE, finish
from ..core import new_axes as _axes

__all__ = ["ambiguity_plot", "cohort_label", "cohort_plot", "error_heatmap"]

#: Characters per line and lines per bar of a cohort label: longer rules are abbreviated
#: (ending in "…"); the full rule is in the table beside the chart.
LABEL_WIDTH, LABEL_LINES = 42, 3
#: Inches of figure height per bar, enough for LABEL_LINES lines of 8-point text.
_BAR_INCHES = 0.56


def cohort_label(rule: str, number: int | None = None, width: int = LABEL_WIDTH,
                 lines: int = LABEL_LINES) -> str:
    """A cohort rule as a bar label: wrapped at ``width``, at most ``lines`` lines.

    Parameters
    ----------
    rule : str
    number : int, optional
        Shown first (``"#2 ..."``), to find the full rule in a numbered table.
    width, lines : int

    Returns
    -------
    str

    Examples
    --------
    >>> cohort_label("age <= 30 and hours-per-week > 40", number=1)
    '#1 age <= 30 and hours-per-week > 40'
    >>> label = cohort_label(" and ".join(f"feature{k} > {k}" for k in range(20)))
    >>> len(label.splitlines()), label.endswith("…")
    (3, True)
    """
    text = f"#{number} {rule}" if number is not None else str(rule)
    wrapped = textwrap.wrap(text, width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: width - 1].rstrip() + "…"
    return "\n".join(wrapped)


def _bars_height(n: int) -> float:
    return _BAR_INCHES * max(n, 1) + 1.5



def _no_errors(ax: Any) -> None:
    ax.text(0.5, 0.5, "no errors", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def cohort_plot(result: Any, max_display: int = 10, ax: Any = None, show: bool = True, *,
                kind: str = "leaves", numbered: bool = False):
    """Horizontal bars: each cohort's share of rows and of errors, with its error rate.

    Long rules are wrapped and abbreviated to three lines (see :func:`cohort_label`); the
    figure made here is sized by the number of bars so labels never overlap.

    Parameters
    ----------
    result : ErrorCohorts
    max_display : int, default 10
        Cohorts shown (in the result's order: leaves most errors first, slices significant
        first).
    kind : {"leaves", "slices"}
        The error tree's leaves (disjoint) or the de-duplicated top slices.
    numbered : bool
        Start each label with its position (``#1``), to match a numbered table.
    ax : matplotlib Axes, optional
    show : bool, default True
        Call ``plt.show()`` (only when the function made the figure).

    Returns
    -------
    matplotlib Axes
    """

    if kind not in ("leaves", "slices"):
        raise ValueError(f"kind must be 'leaves' or 'slices'; got {kind!r}")
    leaves = list(result.leaves if kind == "leaves" else result.slices)[:max_display]
    ax, own = _axes(ax, (8, _bars_height(len(leaves))))
    if not leaves:
        _no_errors(ax)
    else:
        pos = np.arange(len(leaves))[::-1]
        share_rows = [c.size / result.n_rows for c in leaves]
        share_err = [c.error_share for c in leaves]
        ax.barh(pos + 0.2, share_err, height=0.4, color=PALETTE.red, label="share of errors")
        ax.barh(pos - 0.2, share_rows, height=0.4, color=PALETTE.blue, label="share of rows")
        for p, c in zip(pos, leaves):
            ax.text(max(c.error_share, c.size / result.n_rows) + 0.01, p,
                    f"error rate {c.error_rate:.0%}", va="center", fontsize=8)
        ax.set_yticks(pos)
        ax.set_yticklabels([cohort_label(c.rule, k + 1 if numbered else None)
                            for k, c in enumerate(leaves)], fontsize=8)
        ax.set_xlim(0, 1.15)
        ax.set_xlabel(f"share (overall error rate {result.error_rate:.1%})")
        ax.legend(frameon=False, loc="lower right")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    finish(own, show, ax)
    return ax


def error_heatmap(heatmap: Any, ax: Any = None, show: bool = True):
    """Error rate over two features, cells annotated with rate and size.

    Parameters
    ----------
    heatmap : ErrorHeatmap
    ax : matplotlib Axes, optional
    show : bool, default True

    Returns
    -------
    matplotlib Axes
    """

    ax, own = _axes(ax, (1.1 * len(heatmap.cols) + 3, 0.6 * len(heatmap.rows) + 2))
    rates = np.ma.masked_invalid(heatmap.rates)
    cmap = PALETTE.white_to(PALETTE.red, "error_rate")
    im = ax.imshow(rates, cmap=cmap, vmin=0,
                   vmax=max(float(np.nanmax(heatmap.rates)), 1e-9) if heatmap.counts.any() else 1,
                   aspect="auto")
    for i in range(len(heatmap.rows)):
        for j in range(len(heatmap.cols)):
            if heatmap.counts[i, j]:
                ax.text(j, i, f"{heatmap.rates[i, j]:.0%}\nn={int(heatmap.counts[i, j])}",
                        ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(heatmap.cols)))
    ax.set_xticklabels(heatmap.cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(heatmap.rows)))
    ax.set_yticklabels(heatmap.rows, fontsize=8)
    ax.set_xlabel(heatmap.f2)
    ax.set_ylabel(heatmap.f1)
    ax.figure.colorbar(im, ax=ax, label="error rate")
    finish(own, show, ax)
    return ax


def ambiguity_plot(report: Any, max_display: int = 10, ax: Any = None, show: bool = True, *,
                   numbered: bool = False):
    """Stacked bars per cohort: its errors split into ambiguous, fixable and other.

    Parameters
    ----------
    report : AmbiguityReport
    max_display : int, default 10
    numbered : bool
        Start each label with its position (``#1``), to match a numbered table (two long
        rules can abbreviate alike).
    ax : matplotlib Axes, optional
    show : bool, default True

    Returns
    -------
    matplotlib Axes
    """

    diags = list(report.cohorts)[:max_display]
    ax, own = _axes(ax, (8, _bars_height(len(diags))))
    if not diags:
        _no_errors(ax)
    else:
        pos = np.arange(len(diags))[::-1]
        share = np.array([d.cohort.error_share for d in diags])
        amb = share * np.array([d.ambiguous_share for d in diags])
        fix = share * np.array([d.fixable_share for d in diags])
        oth = share - amb - fix
        ax.barh(pos, amb, color=PALETTE.gray, label="ambiguous")
        ax.barh(pos, fix, left=amb, color=PALETTE.red, label="fixable (data)")
        ax.barh(pos, oth, left=amb + fix, color=PALETTE.blue, label="other")
        for p, d, s in zip(pos, diags, share):
            ax.text(s + 0.01, p, d.verdict, va="center", fontsize=8)
        ax.set_yticks(pos)
        ax.set_yticklabels([cohort_label(d.cohort.rule, k + 1 if numbered else None)
                            for k, d in enumerate(diags)], fontsize=8)
        ax.set_xlim(0, 1.15)
        ax.set_xlabel("share of all errors")
        ax.legend(frameon=False, loc="lower right")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    finish(own, show, ax)
    return ax
