"""``contribution_matrix``: each row's contributions towards the class predicted for it."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.validation import check_option, explanation_values

__all__ = ["contribution_matrix"]


def contribution_matrix(
    contributions: Any,
    predicted: Any,
    *,
    single_output: str = "positive",
) -> np.ndarray:
    """Contributions of each row towards the class the model predicted for it.

    Parameters
    ----------
    contributions : shap.Explanation, ndarray, torch tensor or tuple of tensors
        3-D ``(n, m, n_classes)``: column ``predicted[i]`` is kept for row ``i``.
        2-D ``(n, m)``: a single-output explanation. With ``single_output="positive"``
        (shap's convention for binary models: values push towards class 1) rows predicted
        as class 0 get the negated values, so every row's vector points towards its own
        prediction. With ``single_output="predicted"`` the values are taken as they are
        (e.g. Captum attributions computed with ``target=predicted``). A tuple of Captum
        tensors is flattened per input and concatenated.
    predicted : array-like of int, shape (n,)
        Predicted class of each row as a **column index** of the model's output
        (``predict_proba(X).argmax(1)``).
    single_output : {"positive", "predicted"}

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
    check_option(single_output, "single_output", ["positive", "predicted"])
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
    if vals.ndim == 3:
        k = vals.shape[2]
        if pred.min() < 0 or pred.max() >= k:
            raise ValueError(f"predicted holds class indices outside [0, {k})")
        return np.take_along_axis(vals, pred[:, None, None], axis=2)[:, :, 0]
    if vals.ndim == 2:
        if single_output == "predicted":
            return vals.copy()
        if not np.isin(pred, [0, 1]).all():
            raise ValueError("a 2-D (single-output) explanation needs binary predicted in {0, 1}")
        return vals * np.where(pred == 1, 1.0, -1.0)[:, None]
    raise ValueError(f"contributions must be 2-D or 3-D; got shape {vals.shape}")
