"""A model and its data from files, ready for the Debugger (what ``shap-debug report
--model`` runs). This module never imports the Debugger: the caller builds it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import classes_of, is_torch_module, predict_proba_fn
from ._adapters import LabelledClassifier
from ._model_files import load_model
from ._tables import load_table

__all__ = ["DebugInputs", "report_from_files"]


def _expected_columns(model: Any) -> list[str] | None:
    """The feature names the model was trained with, when it kept them."""
    for obj in (model, getattr(model, "wrapped_model_", None)):
        if obj is None:
            continue
        for attr in ("feature_names_in_", "feature_names_"):
            names = getattr(obj, attr, None)
            if names is not None and len(names):
                return [str(v) for v in names]
        if callable(getattr(obj, "feature_name", None)):  # lightgbm.Booster
            return [str(v) for v in obj.feature_name()]
    return None


def _categorical_columns(model: Any, X: pd.DataFrame) -> dict[str, Any]:
    """Columns the model takes as pandas categories (their levels when it kept them)."""
    inner = getattr(model, "wrapped_model_", model)
    out: dict[str, Any] = {}
    pandas_cats = getattr(inner, "pandas_categorical", None)  # lightgbm.Booster
    if callable(getattr(inner, "feature_name", None)) and pandas_cats:
        cat_idx = [i for i, v in enumerate(X.dtypes) if not pd.api.types.is_numeric_dtype(v)]
        for j, levels in zip(cat_idx, pandas_cats):
            out[str(X.columns[j])] = list(levels)
    types = getattr(inner, "feature_types", None)  # XGBoost: "c" marks a categorical
    if types is not None and type(inner).__name__ == "XGBClassifier":
        names = _expected_columns(model) or [str(c) for c in X.columns]
        out.update({n: None for n, t in zip(names, types) if t == "c"})
    return out


def _conform(model: Any, X: pd.DataFrame, name: str, notes: list[str],
             like: pd.DataFrame | None = None) -> pd.DataFrame:
    """The table's columns in the model's order and dtypes; extra columns dropped.

    Text columns the model takes as categories get the levels the model kept (LightGBM),
    else those of ``like`` (the training table, for the test table): a level the model
    never saw becomes missing, as LightGBM does it, and a note says how many.
    """
    expected = _expected_columns(model)
    if expected is not None and [str(c) for c in X.columns] != expected:
        missing = [c for c in expected if c not in X.columns]
        if missing:
            raise ValueError(f"{name} lacks columns the model was trained with: {missing}")
        extra = [str(c) for c in X.columns if c not in expected]
        if extra:
            notes.append(f"columns the model does not use were left out: {extra}")
        X = X[expected]
    cats = _categorical_columns(model, X)
    if cats:
        X = X.copy()
        for col, levels in cats.items():
            if col not in X.columns or isinstance(X[col].dtype, pd.CategoricalDtype):
                continue
            if levels is None and like is not None and col in like.columns:
                levels = list(like[col].cat.categories)
            before = X[col].notna()
            X[col] = X[col].astype(pd.CategoricalDtype(levels) if levels else "category")
            unseen = int((before & X[col].isna()).sum())
            if unseen:
                notes.append(f"{name}: {unseen} values of {col!r} the model never saw are "
                             "treated as missing")
    return X


@dataclass(frozen=True)
class DebugInputs:
    """A loaded model with its training (and test) rows, ready for the Debugger.

    Attributes
    ----------
    model : the fitted classifier (in a :class:`LabelledClassifier` when the target
        column holds names the model only knows as codes)
    X, y : training rows and labels; X_test, y_test : held-out ones or None
    notes : tuple of str
        What was done to the data (columns left out, label mapping), for the report.
    """

    model: Any
    X: pd.DataFrame
    y: np.ndarray
    X_test: pd.DataFrame | None = None
    y_test: np.ndarray | None = None
    notes: tuple = field(default_factory=tuple)

    def arguments(self) -> dict[str, Any]:
        """``model, X, y, X_test, y_test`` as keywords: ``Debugger(**inputs.arguments())``."""
        return {"model": self.model, "X": self.X, "y": self.y, "X_test": self.X_test,
                "y_test": self.y_test}


def _split_target(frame: pd.DataFrame, target: str, name: str) -> tuple[pd.DataFrame, np.ndarray]:
    if target not in frame.columns:
        raise ValueError(f"target {target!r} is not a column of {name}; columns are "
                         f"{[str(c) for c in frame.columns]}")
    y = frame[target]
    if y.isna().any():
        raise ValueError(f"target {target!r} has {int(y.isna().sum())} missing values in "
                         f"{name}; drop those rows first")
    return frame.drop(columns=[target]), np.asarray(y.to_numpy())


def _known_classes(model: Any, X: pd.DataFrame) -> np.ndarray:
    try:
        return np.asarray(classes_of(model))
    except TypeError:  # a torch module: its outputs are the classes 0..k-1
        return np.arange(predict_proba_fn(model)(X.iloc[:1]).shape[1])


def _labelled(model: Any, X: pd.DataFrame, y: np.ndarray, notes: list[str]) -> Any:
    """The model, or a LabelledClassifier when y names classes the model knows as codes."""
    known = _known_classes(model, X)
    if np.isin(y, known).all():
        return model
    levels = np.unique(y.astype(str)) if y.dtype == object else np.unique(y)
    codes_only = np.issubdtype(known.dtype, np.integer) and np.array_equal(
        np.sort(known), np.arange(len(known)))
    if codes_only and len(levels) == len(known):
        notes.append("the model numbers its classes; their names, in sorted order: "
                     + ", ".join(f"{j} = {v}" for j, v in enumerate(levels)))
        return LabelledClassifier(model, levels.tolist())
    raise ValueError(f"the target's labels {levels.tolist()[:10]} do not match the model's "
                     f"classes {known.tolist()[:10]}")


def report_from_files(model_path: str | Path, train_path: str | Path, target: str,
                      test_path: str | Path | None = None, *, trust_code: bool = False,
                      trusted: Sequence[str] | None = None, kind: str | None = None,
                      torch_architecture: dict | str | Path | None = None,
                      trust_pickle: bool = False) -> DebugInputs:
    """Load a model and its data from files, ready for :class:`~shap_debug.Debugger`.

    The model is loaded with :func:`load_model` (pickles and TorchScript only with
    ``trust_code``), the tables with :func:`load_table` (a CSV's rows keep their file line
    numbers as the index). Feature columns are put in the order the model was
    trained with (columns it does not use are left out, with a note), string columns
    become pandas categories where the model takes categories (XGBoost, LightGBM), and a
    target of names (``">50K"``) for a model that only knows codes ``0..k-1`` is mapped in
    sorted order, so the report shows the names. Missing values stay missing.

    Parameters
    ----------
    model_path, train_path : str or Path
    target : str
        The label column (in both tables).
    test_path : str or Path, optional
    trust_code, trusted, kind, torch_architecture, trust_pickle
        As in :func:`load_model`.

    Returns
    -------
    DebugInputs
        ``Debugger(**inputs.arguments(), ...)`` builds the Debugger; ``inputs.notes`` go
        into the report (``Debugger.report(..., notes=inputs.notes)``).

    Examples
    --------
    The CLI (``shap-debug report --model m.json --train train.csv --target income``)::

        inputs = report_from_files(args.model, args.train, args.target, args.test,
                                   trust_code=args.trust_code)
        dbg = Debugger(**inputs.arguments(), protected=args.protected,
                       random_state=args.seed)
        dbg.report(args.anomalies, args.out, notes=inputs.notes)
    """
    if not isinstance(target, str) or not target:
        raise ValueError(f"target must name the label column; got {target!r}")
    model = load_model(model_path, trust_code=trust_code or trust_pickle, trusted=trusted,
                       kind=kind, torch_architecture=torch_architecture)
    notes: list[str] = []
    X, y = _split_target(load_table(train_path, "train_path"), target, "train_path")
    X = _conform(model, X, "train_path", notes)
    X_test = y_test = None
    if test_path is not None:
        X_test, y_test = _split_target(load_table(test_path, "test_path"), target,
                                       "test_path")
        X_test = _conform(model, X_test, "test_path", notes, like=X)
        if list(X_test.columns) != list(X.columns):
            raise ValueError("test_path must have the same feature columns as train_path")
    if is_torch_module(model):
        text = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if text:
            raise ValueError(f"a torch model takes numbers; train_path has text columns {text}"
                             " (save the encoded inputs the network was trained on)")
    model = _labelled(model, X, y, notes)
    known = _known_classes(model, X)
    if y_test is not None and not np.isin(y_test, known).all():
        unknown = sorted({str(v) for v in y_test[~np.isin(y_test, known)]})
        raise ValueError(f"test_path's target has labels the model does not know: {unknown}")
    return DebugInputs(model, X, y, X_test, y_test, tuple(notes))
