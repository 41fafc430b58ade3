"""Adapters that let a model loaded from a file behave as a scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from ..core import clone_model, predict_proba_fn

__all__ = ["LabelledClassifier", "BoosterClassifier"]


class LabelledClassifier(ClassifierMixin, BaseEstimator):
    """A classifier trained on codes ``0..k-1``, seen with its real class names.

    XGBoost (and a torch module) know their classes only as ``0..k-1``; when the target
    column holds names (``">50K"``) this adapter maps code ``j`` to ``classes[j]``, so
    reports show the names. Built around an already fitted ``estimator`` it predicts with
    it; :meth:`fit` (what refitting checks call on a clone) behaves like any scikit-learn
    classifier: ``classes_`` become the sorted labels of ``y`` and a clone of the
    estimator is fitted on their codes.

    Parameters
    ----------
    estimator : classifier with ``predict_proba`` over classes ``0..k-1``
    classes : sequence
        The class names, code order (sorted, as ``LabelEncoder`` numbers them).
    """

    def __init__(self, estimator: Any = None, classes: Sequence[Any] = ()):
        self.estimator = estimator
        self.classes = classes

    @property
    def wrapped_model_(self) -> Any:
        """The estimator that predicts (what shap's TreeExplainer should see)."""
        return getattr(self, "estimator_", self.estimator)

    @property
    def classes_(self) -> np.ndarray:
        """The class labels in the order of ``predict_proba``'s columns."""
        fitted = getattr(self, "fitted_classes_", None)
        return fitted if fitted is not None else np.asarray(list(self.classes), dtype=object)

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LabelledClassifier:
        """Refit a clone of the wrapped estimator on label codes; returns ``self``."""
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        self.estimator_ = clone_model(self.estimator, "estimator").fit(X, codes, **fit_params)
        self.fitted_classes_ = classes
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``."""
        return predict_proba_fn(self.wrapped_model_, "estimator")(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class BoosterClassifier(ClassifierMixin, BaseEstimator):
    """A LightGBM ``Booster`` (a model file) as a scikit-learn classifier.

    ``predict_proba`` gives one column per class; shap's TreeExplainer is given the booster
    itself (``wrapped_model_``). :meth:`fit` trains a new booster with the loaded one's
    parameters and number of iterations (what refitting checks, such as the label-flip
    check, call on a clone).

    Parameters
    ----------
    booster : lightgbm.Booster
    classes : sequence, optional
        Class labels in the booster's output order (default ``0..k-1``).
    """

    def __init__(self, booster: Any = None, classes: Sequence[Any] | None = None):
        self.booster = booster
        self.classes = classes

    @property
    def wrapped_model_(self) -> Any:
        """The booster that predicts (the refitted one after ``fit``)."""
        return getattr(self, "booster_", self.booster)

    @property
    def classes_(self) -> np.ndarray:
        """The class labels in the order of ``predict_proba``'s columns."""
        if self.classes is not None:
            return np.asarray(list(self.classes))
        k = self.booster.num_model_per_iteration()  # one model per class, one if binary
        return np.arange(max(k, 2))

    def fit(self, X: Any, y: Any) -> BoosterClassifier:
        """Retrain a booster with the loaded one's parameters and rounds; returns ``self``."""
        import lightgbm as lgb

        codes = pd.Index(self.classes_).get_indexer(np.asarray(y))  # vectorised lookup
        if (codes < 0).any():
            unknown = sorted({str(v) for v in np.asarray(y)[codes < 0]})[:5]
            raise ValueError(f"y has labels the booster does not know: {unknown}; its "
                             f"classes are {self.classes_.tolist()}")
        params = {k: v for k, v in dict(self.booster.params).items()
                  if k not in ("num_iterations", "num_boost_round", "n_estimators",
                               "categorical_feature", "categorical_column")}
        params.setdefault("verbose", -1)
        self.booster_ = lgb.train(params, lgb.Dataset(X, codes),
                                  num_boost_round=max(self.booster.current_iteration(), 1))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of ``classes_``."""
        p = np.asarray(self.wrapped_model_.predict(X), dtype=np.float64)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label of each row."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


