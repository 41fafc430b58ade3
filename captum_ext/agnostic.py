"""Agnostic networks: models that cannot represent a protected concept.

Jia, Lansdall-Welfare & Cristianini, "Right for the Right Reason: Training Agnostic
Networks" (IDA 2018) train a feature extractor ``G_f``, a label head ``G_y`` and a
protected-concept head ``G_p`` as in the Domain-Adversarial Neural Network of Ganin et al.
("Domain-Adversarial Training of Neural Networks", JMLR 2016): the protected head sits behind
a **gradient reversal layer**, so one backward pass minimises ``E = (1 - a) L_y - a L_p``
for the encoder while the protected head minimises ``L_p``. A model is *agnostic* when no
classifier can recover the concept from its internal representation.

This module provides

- :func:`grad_reverse` / :class:`GradientReversal`: identity forward, ``-lambda * grad``
  backward;
- :func:`ganin_lambda`: the ramp ``lambda(p) = lambda_max (2 / (1 + exp(-10 p)) - 1)``;
- :class:`AgnosticNetwork`: a scikit-learn style classifier (``fit`` / ``predict_proba`` /
  ``transform`` / ``attribute``) around any torch encoder, with the protected concept given
  per row or, as in the paper's contextual-image setting, by a separate labelled set;
- :func:`probe_protected`: the honest measurement -- freeze the representation, fit *fresh*
  logistic-regression and MLP probes for the concept on a train split and score them on a
  test split (the in-training adversary's accuracy is not evidence);
- :func:`attribution_shift`: mean ``|attribution|`` on chosen features (the protected
  concept's proxies) before and after.
"""

from __future__ import annotations

import copy
import html
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shap
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from tqdm.auto import tqdm

from shap_debug.core import (
    check_float,
    check_int,
    check_option,
    check_random_state,
    check_y,
    feature_names_of,
    seed_from,
    softmax,
    warn,
)

__all__ = [
    "GradientReversal",
    "grad_reverse",
    "ganin_lambda",
    "AgnosticNetwork",
    "ProbeReport",
    "probe_protected",
    "AttributionShift",
    "attribution_shift",
]


# --------------------------------------------------------------------------- gradient reversal
class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lambda_):
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -ctx.lambda_ * grad_output, None


def grad_reverse(x: torch.Tensor, lambda_: float = 1.0) -> torch.Tensor:
    """Gradient reversal (Ganin & Lempitsky 2015): ``x`` forward, ``-lambda_ * grad`` backward.

    Parameters
    ----------
    x : torch.Tensor
    lambda_ : float
        Non-negative scale of the reversed gradient.

    Examples
    --------
    >>> import torch
    >>> x = torch.ones(3, requires_grad=True)
    >>> grad_reverse(x, 0.5).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000, -0.5000])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    lambda_ = check_float(lambda_, "lambda_", low=0.0)
    return _GradReverse.apply(x, lambda_)


class GradientReversal(torch.nn.Module):
    """Module form of :func:`grad_reverse`; ``lambda_`` may be changed between steps.

    Examples
    --------
    >>> import torch
    >>> grl = GradientReversal(2.0)
    >>> x = torch.ones(2, requires_grad=True)
    >>> grl(x).sum().backward()
    >>> x.grad
    tensor([-2., -2.])
    """

    def __init__(self, lambda_: float = 1.0):
        super().__init__()
        self.lambda_ = check_float(lambda_, "lambda_", low=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return grad_reverse(x, self.lambda_)

    def extra_repr(self) -> str:
        return f"lambda_={self.lambda_}"


def ganin_lambda(p: float | np.ndarray, lambda_max: float = 1.0) -> float | np.ndarray:
    """Ganin et al.'s ramp ``lambda(p) = lambda_max * (2 / (1 + exp(-10 p)) - 1)``.

    ``p`` is the training progress in ``[0, 1]``: 0 at the start (lambda = 0), about
    ``0.987 lambda_max`` half-way, ``lambda_max`` (to 4 decimals) at the end.

    Examples
    --------
    >>> ganin_lambda(0.0), round(ganin_lambda(1.0), 4)
    (0.0, 0.9999)
    """
    lambda_max = check_float(lambda_max, "lambda_max", low=0.0)
    arr = np.asarray(p, dtype=np.float64)
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"p must be training progress in [0, 1]; got {p!r}")
    out = lambda_max * (2.0 / (1.0 + np.exp(-10.0 * arr)) - 1.0)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- inputs
def _as_tensor_input(X: Any, name: str) -> np.ndarray:
    """A numeric ndarray with a batch dimension (2-D tables or n-D images)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric (or a DataFrame); got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(
            f"{name} must have a batch dimension, shape (n, ...); got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} must have at least 1 row")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_protected(protected: Any, n: int, name: str, n_name: str) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    if isinstance(protected, pd.Series):
        protected = protected.to_numpy()
    arr = check_y(protected, name)
    if len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries but {n_name} has {n} rows")
    if pd.isna(arr).any():
        raise ValueError(f"{name} contains missing values")
    classes, codes = np.unique(arr.astype(str) if arr.dtype == object else arr,
                               return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{name} must take at least 2 distinct values (a concept to hide); got only "
            f"{classes.tolist()}")
    return classes, codes.astype(np.int64)


def _mlp(sizes: Sequence[int], out: int | None) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    if out is not None:
        layers.append(torch.nn.Linear(sizes[-1], out))
    return torch.nn.Sequential(*layers)


def _check_sizes(value: Any, name: str, allow_empty: bool) -> tuple[int, ...]:
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = (int(value),)
    try:
        sizes = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a sequence of ints; got {value!r}") from None
    if not sizes and not allow_empty:
        raise ValueError(f"{name} must name at least one layer width; got {value!r}")
    return tuple(check_int(s, f"{name} entry", low=1) for s in sizes)


class _Net(torch.nn.Module):
    """Encoder + label head: the part of the agnostic network that makes predictions."""

    def __init__(self, encoder: torch.nn.Module, head: torch.nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def _fresh_probe_leak(R: torch.Tensor, p: torch.Tensor, k: int, entropy: float,
                      seed: int, steps: int = 150) -> float:
    """Nats of the concept a fresh MLP probe recovers from ``R`` (0 = nothing).

    Trained on one half of the rows; its best cross-entropy on the other half (checked every
    10 steps, so the measure errs towards finding a leak) is subtracted from the prior's
    entropy.
    """
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(R), generator=g)
    half = len(R) // 2
    tr, te = perm[:half], perm[half:]
    R = (R - R[tr].mean(0)) / (R[tr].std(0) + 1e-6)
    d = R.shape[1]
    w1 = (torch.randn(d, 32, generator=g) / math.sqrt(d)).requires_grad_()
    b1 = torch.zeros(32, requires_grad=True)
    w2 = (torch.randn(32, k, generator=g) / math.sqrt(32)).requires_grad_()
    b2 = torch.zeros(k, requires_grad=True)
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=1e-2)
    ce = torch.nn.functional.cross_entropy
    best = np.inf
    with torch.enable_grad():
        for step in range(steps):
            loss = ce(torch.relu(R[tr] @ w1 + b1) @ w2 + b2, p[tr])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 10 == 9:
                with torch.no_grad():
                    best = min(best, float(ce(torch.relu(R[te] @ w1 + b1) @ w2 + b2, p[te])))
    return max(0.0, entropy - best)


# --------------------------------------------------------------------------- the estimator
class AgnosticNetwork(ClassifierMixin, BaseEstimator):
    """A classifier trained so that its representation does not encode a protected concept.

    Domain-adversarial training (Ganin et al. 2016) as used by Jia et al. 2018, "Right for
    the Right Reason: Training Agnostic Networks": encoder ``G_f``, label head ``G_y`` and a
    protected head ``G_p`` behind a gradient reversal layer, minimising
    ``E = (1 - a_t) L_y - a_t L_p`` for the encoder and ``L_p`` for the protected head, with
    ``a_t = alpha * ganin_lambda(t / T)`` ramped up over training (``schedule="ganin"``).

    Parameters
    ----------
    encoder : torch.nn.Module, optional
        Maps a float32 batch ``(n, ...)`` to a representation ``(n, d)``. Default: an MLP
        with ``hidden`` widths (inputs with more than 2 dimensions are flattened). The module
        is deep-copied, never trained in place.
    hidden : int or sequence of int
        Widths of the default MLP encoder; the last one is the representation size (a
        narrow one made the concept easier to remove on Adult).
    alpha : float in [0, 1]
        Weight of the adversarial term; 0 trains a plain network.
    adversary_steps : int
        Protected-head updates per encoder update (on random batches). One weak adversary
        is known to leave the concept recoverable: use several steps and a wide head.
    adversary_hidden : int or sequence of int
        Hidden widths of the protected head (empty: a linear head).
    epochs, batch_size, lr : training length, batch size and Adam learning rate.
    validation_fraction : float in [0, 0.5]
        Held-out rows (of the protected set too, when separate) for early stopping; 0
        disables it and keeps the last epoch. Each epoch is scored by
        ``(1 - alpha) * L_y + alpha * leak``: the validation label loss plus the information
        (nats) a *fresh* small MLP probe, trained on half of the validation rows, recovers
        about the concept on the other half -- not the in-training head, which is often
        fooled while the concept is still there. With a ramp, stopping is only considered
        once ``a_t`` has reached 95% of ``alpha``; the best epoch's weights are restored.
    n_iter_no_change : int
        Patience of the early stopping, in epochs.
    schedule : {"ganin", "constant"}
    adversary_loss : {"reverse", "confusion"}
        ``"reverse"``: the paper's objective (gradient reversal of the protected head's
        cross-entropy). ``"confusion"``: the encoder instead pushes the protected head's
        output towards the concept's base rates (Tzeng et al. 2015), which avoids
        representations that merely flip the adversary.
    weight_decay : float
        Adam weight decay of the encoder and label head.
    adversary_batchnorm : bool
        Standardise the representation (``BatchNorm1d`` without affine weights) before the
        protected head, as a fresh probe would, so the encoder cannot hide the concept by
        rescaling directions faster than the head adapts. Helped the CNN of the image
        benchmark; hurt on small tabular problems.
    random_state : int, Generator or None
        Seeds the weights, the split and the batches; training is reproducible.
    progress : bool
        Show a tqdm bar over epochs.

    Attributes
    ----------
    classes_ : ndarray
        Labels in ``predict_proba`` column order.
    protected_classes_ : ndarray
    net_ : torch.nn.Module
        Encoder + label head on *encoded* inputs (see :meth:`encode`); a Captum
        ``forward_func``.
    encoder_, head_, adversary_ : torch.nn.Module
    frame_encoder_ : FrameEncoder or None
        One-hot encoding of DataFrame inputs (category columns), then standardisation.
    feature_names_in_ : list of str
        Raw input columns (tabular inputs).
    history_ : pandas.DataFrame
        Per epoch: alpha, train losses, the in-training adversary's accuracy; with a
        validation split also its label loss and accuracy, the adversary's validation
        accuracy, the fresh-probe ``val_probe_leak`` (nats) and the early-stopping
        ``val_score``.
    best_epoch_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = rng.integers(0, 2, 400); X = np.column_stack([rng.normal(size=400), s + rng.normal(0, .3, 400)])
    >>> y = (X[:, 0] > 0).astype(int)
    >>> net = AgnosticNetwork(hidden=(16, 8), alpha=0.5, epochs=3, progress=False).fit(X, y, s)
    >>> net.predict_proba(X[:2]).shape, net.transform(X[:2]).shape
    ((2, 2), (2, 8))
    """

    def __init__(
        self,
        encoder: torch.nn.Module | None = None,
        hidden: int | Sequence[int] = (64, 16),
        alpha: float = 0.5,
        adversary_steps: int = 5,
        adversary_hidden: int | Sequence[int] = (128, 128),
        epochs: int = 30,
        batch_size: int = 256,
        lr: float = 1e-3,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        schedule: str = "ganin",
        adversary_loss: str = "reverse",
        weight_decay: float = 0.0,
        adversary_batchnorm: bool = False,
        random_state: int | np.random.Generator | None = 0,
        progress: bool = True,
    ):
        self.encoder = encoder
        self.hidden = hidden
        self.alpha = alpha
        self.adversary_steps = adversary_steps
        self.adversary_hidden = adversary_hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.schedule = schedule
        self.adversary_loss = adversary_loss
        self.weight_decay = weight_decay
        self.adversary_batchnorm = adversary_batchnorm
        self.random_state = random_state
        self.progress = progress

    # ------------------------------------------------------------------ encoding
    def _fit_encoding(self, X: Any) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            from shap_debug.datasets import encode

            if X.shape[1] == 0 or len(X) == 0:
                raise ValueError(f"X must have rows and columns; got shape {X.shape}")
            Z, enc = encode(X, kind="onehot")
            self.frame_encoder_ = enc
            self.feature_names_in_ = [str(c) for c in X.columns]
            self.input_groups_ = {k: list(v) for k, v in enc.groups_.items()}
            self.input_shape_ = (Z.shape[1],)
        else:
            Z = _as_tensor_input(X, "X").astype(np.float64)
            self.frame_encoder_ = None
            self.input_shape_ = tuple(Z.shape[1:])
            if Z.ndim == 2:
                self.feature_names_in_ = feature_names_of(Z)
                self.input_groups_ = {f: [j] for j, f in enumerate(self.feature_names_in_)}
            else:
                self.feature_names_in_ = None
                self.input_groups_ = None
        if Z.ndim == 2:
            mean = Z.mean(axis=0)
            scale = Z.std(axis=0)
            scale[scale < 1e-12] = 1.0
            self.input_mean_, self.input_scale_ = mean, scale
        else:
            self.input_mean_, self.input_scale_ = None, None
        return self._scale(Z)

    def _scale(self, Z: np.ndarray) -> np.ndarray:
        if self.input_mean_ is not None:
            Z = (Z - self.input_mean_) / self.input_scale_
        return Z.astype(np.float32)

    def encode(self, X: Any) -> torch.Tensor:
        """The float32 tensor ``net_`` reads: one-hot encoded, standardised (tables)."""
        self._check_fitted()
        return self._encode(X)

    def _encode(self, X: Any) -> torch.Tensor:
        if self.frame_encoder_ is not None:
            if not isinstance(X, pd.DataFrame):
                raise TypeError("X must be a DataFrame with the columns seen in fit "
                                f"{self.feature_names_in_}; got {type(X).__name__}")
            Z = self.frame_encoder_.transform(X)
        else:
            if isinstance(X, pd.DataFrame):
                X = X.to_numpy()
            Z = _as_tensor_input(X, "X").astype(np.float64)
            if tuple(Z.shape[1:]) != self.input_shape_:
                raise ValueError(
                    f"X must have shape (n, {', '.join(map(str, self.input_shape_))}) as in "
                    f"fit; got {Z.shape}")
        return torch.from_numpy(np.ascontiguousarray(self._scale(Z)))

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        check_float(self.alpha, "alpha", low=0.0, high=1.0)
        check_int(self.adversary_steps, "adversary_steps", low=1)
        check_int(self.epochs, "epochs", low=1)
        check_int(self.batch_size, "batch_size", low=1)
        check_float(self.lr, "lr", low=0.0)
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0; got {self.lr}")
        check_float(self.validation_fraction, "validation_fraction", low=0.0, high=0.5)
        check_int(self.n_iter_no_change, "n_iter_no_change", low=1)
        check_option(self.schedule, "schedule", ["ganin", "constant"])
        check_option(self.adversary_loss, "adversary_loss", ["reverse", "confusion"])
        check_float(self.weight_decay, "weight_decay", low=0.0)
        if not isinstance(self.adversary_batchnorm, (bool, np.bool_)):
            raise TypeError("adversary_batchnorm must be a bool; got "
                            f"{type(self.adversary_batchnorm).__name__}")
        if self.encoder is not None and not isinstance(self.encoder, torch.nn.Module):
            raise TypeError(
                f"encoder must be a torch.nn.Module or None; got {type(self.encoder).__name__}")
        if self.encoder is None:
            _check_sizes(self.hidden, "hidden", allow_empty=False)
        _check_sizes(self.adversary_hidden, "adversary_hidden", allow_empty=True)

    def fit(
        self,
        X: Any,
        y: Any,
        protected: Any = None,
        *,
        X_protected: Any = None,
        protected_labels: Any = None,
    ) -> AgnosticNetwork:
        """Train encoder, label head and protected head.

        Parameters
        ----------
        X : DataFrame (category columns allowed), ndarray or tensor of shape (n, ...)
            Inputs; the protected attribute itself should usually *not* be a column.
        y : array-like of shape (n,)
        protected : array-like of shape (n,), optional
            The protected concept of each row of ``X`` (any labels, >= 2 values).
        X_protected, protected_labels : optional
            The paper's contextual setting: the concept is known on a separate labelled set
            (same input format as ``X``); the protected head is trained on
            ``encoder(X_protected)``. Give either ``protected`` or both of these.

        Returns
        -------
        self
        """
        self._check_params()
        if isinstance(y, pd.Series):
            y = y.to_numpy()
        y_arr = check_y(y, "y")
        n = len(X)
        if len(y_arr) != n:
            raise ValueError(f"y has {len(y_arr)} entries but X has {n} rows")
        separate = X_protected is not None or protected_labels is not None
        if separate and protected is not None:
            raise ValueError("give either protected (one label per row of X) or "
                             "X_protected with protected_labels, not both")
        if not separate and protected is None:
            raise ValueError("protected is required (or X_protected with protected_labels)")
        if separate and (X_protected is None or protected_labels is None):
            raise ValueError("X_protected and protected_labels must be given together")
        self.classes_, y_idx = np.unique(y_arr, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y must contain at least 2 classes; got {self.classes_.tolist()}")
        if separate:
            self.protected_classes_, p_idx = _check_protected(
                protected_labels, len(X_protected), "protected_labels", "X_protected")
        else:
            self.protected_classes_, p_idx = _check_protected(protected, n, "protected", "X")

        Z = self._fit_encoding(X)
        Zp = self._encode(X_protected).numpy() if separate else None
        self._train(Z, y_idx.astype(np.int64), Zp, p_idx)
        return self

    def _build(self, in_shape: tuple[int, ...], n_classes: int, n_protected: int,
               probe: torch.Tensor) -> None:
        if self.encoder is None:
            sizes = _check_sizes(self.hidden, "hidden", allow_empty=False)
            layers: list[torch.nn.Module] = [torch.nn.Flatten()] if len(in_shape) > 1 else []
            layers.append(_mlp((int(np.prod(in_shape)), *sizes), None))
            encoder = torch.nn.Sequential(*layers)
        else:
            encoder = copy.deepcopy(self.encoder)
        encoder = encoder.float()
        try:
            with torch.no_grad():
                encoder.eval()
                out = encoder(probe)
        except RuntimeError as exc:
            raise ValueError(
                f"encoder cannot read inputs of shape (n, {', '.join(map(str, in_shape))}): "
                f"{exc}") from exc
        if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != len(probe):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                "encoder must map a batch (n, ...) to a representation of shape (n, d) for the "
                f"label and protected heads; for n={len(probe)} it returned {shape}. End it "
                "with torch.nn.Flatten() or a Linear layer.")
        d = int(out.shape[1])
        self.representation_dim_ = d
        self.encoder_ = encoder
        self.head_ = torch.nn.Linear(d, n_classes)
        adv = _check_sizes(self.adversary_hidden, "adversary_hidden", allow_empty=True)
        self.adversary_ = _mlp((d, *adv), n_protected)
        if self.adversary_batchnorm:
            self.adversary_ = torch.nn.Sequential(torch.nn.BatchNorm1d(d, affine=False),
                                                  self.adversary_)
        self.net_ = _Net(self.encoder_, self.head_)

    def _train(self, Z: np.ndarray, y_idx: np.ndarray, Zp: np.ndarray | None,
               p_idx: np.ndarray) -> None:
        rng = check_random_state(self.random_state)
        seed = seed_from(rng if not isinstance(self.random_state, (int, np.integer))
                         else self.random_state)
        alpha = float(self.alpha)
        n = len(Z)
        # validation split (stratified by label; and of the protected set when separate)
        def split(m: int, strata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if self.validation_fraction == 0 or m < 10:
                return np.arange(m), np.arange(0)
            val = []
            for c in np.unique(strata):
                idx = np.flatnonzero(strata == c)
                idx = idx[rng.permutation(len(idx))]
                val.append(idx[: int(round(self.validation_fraction * len(idx)))])
            v = np.sort(np.concatenate(val))
            return np.setdiff1d(np.arange(m), v), v

        tr, va = split(n, y_idx)
        if Zp is None:
            ptr, pva = tr, va
            Xp_all = Z
        else:
            ptr, pva = split(len(Zp), p_idx)
            Xp_all = Zp
        Xt = torch.from_numpy(Z)
        Yt = torch.from_numpy(y_idx)
        Xpt = torch.from_numpy(Xp_all)
        Pt = torch.from_numpy(p_idx)
        prior = torch.from_numpy(
            np.bincount(p_idx[ptr], minlength=len(self.protected_classes_)).astype(np.float32))
        prior = (prior + 1) / (prior.sum() + len(prior))
        entropy = float(-(prior * prior.log()).sum())
        ce = torch.nn.functional.cross_entropy

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build(tuple(Z.shape[1:]), len(self.classes_), len(self.protected_classes_),
                        Xt[: min(2, n)])
            opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr,
                                   weight_decay=self.weight_decay)
            opt_adv = torch.optim.Adam(self.adversary_.parameters(), lr=self.lr)
            bs = min(int(self.batch_size), len(tr))
            n_batches = max(1, math.ceil(len(tr) / bs))
            total = self.epochs * n_batches
            ramp_start = None
            if self.schedule == "ganin" and alpha > 0:
                # first step at which the ramp reaches 95% of alpha
                ramp_start = math.log(2 / 0.05 - 1) / 10.0 * total
            best, best_loss, best_epoch, waited = None, np.inf, 0, 0
            rows = []
            step = 0
            bar = tqdm(range(self.epochs), desc="AgnosticNetwork", disable=not self.progress,
                       leave=False)
            for epoch in bar:
                self.net_.train()
                self.adversary_.train()
                order = tr[rng.permutation(len(tr))]
                sums = np.zeros(4)
                for b in range(n_batches):
                    idx = order[b * bs:(b + 1) * bs]
                    if len(idx) == 0:
                        continue
                    p_prog = min(step / max(total - 1, 1), 1.0)
                    a_t = alpha * ganin_lambda(p_prog) if self.schedule == "ganin" else alpha
                    step += 1
                    xb, yb = Xt[idx], Yt[idx]
                    if alpha > 0:
                        for _ in range(self.adversary_steps):
                            pj = ptr[rng.integers(0, len(ptr), size=bs)]
                            with torch.no_grad():
                                zp = self.encoder_(Xpt[pj])
                            la = ce(self.adversary_(zp), Pt[pj])
                            opt_adv.zero_grad()
                            la.backward()
                            opt_adv.step()
                    z = self.encoder_(xb)
                    ly = ce(self.head_(z), yb)
                    if alpha > 0:
                        if Zp is None:
                            zp, pb = z, Pt[idx]
                        else:
                            pj = ptr[rng.integers(0, len(ptr), size=bs)]
                            zp, pb = self.encoder_(Xpt[pj]), Pt[pj]
                        if self.adversary_loss == "reverse":
                            logits = self.adversary_(grad_reverse(zp, 1.0))
                            lp = ce(logits, pb)
                            loss = (1 - a_t) * ly + a_t * lp
                        else:
                            # only the encoder moves: the head's gradient is discarded below
                            logits = self.adversary_(zp)
                            lp = ce(logits, pb)
                            conf = -(torch.log_softmax(logits, 1) * prior).sum(1).mean()
                            loss = (1 - a_t) * ly + a_t * conf
                        acc_p = float((logits.argmax(1) == pb).float().mean())
                    else:
                        lp = torch.zeros(())
                        acc_p = float("nan")
                        loss = ly
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sums += (ly.item(), lp.item(), acc_p, a_t)
                sums /= n_batches
                row = {"epoch": epoch + 1, "alpha": sums[3], "label_loss": sums[0],
                       "adversary_loss": sums[1], "adversary_accuracy": sums[2]}
                if len(va):
                    self.net_.eval()
                    with torch.no_grad():
                        out = self.net_(Xt[va])
                        vl = float(ce(out, Yt[va]))
                        row["val_label_loss"] = vl
                        row["val_accuracy"] = float((out.argmax(1) == Yt[va]).float().mean())
                        score = vl
                        if len(pva) and alpha > 0:
                            lo = self.adversary_(self.encoder_(Xpt[pva]))
                            row["val_adversary_accuracy"] = float(
                                (lo.argmax(1) == Pt[pva]).float().mean())
                            # the in-training adversary is no evidence: a fresh probe on
                            # half of the validation split, scored on the other half
                            leak = _fresh_probe_leak(self.encoder_(Xpt[pva]), Pt[pva],
                                                     len(self.protected_classes_),
                                                     entropy, seed + epoch)
                            row["val_probe_leak"] = leak
                            score = (1 - alpha) * vl + alpha * leak
                        row["val_score"] = score
                    eligible = ramp_start is None or step >= ramp_start
                    if eligible:
                        if score < best_loss - 1e-4:
                            best_loss, best_epoch, waited = score, epoch + 1, 0
                            best = copy.deepcopy((self.net_.state_dict(),
                                                  self.adversary_.state_dict()))
                        else:
                            waited += 1
                    rows.append(row)
                    if eligible and waited >= self.n_iter_no_change:
                        break
                else:
                    rows.append(row)
            bar.close()
        if best is not None:
            self.net_.load_state_dict(best[0])
            self.adversary_.load_state_dict(best[1])
            self.best_epoch_ = best_epoch
        else:
            self.best_epoch_ = len(rows)
        self.net_.eval()
        self.adversary_.eval()
        self.n_epochs_ = len(rows)
        self.history_ = pd.DataFrame(rows)

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit first")

    def decision_function(self, X: Any) -> np.ndarray:
        """Label-head logits, shape (n, n_classes)."""
        Xt = self.encode(X)
        self.net_.eval()
        with torch.no_grad():
            return self.net_(Xt).double().numpy()

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        return softmax(self.decision_function(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def transform(self, X: Any) -> np.ndarray:
        """The learned representation ``G_f(X)``, shape (n, d)."""
        Xt = self.encode(X)
        self.encoder_.eval()
        with torch.no_grad():
            return self.encoder_(Xt).double().numpy()

    def predict_protected_proba(self, X: Any) -> np.ndarray:
        """The in-training protected head's probabilities (not evidence of agnosticism)."""
        Xt = self.encode(X)
        with torch.no_grad():
            return torch.softmax(self.adversary_(self.encoder_(Xt)), 1).double().numpy()

    def attribute(self, X: Any, *, target: Any = None, n_steps: int = 32,
                  baselines: Any = None) -> shap.Explanation:
        """Integrated Gradients (Captum) of the label head, per raw input feature.

        Attributions are computed in the encoded input space (baseline: the training mean,
        i.e. zeros after standardisation) towards ``target`` (default: each row's predicted
        class) and summed over each categorical column's one-hot group, so a tabular model
        gets one value per column of ``X``. Image inputs give one value per pixel/channel
        (flattened in C order).

        Returns
        -------
        shap.Explanation of shape (n, m)
        """
        from captum.attr import IntegratedGradients

        from .bridge import attributions_to_explanation

        Xt = self.encode(X)
        n_steps = check_int(n_steps, "n_steps", low=2)
        with torch.no_grad():
            pred = self.net_(Xt).argmax(1)
        if target is None:
            tgt = pred
        else:
            lab = np.asarray(target)
            lookup = {c: i for i, c in enumerate(self.classes_.tolist())}
            lab = np.broadcast_to(lab, (len(Xt),))
            try:
                tgt = torch.as_tensor([lookup[v] for v in lab.tolist()])
            except KeyError as exc:
                raise ValueError(f"target {exc.args[0]!r} is not one of the classes "
                                 f"{self.classes_.tolist()}") from None
        ig = IntegratedGradients(self.net_)
        base = None if baselines is None else torch.as_tensor(
            np.asarray(baselines, dtype=np.float32)).expand_as(Xt)
        attr = ig.attribute(Xt, baselines=base, target=tgt, n_steps=n_steps,
                            internal_batch_size=max(256, len(Xt)))
        vals = attr.detach().double().numpy().reshape(len(Xt), -1)
        if self.input_groups_ is not None:
            names = list(self.input_groups_)
            vals = np.column_stack([vals[:, g].sum(1) for g in self.input_groups_.values()])
            if isinstance(X, pd.DataFrame):
                data = np.column_stack([
                    X[c].cat.codes.to_numpy(np.float64)
                    if isinstance(X[c].dtype, pd.CategoricalDtype)
                    else pd.to_numeric(X[c], errors="coerce").to_numpy(np.float64)
                    for c in X.columns])
                return shap.Explanation(values=vals, base_values=np.zeros(len(vals)),
                                        data=data, display_data=X.astype(str).to_numpy(),
                                        feature_names=names)
            return shap.Explanation(values=vals, base_values=np.zeros(len(vals)),
                                    data=np.asarray(X, dtype=np.float64), feature_names=names)
        return attributions_to_explanation(attr, Xt)


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


@dataclass(frozen=True)
class ProbeReport:
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

    def plot(self, ax: Any = None, show: bool = True) -> Any:
        """Bars of each probe's ROC-AUC and balanced accuracy, with chance marked."""
        import matplotlib.pyplot as plt
        from shap.plots import colors

        own = ax is None
        if own:
            _, ax = plt.subplots(figsize=(5, 2.6))
        names = list(self.probes.index)
        pos = np.arange(len(names))
        ax.barh(pos - 0.2, self.probes["roc_auc"], height=0.38, color=colors.red_rgb,
                label="ROC-AUC")
        ax.barh(pos + 0.2, self.probes["balanced_accuracy"], height=0.38,
                color=colors.blue_rgb, label="balanced accuracy")
        ax.axvline(self.chance_auc, color="#888888", ls="--", lw=1, label="chance (AUC 0.5)")
        ax.set_yticks(pos)
        ax.set_yticklabels([f"{n} probe" for n in names])
        ax.set_xlim(0, 1)
        ax.set_xlabel("recovery of the protected concept from the representation")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(name))}</td>"
            + "".join(f"<td>{v:.3f}</td>" for v in r)
            + "</tr>" for name, r in zip(self.to_frame().index, self.to_frame().to_numpy()))
        classes = html.escape(", ".join(map(str, self.protected_classes)))
        fair = ""
        if self.accuracy is not None:
            fair = (f"<p>label accuracy {self.accuracy:.3f}; demographic-parity difference "
                    f"{self.demographic_parity_difference:.3f}")
            if self.equalized_odds_difference is not None:
                fair += f"; equalized-odds difference {self.equalized_odds_difference:.3f}"
            fair += "</p>"
        return (f"<div class='shap-debug probe-report'><p><b>Protected-concept probes</b> "
                f"(concept values: {classes}; {self.n_train} train / {self.n_test} test rows, "
                f"{self.n_features} representation features). Best probe AUC "
                f"<b>{self.max_auc:.3f}</b> (0.5 = agnostic).</p>"
                "<table><tr><th>probe</th><th>accuracy</th><th>balanced accuracy</th>"
                f"<th>ROC-AUC</th></tr>{rows}</table>{fair}</div>")


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


# --------------------------------------------------------------------------- attributions
@dataclass(frozen=True)
class AttributionShift:
    """Mean ``|attribution|`` per feature for several models (e.g. plain vs agnostic).

    Attributes
    ----------
    mean_abs : pandas.DataFrame
        Index: features; columns: model names. Mean absolute attribution over the rows.
    share : pandas.DataFrame
        The same, divided by each model's total (comparable across models).
    method : str
    focus : tuple of str
        The features of interest (the protected concept's proxies).
    """

    mean_abs: pd.DataFrame
    share: pd.DataFrame
    method: str
    focus: tuple

    def to_frame(self) -> pd.DataFrame:
        """Long format: feature, model, mean_abs, share, is_focus."""
        a = self.mean_abs.stack().rename("mean_abs")
        s = self.share.stack().rename("share")
        out = pd.concat([a, s], axis=1).reset_index()
        out.columns = ["feature", "model", "mean_abs", "share"]
        out["is_focus"] = out["feature"].isin(self.focus)
        return out

    def focus_share(self) -> pd.Series:
        """Per model: the share of attribution on the focus features."""
        return self.share.loc[list(self.focus)].sum(0)

    def plot(self, max_display: int = 10, ax: Any = None, show: bool = True) -> Any:
        """Grouped bars of the attribution share, focus features first."""
        import matplotlib.pyplot as plt
        from shap.plots import colors

        own = ax is None
        feats = list(self.focus) + [f for f in self.share.mean(1).sort_values(
            ascending=False).index if f not in self.focus]
        feats = feats[:max_display]
        if own:
            _, ax = plt.subplots(figsize=(6, 0.4 * len(feats) + 1))
        models = list(self.share.columns)
        palette = [colors.blue_rgb, colors.red_rgb, "#888888", "#2ca02c", "#9467bd"]
        h = 0.8 / len(models)
        pos = np.arange(len(feats))[::-1]
        for k, m in enumerate(models):
            ax.barh(pos + 0.4 - h * (k + 0.5), self.share.loc[feats, m], height=h,
                    color=palette[k % len(palette)], label=str(m))
        ax.set_yticks(pos)
        ax.set_yticklabels([f + (" *" if f in self.focus else "") for f in feats])
        ax.set_xlabel(f"share of mean |attribution| ({self.method}); * = proxy")
        ax.legend(fontsize=8, frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if own and show:
            plt.show()
        return ax

    def _repr_html_(self) -> str:
        fs = self.focus_share()
        cells = "".join(f"<tr><td>{html.escape(str(m))}</td><td>{v:.3f}</td></tr>"
                        for m, v in fs.items())
        focus = html.escape(", ".join(map(str, self.focus)))
        return (f"<div class='shap-debug attribution-shift'><p><b>Attribution on "
                f"{focus}</b> ({html.escape(self.method)}; share of mean |attribution|)</p>"
                f"<table><tr><th>model</th><th>share</th></tr>{cells}</table></div>")


def attribution_shift(
    models: Mapping[str, Any],
    X: Any,
    focus: Sequence[str] | str,
    *,
    method: str = "integrated_gradients",
    max_rows: int = 300,
    n_steps: int = 32,
    random_state: int | np.random.Generator | None = 0,
    progress: bool = False,
) -> AttributionShift:
    """Compare mean |attribution| on ``focus`` features across models ("right for the right
    reason": after agnostic training, the protected concept's proxies should matter less).

    Parameters
    ----------
    models : mapping name -> fitted model
        ``method="integrated_gradients"`` needs :class:`AgnosticNetwork` models (Captum
        IntegratedGradients through :meth:`AgnosticNetwork.attribute`); ``method="shap"``
        takes any classifier (:func:`shap_debug.contributions.explain`, contributions towards
        each row's predicted class).
    X : tabular inputs (DataFrame or 2-D array), the same for every model.
    focus : feature name(s) of interest.
    method : {"integrated_gradients", "shap"}
    max_rows : int
        Rows explained (a random subset when ``X`` is larger).

    Returns
    -------
    AttributionShift
    """
    check_option(method, "method", ["integrated_gradients", "shap"])
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty mapping name -> fitted model")
    max_rows = check_int(max_rows, "max_rows", low=1)
    names = feature_names_of(X)
    focus = [focus] if isinstance(focus, str) else [str(f) for f in focus]
    unknown = [f for f in focus if f not in names]
    if unknown:
        raise ValueError(f"focus: unknown feature(s) {unknown}; known features are {names}")
    rng = check_random_state(random_state)
    rows = np.sort(rng.choice(len(X), size=min(max_rows, len(X)), replace=False))
    Xs = X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
    cols = {}
    for name, model in models.items():
        if method == "integrated_gradients":
            if not isinstance(model, AgnosticNetwork):
                raise TypeError(f"models[{name!r}]: integrated_gradients needs an "
                                f"AgnosticNetwork; got {type(model).__name__} (use method='shap')")
            vals = model.attribute(Xs, n_steps=n_steps).values
        else:
            from shap_debug.contributions import contribution_matrix, explain

            exp = explain(model, Xs, random_state=seed_from(rng), progress=progress)
            pred = np.asarray(model.predict_proba(Xs)).argmax(1)
            vals = contribution_matrix(exp, pred)
        cols[str(name)] = np.abs(vals).mean(0)
    mean_abs = pd.DataFrame(cols, index=names)
    share = mean_abs / mean_abs.sum(0).replace(0, np.nan)
    return AttributionShift(mean_abs=mean_abs, share=share.fillna(0.0), method=method,
                            focus=tuple(focus))
