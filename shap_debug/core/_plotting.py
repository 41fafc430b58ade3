"""What every shap-style plot shares: one palette, the caller's Axes or a new figure, and one
finish routine that shows the figure only when the plot made it (never touching pyplot state
when ``ax`` is given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PALETTE", "Palette", "finish", "new_axes"]


@dataclass(frozen=True)
class Palette:
    """Named colours of every plot: shap's red and blue (:mod:`shap.plots.colors`) for the
    two sides of a comparison, and neutral tones for references and grids.

    Attributes
    ----------
    red, blue, light_red, light_blue, gray : shap's colours (the anomaly / flagged side is red)
    series : colours for further lines, after red and blue
    reference : reference lines (zero, a cap, a threshold)
    ink : text and strong lines drawn on the plot
    grid : faint grid lines
    """

    red: str = "#ff0051"
    blue: str = "#008bfb"
    light_red: str = "#ff7fa7"
    light_blue: str = "#7fc4fc"
    gray: str = "#848484"
    series: tuple[str, ...] = ("#7b3294", "#008837", "#e66101")
    reference: str = "#888888"
    ink: str = "#444444"
    grid: str = "#eeeeee"

    def cycle(self, k: int) -> str:
        """The ``k``-th colour of red, blue, then :attr:`series`, repeating."""
        colours = (self.red, self.blue, *self.series)
        return colours[k % len(colours)]

    def white_to(self, colour: str, name: str = "white_to") -> Any:
        """A sequential colormap from white to ``colour`` (for heatmaps of rates)."""
        from matplotlib.colors import LinearSegmentedColormap

        return LinearSegmentedColormap.from_list(name, ["#ffffff", colour])


#: the one palette of shap_debug's and captum_ext's plots
PALETTE = Palette()


def new_axes(ax: Any, size: tuple[float, float] = (7.0, 4.0), ncols: int = 1) -> tuple[Any, bool]:
    """``(ax, False)`` when ``ax`` is given, else a new figure's Axes and ``True`` (owned).

    With ``ncols > 1`` the new figure has that many side-by-side Axes, each ``size`` wide.
    """
    if ax is not None:
        return ax, False
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]))
    return axes, True


def finish(created: bool, show: bool, ax: Any = None) -> None:
    """Lay out (given ``ax``) and ``plt.show()`` a figure this call created, when ``show``.

    A figure the caller gave (``created`` False) is left exactly as it is.
    """
    if not created:
        return
    if ax is not None:
        first = ax.flat[0] if hasattr(ax, "flat") else ax
        first.figure.tight_layout()
    if show:
        import matplotlib.pyplot as plt

        plt.show()
