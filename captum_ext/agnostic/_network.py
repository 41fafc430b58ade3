"""The agnostic network: gradient reversal, Ganin's schedule and :class:`AgnosticNetwork`.

Jia, Lansdall-Welfare & Cristianini, "Right for the Right Reason: Training Agnostic
Networks" (IDA 2018) train a feature extractor ``G_f``, a label head ``G_y`` and a
protected-concept head ``G_p`` as in the Domain-Adversarial Neural Network of Ganin et al.
("Domain-Adversarial Training of Neural Networks", JMLR 2016): the protected head sits behind
a **gradient reversal layer**, so one backward pass minimises ``E = (1 - a) L_y - a L_p``
for the encoder while the protected head minimises ``L_p``. A model is *agnostic* when no
classifier can recover the concept from its internal representation.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
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
    seed_from,
    softmax,
)

from ._inputs import (
    _check_protected,
    _check_sizes,
    _InputEncoding,
    _mlp,
    _Net,
    integrated_gradients,
)
from ._probes import _fresh_probe_leak

__all__ = ["GradientReversal", "grad_reverse", "ganin_lambda", "AgnosticNetwork"]


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


# --------------------------------------------------------------------------- the estimator
class AgnosticNetwork(_InputEncoding, ClassifierMixin, BaseEstimator):
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
        Weight of the adversarial term; 0 trains a plain network. The default 0.8 hides
        sex on Adult (fresh-probe AUC 0.60, 1.1 accuracy points); at 0.5 a concept that
        also helps the label can stay (AUC 0.75 on the proxy case of the tests).
    adversary_steps : int
        Protected-head updates per encoder update (on random batches). One weak adversary
        is known to leave the concept recoverable: use several steps and a wide head.
    adversary_hidden : int or sequence of int
        Hidden widths of the protected head (empty: a linear head).
    epochs, batch_size, lr : training length, batch size and Adam learning rate.
        Hiding takes many updates at full ``alpha`` (hundreds, after the ramp): the default
        60 epochs of 128 rows give them on small tables too.
    validation_fraction : float in [0, 0.5]
        Held-out rows (of the protected set too, when separate) for early stopping; 0
        disables it and keeps the last epoch. Early stopping monitors the combined objective
        ``(1 - alpha) * L_y + alpha * leak`` on the validation split: the label loss plus
        the information (nats) about the concept that a *fresh* probe (a logistic regression
        on the standardised representation and its squares, fitted on up to 1000 training
        rows) recovers on the validation rows -- not the label loss alone, which prefers the
        early, leaky epochs, and not the in-training head, which is often fooled while the
        concept is still there. With a ramp, stopping is only considered once ``a_t`` has
        reached 95% of ``alpha``, and training never stops in the first half of ``epochs``;
        the best epoch's weights are restored.
    n_iter_no_change : int
        Patience of the early stopping, in epochs (hiding progresses unevenly: a short
        patience stops in a plateau before the concept is gone).
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
        rescaling directions faster than the head adapts. On by default: needed by the CNN
        of the image benchmark and part of the default recipe measured on Adult and COMPAS.
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

    _LEAK_ROWS = 1000

    def __init__(
        self,
        encoder: torch.nn.Module | None = None,
        hidden: int | Sequence[int] = (64, 16),
        alpha: float = 0.8,
        adversary_steps: int = 5,
        adversary_hidden: int | Sequence[int] = (128, 128),
        epochs: int = 60,
        batch_size: int = 128,
        lr: float = 1e-3,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 15,
        schedule: str = "ganin",
        adversary_loss: str = "reverse",
        weight_decay: float = 0.0,
        adversary_batchnorm: bool = True,
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

    def encode(self, X: Any) -> torch.Tensor:
        """The float32 tensor ``net_`` reads: one-hot encoded, standardised (tables)."""
        self._check_fitted()
        return self._encode(X)

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
        # rows the early-stopping probe is fitted on each epoch (scored on the validation rows)
        watch_leak = len(va) > 0 and len(pva) > 0 and alpha > 0
        leak_rows = ptr[rng.permutation(len(ptr))[:self._LEAK_ROWS]] if watch_leak else ptr

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._build(tuple(Z.shape[1:]), len(self.classes_), len(self.protected_classes_),
                        Xt[: min(2, n)])
            opt = torch.optim.Adam(self.net_.parameters(), lr=self.lr,
                                   weight_decay=self.weight_decay)
            opt_adv = torch.optim.Adam(self.adversary_.parameters(), lr=self.lr)
            bs = min(int(self.batch_size), len(tr))
            # a last batch of one row joins the one before (batch norm needs two rows)
            n_batches = max(1, len(tr) // bs if len(tr) % bs == 1 else math.ceil(len(tr) / bs))
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
                    idx = order[b * bs:(b + 1) * bs if b < n_batches - 1 else None]
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
                        if watch_leak:
                            self.adversary_.eval()
                            rva = self.encoder_(Xpt[pva])
                            lo = self.adversary_(rva)
                            row["val_adversary_accuracy"] = float(
                                (lo.argmax(1) == Pt[pva]).float().mean())
                            # the in-training adversary is no evidence: a fresh probe fitted
                            # on training rows, scored on the validation rows
                            leak = _fresh_probe_leak(
                                self.encoder_(Xpt[leak_rows]).double().numpy(),
                                p_idx[leak_rows], rva.double().numpy(), p_idx[pva],
                                len(self.protected_classes_), entropy)
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
                    # hiding needs many updates at full alpha and progresses in jumps:
                    # never stop in the first half of the budget
                    if (eligible and waited >= self.n_iter_no_change
                            and 2 * (epoch + 1) >= self.epochs):
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
            ``base_values + values.sum(1)`` is the label-head logit of the explained class
            (the logit at the baseline plus the attributions; exact up to Integrated
            Gradients' convergence delta). ``output_names`` says which class each row
            explains with a ``target=`` tag (``predicted``, a class index or ``per-row``),
            so :class:`shap_debug.NeighborhoodModel` reads the values as they are instead of
            taking them for class 1's and negating rows predicted 0.
        """
        return integrated_gradients(self, X, target, n_steps, baselines)
