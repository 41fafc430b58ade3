"""Fresh probes for a protected concept on a frozen representation (the honest measure of
agnosticism), and the cheap probe early stopping uses after every epoch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from shap_debug.core import (
    Result,
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_y,
    escape,
    section_html,
    seed_from,
    table_html,
    warn,
)

from ._inputs import _check_protected, _check_sizes

__all__ = ["ProbeReport", "probe_protected"]


# --------------------------------------------------------------------------- training probe
def _fresh_probe_leak(R_train: np.ndarray, p_train: np.ndarray, R_test: np.ndarray,
                      p_test: np.ndarray, k: int, entropy: float) -> float:
    """Nats of the concept a fresh probe recovers from a representation (0 = nothing).

    A new logistic regression on the standardised representation and its squares (so a
    concept hidden in the spread of a direction is found too) is fitted on ``R_train``; its
    cross-entropy on ``R_test`` is subtracted from the prior's entropy. Cheap enough (a few
    ms) to run after every epoch.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(p_train)) < 2:
        return 0.0
    mu, sd = R_train.mean(0), R_train.std(0)
    sd[sd < 1e-6] = np.inf                      # (nearly) dead units carry nothing

    def features(R: np.ndarray) -> np.ndarray:
        Z = np.clip((R - mu) / sd, -6.0, 6.0)
        return np.hstack([Z, Z ** 2])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=300).fit(features(R_train), p_train)
    proba = np.full((len(R_test), k), 1e-12)
    proba[:, clf.classes_] = np.clip(clf.predict_proba(features(R_test)), 1e-12, 1.0)
    held_out = float(-np.mean(np.log(proba[np.arange(len(p_test)), p_test])))
    return max(0.0, entropy - held_out)


# --------------------------------------------------------------------------- probes
def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def _macro_auc(codes: np.ndarray, proba: np.ndarray, k: int) -> float:
    """ROC-AUC (binary) or macro one-vs-rest AUC over the classes present in the test split."""
    if k == 2:
        return _binary_auc(codes, proba[:, 1])
    aucs = [_binary_auc(codes == c, proba[:, c]) for c in range(k)
            if 0 < (codes == c).sum() < len(codes)]
    return float(np.mean(aucs)) if aucs else float("nan")


def _group_rates(pred_pos: np.ndarray, y_pos: np.ndarray | None,
                 groups: np.ndarray) -> tuple[float, float | None]:
    """Demographic-parity and equalized-odds differences (max minus min over groups)."""
    ug = np.unique(groups)
    sel = [pred_pos[groups == g].mean() for g in ug]
    dp = float(np.max(sel) - np.min(sel))
    if y_pos is None:
        return dp, None
    diffs = []
    for label in (True, False):  # TPR then FPR
        r = [pred_pos[(groups == g) & (y_pos == label)].mean() for g in ug
             if ((groups == g) & (y_pos == label)).any()]
        diffs.append(float(np.max(r) - np.min(r)) if r else 0.0)
    return dp, float(max(diffs))


@dataclass(frozen=True, repr=False)
class ProbeReport(Result):
    """How well fresh probes recover a protected concept from a frozen representation.

    Attributes
    ----------
    probes : pandas.DataFrame
        One row per probe (``logistic``, ``mlp``): accuracy, balanced accuracy and ROC-AUC
        on the test split.
    majority_rate : float
        Test accuracy of always predicting the most frequent concept value.
    chance_auc : float
        0.5: the AUC of a representation that carries nothing about the concept.
    protected_classes : tuple
    n_train, n_test, n_features : int
    accuracy : float or None
        Label accuracy of the predictions (when ``y`` and predictions were given).
    demographic_parity_difference, equalized_odds_difference : float or None
        Max minus min over concept groups of the positive-prediction rate, and the larger
        of the TPR and FPR gaps (fairlearn's definitions; binary labels only).
    """

    probes: pd.DataFrame
    majority_rate: float
    chance_auc: float
    protected_classes: tuple
    n_train: int
    n_test: int
    n_features: int
    accuracy: float | None = None
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None

    @property
    def max_auc(self) -> float:
        """The best probe's ROC-AUC: the headline number (lower is more agnostic)."""
        return float(np.nanmax(self.probes["roc_auc"].to_numpy()))

    @property
    def max_balanced_accuracy(self) -> float:
        return float(np.nanmax(self.probes["balanced_accuracy"].to_numpy()))

    def to_frame(self) -> pd.DataFrame:
        """Probes plus a ``majority`` row (accuracy = majority rate, AUC = 0.5)."""
        k = len(self.protected_classes)
        base = pd.DataFrame({"accuracy": [self.majority_rate], "balanced_accuracy": [1.0 / k],
                             "roc_auc": [self.chance_auc]}, index=["majority"])
        out = pd.concat([self.probes, base])
        out.index.name = "probe"
        return out

    def summary(self) -> dict[str, Any]:
        """Flat dict of the headline numbers (JSON-friendly)."""
        d = {f"{p}_{c}": float(self.probes.loc[p, c]) for p in self.probes.index
             for c in self.probes.columns}
        d.update(max_auc=self.max_auc, majority_rate=self.majority_rate, n_test=self.n_test,
                 accuracy=self.accuracy,
                 demographic_parity_difference=self.demographic_parity_difference,
                 equalized_odds_difference=self.equalized_odds_difference)
        return d

    def __repr__(self) -> str:
        acc = "None" if self.accuracy is None else f"{self.accuracy:.4g}"
        return (f"ProbeReport(max_auc={self.max_auc:.4g}, majority_rate="
                f"{self.majority_rate:.4g}, accuracy={acc}, n_test={self.n_test}, "
                f"n_features={self.n_features})")

    def plot(self, ax: Any = None, show: bool = True) -> Any:
        """Bars of each probe's ROC-AUC and balanced accuracy, with chance marked (see
        :func:`captum_ext.plots._agnostic.probe_plot`)."""
        from ..plots import probe_plot

        return probe_plot(self, ax=ax, show=show)

    def _repr_html_(self) -> str:
        classes = ", ".join(map(str, self.protected_classes))
        note = (f"concept values: {classes}; {self.n_train} train / {self.n_test} test rows, "
                f"{self.n_features} representation features. Best probe AUC "
                f"{self.max_auc:.3f} (0.5 = agnostic).")
        body = table_html(self.to_frame().reset_index(), float_format="{:.3f}")
        if self.accuracy is not None:
            fair = (f"label accuracy {self.accuracy:.3f}; demographic-parity difference "
                    f"{self.demographic_parity_difference:.3f}")
            if self.equalized_odds_difference is not None:
                fair += f"; equalized-odds difference {self.equalized_odds_difference:.3f}"
            body += f"<p>{escape(fair)}</p>"
        return section_html("Protected-concept probes", body, note)


def probe_protected(
    source: Any,
    X: Any = None,
    protected: Any = None,
    *,
    y: Any = None,
    predictions: Any = None,
    test_size: float = 0.3,
    probes: Sequence[str] = ("logistic", "mlp"),
    mlp_hidden: Sequence[int] = (64, 64),
    max_train: int | None = 20_000,
    random_state: int | np.random.Generator | None = 0,
) -> ProbeReport:
    """Fit fresh probes for a protected concept on a frozen representation.

    The honest test of agnosticism (Jia et al. 2018): a model is agnostic when *no*
    classifier recovers the concept from its representation, so an in-training adversary
    reaching the majority rate is not evidence. Here a new logistic regression and a new MLP
    (scikit-learn, early stopping) are fitted on a stratified train split of the
    representation and scored on the held-out split.

    Parameters
    ----------
    source : fitted model with ``transform`` (e.g. :class:`AgnosticNetwork`), or an array
        The model whose ``transform(X)`` is the representation, or the representation itself
        of shape (n, d) (then ``X`` may be None).
    X : inputs of the model (ignored when ``source`` is an array).
    protected : array-like of shape (n,)
        The concept per row (>= 2 values).
    y : array-like of shape (n,), optional
        True labels; with ``predictions`` (or a model ``source`` with ``predict``) the
        report adds accuracy and demographic-parity / equalized-odds differences over all
        ``n`` rows (binary labels: positive = the larger label).
    predictions : array-like of shape (n,), optional
    test_size : float in (0, 1)
    probes : subset of {"logistic", "mlp"}
    mlp_hidden : hidden widths of the MLP probe.
    max_train : int or None
        Subsample the probe train split to at most this many rows (speed).
    random_state : int, Generator or None

    Returns
    -------
    ProbeReport

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, 300)
    >>> rep = probe_protected(np.c_[s + rng.normal(0, .5, 300), rng.normal(size=300)], protected=s)
    >>> rep.max_auc > 0.8
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    test_size = check_float(test_size, "test_size", low=0.0, high=1.0)
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size}")
    probes = [check_option(p, "probes entry", ["logistic", "mlp"]) for p in probes]
    if not probes:
        raise ValueError("probes must name at least one probe ('logistic', 'mlp')")
    hidden = _check_sizes(mlp_hidden, "mlp_hidden", allow_empty=False)
    if max_train is not None:
        max_train = check_int(max_train, "max_train", low=10)
    if protected is None:
        raise ValueError("protected is required: the concept per row")

    is_model = callable(getattr(source, "transform", None))
    if is_model:
        if X is None:
            raise ValueError("X is required when source is a model")
        R = np.asarray(source.transform(X), dtype=np.float64)
    else:
        if isinstance(source, torch.Tensor):
            source = source.detach().cpu().numpy()
        R = np.asarray(source, dtype=np.float64)
    if R.ndim != 2:
        raise ValueError(f"representation must be 2-D (n, d); got shape {R.shape}")
    if not np.isfinite(R).all():
        raise ValueError("representation contains NaN or infinite values")
    classes, codes = _check_protected(protected, len(R), "protected", "the representation")
    k = len(classes)
    counts = np.bincount(codes, minlength=k)
    if counts.min() < 2:
        raise ValueError(
            f"every protected value needs at least 2 rows for a stratified split; "
            f"{classes[counts.argmin()]!r} has {counts.min()}")

    acc = dp = eo = None
    if y is not None:
        y_arr = check_y(y.to_numpy() if isinstance(y, pd.Series) else y, "y", n=len(R))
        if predictions is None:
            if not (is_model and callable(getattr(source, "predict", None))):
                raise ValueError("y was given without predictions (and source cannot predict)")
            predictions = source.predict(X)
        pred = check_y(np.asarray(predictions), "predictions", n=len(R))
        acc = float(np.mean(pred == y_arr))
        labels = np.unique(np.concatenate([y_arr, pred]))
        if len(labels) <= 2:
            pos = labels.max()
            dp, eo = _group_rates(pred == pos, y_arr == pos, codes)
        else:
            warn("demographic-parity / equalized-odds differences need binary labels; "
                 "only accuracy is reported")

    rng = check_random_state(random_state)
    seed = seed_from(rng)
    tr, te = train_test_split(np.arange(len(R)), test_size=test_size, stratify=codes,
                              random_state=seed)
    if max_train is not None and len(tr) > max_train:
        tr, _ = train_test_split(tr, train_size=max_train, stratify=codes[tr],
                                 random_state=seed)
    rows = {}
    for name in probes:
        if name == "logistic":
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        else:
            clf = make_pipeline(StandardScaler(), MLPClassifier(
                hidden_layer_sizes=hidden, early_stopping=True, max_iter=200,
                random_state=seed))
        clf.fit(R[tr], codes[tr])
        proba = np.zeros((len(te), k))
        proba[:, clf.classes_] = clf.predict_proba(R[te])
        pc = proba.argmax(1)
        rows[name] = {"accuracy": float(np.mean(pc == codes[te])),
                      "balanced_accuracy": float(balanced_accuracy_score(codes[te], pc)),
                      "roc_auc": _macro_auc(codes[te], proba, k)}
    majority = float(np.bincount(codes[te], minlength=k).max() / len(te))
    return ProbeReport(probes=pd.DataFrame.from_dict(rows, orient="index"),
                       majority_rate=majority, chance_auc=0.5,
                       protected_classes=tuple(c.item() if hasattr(c, "item") else c
                                               for c in classes),
                       n_train=len(tr), n_test=len(te), n_features=R.shape[1], accuracy=acc,
                       demographic_parity_difference=dp, equalized_odds_difference=eo)

