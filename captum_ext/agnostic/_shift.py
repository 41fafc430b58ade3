"""Attribution shift: mean |attribution| on chosen features (the protected concept's
proxies) for several models, e.g. plain vs agnostic ("right for the right reason")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shap_debug.core import (
    Result,
    check_int,
    check_option,
    check_random_state,
    feature_names_of,
    section_html,
    seed_from,
    table_html,
)

from ._network import AgnosticNetwork

__all__ = ["AttributionShift", "attribution_shift"]


@dataclass(frozen=True, repr=False)
class AttributionShift(Result):
    """Mean ``|attribution|`` per feature for several models (e.g. plain vs agnostic).

    Attributes
    ----------
    mean_abs : pandas.DataFrame
        Index: features; columns: model names. Mean absolute attribution over the rows.
    share : pandas.DataFrame
        The same, divided by each model's total (comparable across models).
    method : str
    focus : tuple of str
        The features of interest (the protected concept's proxies).
    """

    mean_abs: pd.DataFrame
    share: pd.DataFrame
    method: str
    focus: tuple

    def to_frame(self) -> pd.DataFrame:
        """Long format: feature, model, mean_abs, share, is_focus."""
        a = self.mean_abs.stack().rename("mean_abs")
        s = self.share.stack().rename("share")
        out = pd.concat([a, s], axis=1).reset_index()
        out.columns = ["feature", "model", "mean_abs", "share"]
        out["is_focus"] = out["feature"].isin(self.focus)
        return out

    def focus_share(self) -> pd.Series:
        """Per model: the share of attribution on the focus features."""
        return self.share.loc[list(self.focus)].sum(0)

    def summary(self) -> dict[str, Any]:
        """Method, focus features, number of features and each model's focus share."""
        return {"method": self.method, "focus": self.focus,
                "n_features": len(self.mean_abs),
                "focus_share": {str(m): round(float(v), 4)
                                for m, v in self.focus_share().items()}}

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True) -> Any:
        """Grouped bars of the attribution share, focus features first (see
        :func:`captum_ext.plots._agnostic.attribution_shift_plot`)."""
        from ..plots import attribution_shift_plot

        return attribution_shift_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        frame = self.focus_share().rename("share").rename_axis("model").reset_index()
        focus = ", ".join(map(str, self.focus))
        return section_html(f"Attribution on {focus}", table_html(frame, float_format="{:.3f}"),
                            f"{self.method}; share of mean |attribution|")


def attribution_shift(
    models: Mapping[str, Any],
    X: Any,
    focus: Sequence[str] | str,
    *,
    method: str = "integrated_gradients",
    max_rows: int = 300,
    n_steps: int = 32,
    random_state: int | np.random.Generator | None = 0,
    progress: bool = False,
) -> AttributionShift:
    """Compare mean |attribution| on ``focus`` features across models ("right for the right
    reason": after agnostic training, the protected concept's proxies should matter less).

    Parameters
    ----------
    models : mapping name -> fitted model
        ``method="integrated_gradients"`` needs :class:`AgnosticNetwork` models (Captum
        IntegratedGradients through :meth:`AgnosticNetwork.attribute`); ``method="shap"``
        takes any classifier (:func:`shap_debug.contributions.explain`, contributions towards
        each row's predicted class).
    X : tabular inputs (DataFrame or 2-D array), the same for every model.
    focus : feature name(s) of interest.
    method : {"integrated_gradients", "shap"}
    max_rows : int
        Rows explained (a random subset when ``X`` is larger).

    Returns
    -------
    AttributionShift
    """
    check_option(method, "method", ["integrated_gradients", "shap"])
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty mapping name -> fitted model")
    max_rows = check_int(max_rows, "max_rows", low=1)
    names = feature_names_of(X)
    focus = [focus] if isinstance(focus, str) else [str(f) for f in focus]
    unknown = [f for f in focus if f not in names]
    if unknown:
        raise ValueError(f"focus: unknown feature(s) {unknown}; known features are {names}")
    rng = check_random_state(random_state)
    rows = np.sort(rng.choice(len(X), size=min(max_rows, len(X)), replace=False))
    Xs = X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
    cols = {}
    for name, model in models.items():
        if method == "integrated_gradients":
            if not isinstance(model, AgnosticNetwork):
                raise TypeError(f"models[{name!r}]: integrated_gradients needs an "
                                f"AgnosticNetwork; got {type(model).__name__} (use method='shap')")
            vals = model.attribute(Xs, n_steps=n_steps).values
        else:
            from shap_debug.contributions import contribution_matrix, explain

            exp = explain(model, Xs, random_state=seed_from(rng), progress=progress)
            pred = np.asarray(model.predict_proba(Xs)).argmax(1)
            vals = contribution_matrix(exp, pred)
        cols[str(name)] = np.abs(vals).mean(0)
    mean_abs = pd.DataFrame(cols, index=names)
    share = mean_abs / mean_abs.sum(0).replace(0, np.nan)
    return AttributionShift(mean_abs=mean_abs, share=share.fillna(0.0), method=method,
                            focus=tuple(focus))
