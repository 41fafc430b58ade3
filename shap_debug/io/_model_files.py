"""Trained models from disk: only formats that cannot run code load by default.

A pickle (``.pkl``, ``.pickle``, ``.joblib``) runs whatever code its author put in it the
moment it is loaded, and a TorchScript archive *is* code (its ``forward`` runs when the
model predicts), so :func:`load_model` refuses both unless ``trust_code=True``, *before*
any byte of the file is read (TorchScript: before it is handed to torch). The formats that
load by default hold data, never code:

============================  ==================================================================
suffix                        loaded with
============================  ==================================================================
``.skops``                    ``skops.io.load`` (scikit-learn, Pipelines); types outside skops'
                              trusted set and :data:`SKOPS_TRUSTED` are refused unless listed
                              in ``trusted``
``.json``, ``.ubj``           ``xgboost.XGBClassifier().load_model``
``.txt``, ``.lgb``, ``.lgbm``  ``lightgbm.Booster(model_file=...)``, as a :class:`BoosterClassifier`
                              (its structure checked first: LightGBM aborts the process on
                              some damaged files)
``.cbm``                      ``catboost.CatBoostClassifier().load_model``
``.pt``, ``.pth``             a ``state_dict`` (``torch.load(weights_only=True)``) with
                              ``torch_architecture``; TorchScript only with ``trust_code``
============================  ==================================================================

Every failure is one ``ValueError`` naming the file and the format: an
:class:`UnsafeModelError` when the file could run code and was refused, a
:class:`CorruptModelError` when it is damaged or is not what its suffix says.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import sys
import time
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._adapters import BoosterClassifier
from ._checks import check_lightgbm_text, check_xgboost_file
from ._files import atomic_path

__all__ = [
    "KINDS", "SKOPS_TRUSTED", "UnsafeModelError", "CorruptModelError", "load_model",
    "save_model", "build_mlp", "model_kind",
]

#: the formats :func:`load_model` knows, by ``kind``
KINDS = ("skops", "xgboost", "lightgbm", "catboost", "torch", "pickle")
_SUFFIXES = {
    ".skops": "skops", ".json": "xgboost", ".ubj": "xgboost", ".txt": "lightgbm",
    ".lgb": "lightgbm", ".lgbm": "lightgbm", ".cbm": "catboost", ".pt": "torch",
    ".pth": "torch", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "pickle",
}
_ACCEPTED = (".skops (scikit-learn), .json/.ubj (XGBoost), .txt/.lgb (LightGBM), .cbm "
             "(CatBoost), .pt/.pth (a state_dict with an architecture spec)")
_PICKLE_WHY = ("loading a pickle runs any code its author put in it; save the model as "
               + _ACCEPTED + " instead, or pass trust_code=True (--trust-code) if you "
               "made the file yourself or trust whoever did")
_SCRIPT_WHY = ("a TorchScript archive is code: its forward() runs whatever its author wrote "
               "when the model predicts; save the weights instead (torch.save(net.state_dict()"
               ", path) with torch_architecture / --torch-architecture), or pass "
               "trust_code=True (--trust-code) if you made the file yourself or trust "
               "whoever did")

#: Types beyond skops' own trusted set that :func:`load_model` accepts in a ``.skops`` file:
#: the state holders of standard scikit-learn models (fitted trees, the MLP's optimiser, the
#: kNN index, calibration wrappers) and ``numpy.dtype``. Each is a class whose loading only
#: sets arrays and numbers (audited against skops 0.16 / scikit-learn 1.9); no function, no
#: ``functools.partial``, no class from outside scikit-learn/numpy is listed.
SKOPS_TRUSTED = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


class UnsafeModelError(ValueError):
    """A model file refused because loading or using it could run code (a pickle, a
    TorchScript archive, skops types nobody vouched for)."""


class CorruptModelError(ValueError):
    """A model file that is damaged, empty, or not in the format its suffix names."""


def _corrupt(path: Path, kind: str, why: str) -> CorruptModelError:
    return CorruptModelError(f"model_path {str(path)!r} is not a valid {kind} model file "
                             f"(damaged, empty or another format): {why}")


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


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

    Examples
    --------
    >>> build_mlp({"layers": [3, 4, 2]})
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): ReLU()
      (2): Linear(in_features=4, out_features=2, bias=True)
    )
    """
    import torch

    if not isinstance(spec, dict):
        try:
            spec = json.loads(Path(spec).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"torch_architecture: cannot read {str(spec)!r} as JSON: "
                             f"{exc}") from None
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if (not isinstance(layers, list) or len(layers) < 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1 << 16
                       for v in layers)):
        raise ValueError("torch_architecture must give 'layers': a list of at least two "
                         "positive ints up to 65536 (input size ... number of outputs); got "
                         f"{layers!r}")
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
            "gelu": torch.nn.GELU, "leaky_relu": torch.nn.LeakyReLU}
    name = spec.get("activation", "relu")
    if not isinstance(name, str) or name not in acts:
        raise ValueError(f"torch_architecture 'activation' must be one of {sorted(acts)}; "
                         f"got {name!r}")
    mods: list[Any] = []
    for k, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
        if k:
            mods.append(acts[name]())
        mods.append(torch.nn.Linear(a, b))
    return torch.nn.Sequential(*mods)


# --------------------------------------------------------------------------- torch
def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except Exception:  # noqa: BLE001 - not a readable zip (BadZipFile, NotImplementedError ...)
        return False
    return any("/code/" in n or n.endswith("constants.pkl") for n in names)


def _load_torch(path: Path, architecture: Any, trust_code: bool) -> Any:
    import torch

    if _is_torchscript(path):
        if not trust_code:  # refused before torch sees the file
            raise UnsafeModelError(f"model_path {str(path)!r} is a TorchScript archive: "
                                   + _SCRIPT_WHY)
        try:
            return torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:  # noqa: BLE001 - any damage becomes one clear error
            raise _corrupt(path, "TorchScript", _why(exc)) from None
    if architecture is None:
        raise ValueError(
            f"model_path {str(path)!r} is not a TorchScript archive; a state_dict needs "
            "torch_architecture (--torch-architecture), e.g. {\"layers\": [12, 32, 2], "
            "\"activation\": \"relu\"}")
    net = build_mlp(architecture)
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            # the restricted unpickler met a type it does not allow: refused, not damaged
            raise UnsafeModelError(
                f"model_path {str(path)!r}: torch.load(weights_only=True) refused it, it "
                f"holds objects besides tensors ({_why(exc)[:200]}); save a state_dict "
                "(torch.save(net.state_dict(), path))") from None
        raise _corrupt(path, "torch state_dict", _why(exc)) from None
    except Exception as exc:  # noqa: BLE001
        raise _corrupt(path, "torch state_dict", _why(exc)) from None
    if (not isinstance(state, dict) or not state
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                       for k, v in state.items())):
        what = ("an empty dict" if isinstance(state, dict) and not state
                else f"a {type(state).__name__}")
        raise _corrupt(path, "torch state_dict", f"expected a dict of named tensors, found "
                       f"{what}")
    try:
        net.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"model_path {str(path)!r}: the state_dict does not fit "
                         f"torch_architecture: {_why(exc)}") from None
    return net.eval()


# --------------------------------------------------------------------------- skops
def _load_skops(path: Path, trusted: Sequence[str] | None) -> Any:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=str(path))
    except Exception as exc:  # noqa: BLE001 - BadZipFile, KeyError, JSON errors ...
        raise _corrupt(path, "skops", _why(exc)) from None
    allowed = set(SKOPS_TRUSTED) | set(trusted or ())
    refused = [t for t in untrusted if t not in allowed]
    if refused:
        raise UnsafeModelError(
            f"model_path {str(path)!r} holds types skops does not trust by default: "
            f"{refused}. Loading them could run their code; if you know the file, pass "
            f"trusted={refused!r} (--trusted {' '.join(refused)})")
    try:
        return sio.load(str(path), trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001
        raise _corrupt(path, "skops", _why(exc)) from None


# --------------------------------------------------------------------------- XGBoost / CatBoost
def _xgb_max_depth(booster: Any) -> int | None:
    try:
        trees = json.loads(booster.save_raw(raw_format="json"))["learner"][
            "gradient_booster"]["model"]["trees"]
    except Exception:  # noqa: BLE001 - a depth is a nicety for refits
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


def _load_xgboost(path: Path) -> Any:
    import xgboost as xgb

    try:
        check_xgboost_file(path)
    except (ValueError, RecursionError, struct.error, UnicodeDecodeError) as exc:
        raise _corrupt(path, "xgboost", str(exc) or type(exc).__name__) from None
    model = xgb.XGBClassifier()
    model.load_model(str(path))
    booster = model.get_booster()
    # the file keeps the trees, not the training settings: refits use its size
    model.set_params(n_estimators=booster.num_boosted_rounds(),
                     max_depth=_xgb_max_depth(booster))
    return model


def _survives(load: Any, path: Path, library: str, timeout: float = 60.0) -> str | None:
    """Run ``load(path)`` in a forked child first: None when it returned or raised, else why
    the child died (a crash of the native library, which no ``try`` could catch here)."""
    if not hasattr(os, "fork"):  # Windows: no cheap probe, load as it is
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 3
        try:
            load(path)
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return f"reading it did not finish in {timeout:.0f} s"
        time.sleep(0.002)
    if os.WIFSIGNALED(status):
        return f"{library} crashed reading it (signal {os.WTERMSIG(status)})"
    return None


def _read_catboost(path: Path) -> Any:
    import catboost

    model = catboost.CatBoostClassifier()
    model.load_model(str(path))
    return model


def _exercise_catboost(path: Path) -> None:
    """What the probe does: read the file, its parameters, and predict one row."""
    model = _read_catboost(path)
    model.get_all_params()
    n = len(model.feature_names_ or [])
    cats = set(model.get_cat_feature_indices())
    model.predict_proba([["0" if j in cats else 0.0 for j in range(n)]])


def _load_catboost(path: Path) -> Any:
    import catboost  # noqa: F401 - imported before the probe forks, once

    # CatBoost trusts the flatbuffer it reads: a damaged file can crash it (SIGSEGV), so a
    # forked child reads it first
    crashed = _survives(_exercise_catboost, path, "CatBoost")
    if crashed:
        raise _corrupt(path, "catboost", crashed)
    model = _read_catboost(path)
    # refits (the label-flip check) clone get_params(): give them the categorical columns
    # and rate the file knows (set_params refuses a fitted model, so the parameters go
    # where CatBoost keeps them)
    names, cats = model.feature_names_, model.get_cat_feature_indices()
    rate = model.get_all_params().get("learning_rate")
    params = getattr(model, "_init_params", None)
    if isinstance(params, dict):
        params.update(cat_features=[names[i] for i in cats] if names else list(cats),
                      verbose=0, allow_writing_files=False,
                      **({"learning_rate": rate} if rate else {}))
    return model


def _load_lightgbm(path: Path) -> Any:
    import lightgbm as lgb

    try:
        check_lightgbm_text(path)
    except ValueError as exc:
        raise _corrupt(path, "lightgbm", str(exc)) from None
    return BoosterClassifier(lgb.Booster(model_file=str(path)))


_NATIVE = {"xgboost": _load_xgboost, "lightgbm": _load_lightgbm, "catboost": _load_catboost}


def load_model(path: str | Path, *, trust_code: bool = False,
               trusted: Sequence[str] | None = None, kind: str | None = None,
               torch_architecture: dict | str | Path | None = None,
               trust_pickle: bool = False) -> Any:
    """Load a trained classifier from disk; formats that can run code only when trusted.

    Parameters
    ----------
    path : str or Path
        The model file; its suffix says the format (see the module docstring).
    trust_code : bool
        Load formats that run their author's code: ``.pkl``/``.pickle``/``.joblib``
        (refused otherwise before the file is opened) and TorchScript archives (refused
        before torch reads them).
    trusted : sequence of str, optional
        skops types to trust beyond skops' defaults and :data:`SKOPS_TRUSTED`.
    kind : {"skops", "xgboost", "lightgbm", "catboost", "torch", "pickle"}, optional
        The format, when the suffix does not say it.
    torch_architecture : dict or path to JSON, optional
        For a torch ``state_dict``: the MLP it belongs to (see :func:`build_mlp`).
    trust_pickle : bool
        The former name of ``trust_code`` (either one trusts).

    Returns
    -------
    A fitted classifier: an ``XGBClassifier``, a :class:`BoosterClassifier`, a
    ``CatBoostClassifier``, a torch module, or what the skops/pickle file holds.

    Raises
    ------
    UnsafeModelError
        The file could run code and was not trusted.
    CorruptModelError
        The file is damaged, empty or not in the format its suffix names.
    FileNotFoundError
        No such file.

    Examples
    --------
    >>> load_model("model.pkl")
    Traceback (most recent call last):
    ...
    shap_debug.io._model_files.UnsafeModelError: model_path 'model.pkl' is a pickle: loading a pickle runs any code ...
    """
    kind = model_kind(path, kind)
    path = Path(path)
    trust_code = bool(trust_code or trust_pickle)
    if kind == "pickle" and not trust_code:  # refused before the file is even opened
        raise UnsafeModelError(f"model_path {str(path)!r} is a pickle: {_PICKLE_WHY}")
    if not path.is_file():
        raise FileNotFoundError(f"model_path {str(path)!r}: no such file")
    if path.stat().st_size == 0:
        raise _corrupt(path, kind, "the file is empty")
    if kind == "pickle":
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:  # noqa: BLE001
            raise _corrupt(path, "pickle", _why(exc)) from None
    if kind == "skops":
        return _load_skops(path, trusted)
    if kind == "torch":
        return _load_torch(path, torch_architecture, trust_code)
    try:
        return _NATIVE[kind](path)
    except ImportError as exc:
        raise ImportError(f"loading {str(path)!r} needs {exc.name}: pip install "
                          "'shap-debug[models]'") from exc
    except CorruptModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - the library's own errors, one message
        raise _corrupt(path, kind, _why(exc)) from None


def save_model(model: Any, path: str | Path) -> Path:
    """Save ``model`` in the safe format its suffix names (the inverse of :func:`load_model`).

    ``.skops`` for scikit-learn estimators and Pipelines, ``.json``/``.ubj`` for XGBoost,
    ``.txt`` for LightGBM (an ``LGBMClassifier``, a ``Booster`` or a
    :class:`BoosterClassifier`), ``.cbm`` for CatBoost, ``.pt`` for a torch module (as
    TorchScript, which loads only with ``trust_code``; save a ``state_dict`` for files
    others will load). Pickle suffixes are refused. The file is written under a temporary
    name beside ``path`` and moved into place, so a failed save keeps the old file.
    """
    path = Path(path)
    kind = model_kind(path)
    if kind == "pickle":
        raise UnsafeModelError(f"path {str(path)!r}: pickles are not written; {_ACCEPTED}")
    with atomic_path(path) as tmp:
        if kind == "skops":
            import skops.io as sio

            sio.dump(model, str(tmp))
        elif kind == "lightgbm":
            booster = getattr(model, "booster_", None) or getattr(model, "wrapped_model_",
                                                                  model)
            booster.save_model(str(tmp))
        elif kind in ("xgboost", "catboost"):
            model.save_model(str(tmp))
        else:
            import torch

            module = (model if isinstance(model, torch.jit.ScriptModule)
                      else torch.jit.script(model))
            torch.jit.save(module, str(tmp))
    return path
