"""Structural checks of native model files, run before their libraries parse them.

LightGBM parses trees in threads, where a malformed tree ends the process
(``std::terminate``); XGBoost's UBJSON reader dereferences lengths it reads from the file and
crashes on a damaged one (SIGSEGV). Neither can be caught from Python, so each file is read
here first, in Python, and refused with the reason when anything is out of shape: every
length, count, index and number each library will trust. Files that pass load as before.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

__all__ = ["check_lightgbm_text", "check_xgboost_file"]


_INT = re.compile(rb"[+-]?\d{1,18}")
_FLOAT = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?|[+-]?(inf|nan)", re.I)
# arrays of a tree block: (type, length as a function of num_leaves)
_TREE_ARRAYS = {
    b"split_feature": (_INT, -1), b"split_gain": (_FLOAT, -1), b"threshold": (_FLOAT, -1),
    b"decision_type": (_INT, -1), b"left_child": (_INT, -1), b"right_child": (_INT, -1),
    b"leaf_value": (_FLOAT, 0), b"leaf_weight": (_FLOAT, 0), b"leaf_count": (_INT, 0),
    b"internal_value": (_FLOAT, -1), b"internal_weight": (_FLOAT, -1),
    b"internal_count": (_INT, -1), b"leaf_const": (_FLOAT, 0), b"num_features": (_INT, 0),
}


def _numbers(raw: bytes, pattern: re.Pattern, key: bytes) -> list[float]:
    parts = raw.split(b" ") if raw else []
    for p in parts:
        if not pattern.fullmatch(p):
            raise ValueError(f"{key.decode()}: {p[:20]!r} is not a number")
    return [float(p) if pattern is _FLOAT else int(p) for p in parts]


def _check_lightgbm_tree(block: bytes, n_features: int) -> None:
    fields: dict[bytes, bytes] = {}
    for line in block.split(b"\n")[1:]:
        if not line:
            continue
        key, sep, value = line.partition(b"=")
        if not sep:
            raise ValueError(f"line {line[:30]!r} is not key=value")
        fields[key] = value
    for key in (b"num_leaves", b"num_cat", b"leaf_value"):
        if key not in fields:
            raise ValueError(f"a tree lacks {key.decode()}")
    (n_leaves,) = _numbers(fields[b"num_leaves"], _INT, b"num_leaves")
    (n_cat,) = _numbers(fields[b"num_cat"], _INT, b"num_cat")
    if not 1 <= n_leaves <= 1 << 20 or not 0 <= n_cat < n_leaves:
        raise ValueError(f"num_leaves={n_leaves}, num_cat={n_cat} out of range")
    arrays = {}
    for key, (pattern, offset) in _TREE_ARRAYS.items():
        if key in fields or (n_leaves > 1 and offset and key not in (
                b"split_gain", b"internal_value", b"internal_weight", b"internal_count")):
            if key not in fields:
                raise ValueError(f"a tree lacks {key.decode()}")
            vals = _numbers(fields[key], pattern, key)
            if len(vals) != n_leaves + offset and n_leaves > 1:
                raise ValueError(f"{key.decode()} has {len(vals)} values, expected "
                                 f"{n_leaves + offset}")
            arrays[key] = vals
    for key in (b"shrinkage", b"is_linear"):
        if key in fields:
            _numbers(fields[key], _FLOAT if key == b"shrinkage" else _INT, key)
    if n_leaves == 1:
        return
    n_inner = n_leaves - 1
    if not all(0 <= f < n_features for f in arrays[b"split_feature"]):
        raise ValueError("split_feature out of range")
    seen = [0] * (n_inner + n_leaves)  # each node is a child once, the root never
    for child in arrays[b"left_child"] + arrays[b"right_child"]:
        node = child if child >= 0 else n_inner + ~child
        if not (0 < child < n_inner or 0 <= ~child < n_leaves) or seen[node]:
            raise ValueError(f"child index {child} out of range or repeated")
        seen[node] = 1
    if n_cat:
        bounds = _numbers(fields.get(b"cat_boundaries", b""), _INT, b"cat_boundaries")
        cats = _numbers(fields.get(b"cat_threshold", b""), _INT, b"cat_threshold")
        if (len(bounds) != n_cat + 1 or bounds[0] != 0 or len(cats) != bounds[-1]
                or any(b > a for a, b in zip(bounds[1:], bounds[:-1]))):
            raise ValueError("cat_boundaries / cat_threshold inconsistent")
    for d, t in zip(arrays[b"decision_type"], arrays[b"threshold"]):
        if not 0 <= d < 128 or (d & 1 and not (n_cat and 0 <= t < n_cat and t == int(t))):
            raise ValueError(f"decision_type {d} / threshold {t} invalid")
    if fields.get(b"is_linear", b"0") != b"0":
        counts = arrays.get(b"num_features")
        feats = _numbers(fields.get(b"leaf_features", b""), _INT, b"leaf_features")
        coeff = _numbers(fields.get(b"leaf_coeff", b""), _FLOAT, b"leaf_coeff")
        if (counts is None or b"leaf_const" not in arrays or any(c < 0 for c in counts)
                or len(feats) != sum(counts) or len(coeff) != len(feats)
                or not all(0 <= f < n_features for f in feats)):
            raise ValueError("linear tree arrays inconsistent")


def check_lightgbm_text(path: Path) -> None:
    """Check a LightGBM text model's structure before LightGBM parses it.

    LightGBM parses the trees in parallel threads, where a malformed tree ends the whole
    process (``std::terminate``) instead of raising; every tree is therefore checked here
    first: the sizes the header announces, each array's length and numbers, children that
    form a tree, features and category bounds in range.
    """
    data = path.read_bytes()
    if not data.startswith(b"tree\n"):
        raise ValueError("it does not start with LightGBM's 'tree' header")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("it is not text") from None
    first, end = data.find(b"\nTree="), data.find(b"\nend of trees")
    if first < 0 or end < first:
        raise ValueError("it has no trees, or no 'end of trees' line")
    header = dict(line.split(b"=", 1) for line in data[:first].split(b"\n")[1:] if b"=" in line)
    for key in (b"num_class", b"num_tree_per_iteration", b"max_feature_idx"):
        if key not in header:
            raise ValueError(f"its header lacks {key.decode()}")
        (value,) = _numbers(header[key], _INT, key)
        if not 0 <= value < 1 << 24:
            raise ValueError(f"{key.decode()}={value} out of range")
    n_features = int(header[b"max_feature_idx"]) + 1
    if len(header.get(b"feature_names", b"").split(b" ")) != n_features:
        raise ValueError("feature_names does not list max_feature_idx + 1 names")
    starts = [m.start() + 1 for m in re.finditer(rb"\nTree=", data[:end + 1])] + [end + 1]
    blocks = [data[a:b] for a, b in zip(starts[:-1], starts[1:])]
    if b"tree_sizes" in header:  # where LightGBM's threads will cut the text into trees
        sizes = _numbers(header[b"tree_sizes"], _INT, b"tree_sizes")
        if sizes != [len(b) for b in blocks]:
            raise ValueError("tree_sizes does not match the trees in the file")
    for block in blocks:
        _check_lightgbm_tree(block.rstrip(b"\n"), n_features)
    _check_lightgbm_tail(data[end + len(b"\nend of trees"):])


_PARAM = re.compile(rb"\[[A-Za-z0-9_]+: [^\n]*\]")


def _check_lightgbm_tail(tail: bytes) -> None:
    """What follows the trees: feature importances, the parameters, pandas' categories."""
    section = None
    for line in tail.split(b"\n"):
        if section == b"parameters:":
            if line == b"end of parameters":
                section = None
            elif line and not _PARAM.fullmatch(line):
                raise ValueError(f"a malformed parameter line {line[:30]!r}")
        elif line in (b"feature_importances:", b"parameters:"):
            section = line
        elif not line or line.startswith(b"pandas_categorical:"):
            section = None
        elif section != b"feature_importances:" or b"=" not in line:
            raise ValueError(f"an unexpected line after the trees: {line[:30]!r}")
    if section == b"parameters:":
        raise ValueError("the parameters have no 'end of parameters' line")


# --------------------------------------------------------------------------- XGBoost
_UBJ_FIXED = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f",
              b"D": ">d"}
_MAX_ITEMS = 1 << 28


class _UBJReader:
    """A strict reader of the UBJSON subset XGBoost writes (no no-op, no high-precision)."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"a length ({n}) runs past the end of the file")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def scalar(self, marker: bytes) -> Any:
        if marker in _UBJ_FIXED:
            fmt = _UBJ_FIXED[marker]
            return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        if marker in (b"S", b"H"):
            return self.take(self.count()).decode("utf-8")
        if marker == b"C":
            return self.take(1).decode("ascii")
        if marker in (b"T", b"F", b"Z"):
            return {b"T": True, b"F": False, b"Z": None}[marker]
        raise ValueError(f"unknown UBJSON marker {marker!r} at byte {self.pos - 1}")

    def count(self) -> int:
        marker = self.take(1)
        if marker not in (b"i", b"U", b"I", b"l", b"L"):
            raise ValueError(f"a length has marker {marker!r}")
        n = self.scalar(marker)
        if not 0 <= n <= min(_MAX_ITEMS, len(self.data)):
            raise ValueError(f"a length of {n} at byte {self.pos}")
        return n

    def value(self, marker: bytes | None = None, depth: int = 0) -> Any:
        if depth > 64:
            raise ValueError("containers nested too deeply")
        marker = marker or self.take(1)
        if marker not in (b"[", b"{"):
            return self.scalar(marker)
        typ = n = None
        if self.data[self.pos:self.pos + 1] == b"$":
            self.pos += 1
            typ = self.take(1)
            if typ in (b"[", b"{"):
                raise ValueError("a typed container of containers")
        if self.data[self.pos:self.pos + 1] == b"#":
            self.pos += 1
            n = self.count()
        elif typ is not None:
            raise ValueError("a typed container without a count")
        if marker == b"[":
            if n is None:
                out = []
                while (m := self.take(1)) != b"]":
                    out.append(self.value(m, depth + 1))
                return out
            if typ is not None and typ in _UBJ_FIXED:
                size = struct.calcsize(_UBJ_FIXED[typ])
                return list(struct.unpack(f">{n}{_UBJ_FIXED[typ][1]}", self.take(n * size)))
            return [self.value(typ, depth + 1) for _ in range(n)]
        out_d: dict[str, Any] = {}
        for _ in range(n if n is not None else _MAX_ITEMS):
            if n is None and self.data[self.pos:self.pos + 1] == b"}":
                self.pos += 1
                return out_d
            key = self.take(self.count()).decode("utf-8")
            out_d[key] = self.value(typ, depth + 1)
        if n is None:
            raise ValueError("an object without its end")
        return out_d


def _as_int(value: Any, what: str, low: int = 0, high: int = 1 << 31) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} is not an integer: {str(value)[:20]!r}") from None
    if isinstance(value, float) or not low <= out <= high:
        raise ValueError(f"{what}={value!r} out of range")
    return out


def _check_xgb_tree(tree: dict, k: int, n_features: int) -> None:
    param = tree.get("tree_param") or {}
    n = _as_int(param.get("num_nodes"), f"tree {k} num_nodes", 1)
    leaf = _as_int(param.get("size_leaf_vector", 1), f"tree {k} size_leaf_vector", 0, 1 << 16)
    for key in ("left_children", "right_children", "parents", "split_indices",
                "split_conditions", "default_left"):
        vals = tree.get(key)
        if not isinstance(vals, list) or len(vals) != n:
            raise ValueError(f"tree {k}: {key} has not num_nodes={n} entries")
    for key in ("split_type", "sum_hessian", "loss_changes"):
        if key in tree and (not isinstance(tree[key], list) or len(tree[key]) != n):
            raise ValueError(f"tree {k}: {key} has not num_nodes={n} entries")
    if len(tree.get("base_weights") or []) not in (n, n * max(leaf, 1)):
        raise ValueError(f"tree {k}: base_weights has the wrong length")
    left, right, feats = tree["left_children"], tree["right_children"], tree["split_indices"]
    parents = tree["parents"]
    seen = [False] * n
    for node in range(n):
        a, b = left[node], right[node]
        if not (isinstance(a, int) and isinstance(b, int)) or (a == -1) != (b == -1):
            raise ValueError(f"tree {k}: node {node} has one child")
        if a == -1:
            continue
        if not isinstance(feats[node], int) or not 0 <= feats[node] < max(n_features, 1):
            raise ValueError(f"tree {k}: node {node} splits on feature {feats[node]}")
        for child in (a, b):
            if not 0 < child < n or seen[child] or parents[child] != node:
                raise ValueError(f"tree {k}: child index {child} out of range, repeated or "
                                 "with another parent")
            seen[child] = True
    if parents[0] not in (-1, 2147483647) or not all(seen[1:]):
        raise ValueError(f"tree {k}: the nodes do not form one tree")
    for key in ("split_conditions", "base_weights"):
        if not all(isinstance(v, (int, float)) for v in tree.get(key) or []):
            raise ValueError(f"tree {k}: {key} holds non-numbers")
    cats = tree.get("categories") or []
    nodes, segs, sizes = (tree.get(f"categories_{s}") or [] for s in
                          ("nodes", "segments", "sizes"))
    if not len(nodes) == len(segs) == len(sizes) or any(
            not isinstance(v, int) for v in [*nodes, *segs, *sizes, *cats]) or any(
            not 0 <= nd < n or s < 0 or z < 0 or s + z > len(cats)
            for nd, s, z in zip(nodes, segs, sizes)):
        raise ValueError(f"tree {k}: category arrays inconsistent")


def check_xgboost_file(path: Path) -> None:
    """Check an XGBoost ``.json``/``.ubj`` model's structure before XGBoost reads it."""
    data = path.read_bytes()
    if data[:1] == b"{" and data[1:2] != b"L" and data[1:2] != b"i" and data[1:2] != b"U":
        try:
            model = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"it is not valid JSON ({str(exc)[:80]})") from None
    else:
        reader = _UBJReader(data)
        model = reader.value()
        if reader.pos != len(data):
            raise ValueError("bytes after the end of the model")
    learner = model.get("learner") if isinstance(model, dict) else None
    if not isinstance(learner, dict) or not isinstance(learner.get("gradient_booster"), dict):
        raise ValueError("no learner / gradient_booster in it")
    mparam = learner.get("learner_model_param") or {}
    n_features = _as_int(mparam.get("num_feature"), "num_feature", 0, 1 << 24)
    _as_int(mparam.get("num_class", 0), "num_class", 0, 1 << 16)
    booster = learner["gradient_booster"]
    name = booster.get("name")
    if name == "gblinear":
        weights = (booster.get("model") or {}).get("weights")
        if not isinstance(weights, list) or not all(isinstance(w, (int, float))
                                                    for w in weights):
            raise ValueError("gblinear weights are not a list of numbers")
        return
    gbtree = booster.get("gbtree") if name == "dart" else booster
    model_d = (gbtree or {}).get("model") if isinstance(gbtree, dict) else None
    if name not in ("gbtree", "dart") or not isinstance(model_d, dict):
        raise ValueError(f"unknown booster {str(name)[:20]!r}")
    trees = model_d.get("trees")
    if not isinstance(trees, list) or not all(isinstance(t, dict) for t in trees):
        raise ValueError("trees is not a list of trees")
    n_trees = _as_int((model_d.get("gbtree_model_param") or {}).get("num_trees"), "num_trees")
    info, indptr = model_d.get("tree_info"), model_d.get("iteration_indptr", [0, n_trees])
    if (n_trees != len(trees) or not isinstance(info, list) or len(info) != n_trees
            or not all(isinstance(v, int) and 0 <= v < 1 << 16 for v in info)
            or not isinstance(indptr, list) or not indptr or indptr[0] != 0
            or indptr[-1] != n_trees
            or any(not isinstance(b, int) or b < a for a, b in zip(indptr, indptr[1:]))):
        raise ValueError("num_trees, tree_info and iteration_indptr disagree with the trees")
    for k, tree in enumerate(trees):
        if _as_int(tree.get("id", k), f"tree {k} id") != k:
            raise ValueError(f"tree {k} has id {tree.get('id')}")
        _check_xgb_tree(tree, k, n_features)
