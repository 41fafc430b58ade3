"""``contribution_matrix``: each row's contributions towards the class predicted for it."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..core import check_option, explanation_values

__all__ = ["contribution_matrix", "explanation_target"]

SINGLE_OUTPUT_OPTIONS = ("auto", "positive", "predicted")
_TARGET = re.compile(r"target=(predicted|per-row|-?\d+)\b")
_FIX = ("recompute the attributions with target=<each row's predicted class>, or pass "
        "single_output='predicted' (values are towards each row's predicted class) or "
        "single_output='positive' (values push towards class 1 of a binary model, class 0's "
        "output being its negation)")


def explanation_target(contributions: Any) -> int | str | None:
    """The target a 2-D (single-output) explanation declares, or None when it declares none.

    The declaration is a ``target=...`` tag in a string ``output_names`` (it survives
    slicing): ``"target=predicted"`` (row ``i`` explains the class predicted for it),
    ``"target=<k>"`` (every row explains output column ``k``) or ``"target=per-row"`` (a
    per-row target that is not, or could not be checked to be, the predicted class).
    :func:`captum_ext.attributions_to_explanation` and
    :class:`~shap_debug.neighborhood.NeighborhoodModel` write it.

    Examples
    --------
    >>> import numpy as np, shap
    >>> exp = shap.Explanation(np.zeros((2, 3)), output_names="logit (target=predicted)")
    >>> explanation_target(exp), explanation_target(np.zeros((2, 3)))
    ('predicted', None)
    """
    names = getattr(contributions, "output_names", None) if (
        type(contributions).__name__ == "Explanation") else None
    if not isinstance(names, str):
        return None
    match = _TARGET.search(names)
    if match is None:
        return None
    spec = match.group(1)
    return spec if spec in ("predicted", "per-row") else int(spec)


def _is_captum(contributions: Any) -> bool:
    if isinstance(contributions, tuple):
        return any(hasattr(t, "detach") for t in contributions)
    return hasattr(contributions, "detach")


def _resolve_single_output(contributions: Any, pred: np.ndarray, single_output: str) -> str:
    """``"positive"`` or ``"predicted"``: how a 2-D explanation is read."""
    if single_output != "auto":
        return single_output
    declared = explanation_target(contributions)
    if declared is None:
        if _is_captum(contributions):
            raise ValueError(
                "contributions are Captum attributions (torch tensors) that do not say which "
                "target they explain: pass single_output='predicted' if they were computed with "
                "target=<each row's predicted class>, single_output='positive' if with target=1 "
                "of a binary model, or wrap them with captum_ext.attributions_to_explanation("
                "attr, inputs, target=..., forward_func=...)")
        return "positive"   # shap's convention for single-output binary explanations
    if declared == "predicted":
        return "predicted"
    if declared == "per-row":
        raise ValueError(
            "contributions explain a per-row target that is not each row's predicted class "
            "(or could not be checked: attributions_to_explanation had no forward_func); "
            "pass single_output='predicted' if the target was the predicted class, or "
            f"{_FIX}")
    wrong = int(np.sum(pred != declared))
    if wrong == 0:
        return "predicted"
    raise ValueError(
        f"contributions explain output {declared} for every row, but {wrong} of {len(pred)} "
        f"rows are predicted as another class: {_FIX}")


def towards_predicted(contributions: Any, predicted: Any, single_output: str = "auto"
                      ) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Contributions towards each row's predicted class, with how they were read.

    Returns
    -------
    values : ndarray of shape (n_rows, n_features)
        The contributions towards each row's predicted class.
    negated : ndarray of bool
        The rows whose single-output contributions were negated (class 0 of a binary model).
    mode : str or None
        How a 2-D explanation was read (``"predicted"`` or ``"positive"``), None for 3-D.
    """
    check_option(single_output, "single_output", SINGLE_OUTPUT_OPTIONS)
    vals = explanation_values(contributions)
    pred = np.asarray(predicted)
    if pred.ndim != 1 or len(pred) != len(vals):
        raise ValueError(
            f"predicted must be 1-D with one entry per row ({len(vals)}); got shape {pred.shape}")
    if not np.issubdtype(pred.dtype, np.integer):
        if np.issubdtype(pred.dtype, np.floating) and np.all(pred == np.round(pred)):
            pred = pred.astype(np.int64)
        else:
            raise TypeError(f"predicted must hold integer class indices; got dtype {pred.dtype}")
    if not np.isfinite(vals).all():
        raise ValueError("contributions contain NaN or infinite values")
    none = np.zeros(len(vals), dtype=bool)
    if vals.ndim == 3:
        k = vals.shape[2]
        if pred.min() < 0 or pred.max() >= k:
            raise ValueError(f"predicted holds class indices outside [0, {k})")
        return np.take_along_axis(vals, pred[:, None, None], axis=2)[:, :, 0], none, None
    if vals.ndim == 2:
        mode = _resolve_single_output(contributions, pred, single_output)
        if mode == "predicted":
            return vals.copy(), none, mode
        if not np.isin(pred, [0, 1]).all():
            raise ValueError(
                "a 2-D (single-output) explanation read with single_output='positive' needs "
                f"binary predicted in {{0, 1}}; got classes {np.unique(pred)[:5].tolist()}: "
                "pass single_output='predicted' if the values are towards each row's predicted "
                "class (e.g. Captum attributions computed with target=predicted)")
        flip = pred == 0
        return vals * np.where(flip, -1.0, 1.0)[:, None], flip, mode
    raise ValueError(f"contributions must be 2-D or 3-D; got shape {vals.shape}")


def contribution_matrix(
    contributions: Any,
    predicted: Any,
    *,
    single_output: str = "auto",
) -> np.ndarray:
    """Contributions of each row towards the class the model predicted for it.

    Parameters
    ----------
    contributions : shap.Explanation, ndarray, torch tensor or tuple of tensors
        3-D ``(n, m, n_classes)``: column ``predicted[i]`` is kept for row ``i``.
        2-D ``(n, m)``: a single-output explanation, read as ``single_output`` says. A
        tuple of Captum tensors is flattened per input and concatenated.
    predicted : array-like of int, shape (n,)
        Predicted class of each row as a **column index** of the model's output
        (``predict_proba(X).argmax(1)``).
    single_output : {"auto", "positive", "predicted"}
        How a 2-D explanation is read. ``"positive"`` (shap's convention for binary
        models: values push towards class 1): rows predicted as class 0 get the negated
        values, so every row's vector points towards its own prediction. ``"predicted"``:
        the values are taken as they are (e.g. Captum attributions computed with
        ``target=predicted``). ``"auto"`` (default): an explanation that declares its
        target (see :func:`explanation_target`; ``captum_ext.attributions_to_explanation``
        writes one) is used as it is when that target is each row's predicted class, and
        raises when it is not; raw Captum tensors must say which (``"positive"`` or
        ``"predicted"``); any other 2-D source is read as ``"positive"``.

    Returns
    -------
    ndarray of shape (n, m)

    Examples
    --------
    >>> import numpy as np
    >>> vals = np.array([[[0.1, -0.1]], [[-0.2, 0.2]]])   # 2 rows, 1 feature, 2 classes
    >>> contribution_matrix(vals, [1, 0])
    array([[-0.1],
           [-0.2]])
    """
    return towards_predicted(contributions, predicted, single_output)[0]
