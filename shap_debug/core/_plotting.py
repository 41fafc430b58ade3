"""The two lines every shap-style plot shares: take the caller's Axes or make a figure, and
show it only when this call made it (never touch pyplot state when ``ax`` is given)."""

from __future__ import annotations

from typing import Any


def new_axes(ax: Any, size: tuple[float, float] = (7.0, 4.0), ncols: int = 1) -> tuple[Any, bool]:
    """``(ax, False)`` when ``ax`` is given, else a new figure's Axes and ``True`` (owned).

    With ``ncols > 1`` the new figure has that many side-by-side Axes, each ``size`` wide.
    """
    if ax is not None:
        return ax, False
    import matplotlib.pyplot as plt

    _, axes = plt.subplots(1, ncols, figsize=(size[0] * ncols, size[1]))
    return axes, True


def finish(created: bool, show: bool) -> None:
    """``plt.show()`` when this call created the figure and ``show`` is True."""
    if created and show:
        import matplotlib.pyplot as plt

        plt.show()
