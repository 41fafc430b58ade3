"""Debugging by augmentation: add flip points constrained to one feature to the training set,
retrain, and compare accuracy and the feature's influence (Yousefzadeh & O'Leary 2020,
§4.3 and §5.2.4, their Credit/age study)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shap_debug.core import (
    Result,
    check_columns,
    check_indices,
    check_int,
    check_option,
    check_random_state,
    check_X_y,
    clone_model,
    predict_labels,
    section_html,
    seed_from,
    table_html,
    warn,
)

from ..flip_points import FlipPoints
from ._group import GroupAudit, group_audit
from ._individual import _as_matrix

__all__ = ["AugmentationResult", "augment_with_flip_points"]


@dataclass(frozen=True, repr=False)
class AugmentationResult(Result):
    """Before/after numbers of retraining with flip points added (Credit/age experiment).

    Attributes
    ----------
    feature : str
        The audited feature (the only one the added flip points move).
    n_rows, n_added : int
        Rows whose flip points were sought, and flip points added (after the direction
        filter; twice the points with ``label="half"``, once per class).
    directions : dict
        Per class label, the direction (+1 up, -1 down) of the kept flip points.
    label : str
        ``"same"`` or ``"half"``.
    accuracy_before, accuracy_after : float
        Test accuracy.
    rank_before, rank_after : int
        The feature's influence rank by pivoted QR of the test rows' flip directions.
    pca_rank_before, pca_rank_after : int
        Its rank by the absolute loading on the first principal direction.
    pca_loading_before, pca_loading_after : float
        That absolute loading.
    change_rate_before, change_rate_after : float
        Share of test flip points that change the feature.
    """

    feature: str
    n_rows: int
    n_added: int
    accuracy_before: float
    accuracy_after: float
    rank_before: int
    rank_after: int
    change_rate_before: float
    change_rate_after: float
    model_after: Any = field(repr=False)
    audit_before: GroupAudit = field(repr=False)
    audit_after: GroupAudit = field(repr=False)
    pca_rank_before: int = 0
    pca_rank_after: int = 0
    pca_loading_before: float = float("nan")
    pca_loading_after: float = float("nan")
    directions: dict = field(default_factory=dict)
    label: str = "same"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "": ["test accuracy", f"influence rank of {self.feature} (pivoted QR)",
                 f"influence rank of {self.feature} (PCA)",
                 f"|PC1 loading| of {self.feature}",
                 f"share of flip points changing {self.feature}"],
            "before": [self.accuracy_before, self.rank_before, self.pca_rank_before,
                       self.pca_loading_before, self.change_rate_before],
            "after": [self.accuracy_after, self.rank_after, self.pca_rank_after,
                      self.pca_loading_after, self.change_rate_after],
        }).set_index("")

    _repr_fields = ("feature", "n_rows", "n_added", "accuracy_before", "accuracy_after",
                    "rank_before", "rank_after", "pca_rank_before", "pca_rank_after")

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True):
        """Change rate per feature before and after (top features by QR order before;
        :func:`captum_ext.plots._flip.augmentation_plot`)."""
        from ..plots import augmentation_plot

        return augmentation_plot(self, max_display=max_display, ax=ax, show=show)

    def _repr_html_(self) -> str:
        f = self.feature
        table = pd.DataFrame({
            "": ["test accuracy", f"QR influence rank of {f}", f"PCA influence rank of {f}",
                 f"flip points changing {f}"],
            "before": [f"{self.accuracy_before:.4f}", str(self.rank_before),
                       str(self.pca_rank_before), f"{self.change_rate_before:.0%}"],
            "after": [f"{self.accuracy_after:.4f}", str(self.rank_after),
                      str(self.pca_rank_after), f"{self.change_rate_after:.0%}"]})
        return section_html(f"Augmentation with {self.n_added} flip points in {f}",
                            table_html(table), f"from {self.n_rows} rows")


def augment_with_flip_points(model: Any, X_train: Any, y_train: Any, X_test: Any, y_test: Any,
                             feature: Any, *, rows: Any = None, directions: Any = "auto",
                             label: str = "same", max_rows: int | None = 2000,
                             feature_names: Sequence[str] | None = None, audit_rows: int = 200,
                             flip_options: dict | None = None, random_state: Any = 0,
                             **constraints: Any) -> AugmentationResult:
    """Debug by augmentation: add flip points that move one feature, and retrain.

    Yousefzadeh & O'Leary (2020, §4.3, §5.2.4): for training rows, the flip point that moves
    only ``feature`` is found; per class, only those whose change goes one way are kept
    (their Credit study: older for the rows labelled "default", younger for "no default"),
    each added with the *same label as its row*. Such a point says "this change of the
    feature does not change the outcome", so the retrained model leans less on the feature.
    ``label="half"`` trains the flip points with the flip label ``(½, ½)`` instead (their
    other variant). Test accuracy and the feature's influence (rank by pivoted QR and by PCA
    of the flip directions of ``audit_rows`` test rows, and its PC1 loading) are compared
    before and after.

    Parameters
    ----------
    model : fitted scikit-learn classifier
        Refitted with ``sklearn.base.clone`` (an ``MLPClassifier`` takes the exact path).
    X_train, y_train, X_test, y_test : encoded numeric data and labels
    feature : name or index
        The only feature the flip points move.
    rows : indices into ``X_train``, optional
        Rows whose flip points are sought. Default: the training rows the model classifies
        correctly (at most ``max_rows``, drawn at random). Misclassified rows are a poor
        choice: their flip point lies towards their own label, so adding it with that label
        teaches the model that moving the feature *does* change the outcome (measured: +59 %
        sensitivity to the feature on a synthetic credit case).
    directions : "auto", dict of label -> +1/-1, or None
        Which way the kept flip points move the feature, per class label. ``"auto"``: per
        class, the direction most of its flip points take (the model's association that the
        added points contradict; the paper's older/younger rule). None keeps every point.
    label : {"same", "half"}
        ``"same"``: each point gets its row's label (the paper's default). ``"half"``: the
        flip label ``(½, ½)``, realised by adding the point once with each of the two classes
        (for a model trained on cross-entropy, such as an MLP or a logistic regression,
        this is the same loss as one point with target ``(½, ½)``; binary tasks only).
    max_rows : int or None
        Cap on the default rows (None: all correctly classified rows).
    feature_names : sequence of str, optional
    audit_rows : int
        Test rows used for the influence ranking.
    flip_options : dict, optional
        Keyword arguments of :class:`FlipPoints` (``tol``, ``max_iter``...).
    random_state : int or Generator
    **constraints
        Passed to :meth:`FlipPoints.find` (``bounds``, ``onehot_groups``...).

    Returns
    -------
    AugmentationResult

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); y = (X[:, 0] + 0.5 * X[:, 2] > 0).astype(int)
    >>> lr = LogisticRegression().fit(X[:300], y[:300])
    >>> res = augment_with_flip_points(lr, X[:300], y[:300], X[300:], y[300:], 2,
    ...                                max_rows=60, audit_rows=50)
    >>> res.n_added > 0, res.label
    (True, 'same')
    """
    Xtr, ytr = check_X_y(X_train, y_train, x_name="X_train", y_name="y_train")
    Xte, yte = check_X_y(X_test, y_test, x_name="X_test", y_name="y_test")
    Xtr, Xte = _as_matrix(Xtr, "X_train"), _as_matrix(Xte, "X_test")
    if Xte.shape[1] != Xtr.shape[1]:
        raise ValueError(f"X_test has {Xte.shape[1]} columns but X_train has {Xtr.shape[1]}")
    m = Xtr.shape[1]
    if feature_names is None and isinstance(X_train, pd.DataFrame):
        feature_names = [str(c) for c in X_train.columns]
    names = [str(f) for f in feature_names] if feature_names is not None else [
        f"Feature {j}" for j in range(m)]
    j = check_columns([feature], names, "feature")[0]
    audit_rows = check_int(audit_rows, "audit_rows", low=1)
    label = check_option(label, "label", ["same", "half"])
    classes = np.unique(ytr)
    if label == "half" and len(classes) != 2:
        raise ValueError(f"label='half' needs a binary task; y_train has {len(classes)} classes")
    if not (directions is None or (isinstance(directions, str) and directions == "auto")
            or isinstance(directions, dict)):
        raise TypeError("directions must be 'auto', a dict of label -> +1/-1 or None; got "
                        f"{directions!r}")
    if isinstance(directions, dict):
        bad = {k: v for k, v in directions.items() if v not in (1, -1)}
        if bad:
            raise ValueError(f"directions values must be +1 or -1; got {bad}")
    rng = check_random_state(random_state)
    if rows is None:
        rows = np.flatnonzero(predict_labels(model, Xtr) == ytr)
        if max_rows is not None and len(rows) > check_int(max_rows, "max_rows", low=1):
            rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    rows = check_indices(rows, len(Xtr), "rows")
    clone_model(model)  # fail early when the model cannot be refitted
    opts = {"progress": False, **(flip_options or {})}
    opts.setdefault("random_state", seed_from(rng))
    audit_idx = rng.choice(len(Xte), size=min(audit_rows, len(Xte)), replace=False)

    def make(mdl):
        return FlipPoints(mdl, data=Xtr, feature_names=names, **opts)

    fp = make(model)
    before = group_audit(fp, Xte[audit_idx], **constraints)
    used: dict = {}
    if len(rows):
        res = fp.find(Xtr[rows], features=[j], **constraints)
        ok = res.valid.copy()
        step = np.sign(np.nan_to_num(res.delta[:, j]))
        lab = ytr[rows]
        if directions is not None:
            for k in np.unique(lab):
                mine = ok & (lab == k)
                if isinstance(directions, dict):
                    if k not in directions:
                        continue
                    way = int(directions[k])
                else:
                    up, down = int((step[mine] > 0).sum()), int((step[mine] < 0).sum())
                    if up == down == 0:
                        continue
                    way = 1 if up >= down else -1
                used[k.item() if hasattr(k, "item") else k] = way
                ok &= ~((lab == k) & (step != way))
        X_add, y_add = res.x_hat[ok], lab[ok]
        if label == "half":
            X_add = np.vstack([X_add, X_add])
            y_add = np.concatenate([np.full(int(ok.sum()), classes[0]),
                                    np.full(int(ok.sum()), classes[1])])
    else:
        warn("no rows to augment; the model is refitted on the original data")
        X_add, y_add = np.empty((0, m)), ytr[:0]
    new = clone_model(model)
    if "random_state" in new.get_params():
        new.set_params(random_state=seed_from(rng) if model.get_params().get(
            "random_state") is None else model.get_params()["random_state"])
    new.fit(np.vstack([Xtr, X_add]), np.concatenate([ytr, y_add]))
    after = group_audit(make(new), Xte[audit_idx], **constraints)
    acc_b = float((predict_labels(model, Xte) == yte).mean())
    acc_a = float((predict_labels(new, Xte) == yte).mean())
    return AugmentationResult(
        feature=names[j], n_rows=len(rows), n_added=len(X_add), accuracy_before=acc_b,
        accuracy_after=acc_a, rank_before=before.rank_of(j), rank_after=after.rank_of(j),
        change_rate_before=float(before.change_rate[j]),
        change_rate_after=float(after.change_rate[j]), model_after=new, audit_before=before,
        audit_after=after, pca_rank_before=before.rank_of(j, by="pca"),
        pca_rank_after=after.rank_of(j, by="pca"),
        pca_loading_before=float(abs(before.pca_loadings[j])),
        pca_loading_after=float(abs(after.pca_loadings[j])), directions=used, label=label)
