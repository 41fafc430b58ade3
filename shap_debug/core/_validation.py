"""Every input check of the public API, in one place.

Public entry points validate once, at the boundary, and raise ``TypeError``/``ValueError``
messages that name the argument, say what was expected and what arrived. Internals trust
their inputs. Inputs are never modified: checks return new objects or views.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd


class ShapDebugWarning(UserWarning):
    """Degenerate but valid input (the result is computed, with a caveat)."""


def warn(message: str) -> None:
    """Warn with a :class:`ShapDebugWarning` pointing at the caller's caller."""
    warnings.warn(message, ShapDebugWarning, stacklevel=3)


def check_random_state(random_state: Any) -> np.random.Generator:
    """Turn ``None``, an int, a ``RandomState`` or a ``Generator`` into one ``Generator``."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        f"random_state must be None, an int or a numpy Generator; got {type(random_state).__name__}")


def seed_from(random_state: Any) -> int:
    """An int seed (for libraries that want one, e.g. scikit-learn, pymoo, torch)."""
    if isinstance(random_state, (numbers.Integral, np.integer)):
        return int(random_state)
    return int(check_random_state(random_state).integers(0, 2**31 - 1))


def check_int(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """An integer within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value}")
    return value


def check_float(value: Any, name: str, *, low: float | None = None,
                high: float | None = None) -> float:
    """A finite real number within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number; got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value}")
    return value


def check_option(value: Any, name: str, options: Iterable[Any]) -> Any:
    """One of a fixed set of options."""
    options = list(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_frame_or_array(X: Any, name: str = "X", *, allow_nan: bool = False,
                         min_rows: int = 1) -> pd.DataFrame | np.ndarray:
    """A 2-D DataFrame or numeric array with no NaN/inf in its numeric columns.

    DataFrames are returned as they are (never copied or modified); anything else becomes a
    2-D float64 ndarray.
    """
    if isinstance(X, pd.DataFrame):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D")
        check_unique_columns(X, name)
        if not allow_nan:
            num = X.select_dtypes(include=[np.number])
            if num.shape[1] and not np.isfinite(num.to_numpy(dtype=np.float64)).all():
                raise ValueError(f"{name} contains NaN or infinite values")
            other = X.select_dtypes(exclude=[np.number])
            if other.shape[1] and other.isna().to_numpy().any():
                raise ValueError(f"{name} contains missing values in non-numeric columns")
        out: pd.DataFrame | np.ndarray = X
    else:
        if hasattr(X, "detach"):  # torch tensor
            X = X.detach().cpu().numpy()
        if hasattr(X, "tocsr") or type(X).__module__.startswith("scipy.sparse"):
            raise TypeError(f"{name} is a sparse {type(X).__name__}: sparse input is not "
                            "supported; pass a dense array or a DataFrame")
        try:
            arr = np.asarray(X)
        except Exception as exc:  # pragma: no cover - exotic containers
            raise TypeError(f"{name} must be a 2-D array or DataFrame; got {type(X).__name__}") from exc
        if arr.ndim == 1:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_features); got a 1-D array of shape {arr.shape}. "
                "Use X.reshape(1, -1) for a single row.")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}")
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"{name} has non-numeric values; pass a DataFrame with category columns "
                    "instead") from exc
        arr = arr.astype(np.float64, copy=False)
        if not allow_nan and not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        out = arr
    if len(out) < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s); got {len(out)}")
    return out


def check_y(y: Any, name: str = "y", n: int | None = None) -> np.ndarray:
    """A 1-D label vector (length ``n`` when given)."""
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but X has {n} rows")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_X_y(X: Any, y: Any, *, x_name: str = "X", y_name: str = "y",
              allow_nan: bool = False):
    """``check_frame_or_array`` + ``check_y`` with matching lengths."""
    X = check_frame_or_array(X, x_name, allow_nan=allow_nan)
    return X, check_y(y, y_name, n=len(X))


def check_indices(idx: Any, n: int, name: str) -> np.ndarray:
    """Integer row indices in ``[0, n)`` (an int or a sequence), as a 1-D int array."""
    arr = np.atleast_1d(np.asarray(idx))
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integer row indices; got dtype {arr.dtype}")
    arr = arr.astype(np.int64).ravel()
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise ValueError(f"{name} out of range [0, {n}): {bad[:5].tolist()}")
    return arr


def feature_names_of(X: Any, feature_names: Sequence[str] | None = None) -> list[str]:
    """Column names of ``X`` (or the given ones, or ``"Feature i"``)."""
    m = X.shape[1]
    if feature_names is not None:
        names = [str(f) for f in feature_names]
        if len(names) != m:
            raise ValueError(f"feature_names has {len(names)} names but X has {m} columns")
        return names
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"Feature {i}" for i in range(m)]


def check_columns(features: Any, names: Sequence[str], name: str = "features") -> list[int]:
    """Resolve feature names or indices to column indices, naming unknown ones."""
    names = list(names)
    if features is None:
        return list(range(len(names)))
    if isinstance(features, (str, numbers.Integral, np.integer)):
        features = [features]
    out = []
    for f in features:
        if isinstance(f, (numbers.Integral, np.integer)) and not isinstance(f, bool):
            if not 0 <= int(f) < len(names):
                raise ValueError(f"{name}: column index {f} out of range [0, {len(names)})")
            out.append(int(f))
        elif str(f) in names:
            out.append(names.index(str(f)))
        else:
            raise ValueError(f"{name}: unknown feature {f!r}; known features are {names}")
    return out


def explanation_values(contributions: Any) -> np.ndarray:
    """Contribution values of a shap.Explanation, array or Captum tensor(s) as float64."""
    if type(contributions).__name__ == "Explanation" and hasattr(contributions, "values"):
        return np.asarray(contributions.values, dtype=np.float64)
    if isinstance(contributions, tuple):  # Captum: one tensor per input
        parts = [explanation_values(t) for t in contributions]
        return np.concatenate([p.reshape(len(p), -1) for p in parts], axis=1)
    if hasattr(contributions, "detach"):
        return contributions.detach().cpu().double().numpy()
    arr = np.asarray(contributions)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(
            "contributions must be a shap.Explanation, a numeric array or a Captum tensor "
            f"(or tuple of tensors); got {type(contributions).__name__}")
    return arr.astype(np.float64)


def check_explanation(contributions: Any, X: Any, name: str = "explanation") -> None:
    """Raise if ``contributions`` does not have one row per row and one column per feature of X."""
    vals = explanation_values(contributions)
    if vals.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D or 3-D; got shape {vals.shape}")
    if vals.shape[0] != X.shape[0] or vals.shape[1] != X.shape[1]:
        raise ValueError(
            f"{name} has shape {vals.shape[:2]} (rows, features) but X has {X.shape[:2]}")


def check_anomalies(anomalies: Any, n: int, name: str = "anomalies") -> np.ndarray:
    """Row positions of anomalies: integers in ``[0, n)``, each once.

    Negative positions are refused (``-1`` is not "the last row" here), and so are
    duplicates, which would be retrained and counted twice. The one check every entry point
    that takes anomaly rows runs before its heavy work (in-memory and Dask alike).

    Examples
    --------
    >>> check_anomalies([3, 1], 5).tolist()
    [3, 1]
    >>> check_anomalies([1, 1], 5)
    Traceback (most recent call last):
    ...
    ValueError: anomalies holds duplicated rows [1]; give each row once
    """
    arr = np.atleast_1d(np.asarray(anomalies))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of row positions; got shape "
                         f"{arr.shape}")
    if arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be integer row positions; got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise ValueError(f"{name} out of range [0, {n}) (row positions, no negatives): "
                         f"{np.unique(bad)[:5].tolist()}")
    uniq, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} holds duplicated rows {uniq[counts > 1][:5].tolist()}; "
                         "give each row once")
    return arr


def check_known_labels(y: Any, classes: Any, name: str = "y") -> None:
    """Raise when ``y`` holds labels that are not among the model's ``classes``.

    Examples
    --------
    >>> check_known_labels([0, 2], [0, 1])
    Traceback (most recent call last):
    ...
    ValueError: y holds labels the model does not know: [2]; model classes are [0, 1]
    """
    yv, classes = np.asarray(y), np.asarray(classes)
    known = np.isin(yv, classes)
    if not known.all():
        bad = np.unique(yv[~known])[:5].tolist()
        raise ValueError(f"{name} holds labels the model does not know: {bad}; "
                         f"model classes are {classes.tolist()}")


def check_same_columns(X_test: Any, X: Any, name: str = "X_test") -> None:
    """Raise unless ``X_test`` has ``X``'s columns (names and order for frames, count
    otherwise), naming the missing and the extra ones.

    Examples
    --------
    >>> import pandas as pd
    >>> check_same_columns(pd.DataFrame(columns=["a", "c"]), pd.DataFrame(columns=["a", "b"]))
    Traceback (most recent call last):
    ...
    ValueError: X_test must have the columns of X: missing ['b'], extra ['c']
    """
    if isinstance(X_test, pd.DataFrame) and isinstance(X, pd.DataFrame):
        a, b = [str(c) for c in X.columns], [str(c) for c in X_test.columns]
        if a != b:
            missing, extra = [c for c in a if c not in b], [c for c in b if c not in a]
            what = (f"missing {missing}, extra {extra}" if missing or extra
                    else f"same names in another order {b[:8]}")
            raise ValueError(f"{name} must have the columns of X: {what}")
        return
    if np.ndim(X_test) != 2 or np.shape(X_test)[1] != np.shape(X)[1]:
        raise ValueError(f"{name} must have {np.shape(X)[1]} columns like X; got shape "
                         f"{np.shape(X_test)}")



def check_test_split(X: Any, X_test: Any, y_test: Any) -> tuple[Any, Any]:
    """``(X_test, y_test)`` checked against the training rows ``X``: both or neither, each
    test row labelled, the columns of ``X``; ``(None, None)`` when no test split is given.

    Examples
    --------
    >>> import numpy as np
    >>> check_test_split(np.zeros((4, 2)), None, None)
    (None, None)
    >>> check_test_split(np.zeros((4, 2)), np.zeros((3, 2)), None)
    Traceback (most recent call last):
    ...
    ValueError: X_test and y_test must be given together
    """
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together")
    if X_test is None:
        return None, None
    X_test, y_test = check_X_y(X_test, y_test, x_name="X_test", y_name="y_test",
                               allow_nan=True)
    check_same_columns(X_test, X)
    return X_test, y_test

def check_unique_columns(X: Any, name: str = "X") -> None:
    """Raise when a DataFrame has duplicate column names, naming them."""
    if isinstance(X, pd.DataFrame) and X.columns.duplicated().any():
        dupes = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
        raise ValueError(f"{name} has duplicate column names {dupes}; each column needs its "
                         "own name")


def check_probabilities(proba: Any, name: str = "model.predict_proba") -> np.ndarray:
    """Probabilities as a finite 2-D float array (NaN/inf refused, naming the rows).

    Examples
    --------
    >>> check_probabilities([[0.5, float("nan")]])
    Traceback (most recent call last):
    ...
    ValueError: model.predict_proba returned NaN or infinite values for 1 row(s), e.g. rows [0]; the model cannot be explained on them (check its inputs)
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"{name} must return one column per class (2-D); got shape {p.shape}"
                         " (a multi-output model is not a classifier shap-debug can debug)")
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} returned NaN or infinite values for {len(rows)} row(s), "
                         f"e.g. rows {rows[:5].tolist()}; the model cannot be explained on "
                         "them (check its inputs)")
    return p
