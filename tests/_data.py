"""The test kit: bundled data sets and the usual models, each built once per session.

``conftest.py`` turns these into session-scoped fixtures (``adult_data``, ``german_lr``,
``compas_gb``, ...); tests that need another size call :func:`dataset` / :func:`fitted`
directly (both cached, so equal arguments share one object). Everything is seeded.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

#: ``(rows, seed)`` the fixtures take of each set: the first rows, or rows drawn with the seed
SIZES = {"adult": (4000, 1), "german": (1000, None), "compas": (3000, None)}
#: trees of the fixtures' gradient boosting
N_TREES = 50


class Data:
    """One bundled data set, encoded: ``X`` readable, ``Z`` its ordinal codes, ``y`` labels."""

    def __init__(self, name: str, X: pd.DataFrame, y: np.ndarray, Z: np.ndarray, encoder: Any):
        self.name, self.X, self.y, self.Z, self.encoder = name, X, y, Z, encoder

    def __repr__(self) -> str:
        return f"Data({self.name}, {self.Z.shape})"


class Fitted:
    """A model fitted on a :class:`Data` (``model``), with its contributions on demand."""

    def __init__(self, data: Data, model: Any):
        self.data, self.model = data, model
        self.X, self.Z, self.y = data.X, data.Z, data.y

    @functools.cached_property
    def explanation(self) -> Any:
        """``shap_debug.contributions.explain`` of the model on ``Z`` (seed 0)."""
        from shap_debug.contributions import explain

        return explain(self.model, self.Z, random_state=0, progress=False)

    def __repr__(self) -> str:
        return f"Fitted({type(self.model).__name__} on {self.data!r})"


@functools.cache
def dataset(name: str, n: int | None = None, seed: int | None = None) -> Data:
    """The first ``n`` rows of a bundled set (``seed``: ``n`` rows drawn at random instead,
    in the order drawn)."""
    from shap_debug import datasets

    X, y = getattr(datasets, name)()
    if n is not None and n < len(X):
        take = (np.arange(n) if seed is None
                else np.random.default_rng(seed).choice(len(X), n, replace=False))
        X, y = X.iloc[take].reset_index(drop=True), y[take]
    Z, encoder = datasets.encode(X, kind="ordinal")
    return Data(name, X, np.asarray(y), Z, encoder)


@functools.cache
def fitted(name: str, kind: str, n: int | None = None, seed: int | None = None,
           n_estimators: int = N_TREES) -> Fitted:
    """A gradient boosting (``kind="gb"``, ``n_estimators`` trees, seed 0) or a logistic
    regression (``"lr"``, on standardised codes inside a pipeline) fitted on :func:`dataset`."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = dataset(name, n, seed)
    if kind == "gb":
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=0)
    elif kind == "lr":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    else:
        raise ValueError(f"kind must be 'gb' or 'lr'; got {kind!r}")
    return Fitted(data, model.fit(data.Z, data.y))


def linear_net(W: Any, b: Any) -> Any:
    """A ``torch.nn.Linear`` with weights ``W`` (outputs x inputs) and bias ``b``."""
    import torch

    net = torch.nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(W))
        net.bias.copy_(torch.as_tensor(b))
    return net
