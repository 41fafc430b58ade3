"""Trained models and tables from disk, without unpickling untrusted bytes.

A pickle (``.pkl``, ``.pickle``, ``.joblib``) runs whatever code its author put in it the
moment it is loaded, so :func:`load_model` refuses one unless ``trust_pickle=True``, and it
refuses it *before* any byte of the file is read. The formats it loads instead:

============================  ==================================================================
suffix                        loaded with
============================  ==================================================================
``.skops``                    ``skops.io.load`` (scikit-learn, Pipelines); types outside skops'
                              trusted set are refused unless listed in ``trusted``
``.json``, ``.ubj``           ``xgboost.XGBClassifier().load_model``
``.txt``, ``.lgb``, ``.lgbm``  ``lightgbm.Booster(model_file=...)``, as a :class:`BoosterClassifier`
``.cbm``                      ``catboost.CatBoostClassifier().load_model``
``.pt``, ``.pth``             TorchScript (``torch.jit.load``), or a ``state_dict``
                              (``torch.load(weights_only=True)``) with ``torch_architecture``
============================  ==================================================================

:func:`load_table` reads the CSV/Parquet data and :func:`report_from_files` puts model and
data together for :class:`~shap_debug.Debugger` (what ``shap-debug report --model`` runs).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from ..core import classes_of, clone_model, is_torch_module, predict_proba_fn

__all__ = [
    "KINDS", "UnsafeModelError", "BoosterClassifier", "LabelledClassifier", "DebugInputs",
    "load_model", "load_table", "save_model", "build_mlp", "model_kind", "report_from_files",
]

#: the formats :func:`load_model` knows, by ``kind``
KINDS = ("skops", "xgboost", "lightgbm", "catboost", "torch", "pickle")
_SUFFIXES = {
    ".skops": "skops", ".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm",
    ".lgb": "lightgbm", ".lgbm": "lightgbm", ".cbm": "catboost", ".pt": "torch",
    ".pth": "torch", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "pickle",
}
_ACCEPTED = (".skops (scikit-learn), .json/.ubj (XGBoost), .txt/.lgb (LightGBM), .cbm "
             "(CatBoost), .pt/.pth (TorchScript, or a state_dict with an architecture spec)")
_PICKLE_WHY = ("loading a pickle runs any code its author put in it; save the model as "
               + _ACCEPTED + " instead, or pass trust_pickle=True (--trust-pickle) if you "
               "made the file yourself or trust whoever did")


class UnsafeModelError(ValueError):
    """A model file that could run code when loaded (a pickle, untrusted skops types)."""


# --------------------------------------------------------------------------- adapters
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
        fitted = getattr(self, "fitted_classes_", None)
        return fitted if fitted is not None else np.asarray(list(self.classes), dtype=object)

    def fit(self, X: Any, y: Any, **fit_params: Any) -> LabelledClassifier:
        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        self.estimator_ = clone_model(self.estimator, "estimator").fit(X, codes, **fit_params)
        self.fitted_classes_ = classes
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return predict_proba_fn(self.wrapped_model_, "estimator")(X)

    def predict(self, X: Any) -> np.ndarray:
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
        return getattr(self, "booster_", self.booster)

    @property
    def classes_(self) -> np.ndarray:
        if self.classes is not None:
            return np.asarray(list(self.classes))
        k = self.booster.num_model_per_iteration()  # one model per class, one if binary
        return np.arange(max(k, 2))

    def fit(self, X: Any, y: Any) -> BoosterClassifier:
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
        p = np.asarray(self.wrapped_model_.predict(X), dtype=np.float64)
        return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


# --------------------------------------------------------------------------- loading
def model_kind(path: str | Path, kind: str | None = None) -> str:
    """The format of a model file: ``kind`` if given, else from its suffix."""
    if kind is not None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}; got {kind!r}")
        return kind
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise ValueError(f"model_path {str(path)!r}: unknown model format {suffix or '(none)'!r};"
                         f" accepted: {_ACCEPTED}, or pass kind= one of {list(KINDS)}")
    return _SUFFIXES[suffix]


def build_mlp(spec: dict | str | Path) -> Any:
    """A torch MLP (``nn.Sequential``) from an architecture spec, for a ``state_dict``.

    ``spec`` (a dict or a JSON file): ``{"layers": [12, 32, 16, 2], "activation": "relu"}``,
    Linear layers between consecutive sizes with the activation between them (``relu``,
    ``tanh``, ``sigmoid``, ``gelu``, ``leaky_relu``); the last layer gives the logits
    (one output: the positive-class logit of a binary model). The state_dict's keys are
    then ``0.weight, 0.bias, 2.weight, ...`` (``nn.Sequential`` numbering).
    """
    import torch

    if not isinstance(spec, dict):
        try:
            spec = json.loads(Path(spec).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"torch_architecture: cannot read {str(spec)!r} as JSON: "
                             f"{exc}") from None
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if (not isinstance(layers, list) or len(layers) < 2
            or not all(isinstance(v, int) and v > 0 for v in layers)):
        raise ValueError("torch_architecture must give 'layers': a list of at least two "
                         f"positive ints (input size ... number of outputs); got {layers!r}")
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
            "gelu": torch.nn.GELU, "leaky_relu": torch.nn.LeakyReLU}
    name = spec.get("activation", "relu")
    if name not in acts:
        raise ValueError(f"torch_architecture 'activation' must be one of {sorted(acts)}; "
                         f"got {name!r}")
    mods: list[Any] = []
    for k, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
        if k:
            mods.append(acts[name]())
        mods.append(torch.nn.Linear(a, b))
    return torch.nn.Sequential(*mods)


def _load_torch(path: Path, architecture: Any) -> Any:
    import torch

    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        names = []
    if any("/code/" in n or n.endswith("constants.pkl") for n in names):
        return torch.jit.load(str(path), map_location="cpu").eval()
    if architecture is None:
        raise ValueError(
            f"model_path {str(path)!r} is not a TorchScript archive; a state_dict needs "
            "torch_architecture (--torch-architecture), e.g. {\"layers\": [12, 32, 2], "
            "\"activation\": \"relu\"}")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # the restricted unpickler refuses anything but tensors
        raise UnsafeModelError(f"model_path {str(path)!r}: torch.load(weights_only=True) "
                               f"refused it ({exc}); save a state_dict or TorchScript") from None
    net = build_mlp(architecture)
    try:
        net.load_state_dict(state)
    except Exception as exc:
        raise ValueError(f"model_path {str(path)!r}: the state_dict does not fit "
                         f"torch_architecture: {exc}") from None
    return net.eval()


def _load_skops(path: Path, trusted: Sequence[str] | None) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=str(path))
    allowed = set(trusted or ())
    refused = [t for t in untrusted if t not in allowed]
    if refused:
        raise UnsafeModelError(
            f"model_path {str(path)!r} holds types skops does not trust by default: "
            f"{refused}. Loading them could run their code; if you know the file, pass "
            f"trusted={refused!r} (--trusted {' '.join(refused)})")
    return sio.load(str(path), trusted=list(untrusted))


def _xgb_max_depth(booster: Any) -> int | None:
    try:
        trees = json.loads(booster.save_raw(raw_format="json"))["learner"][
            "gradient_booster"]["model"]["trees"]
    except Exception:
        return None
    deepest = 0
    for tree in trees:
        left, right = tree["left_children"], tree["right_children"]
        depth, stack = 0, [(0, 0)]
        while stack:
            node, d = stack.pop()
            depth = max(depth, d)
            if left[node] != -1:
                stack += [(left[node], d + 1), (right[node], d + 1)]
        deepest = max(deepest, depth)
    return deepest or None


def load_model(path: str | Path, *, trust_pickle: bool = False,
               trusted: Sequence[str] | None = None, kind: str | None = None,
               torch_architecture: dict | str | Path | None = None) -> Any:
    """Load a trained classifier from disk without unpickling untrusted bytes.

    Parameters
    ----------
    path : str or Path
        The model file; its suffix says the format (see the module docstring).
    trust_pickle : bool
        Load ``.pkl``/``.pickle``/``.joblib`` files (refused otherwise, before the file is
        opened, with the reason).
    trusted : sequence of str, optional
        skops types to trust beyond skops' defaults (``skops.io.get_untrusted_types``).
    kind : {"skops", "xgboost", "lightgbm", "catboost", "torch", "pickle"}, optional
        The format, when the suffix does not say it.
    torch_architecture : dict or path to JSON, optional
        For a torch ``state_dict``: the MLP it belongs to (see :func:`build_mlp`).

    Returns
    -------
    A fitted classifier: an ``XGBClassifier``, a :class:`BoosterClassifier`, a
    ``CatBoostClassifier``, a torch module, or what the skops/pickle file holds.

    Examples
    --------
    >>> load_model("model.pkl")
    Traceback (most recent call last):
    ...
    shap_debug.io._model_files.UnsafeModelError: model_path 'model.pkl' is a pickle: loading a pickle runs any code ...
    """
    kind = model_kind(path, kind)
    path = Path(path)
    if kind == "pickle" and not trust_pickle:  # refused before the file is even opened
        raise UnsafeModelError(f"model_path {str(path)!r} is a pickle: {_PICKLE_WHY}")
    if not path.is_file():
        raise FileNotFoundError(f"model_path {str(path)!r}: no such file")
    if kind == "pickle":
        import joblib

        return joblib.load(path)
    if kind == "skops":
        return _load_skops(path, trusted)
    if kind == "torch":
        return _load_torch(path, torch_architecture)
    try:
        if kind == "xgboost":
            import xgboost as xgb

            model = xgb.XGBClassifier()
            model.load_model(str(path))
            booster = model.get_booster()
            # the file keeps the trees, not the training settings: refits use its size
            model.set_params(n_estimators=booster.num_boosted_rounds(),
                             max_depth=_xgb_max_depth(booster))
            return model
        if kind == "lightgbm":
            import lightgbm as lgb

            return BoosterClassifier(lgb.Booster(model_file=str(path)))
        import catboost

        model = catboost.CatBoostClassifier()
        model.load_model(str(path))
        # refits (the label-flip check) clone get_params(): give them the categorical
        # columns and rate the file knows (set_params refuses a fitted model, so the
        # parameters go where CatBoost keeps them)
        names, cats = model.feature_names_, model.get_cat_feature_indices()
        rate = model.get_all_params().get("learning_rate")
        params = getattr(model, "_init_params", None)
        if isinstance(params, dict):
            params.update(cat_features=[names[i] for i in cats] if names else list(cats),
                          verbose=0, allow_writing_files=False,
                          **({"learning_rate": rate} if rate else {}))
        return model
    except ImportError as exc:
        raise ImportError(f"loading {str(path)!r} needs {exc.name}: pip install "
                          "'shap-debug[models]'") from exc
    except Exception as exc:
        raise ValueError(f"model_path {str(path)!r} could not be read as a {kind} model: "
                         f"{type(exc).__name__}: {exc}") from None


def save_model(model: Any, path: str | Path) -> Path:
    """Save ``model`` in the safe format its suffix names (the inverse of :func:`load_model`).

    ``.skops`` for scikit-learn estimators and Pipelines, ``.json``/``.ubj`` for XGBoost,
    ``.txt`` for LightGBM (an ``LGBMClassifier``, a ``Booster`` or a
    :class:`BoosterClassifier`), ``.cbm`` for CatBoost, ``.pt`` for a torch module (as
    TorchScript). Pickle suffixes are refused.
    """
    path = Path(path)
    kind = model_kind(path)
    if kind == "pickle":
        raise UnsafeModelError(f"path {str(path)!r}: pickles are not written; {_ACCEPTED}")
    if kind == "skops":
        import skops.io as sio

        sio.dump(model, str(path))
    elif kind == "xgboost":
        model.save_model(str(path))
    elif kind == "lightgbm":
        booster = getattr(model, "booster_", None) or getattr(model, "wrapped_model_", model)
        booster.save_model(str(path))
    elif kind == "catboost":
        model.save_model(str(path))
    else:
        import torch

        module = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.script(model)
        torch.jit.save(module, str(path))
    return path


def load_table(path: str | Path, name: str = "train_path") -> pd.DataFrame:
    """A CSV (``.csv``, ``.csv.gz``, ``.tsv``) or Parquet (``.parquet``, ``.pq``) table."""
    path = Path(path)
    low = path.name.lower()
    if not path.is_file():
        raise FileNotFoundError(f"{name} {str(path)!r}: no such file")
    try:
        if low.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if low.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv")):
            return pd.read_csv(path, sep="\t" if low.endswith(".tsv") else ",")
    except ImportError as exc:
        raise ImportError(f"reading {str(path)!r} needs {exc.name}: pip install "
                          "'shap-debug[models]'") from exc
    except Exception as exc:
        raise ValueError(f"{name} {str(path)!r} could not be read: {type(exc).__name__}: "
                         f"{exc}") from None
    raise ValueError(f"{name} {str(path)!r}: unknown table format; accepted: .csv, .tsv, "
                     ".csv.gz, .parquet, .pq")


# --------------------------------------------------------------------------- model + data
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

    def debugger(self, **kwargs: Any):
        """A :class:`~shap_debug.Debugger` on these pieces (``kwargs`` passed on)."""
        from ..debugger import Debugger

        return Debugger(self.model, self.X, self.y, X_test=self.X_test, y_test=self.y_test,
                        **kwargs)


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
                      test_path: str | Path | None = None, *, trust_pickle: bool = False,
                      trusted: Sequence[str] | None = None, kind: str | None = None,
                      torch_architecture: dict | str | Path | None = None) -> DebugInputs:
    """Load a model and its data from files, ready for :class:`~shap_debug.Debugger`.

    The model is loaded with :func:`load_model` (pickles only with ``trust_pickle``), the
    tables with :func:`load_table`. Feature columns are put in the order the model was
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
    trust_pickle, trusted, kind, torch_architecture
        As in :func:`load_model`.

    Returns
    -------
    DebugInputs
        ``inputs.debugger(**kwargs)`` builds the Debugger; ``inputs.notes`` go into the
        report (``Debugger.report(..., notes=inputs.notes)``).

    Examples
    --------
    The CLI (``shap-debug report --model m.json --train train.csv --target income``)::

        inputs = report_from_files(args.model, args.train, args.target, args.test,
                                   trust_pickle=args.trust_pickle)
        dbg = inputs.debugger(protected=args.protected, random_state=args.seed)
        dbg.report(args.anomalies, args.out, notes=inputs.notes)
    """
    if not isinstance(target, str) or not target:
        raise ValueError(f"target must name the label column; got {target!r}")
    model = load_model(model_path, trust_pickle=trust_pickle, trusted=trusted, kind=kind,
                       torch_architecture=torch_architecture)
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
