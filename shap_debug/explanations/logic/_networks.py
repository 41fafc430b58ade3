"""The network methods of :func:`~shap_debug.explanations.logic.explain_formula`: small torch modules
(pruned ReLU MLP, psi network, entropy-based LEN layer) and the combination of their local
explanations into one global formula (Ciravegna et al., "Logic Explained Networks", 2023).

Each ``_fit_*`` returns ``(formula, predict_fn)`` fitted on a concept matrix ``C`` and a
boolean target ``t``; torch is imported only when one of them runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ._formula import _MAX_EXACT_VARS, Formula, Literal, _eval_terms, _qm_formula, simplify


# --------------------------------------------------------------------------------------
# torch models
# --------------------------------------------------------------------------------------
def _torch():
    import torch

    return torch


def _init_linear(layer, gen) -> None:
    bound = 1.0 / math.sqrt(layer.in_features)
    with _torch().no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)


def _hard_sigmoid_module():
    torch = _torch()

    class _PsiActivation(torch.nn.Module):
        """Sigmoid; once ``hard`` it outputs 0/1 (sigmoid gradient, straight through), so
        the network computes exactly the boolean functions read off its neurons."""

        hard = False

        def forward(self, z):
            s = torch.sigmoid(z)
            return s + ((z > 0).to(s.dtype) - s).detach() if self.hard else s

    return _PsiActivation()


def _make_mlp(m: int, hidden: Sequence[int], act: str, gen):
    torch = _torch()
    nn = torch.nn
    layers, sizes = [], [m, *hidden, 1]
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        _init_linear(lin, gen)
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.ReLU() if act == "relu" else _hard_sigmoid_module())
    return nn.Sequential(*layers)


def _linears(net):
    return [mod for mod in net if isinstance(mod, _torch().nn.Linear)]


class _EntropyNet:
    """Entropy-based LEN (Barbiero et al., "Entropy-based Logic Explanations of Neural
    Networks", AAAI 2022): a first layer whose per-concept relevance ``alpha`` is a
    softmax over the L1 norms of the concept's weights, scaled by its maximum and used
    to gate the inputs; a small LeakyReLU MLP on top."""

    def __init__(self, m: int, hidden: int, hidden2: int, temperature: float, gen):
        torch = _torch()
        nn = torch.nn
        self.temperature = temperature
        first = nn.Linear(m, hidden)
        _init_linear(first, gen)
        self.first = first
        self.rest = nn.Sequential(nn.LeakyReLU(), nn.Linear(hidden, hidden2), nn.LeakyReLU(),
                                  nn.Linear(hidden2, 1))
        for mod in self.rest:
            if isinstance(mod, nn.Linear):
                _init_linear(mod, gen)

    def parameters(self):
        return [*self.first.parameters(), *self.rest.parameters()]

    def alpha(self):
        gamma = self.first.weight.abs().sum(dim=0)  # L1 norm per input concept
        return _torch().softmax(gamma / self.temperature, dim=0)

    def __call__(self, x):
        a = self.alpha()
        a_norm = a / a.max()
        return self.rest(self.first(x * a_norm))


def _fit_torch(forward, params, X, y, *, epochs, lr, penalty=None, after_step=None,
               on_epoch=None):
    torch = _torch()
    opt = torch.optim.Adam(params, lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        if on_epoch is not None:
            on_epoch(epoch)
        opt.zero_grad()
        loss = loss_fn(forward(X).squeeze(-1), y)
        if penalty is not None:
            loss = loss + penalty()
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()


# --------------------------------------------------------------------------------------
# Combining local explanations (LEN: lens/logic/explain.py, torch_explain entropy)
# --------------------------------------------------------------------------------------
def _term_of(row: np.ndarray, names: list[str]) -> tuple[Literal, ...]:
    idx = np.nonzero(row)[0]
    return tuple((names[j], bool(row[j] > 0)) for j in idx)


def _combine_local(C: np.ndarray, t: np.ndarray, pred: np.ndarray, support: np.ndarray,
                   names: list[str], *, order: str, drop_literals: bool, max_terms: int
                   ) -> Formula:
    """Global DNF from the local explanations of correctly predicted target rows.

    A local explanation is the conjunction of the row's supported concepts at their values.
    Distinct local explanations are ranked by frequency and added one at a time to the
    disjunction when they raise its training accuracy (LEN); with ``order="best"`` each
    step adds the one that raises it most.
    """
    rows = np.nonzero(t & pred)[0]
    if rows.size == 0:
        return Formula(())
    sup = support if support.ndim == 2 else np.broadcast_to(support, C.shape)
    L = np.where(sup[rows], np.where(C[rows], 1, -1), 0).astype(np.int8)
    uniq, counts = np.unique(L, axis=0, return_counts=True)
    keep = np.any(uniq != 0, axis=1)
    uniq, counts = uniq[keep], counts[keep]
    if not len(uniq):
        return Formula(())
    by_freq = np.argsort(-counts, kind="stable")[:max_terms]
    cols = {n: i for i, n in enumerate(names)}
    terms = [_term_of(uniq[i], names) for i in by_freq]

    def acc(covered):
        return float(np.mean(covered == t))

    if drop_literals:  # LEN's _simplify_formula: drop a literal unless accuracy falls
        new_terms = []
        for term in terms:
            lits = list(term)
            base = acc(_eval_terms([tuple(lits)], C, cols))
            for lit in list(lits):
                if len(lits) == 1:
                    break
                trial = [x for x in lits if x != lit]
                a = acc(_eval_terms([tuple(trial)], C, cols))
                if a >= base:
                    lits, base = trial, a
            new_terms.append(tuple(lits))
        terms = list(dict.fromkeys(new_terms))
    covered = np.zeros(len(C), dtype=bool)
    if order == "best":  # best-first: each step adds the term that raises accuracy most
        cov = np.stack([_eval_terms([term], C, cols) for term in terms])
        chosen, best = [], acc(covered)
        while True:
            trial = cov | covered
            scores = (trial == t).mean(axis=1)
            j = int(np.argmax(scores))
            if scores[j] <= best:
                break
            best, covered = float(scores[j]), trial[j]
            chosen.append(terms[j])
        return simplify(Formula(tuple(chosen)))
    best, chosen = acc(covered), []
    for term in terms:
        trial = covered | _eval_terms([term], C, cols)
        a = acc(trial)
        if a > best:
            best, covered = a, trial
            chosen.append(term)
    return simplify(Formula(tuple(chosen)))



def _net_predict(net):
    torch = _torch()

    def predict(X):
        with torch.no_grad():
            return (net(torch.as_tensor(X, dtype=torch.float32)).squeeze(-1) > 0).numpy()

    return predict


def _fit_pruning(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _make_mlp(C.shape[1], (p["hidden"],), "relu", gen)
    first = _linears(net)[0]
    mask = torch.ones_like(first.weight)
    prune_at = p["epochs"] // 2

    def on_epoch(epoch):
        if epoch == prune_at:  # keep the fan_in inputs with the largest L1 norm
            keep = torch.topk(first.weight.detach().abs().sum(0), min(p["fan_in"], C.shape[1])).indices
            mask.zero_()
            mask[:, keep] = 1.0

    def after_step():
        with torch.no_grad():
            first.weight.mul_(mask)

    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"], on_epoch=on_epoch,
               after_step=after_step, penalty=lambda: p["l1"] * first.weight.abs().sum())
    predict = _net_predict(net)
    support = (first.weight.detach().abs().sum(0) > 0).numpy()
    formula = _combine_local(C, t, predict(C), support, names, order="frequency",
                             drop_literals=False, max_terms=p["max_terms"])
    return formula, predict


def _fit_weights(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _make_mlp(C.shape[1], (p["hidden"],), "relu", gen)
    first = _linears(net)[0]
    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"],
               penalty=lambda: p["l1"] * first.weight.abs().sum())
    predict = _net_predict(net)
    # The weights of the linear model a ReLU network reduces to at a row are the gradient
    # of its logit there; keep concepts above `threshold` of the row's largest |weight|.
    Xg = X.clone().requires_grad_(True)
    net(Xg).sum().backward()
    w = Xg.grad.abs().numpy()
    wmax = w.max(axis=1, keepdims=True)
    support = np.where(wmax > 0, w / np.where(wmax > 0, wmax, 1.0) > p["threshold"], True)
    formula = _combine_local(C, t, predict(C), support, names, order="frequency",
                             drop_literals=False, max_terms=p["max_terms"])
    return formula, predict


def _fit_psi(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _make_mlp(C.shape[1], p["hidden"], "sigmoid", gen)
    lins = _linears(net)
    masks = [torch.ones_like(lin.weight) for lin in lins]
    prune_at = p["epochs"] // 2

    def on_epoch(epoch):
        if epoch == prune_at:  # every neuron keeps its fan_in largest incoming weights
            for lin, mk in zip(lins, masks):
                k = min(p["fan_in"], lin.in_features)
                keep = torch.topk(lin.weight.detach().abs(), k, dim=1).indices
                mk.zero_()
                mk.scatter_(1, keep, 1.0)
            for mod in net:
                if hasattr(mod, "hard"):
                    mod.hard = True

    def after_step():
        with torch.no_grad():
            for lin, mk in zip(lins, masks):
                lin.weight.mul_(mk)

    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"], on_epoch=on_epoch,
               after_step=after_step,
               penalty=lambda: p["l1"] * sum(lin.weight.abs().sum() for lin in lins))
    # Read the network off: which concepts reach the output through non-zero weights, then
    # the boolean function each neuron computes (sigmoid > 0.5 <=> pre-activation > 0),
    # composed layer by layer on the truth table of those concepts.
    W = [lin.weight.detach().numpy() for lin in lins]
    b = [lin.bias.detach().numpy() for lin in lins]
    reach = np.ones(1, dtype=bool)
    for w in W[::-1]:
        reach = np.abs(w[reach]).sum(0) > 0
    support = np.nonzero(reach)[0]
    sup_names = [names[j] for j in support]
    k = len(support)
    if k == 0:
        out = bool(_psi_forward(np.zeros((1, C.shape[1])), W, b)[0])
        formula = Formula(((),)) if out else Formula(())
    else:
        table = ((np.arange(2 ** k)[:, None] >> np.arange(k)[None, :]) & 1).astype(float)
        full = np.zeros((len(table), C.shape[1]))
        full[:, support] = table
        on = np.nonzero(_psi_forward(full, W, b))[0]
        formula = _qm_formula(set(on.tolist()), sup_names) if k <= _MAX_EXACT_VARS else Formula(
            tuple(tuple((sup_names[j], bool(table[i, j])) for j in range(k)) for i in on))
    return formula, _net_predict(net)


def _psi_forward(X: np.ndarray, W, b) -> np.ndarray:
    h = X
    for w, bb in zip(W, b):
        h = (h @ w.T + bb > 0).astype(float)
    return h[:, 0] > 0.5


def _fit_entropy(C, t, names, p, gen):
    torch = _torch()
    X, y = torch.as_tensor(C, dtype=torch.float32), torch.as_tensor(t, dtype=torch.float32)
    net = _EntropyNet(C.shape[1], p["hidden"], p["hidden2"], p["temperature"], gen)

    def penalty():
        a = net.alpha()
        return -p["entropy_weight"] * torch.sum(a * torch.log(a + 1e-12))

    _fit_torch(net, net.parameters(), X, y, epochs=p["epochs"], lr=p["lr"], penalty=penalty)
    predict = _net_predict(net)
    with torch.no_grad():
        a = net.alpha().numpy()
    a_norm = a / a.max()
    support = a_norm > 0.5
    if p["max_literals"] is not None and support.sum() > p["max_literals"]:
        top = np.argsort(-a_norm, kind="stable")[: p["max_literals"]]
        support = np.zeros_like(support)
        support[top] = True
    formula = _combine_local(C, t, predict(C), support, names, order="best",
                             drop_literals=True, max_terms=p["max_terms"])
    return formula, predict

