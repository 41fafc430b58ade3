"""Saving a Debugger's computed values without pickle: JSON for the structure, one ``.npz``
for the arrays.

:func:`encode` walks a value and writes plain JSON: numbers, strings, lists and tagged
objects (``{"__frame__": ...}``, ``{"__obj__": "shap_debug.audit._cohorts:Cohort", ...}``);
numeric arrays go to the npz file by key. :func:`decode` rebuilds the value and only ever
creates instances of classes defined in :mod:`shap_debug` or :mod:`captum_ext` (found by
their module and name, never by running code from the file), numpy arrays (loaded with
``allow_pickle=False``), pandas frames and ``shap.Explanation`` objects. What cannot be
written this way (a fitted scikit-learn helper model inside a result, a random generator, a
function) is saved as ``None`` and listed in ``dropped``: the report does not read them.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ALLOWED_PACKAGES", "decode", "encode", "read_store", "write_store"]

#: Only classes from these packages are rebuilt from a file.
ALLOWED_PACKAGES = ("shap_debug", "captum_ext")
FORMAT = "shap-debug/store"
FORMAT_VERSION = 1


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.dropped: list[str] = []

    def array(self, a: np.ndarray, path: str) -> Any:
        if a.dtype.kind in "biufcUSMm":  # stored as is, read back without pickle
            key = f"a{len(self.arrays)}"
            self.arrays[key] = a
            return {"__array__": key}
        return {"__objects__": [self(x, f"{path}[]") for x in a.ravel().tolist()],
                "shape": list(a.shape)}

    def series(self, s: pd.Series, path: str) -> dict:
        dtype = s.dtype
        out: dict[str, Any] = {"name": self(s.name, path), "index": self(s.index, path)}
        if isinstance(dtype, pd.CategoricalDtype):
            out.update(kind="category", codes=self.array(s.cat.codes.to_numpy(), path),
                       categories=self(s.cat.categories, path), ordered=bool(dtype.ordered))
        elif isinstance(dtype, np.dtype):
            out.update(kind="numpy", values=self.array(s.to_numpy(), path))
        else:  # nullable and string extension types: Python values and the dtype's name
            out.update(kind="extension", dtype=str(dtype),
                       values=[self(None if pd.isna(x) else x, path) for x in s.tolist()])
        return out

    def __call__(self, v: Any, path: str = "") -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, np.generic):
            return v
        if isinstance(v, np.generic):
            return {"__scalar__": v.dtype.str, "v": v.item() if v.dtype.kind != "M"
                    else str(v)}
        if isinstance(v, np.ndarray):
            return self.array(v, path)
        if isinstance(v, pd.DataFrame):
            return {"__frame__": [self.series(v.iloc[:, j], path) for j in range(v.shape[1])],
                    "columns": self(v.columns, path), "index": self(v.index, path)}
        if isinstance(v, pd.Series):
            return {"__series__": self.series(v, path)}
        if isinstance(v, pd.RangeIndex):
            return {"__range__": [v.start, v.stop, v.step], "name": self(v.name, path)}
        if isinstance(v, pd.Index):
            return {"__index__": self.series(v.to_series(index=range(len(v))), path),
                    "name": self(v.name, path)}
        if isinstance(v, (np.dtype, pd.api.extensions.ExtensionDtype)):
            return {"__dtype__": str(v)}
        if isinstance(v, dict):
            return {"__dict__": [[self(k, path), self(x, f"{path}[{k!r}]")]
                                 for k, x in v.items()]}
        if isinstance(v, (list, tuple, set, frozenset)) and not hasattr(v, "_fields"):
            tag = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset"}
            return {"__seq__": tag.get(type(v), "list"),
                    "items": [self(x, f"{path}[]") for x in v]}
        return self.object(v, path)

    def object(self, v: Any, path: str) -> Any:
        cls = type(v)
        if cls.__module__.startswith("shap._explanation"):
            fields = ("values", "base_values", "data", "display_data", "feature_names",
                      "output_names", "lower_bounds", "upper_bounds", "main_effects",
                      "hierarchical_values", "clustering", "instance_names",
                      "output_indexes", "error_std")
            return {"__shap__": {f: self(getattr(v, f, None), f"{path}.{f}")
                                 for f in fields}}
        if cls.__module__.split(".")[0] not in ALLOWED_PACKAGES:
            self.dropped.append(f"{path} ({cls.__module__}.{cls.__qualname__})")
            return None
        name = f"{cls.__module__}:{cls.__qualname__}"
        if hasattr(v, "_fields"):  # a NamedTuple
            return {"__obj__": name, "items": [self(x, f"{path}[]") for x in v]}
        state = (vars(v) if hasattr(v, "__dict__") else
                 {k: getattr(v, k) for k in getattr(cls, "__slots__", ()) if hasattr(v, k)})
        return {"__obj__": name, "state": {k: self(x, f"{path}.{k}")
                                           for k, x in state.items()}}


def encode(value: Any) -> tuple[Any, dict[str, np.ndarray], list[str]]:
    """``value`` as JSON-ready structure, its arrays by key and the paths dropped.

    >>> doc, arrays, dropped = encode({"a": np.arange(3), "b": (1, "x")})
    >>> sorted(arrays), dropped
    (['a0'], [])
    """
    enc = _Encoder()
    return enc(value, "value"), enc.arrays, enc.dropped


def _class(name: str) -> type:
    module, _, qual = name.partition(":")
    if module.split(".")[0] not in ALLOWED_PACKAGES:
        raise ValueError(f"refusing to rebuild {name!r}: only {ALLOWED_PACKAGES} classes")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f"refusing to rebuild {name!r}: not a class")
    return obj


def _index(d: dict, arrays: Any) -> pd.Index:
    s = _series(d, arrays)
    return pd.Index(s, name=s.name) if len(s) else pd.Index([], dtype=s.dtype, name=s.name)


def _series(d: dict, arrays: Any) -> pd.Series:
    index, name = decode(d["index"], arrays), decode(d["name"], arrays)
    if d["kind"] == "category":
        values = pd.Categorical.from_codes(decode(d["codes"], arrays),
                                           decode(d["categories"], arrays),
                                           ordered=d["ordered"])
    elif d["kind"] == "numpy":
        values = decode(d["values"], arrays)
    else:
        values = pd.array([decode(x, arrays) for x in d["values"]], dtype=d["dtype"])
    return pd.Series(values, index=index, name=name)


def decode(doc: Any, arrays: Any) -> Any:
    """The value :func:`encode` wrote (``arrays``: the npz file, or a dict)."""
    if not isinstance(doc, (dict, list)):
        return doc
    if isinstance(doc, list):
        return [decode(x, arrays) for x in doc]
    if "__array__" in doc:
        return np.asarray(arrays[doc["__array__"]])
    if "__objects__" in doc:
        out = np.empty(len(doc["__objects__"]), dtype=object)
        out[:] = [decode(x, arrays) for x in doc["__objects__"]]
        return out.reshape(doc["shape"])
    if "__scalar__" in doc:
        return np.array(doc["v"]).astype(np.dtype(doc["__scalar__"]))[()]
    if "__frame__" in doc:
        cols = [_series(c, arrays) for c in doc["__frame__"]]
        columns = decode(doc["columns"], arrays)
        index = decode(doc["index"], arrays)
        frame = pd.concat(cols, axis=1) if cols else pd.DataFrame(index=index)
        frame.columns = columns
        frame.index = index
        return frame
    if "__series__" in doc:
        return _series(doc["__series__"], arrays)
    if "__range__" in doc:
        return pd.RangeIndex(*doc["__range__"], name=decode(doc["name"], arrays))
    if "__index__" in doc:
        idx = _index(doc["__index__"], arrays)
        idx.name = decode(doc["name"], arrays)
        return idx
    if "__dtype__" in doc:
        return pd.api.types.pandas_dtype(doc["__dtype__"])
    if "__dict__" in doc:
        return {_hashable(decode(k, arrays)): decode(v, arrays) for k, v in doc["__dict__"]}
    if "__seq__" in doc:
        items = [decode(x, arrays) for x in doc["items"]]
        kind = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[
            doc["__seq__"]]
        return kind(_hashable(x) for x in items) if kind in (set, frozenset) else kind(items)
    if "__shap__" in doc:
        import shap

        fields = {k: decode(v, arrays) for k, v in doc["__shap__"].items()}
        fields = {k: v for k, v in fields.items() if v is not None}
        return shap.Explanation(**fields)
    if "__obj__" in doc:
        cls = _class(doc["__obj__"])
        if "items" in doc:
            return cls(*[decode(x, arrays) for x in doc["items"]])
        obj = object.__new__(cls)  # frozen dataclasses too: no __init__ runs
        for k, v in doc["state"].items():
            object.__setattr__(obj, k, decode(v, arrays))
        return obj
    raise ValueError(f"unknown tag in a saved value: {sorted(doc)[:3]}")


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def write_store(path: str | Path, value: Any, meta: dict | None = None) -> list[str]:
    """Write ``value`` to the folder ``path`` (``values.json`` + ``arrays.npz``); returns the
    paths that were dropped."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    doc, arrays, dropped = encode(value)
    np.savez_compressed(path / "arrays.npz", **arrays)
    head = {"format": FORMAT, "version": FORMAT_VERSION, **(meta or {}), "dropped": dropped,
            "value": doc}
    tmp = path / "values.json.tmp"
    tmp.write_text(json.dumps(head), encoding="utf-8")
    tmp.replace(path / "values.json")
    return dropped


def read_store(path: str | Path) -> tuple[Any, dict]:
    """The value :func:`write_store` wrote and its header (``format``, ``version``, ...)."""
    path = Path(path)
    files = [path / "values.json", path / "arrays.npz"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise ValueError(f"path: not a saved Debugger ({', '.join(missing)} missing)")
    head = json.loads(files[0].read_text(encoding="utf-8"))
    if head.get("format") != FORMAT or head.get("version") != FORMAT_VERSION:
        raise ValueError(f"path: expected {FORMAT} version {FORMAT_VERSION}; got "
                         f"{head.get('format')!r} version {head.get('version')!r}")
    with np.load(files[1], allow_pickle=False) as arrays:
        value = decode(head.pop("value"), dict(arrays))
    return value, head

