"""Local IF-THEN rules for single rows: :class:`RuleExplainer`.

The background (method, references, design choices) is in ``docs/quasi_global.md``, section
"Design notes", ``shap_debug.explanations.rules._explainer``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...core import (
    check_frame_or_array,
    check_int,
    classes_of,
    feature_names_of,
    predict_proba_fn,
    seed_from,
)
from ._conditions import Condition, Rule

__all__ = ["RuleExplainer"]


class RuleExplainer:
    """Local IF-THEN rules from a shallow tree fitted on a generated neighbourhood.

    An EXPLAN-style explainer (Rasouli & Yu, 2020) built on scikit-learn; see the module
    docstring for the neighbourhood, balancing and path-reading steps.

    Parameters
    ----------
    model : classifier
        Anything with ``predict_proba`` that takes rows shaped like ``X_train`` (e.g. a
        Pipeline on a DataFrame with category columns), or a torch module on arrays.
    X_train : DataFrame or ndarray, shape (n, m)
        The training rows: where values and levels are drawn from, and what coverage is
        measured on. ``category``/string/bool columns are categorical.
    n_samples : int
        Rows generated per explanation (before balancing).
    max_depth : int
        Depth of the surrogate tree: at most this many tests, fewer after merging.
    min_samples_leaf : int
        Minimum rows in a surrogate leaf (keeps rules from fitting single points).
    n_pool : int
        Training rows (a random subset) used as the source of values and of other-class
        rows for balancing.
    feature_names : list of str, optional
        Names for an ndarray ``X_train``.
    random_state : int, Generator or None
        Every :meth:`explain` call starts from the same seed, so a row always gets the same
        rule, whatever was explained before.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from shap_debug.datasets import german, encode
    >>> X, y = german()
    >>> Z, enc = encode(X)
    >>> rf = RandomForestClassifier(n_estimators=20, random_state=0).fit(Z, y)
    >>> rule = RuleExplainer(rf, Z, n_samples=500,
    ...                      feature_names=enc.feature_names_out_).explain(Z[0])
    >>> bool(rule.holds(Z[:1])[0])
    True
    """

    def __init__(self, model: Any, X_train: Any, *, n_samples: int = 1000, max_depth: int = 4,
                 min_samples_leaf: int = 5, n_pool: int = 5000,
                 feature_names: Sequence[str] | None = None,
                 random_state: int | np.random.Generator | None = None):
        self.model = model
        self.X_train = check_frame_or_array(X_train, "X_train", allow_nan=True)
        self.n_samples = check_int(n_samples, "n_samples", low=10)
        self.max_depth = check_int(max_depth, "max_depth", low=1)
        self.min_samples_leaf = check_int(min_samples_leaf, "min_samples_leaf", low=1)
        self.n_pool = check_int(n_pool, "n_pool", low=10)
        self.random_state = random_state
        self._proba = predict_proba_fn(model)
        self._seed = seed_from(random_state)
        X = self.X_train
        self.feature_names_ = feature_names_of(X, None if isinstance(X, pd.DataFrame)
                                               else feature_names)
        self._frame = isinstance(X, pd.DataFrame)
        # codes: numeric values, or category codes (levels kept beside them)
        self.categories_: dict[int, list] = {}
        self._dtypes: list[Any] = []
        cols = []
        for j in range(X.shape[1]):
            if not self._frame:
                cols.append(X[:, j])
                self._dtypes.append(None)
                continue
            s = X.iloc[:, j]
            if isinstance(s.dtype, pd.CategoricalDtype):
                self.categories_[j] = list(s.cat.categories)
                cols.append(s.cat.codes.to_numpy(dtype=np.float64))
                self._dtypes.append(s.dtype)
            elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                cols.append(s.to_numpy(dtype=np.float64))
                self._dtypes.append(s.dtype)
            else:  # strings / bools: categorical with the observed levels
                levels = sorted(s.dropna().unique().tolist(), key=str)
                self.categories_[j] = levels
                cols.append(pd.Categorical(s, categories=levels).codes.astype(np.float64))
                self._dtypes.append(s.dtype)
        self._Z = np.column_stack(cols)
        self._is_cat = np.array([j in self.categories_ for j in range(X.shape[1])])
        self._is_int = np.array([
            (not self._is_cat[j]) and (
                (self._dtypes[j] is not None and pd.api.types.is_integer_dtype(self._dtypes[j]))
                or (self._dtypes[j] is None and np.all(self._Z[:, j] == np.round(self._Z[:, j]))))
            for j in range(X.shape[1])])
        self._lo = self._Z.min(axis=0)
        self._hi = self._Z.max(axis=0)
        self._sd = np.where(self._is_cat, 0.0, self._Z.std(axis=0))
        rng = np.random.default_rng(self._seed)
        take = np.sort(rng.choice(len(self._Z), size=min(self.n_pool, len(self._Z)),
                                  replace=False))
        self._pool = self._Z[take]
        self._pool_labels = self._labels(self._pool)
        # one-hot layout for the surrogate tree
        self._onehot: list[tuple[int, int | None]] = []   # (raw column, level code or None)
        for j in range(X.shape[1]):
            if self._is_cat[j]:
                self._onehot += [(j, k) for k in range(len(self.categories_[j]))]
            else:
                self._onehot.append((j, None))

    # -- model access ---------------------------------------------------------------
    def _decode(self, Z: np.ndarray) -> pd.DataFrame | np.ndarray:
        """Codes -> rows in the model's input format."""
        if not self._frame:
            return Z
        data = {}
        for j, col in enumerate(self.X_train.columns):
            dt = self._dtypes[j]
            if self._is_cat[j]:
                codes = Z[:, j].astype(np.int64)
                if isinstance(dt, pd.CategoricalDtype):
                    data[col] = pd.Categorical.from_codes(codes, dtype=dt)
                else:
                    data[col] = pd.Series(
                        np.asarray(self.categories_[j], dtype=object)[codes]).astype(dt)
            else:
                data[col] = Z[:, j].astype(dt)
        return pd.DataFrame(data, columns=self.X_train.columns)

    def _labels(self, Z: np.ndarray) -> np.ndarray:
        proba = self._proba(self._decode(Z))
        return classes_of(self.model, proba.shape[1])[proba.argmax(axis=1)]

    def _row_codes(self, x: Any) -> np.ndarray:
        m = self._Z.shape[1]
        if isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, bool):
            i = int(x)
            if not 0 <= i < len(self._Z):
                raise ValueError(f"x: row index {i} out of range [0, {len(self._Z)})")
            return self._Z[i].copy()
        if isinstance(x, pd.DataFrame):
            if len(x) != 1:
                raise ValueError(f"x must be one row; got a DataFrame with {len(x)} rows")
            x = x.iloc[0]
        if isinstance(x, pd.Series):
            if not self._frame:
                x = x.to_numpy()
            else:
                missing = [c for c in self.X_train.columns if c not in x.index]
                if missing:
                    raise ValueError(f"x lacks columns {missing[:5]}")
                out = np.empty(m)
                for j, col in enumerate(self.X_train.columns):
                    v = x[col]
                    if self._is_cat[j]:
                        levels = self.categories_[j]
                        if v not in levels:
                            raise ValueError(
                                f"x[{col!r}] = {v!r} is not a level seen in X_train")
                        out[j] = levels.index(v)
                    else:
                        out[j] = float(v)
                return out
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        arr = np.asarray(x)
        if arr.ndim == 2 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 1 or len(arr) != m:
            raise ValueError(
                f"x must be a row index, a Series, a 1-row DataFrame or a 1-D array of {m} "
                f"values; got shape {arr.shape}")
        if self._frame:
            return self._row_codes(pd.Series(arr, index=self.X_train.columns))
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("x contains NaN or infinite values")
        return arr

    # -- neighbourhood ---------------------------------------------------------------
    def _mix(self, z: np.ndarray, donors: np.ndarray, share: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
        """Rows equal to ``z`` except a ``share`` of cells, taken from ``donors`` rows."""
        n, m = len(share), len(z)
        change = rng.random((n, m)) < share[:, None]
        return np.where(change, donors, z[None, :])

    def _generate(self, z: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n, m = self.n_samples, len(z)
        # donor values: a training draw per cell, or x plus noise for numeric cells
        donors = self._pool[rng.integers(0, len(self._pool), size=(n, m)), np.arange(m)]
        noisy = z[None, :] + rng.normal(size=(n, m)) * 0.3 * self._sd[None, :]
        noisy = np.clip(np.where(self._is_int, np.round(noisy), noisy), self._lo, self._hi)
        use_noise = (~self._is_cat)[None, :] & (rng.random((n, m)) < 0.5)
        donors = np.where(use_noise, noisy, donors)
        Z = self._mix(z, donors, rng.uniform(0.1, 0.6, size=n), rng)
        Z = np.vstack([z[None, :], Z])
        labels = self._labels(Z)
        own = labels[0]
        other_share = float(np.mean(labels != own))
        others = np.flatnonzero(self._pool_labels != own)
        if other_share < 0.3 and len(others):
            # mix x with its nearest training rows of another label
            scale = np.where(self._sd > 0, self._sd, 1.0)
            P = self._pool[others]
            d = np.where(self._is_cat, P != z, np.abs(P - z) / scale).sum(axis=1)
            near = others[np.argsort(d, kind="stable")[:50]]
            k = n // 2
            donors = self._pool[near[rng.integers(0, len(near), size=k)]]
            extra = self._mix(z, donors, rng.uniform(0.2, 0.9, size=k), rng)
            Z = np.vstack([Z, extra])
            labels = np.concatenate([labels, self._labels(extra)])
        return Z, labels

    def neighborhood(self, x: Any) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
        """The generated neighbourhood of ``x`` (its first row is ``x``) and its black-box
        labels: exactly what :meth:`explain` fits its surrogate on."""
        z = self._row_codes(x)
        Z, labels = self._generate(z, np.random.default_rng(self._seed))
        return self._decode(Z), labels

    # -- rules -------------------------------------------------------------------------
    def _onehot_matrix(self, Z: np.ndarray) -> np.ndarray:
        cols = []
        for j, k in self._onehot:
            cols.append(Z[:, j] == k if k is not None else Z[:, j])
        return np.column_stack(cols).astype(np.float64)

    def _holds_codes(self, conds: list[Condition], Z: np.ndarray) -> np.ndarray:
        ok = np.ones(len(Z), dtype=bool)
        for c in conds:
            v = Z[:, c.index]
            if c.is_categorical:
                allowed = [k for k, lv in enumerate(self.categories_[c.index]) if lv in c.levels]
                ok &= np.isin(v, allowed)
            else:
                if c.low is not None:
                    ok &= v > c.low
                if c.high is not None:
                    ok &= v <= c.high
        return ok

    @staticmethod
    def _single_class_nodes(t: Any) -> np.ndarray:
        """Per node: the class all leaves below it predict, or -1 when they differ."""
        n = t.node_count
        mono = np.full(n, -1, dtype=np.int64)
        for node in range(n - 1, -1, -1):  # children have larger ids than their parent
            left, right = t.children_left[node], t.children_right[node]
            if left == -1:
                mono[node] = int(np.argmax(t.value[node][0]))
            elif mono[left] >= 0 and mono[left] == mono[right]:
                mono[node] = mono[left]
        return mono

    def explain(self, x: Any) -> Rule:
        """The rule for one row.

        Parameters
        ----------
        x : int, Series, 1-row DataFrame or 1-D array
            A row index into ``X_train`` or a row with ``X_train``'s columns.

        Returns
        -------
        Rule
        """
        from sklearn.tree import DecisionTreeClassifier

        z = self._row_codes(x)
        Z, labels = self._generate(z, np.random.default_rng(self._seed))
        H = self._onehot_matrix(Z)
        tree = DecisionTreeClassifier(max_depth=self.max_depth,
                                      min_samples_leaf=self.min_samples_leaf,
                                      class_weight="balanced", random_state=self._seed)
        # labels may be strings or ints: fit on their positions among the model's classes
        classes, y_idx = np.unique(labels, return_inverse=True)
        tree.fit(H, y_idx)
        t = tree.tree_
        mono = self._single_class_nodes(t)
        node, h = 0, H[0]
        low: dict[int, float] = {}
        high: dict[int, float] = {}
        allowed: dict[int, set] = {}
        # stop where every leaf below predicts the same class: further tests change nothing
        while mono[node] < 0:
            f, thr = int(t.feature[node]), float(t.threshold[node])
            j, k = self._onehot[f]
            left = h[f] <= thr
            if k is None:
                if self._is_int[j]:
                    thr = math.floor(thr)     # same split on integers, readable bound
                if left:
                    high[j] = min(high.get(j, np.inf), thr)
                else:
                    low[j] = max(low.get(j, -np.inf), thr)
            else:
                levels = allowed.setdefault(j, set(range(len(self.categories_[j]))))
                if left:
                    levels.discard(k)
                else:
                    levels.intersection_update({k})
            node = t.children_left[node] if left else t.children_right[node]
        prediction = classes[mono[node]]
        conds = []
        for j in sorted(set(low) | set(high) | set(allowed)):
            name = self.feature_names_[j]
            if j in allowed:
                cats = self.categories_[j]
                conds.append(Condition(name, j, levels=frozenset(cats[k] for k in allowed[j]),
                                       categories=tuple(cats)))
            else:
                conds.append(Condition(name, j, low=low.get(j), high=high.get(j)))
        covered = self._holds_codes(conds, Z)
        support = int(covered.sum())
        fidelity = float(np.mean(labels[covered] == prediction)) if support else 0.0
        coverage = float(self._holds_codes(conds, self._Z).mean())
        premise = " AND ".join(str(c) for c in conds) if conds else "TRUE"
        prediction = prediction.item() if hasattr(prediction, "item") else prediction
        return Rule(conditions=tuple(conds), prediction=prediction, fidelity=fidelity,
                    coverage=coverage, length=len(conds),
                    text=f"IF {premise} THEN {prediction}", support=support)
