"""Candidate fixes: what the debugger can change in the training data on its own.

A :class:`FixAction` is plain data (rows to relabel or drop, points to add, a column to
neutralise) with :meth:`FixAction.apply` (training rows) and :meth:`FixAction.transform`
(held-out rows). :func:`candidate_actions` builds the automatic ones from the diagnosis
evidence (:class:`~shap_debug.fixes._evidence.FixEvidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..core import Result, check_indices, predict_labels, seed_from

__all__ = ["FAMILIES", "SIGNAL_FAMILIES", "FixAction", "candidate_actions", "resolve_actions"]

#: The automatic action families (``actions="auto"`` runs every one that applies).
FAMILIES = (
    "relabel suspicious",      # relabel the confidently contradicted labels, all rows
    "drop suspicious",         # drop them instead
    "relabel in cohort",       # the same, only inside each failing cohort
    "drop in cohort",
    "drop conflicting duplicates",
    "add flip points",         # Yousefzadeh & O'Leary's augmentation
    "drop feature",            # neutralise a flagged (ALE bias / protected) feature
    "flip points along feature",  # augmentation constrained to a flagged feature
)

#: The families of the actions built from :func:`shap_debug.audit.scan` signals
#: (:func:`~shap_debug.fixes.signal_actions`); verified like the others, not run by "auto".
SIGNAL_FAMILIES = (
    "drop feature",            # a leaked, identifier or shortcut column (neutralise)
    "upsample cohort",         # an under-represented cohort's rows repeated (augment)
    "recode sentinel",         # a sentinel code set to the median of the real values (recode)
    "regularise",              # a lower-capacity configuration chosen on validation rows
    "add capacity",            # a higher-capacity configuration chosen on validation rows
    "drop conflicting duplicates",
)

KINDS = ("relabel", "drop", "augment", "neutralise", "recode", "refit_params")


@dataclass(frozen=True, repr=False)
class FixAction(Result):
    """One change to the training data, applied before a clone of the model is refitted.

    Row positions refer to the *training rows the debugger retrains on* (all of ``X`` when a
    test split was given, else the rows left after the hold-out).

    Attributes
    ----------
    name : str
        Short name, e.g. ``"relabel suspicious rows in C1"``.
    kind : {"relabel", "drop", "augment", "neutralise", "recode", "refit_params"}
    family : str
        The family it belongs to (one of :data:`FAMILIES`, or ``"custom"``).
    target : str
        What it aims at: ``"all rows"``, a cohort rule or a feature.
    cohort : str
        Label of the failing cohort it targets (``"C1"``...), ``""`` for global actions.
    rows : ndarray of int
        Rows relabelled or dropped (the rows the augmentation started from, for ``augment``).
    labels : ndarray, optional
        New labels of ``rows`` (``relabel``).
    X_add, y_add : optional
        Rows and labels appended (``augment``), in the form the model takes.
    columns : tuple of int
        Encoded columns set to ``fill`` in training and held-out rows (``neutralise``).
    fill : tuple
        One value per column of ``columns`` (``neutralise``: the constant; ``recode``: the
        replacement of ``match``).
    match : tuple
        ``recode``: one value per column of ``columns``, replaced by ``fill`` wherever it
        occurs, in training and held-out rows.
    params : dict
        ``refit_params``: parameters set on the clone of the model before it is refitted
        (the data are unchanged).
    note : str
        How the rows were chosen.
    """

    name: str
    kind: str
    family: str = "custom"
    target: str = "all rows"
    cohort: str = ""
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    labels: Any = None
    X_add: Any = None
    y_add: Any = None
    columns: tuple = ()
    fill: tuple = ()
    note: str = ""
    match: tuple = ()
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}; got {self.kind!r}")
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str; got {self.name!r}")
        object.__setattr__(self, "rows", np.asarray(self.rows, dtype=np.int64).ravel())
        if self.kind == "relabel":
            if self.labels is None or len(np.asarray(self.labels)) != len(self.rows):
                raise ValueError(f"action {self.name!r}: labels must give one new label per "
                                 f"row ({len(self.rows)})")
        if self.kind == "augment" and (self.X_add is None or self.y_add is None
                                       or len(self.X_add) != len(self.y_add)):
            raise ValueError(f"action {self.name!r}: X_add and y_add must have equal lengths")
        if self.kind in ("neutralise", "recode") and len(self.columns) != len(self.fill):
            raise ValueError(f"action {self.name!r}: columns and fill must have equal lengths")
        if self.kind == "recode" and len(self.match) != len(self.columns):
            raise ValueError(f"action {self.name!r}: match must give one value per column")
        if self.kind == "refit_params" and (not isinstance(self.params, dict)
                                            or not self.params):
            raise ValueError(f"action {self.name!r}: params must be a non-empty dict of "
                             f"model parameters; got {self.params!r}")

    # -------------------------------------------------------------- constructors
    @classmethod
    def relabel(cls, name: str, rows: Any, labels: Any, **kw: Any) -> FixAction:
        """Give ``rows`` the new ``labels`` (one per row)."""
        return cls(name, "relabel", rows=np.asarray(rows), labels=np.asarray(labels), **kw)

    @classmethod
    def drop(cls, name: str, rows: Any, **kw: Any) -> FixAction:
        """Leave ``rows`` out of the training set."""
        return cls(name, "drop", rows=np.asarray(rows), **kw)

    @classmethod
    def augment(cls, name: str, X_add: Any, y_add: Any, **kw: Any) -> FixAction:
        """Append rows ``X_add`` with labels ``y_add``."""
        return cls(name, "augment", X_add=X_add, y_add=np.asarray(y_add), **kw)

    @classmethod
    def upsample(cls, name: str, rows: Any, X: Any, y: Any, times: int = 1, **kw: Any
                 ) -> FixAction:
        """Append ``times`` more copies of the training ``rows`` (positions) with their
        labels: reweighting a cohort for any model that takes no sample weights."""
        rows = np.asarray(rows, dtype=np.int64)
        rep = np.tile(rows, int(times))
        X_add = X.iloc[rep] if isinstance(X, pd.DataFrame) else np.asarray(X)[rep]
        return cls(name, "augment", rows=rows, X_add=X_add, y_add=np.asarray(y)[rep], **kw)

    @classmethod
    def recode(cls, name: str, columns: Any, match: Any, fill: Any, **kw: Any) -> FixAction:
        """Replace ``match`` by ``fill`` in each of ``columns`` (positions), in training and
        held-out rows."""
        return cls(name, "recode", columns=tuple(columns), match=tuple(match),
                   fill=tuple(fill), **kw)

    @classmethod
    def refit_params(cls, name: str, params: dict, **kw: Any) -> FixAction:
        """Refit the model with ``params`` set (``model.set_params(**params)``)."""
        return cls(name, "refit_params", params=dict(params), **kw)

    # -------------------------------------------------------------- use
    @property
    def n_changed(self) -> int:
        """Training rows changed: relabelled, dropped or added; 0 for ``neutralise``,
        ``recode`` (a column's values) and ``refit_params``."""
        if self.kind == "augment":
            return len(self.y_add)
        return len(self.rows) if self.kind in ("relabel", "drop") else 0

    def refit_model(self, model: Any) -> Any:
        """The model to refit: ``model`` itself, or for ``refit_params`` a clone with the
        new parameters."""
        if self.kind != "refit_params":
            return model
        from ..core import clone_model

        return clone_model(model).set_params(**self.params)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "target": self.target,
                "n_changed": self.n_changed}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"action": self.name, "kind": self.kind, "family": self.family,
                              "target": self.target, "cohort": self.cohort,
                              "rows_changed": self.n_changed, "note": self.note}])

    def check(self, n: int) -> FixAction:
        """Raise when the action does not fit a training set of ``n`` rows."""
        check_indices(self.rows, n, f"rows of action {self.name!r}")
        return self

    def apply(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        """The changed training set ``(X, y)`` (new objects; the inputs are not modified)."""
        if self.kind == "relabel":
            y2 = np.array(y, copy=True)
            y2[self.rows] = np.asarray(self.labels, dtype=y2.dtype)
            return X, y2
        if self.kind == "drop":
            keep = np.ones(len(y), dtype=bool)
            keep[self.rows] = False
            return _take(X, np.flatnonzero(keep)), np.asarray(y)[keep]
        if self.kind == "augment":
            return _concat(X, self.X_add), np.concatenate([np.asarray(y),
                                                           np.asarray(self.y_add, y.dtype)])
        return self.transform(X), y

    def transform(self, X: Any) -> Any:
        """Held-out rows as the refitted model sees them (``neutralise`` and ``recode``
        change them)."""
        if self.kind == "recode":
            return self._recode(X)
        if self.kind != "neutralise":
            return X
        if isinstance(X, pd.DataFrame):
            X2 = X.copy()
            for j, v in zip(self.columns, self.fill):
                col = X2.columns[j]
                X2[col] = pd.Series([v] * len(X2), index=X2.index).astype(X2[col].dtype)
            return X2
        X2 = np.array(X, dtype=np.float64, copy=True)
        X2[:, list(self.columns)] = np.asarray(self.fill, dtype=np.float64)[None, :]
        return X2


    def _recode(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame):
            X2 = X.copy()
            for j, old, new in zip(self.columns, self.match, self.fill):
                col = X2.columns[j]
                s = X2[col]
                hit = s.to_numpy() == old
                if pd.api.types.is_integer_dtype(s) and float(new) != round(float(new)):
                    s = s.astype(np.float64)
                X2[col] = s.where(~hit, new)
            return X2
        X2 = np.array(X, dtype=np.float64, copy=True)
        for j, old, new in zip(self.columns, self.match, self.fill):
            X2[X2[:, j] == old, j] = new
        return X2


# --------------------------------------------------------------------------- data helpers
def _take(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]


def _concat(X: Any, X_add: Any) -> Any:
    if isinstance(X, pd.DataFrame):
        add = X_add if isinstance(X_add, pd.DataFrame) else pd.DataFrame(
            np.asarray(X_add), columns=X.columns)
        add = add.astype(X.dtypes.to_dict())
        return pd.concat([X, add], ignore_index=True)
    return np.vstack([np.asarray(X, dtype=np.float64), np.asarray(X_add, dtype=np.float64)])


def _numeric_matrix(X: Any) -> np.ndarray | None:
    """X as a float matrix, or None when it has non-numeric columns (flip points need one)."""
    if isinstance(X, pd.DataFrame):
        if not all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                   for t in X.dtypes):
            return None
        return X.to_numpy(dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def feature_columns(feature: str, X: Any, display_columns: Sequence[str],
                    encoder: Any = None) -> list[int]:
    """Columns of ``X`` that hold the readable ``feature`` (one-hot groups included)."""
    if encoder is not None and feature in getattr(encoder, "groups_", {}):
        return list(encoder.groups_[feature])
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if feature in names:
            return [names.index(feature)]
    elif feature in display_columns and len(display_columns) == X.shape[1]:
        return [list(display_columns).index(feature)]
    raise ValueError(f"flagged_features: cannot find the model's columns of feature "
                     f"{feature!r}; pass an encoder or a DataFrame X with that column")


def _fill_values(X: Any, columns: list[int], encoder: Any, feature: str) -> tuple:
    """A constant for each column: the most frequent level (one-hot / category) or median."""
    if isinstance(X, pd.DataFrame):
        out = []
        for j in columns:
            s = X.iloc[:, j]
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                v = float(np.median(s.to_numpy(dtype=np.float64)))
                out.append(round(v) if pd.api.types.is_integer_dtype(s) else v)
            else:
                out.append(s.mode(dropna=True).iloc[0])
        return tuple(out)
    block = np.asarray(X, dtype=np.float64)[:, columns]
    if encoder is not None and feature in getattr(encoder, "categories_", {}):
        if len(columns) > 1:  # one-hot: the most frequent level's indicator
            level = np.bincount(block.argmax(axis=1), minlength=len(columns)).argmax()
            return tuple(float(k == level) for k in range(len(columns)))
        vals, counts = np.unique(block[:, 0], return_counts=True)
        return (float(vals[counts.argmax()]),)
    return tuple(float(np.median(block[:, k])) for k in range(len(columns)))


def resolve_actions(actions: Any) -> tuple[tuple[str, ...], list[Any]]:
    """Split ``actions`` into automatic families and custom actions/callables."""
    if isinstance(actions, str):
        if actions == "auto":
            return FAMILIES, []
        actions = [actions]
    if not isinstance(actions, (list, tuple)):
        raise TypeError(f"actions must be 'auto' or a list of family names ('auto' for all), "
                        f"FixAction objects or callables; got {type(actions).__name__}")
    families, custom = [], []
    for a in actions:
        if isinstance(a, str) and a == "auto":
            families.extend(FAMILIES)
        elif isinstance(a, str):
            if a not in FAMILIES:
                raise ValueError(f"actions: unknown family {a!r}; known: {list(FAMILIES)}")
            families.append(a)
        elif isinstance(a, FixAction) or callable(a):
            custom.append(a)
        else:
            raise TypeError(f"actions: each entry must be a family name, a FixAction or a "
                            f"callable; got {type(a).__name__}")
    return tuple(dict.fromkeys(families)), custom


# --------------------------------------------------------------------------- candidates
def _blocked_rows(ev: Any) -> np.ndarray:
    """Rows no relabelling may touch: evenly split identical twins and irreducible cohorts."""
    n = len(ev.y)
    blocked = np.zeros(n, dtype=bool)
    for g in ev.integrity.conflicting_groups:
        _, counts = np.unique(ev.y[g], return_counts=True)
        if counts.max() * 2 <= len(g):  # no strict majority label: nothing to relabel to
            blocked[g] = True
    for c in ev.failing:
        if c.irreducible:
            blocked[c.train_rows] = True
    return blocked


def _flip_points(ev: Any, rows: np.ndarray, features: list[int] | None, seed: int
                 ) -> tuple[np.ndarray | None, np.ndarray, str]:
    """Verified flip points of ``rows`` (optionally moving only ``features``)."""
    Z = _numeric_matrix(ev.X)
    if Z is None:
        return None, rows[:0], "flip points need a numeric matrix X (encode the categories)"
    try:
        from captum_ext.flip_points import FlipPoints
    except Exception as exc:  # pragma: no cover - captum_ext ships with the package
        return None, rows[:0], f"captum_ext.flip_points is unavailable: {exc}"
    names = (list(ev.X.columns.astype(str)) if isinstance(ev.X, pd.DataFrame)
             else [f"Feature {j}" for j in range(Z.shape[1])])
    cons: dict[str, Any] = {"bounds": "data"}
    enc = ev.encoder
    if enc is not None and getattr(enc, "kind", "") == "onehot":
        groups = [g for f, g in enc.groups_.items() if f in enc.categories_ and len(g) > 1]
        if groups:
            cons["onehot_groups"] = groups
    elif enc is not None:
        ints = [enc.groups_[f][0] for f in enc.categories_]
        if ints:
            cons["integer"] = ints
    fp = FlipPoints(ev.baseline, data=Z, feature_names=names, progress=False,
                    random_state=seed)
    try:
        res = fp.find(Z[rows], features=features, **cons)
    except Exception as exc:
        return None, rows[:0], f"flip points failed: {exc}"
    ok = np.asarray(res.valid, dtype=bool)
    if not ok.any():
        return None, rows[:0], "no verified flip point"
    X_add = res.x_hat[ok]
    if isinstance(ev.X, pd.DataFrame):
        X_add = pd.DataFrame(X_add, columns=ev.X.columns)
    return X_add, rows[ok], ""


def candidate_actions(ev: Any, families: Sequence[str], custom: Sequence[Any] = (), *,
                      flagged_features: Sequence[str] = (), flip_rows: int = 100,
                      random_state: Any = 0) -> tuple[list[FixAction], list[tuple[str, str]]]:
    """The automatic actions of ``families`` for the evidence ``ev``, plus ``custom`` ones.

    Returns ``(actions, skipped)`` where ``skipped`` lists ``(name, reason)`` for actions
    that could not be built (nothing to change, not applicable, ambiguous cohort).
    """
    sus = ev.suspicious
    n = len(ev.y)
    blocked = _blocked_rows(ev)
    out: list[FixAction] = []
    skipped: list[tuple[str, str]] = []
    fams = set(families)

    def add(action: FixAction) -> None:
        out.append(action.check(n))

    # ---- global: the confidently contradicted labels (confident learning, cross-validated)
    flagged = sus.flagged[~blocked[sus.flagged]]
    for fam, verb in (("relabel suspicious", "relabel"), ("drop suspicious", "drop")):
        if fam not in fams:
            continue
        name = f"{verb} suspicious rows"
        if len(flagged) == 0:
            skipped.append((name, "confident learning flags no label that may be changed"))
        elif verb == "relabel":
            add(FixAction.relabel(name, flagged, sus.predicted[flagged], family=fam,
                                  note="labels the cross-validated model contradicts "
                                       "(confident learning), set to its preferred label"))
        else:
            add(FixAction.drop(name, flagged, family=fam,
                               note="labels the cross-validated model contradicts "
                                    "(confident learning), rows left out"))

    # ---- per failing cohort
    for c in ev.failing:
        for fam, verb in (("relabel in cohort", "relabel"), ("drop in cohort", "drop")):
            if fam not in fams:
                continue
            if c.irreducible:
                if verb == "relabel":
                    skipped.append((f"relabel in {c.label}", f"{c.label} is ambiguous "
                                    "(identical rows with conflicting labels): no relabelling "
                                    "is proposed"))
                continue
            sets = []
            if len(c.contradicted):
                sets.append(("contradicted labels", c.contradicted, c.contradicted_labels,
                             "labels the rest of the data contradicts (leave-region-out "
                             "refit)"))
            inside = np.intersect1d(flagged, c.train_rows)
            inside = inside[np.argsort(-sus.scores[inside], kind="stable")]
            if len(inside) and c.source == "error cohort":
                sets.append(("suspicious rows", inside, sus.predicted[inside],
                             "confident-learning flags inside the cohort"))
            if not sets:
                skipped.append((f"{verb} in {c.label}",
                                f"no suspicious or contradicted label inside {c.label}"))
            for what, rows, labels, note in sets:
                name = f"{verb} {what} in {c.label}"
                kw = dict(family=fam, target=c.rule, cohort=c.label, note=note)
                add(FixAction.relabel(name, rows, labels, **kw) if verb == "relabel"
                    else FixAction.drop(name, rows, **kw))

    # ---- identical rows with conflicting labels
    if "drop conflicting duplicates" in fams:
        groups = ev.integrity.conflicting_groups
        if not groups:
            skipped.append(("drop conflicting duplicates",
                            "no identical rows with conflicting labels"))
        else:
            drop = []
            for g in groups:
                labs, inv, counts = np.unique(ev.y[g], return_inverse=True,
                                              return_counts=True)
                if counts.max() * 2 > len(g):  # keep the majority label's rows
                    drop.extend(g[inv != counts.argmax()].tolist())
                else:  # evenly split: nothing to keep
                    drop.extend(g.tolist())
            add(FixAction.drop("drop conflicting duplicates", np.sort(drop),
                               family="drop conflicting duplicates",
                               note=f"{len(groups)} groups of identical rows with different "
                                    "labels: minority labels dropped, evenly split groups "
                                    "dropped whole"))

    # ---- flip-point augmentation (Yousefzadeh & O'Leary)
    rng = np.random.default_rng(seed_from(random_state))
    want_flip = "add flip points" in fams
    want_along = "flip points along feature" in fams and flagged_features
    if want_flip or want_along:
        wrong = np.flatnonzero(predict_labels(ev.baseline, ev.X) != ev.y)
        if len(wrong) > flip_rows:
            wrong = np.sort(rng.choice(wrong, flip_rows, replace=False))
        specs = [("add flip points", None, "all rows", "add flip points")] if want_flip else []
        if want_along:
            for f in flagged_features:
                specs.append((f"add flip points along {f}", f, f,
                              "flip points along feature"))
        for name, feat, target, fam in specs:
            if len(wrong) == 0:
                skipped.append((name, "the model makes no training errors to start from"))
                continue
            cols = None if feat is None else feature_columns(feat, ev.X, ev.display.columns,
                                                             ev.encoder)
            X_add, start, why = _flip_points(ev, wrong, cols, seed_from(rng))
            if X_add is None:
                skipped.append((name, why))
                continue
            add(FixAction(name, "augment", family=fam, target=target,
                          rows=start, X_add=X_add, y_add=ev.y[start],
                          note=f"flip points of {len(start)} misclassified training rows"
                               + ("" if feat is None else f" moving only {feat}")
                               + ", added with the rows' own labels"))

    # ---- neutralise a flagged feature
    if "drop feature" in fams:
        for f in flagged_features:
            cols = feature_columns(f, ev.X, ev.display.columns, ev.encoder)
            fill = _fill_values(ev.X, cols, ev.encoder, f)
            add(FixAction(f"drop feature {f}", "neutralise", family="drop feature",
                          target=f, columns=tuple(cols), fill=fill,
                          note="the feature set to one constant (most frequent level or "
                               "median) in training and held-out rows"))

    # ---- the user's own
    for a in custom:
        made = a(ev) if callable(a) and not isinstance(a, FixAction) else a
        for act in (made if isinstance(made, (list, tuple)) else [made]):
            if act is None:
                continue
            if not isinstance(act, FixAction):
                raise TypeError(f"actions: a callable must return FixAction objects; got "
                                f"{type(act).__name__}")
            add(act)
    names = [a.name for a in out]
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise ValueError(f"actions: names must be unique; repeated {dup}")
    return out, skipped

