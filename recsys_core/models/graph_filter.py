r"""Training-free graph filters for collaborative filtering: GF-CF and BSPM.

GF-CF (Shen et al., "How Powerful is Graph Convolution for Recommendation?",
CIKM 2021, arXiv:2108.07567). With the binary interaction matrix
:math:`R` [users x items], user and item degrees :math:`D_U, D_I` and the
normalised matrix :math:`\tilde R = D_U^{-1/2} R D_I^{-1/2}`, a user's row
:math:`r_u` is filtered by the item-item graph :math:`P = \tilde R^\top \tilde R`
and by an ideal low-pass filter built from the top-:math:`k` right singular
vectors :math:`V_k` of :math:`\tilde R`:

.. math::
    s^{(0)}_u = r_u P \;+\; \alpha\, r_u D_I^{-1/2} V_k V_k^\top D_I^{1/2}.

BSPM (Choi et al., "Blurring-Sharpening Process Models for Collaborative
Filtering", SIGIR 2023, arXiv:2211.09324) reads the first term as one Euler
step of the blurring ODE :math:`\dot s = s P - s` over unit time and adds a
sharpening ODE started from the blurred signal,

.. math::
    \frac{ds}{dt} = -\,s\,P, \qquad s(0) = s^{(0)}_u, \qquad
    \hat y_u = s(T),

solved with ``sharpen_steps`` classic Runge-Kutta (RK4) steps over time
:math:`T` (``sharpen_time``); :math:`T = 0` is GF-CF. With one RK4 step,
:math:`s(T) = s^{(0)} (I - TP + \frac{(TP)^2}{2} - \frac{(TP)^3}{6} + \frac{(TP)^4}{24})`.
The defaults of :class:`BSPM` are the paper's Gowalla setting (RK4, one step,
:math:`T = 2.5`, :math:`\alpha = 0.2`, :math:`k = 448`).

Nothing is learned by gradient descent: ``fit`` normalises :math:`R` and
takes a truncated SVD (randomised, Halko et al. 2011). :math:`P` is never
formed (it would be dense, items x items); scoring applies it to a batch of
users as two sparse products, :math:`P x = \tilde R^\top (\tilde R x)`. The
sharpening is a polynomial in :math:`P`, so its effect on the ideal term,
:math:`S D_I^{1/2} V_k`, is computed once at fit time rather than per batch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from recsys_core.data.dataset import Dataset
from recsys_core.models.base import Recommender

try:  # a parallel CSR x dense kernel; torch's sparse CSR product is the fallback
    import numba
except ImportError:  # pragma: no cover - numba ships with umap-learn
    numba = None

if numba is not None:
    @numba.njit(parallel=True, fastmath=True, cache=True)
    def _csr_dense_matmul(indptr, indices, data, x, out):  # pragma: no cover - compiled
        """out[r] = sum_p data[p] * x[indices[p]] over the nonzeros p of CSR row r."""
        width = x.shape[1]
        for row in numba.prange(len(indptr) - 1):
            acc = np.zeros(width, dtype=np.float32)
            for p in range(indptr[row], indptr[row + 1]):
                col = indices[p]
                value = data[p]
                for k in range(width):
                    acc[k] += value * x[col, k]
            out[row, :] = acc


def _spmm(m: sp.csr_matrix, m_torch: Tensor, x: Tensor) -> Tensor:
    """Sparse CSR [n, m] times dense x [m, B] -> dense [n, B] (float32)."""
    if numba is None:
        return torch.sparse.mm(m_torch, x)
    x = x.contiguous()
    out = torch.empty(m.shape[0], x.shape[1], dtype=torch.float32)
    _csr_dense_matmul(m.indptr, m.indices, m.data, x.numpy(), out.numpy())
    return out


def _torch_csr(m: sp.csr_matrix) -> Tensor:
    m = m.tocsr()
    m.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.as_tensor(m.indptr, dtype=torch.int64),
            torch.as_tensor(m.indices, dtype=torch.int64),
            torch.as_tensor(m.data, dtype=torch.float32),
            size=m.shape, check_invariants=False,
        )


#: ODE solvers of the sharpening process.
SOLVERS = ("rk4", "euler")


def rk4_coefficients(time: float) -> list[float]:
    """Coefficients c_j of one RK4 step of ds/dt = -sP over ``time``: s(T) = sum_j c_j s P^j."""
    h = float(time)
    return [1.0, -h, h ** 2 / 2.0, -(h ** 3) / 6.0, h ** 4 / 24.0]


def step_coefficients(method: str, time: float) -> list[float]:
    """Polynomial coefficients (in P) of one ``method`` step over ``time``; [1.0] when time is 0."""
    if time == 0:
        return [1.0]
    if method == "euler":
        return [1.0, -float(time)]
    if method == "rk4":
        return rk4_coefficients(time)
    raise ValueError(f"sharpen_method must be one of {', '.join(SOLVERS)}, got {method!r}")


class GraphFilter(Recommender):
    """Linear graph filter (GF-CF plus optional BSPM sharpening); see the module docstring.

    Args:
        ideal_weight: :math:`\\alpha`, weight of the ideal low-pass filter (0 turns it off).
        n_factors: number of singular vectors :math:`k` in the ideal low-pass filter.
        sharpen_time: :math:`T` of the sharpening ODE; 0 gives GF-CF.
        sharpen_steps: solver steps over ``sharpen_time``.
        sharpen_method: ``"rk4"`` (the paper's Gowalla choice) or ``"euler"``
            (one product by P per step instead of four: s <- s - h P s).
        svd_iters: power iterations of the randomised SVD (more: closer to the exact one).
        batch_size: users scored at once (memory: about 8 x batch x items floats).
        seed: seed of the randomised SVD.
    """

    name = "graph_filter"

    def __init__(self, ideal_weight: float = 0.3, n_factors: int = 256, sharpen_time: float = 0.0,
                 sharpen_steps: int = 1, sharpen_method: str = "rk4", svd_iters: int = 6,
                 batch_size: int = 1024, seed: int = 0) -> None:
        self.ideal_weight = ideal_weight
        self.n_factors = n_factors
        self.sharpen_time = sharpen_time
        self.sharpen_steps = sharpen_steps
        self.sharpen_method = sharpen_method
        self.svd_iters = svd_iters
        self.batch_size = batch_size
        self.seed = seed

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: Dataset, callbacks: Sequence[Any] = ()) -> GraphFilter:
        if self.n_factors < 0 or self.sharpen_time < 0 or self.sharpen_steps < 1:
            raise ValueError("n_factors and sharpen_time must be >= 0 and sharpen_steps >= 1, got "
                             f"{self.n_factors}, {self.sharpen_time}, {self.sharpen_steps}")
        if self.sharpen_method not in SOLVERS:
            raise ValueError(f"sharpen_method must be one of {', '.join(SOLVERS)}, "
                             f"got {self.sharpen_method!r}")
        start = time.perf_counter()
        self._build_graph(dataset)
        k = min(self.n_factors, min(self.normalized_.shape) - 1)
        if self.ideal_weight != 0 and k > 0:
            from sklearn.utils.extmath import randomized_svd

            u, s, vt = randomized_svd(self.normalized_, n_components=k, n_iter=self.svd_iters,
                                      random_state=self.seed)
            self.user_factors_ = torch.as_tensor(u, dtype=torch.float32)  # [U, k]
            self.singular_values_ = torch.as_tensor(s, dtype=torch.float32)  # [k]
            self.item_factors_ = torch.as_tensor(vt.T.copy(), dtype=torch.float32)  # [I, k]
        else:
            self.user_factors_ = torch.zeros(dataset.n_users, 0)
            self.singular_values_ = torch.zeros(0)
            self.item_factors_ = torch.zeros(dataset.n_items, 0)
        self._prepare_ideal()
        self.dataset_ = dataset
        self.fit_seconds_ = time.perf_counter() - start
        if callbacks:  # one event: there are no epochs, fitting is closed-form
            from recsys_core.train import TrainEvent

            event = TrainEvent(epoch=1, epochs=1, loss=0.0, metrics={}, seconds=self.fit_seconds_,
                               best_epoch=1, best_metric=0.0, steps=0)
            for callback in callbacks:
                callback(event)
        return self

    def _build_graph(self, dataset: Dataset) -> None:
        r = dataset.matrix("train").tocsr()
        r.data[:] = 1.0
        user_deg = np.asarray(r.sum(axis=1)).ravel()
        item_deg = np.asarray(r.sum(axis=0)).ravel()
        with np.errstate(divide="ignore"):
            user_inv_sqrt = np.where(user_deg > 0, user_deg ** -0.5, 0.0)
            item_inv_sqrt = np.where(item_deg > 0, item_deg ** -0.5, 0.0)
        normalized = (sp.diags(user_inv_sqrt) @ r @ sp.diags(item_inv_sqrt)).astype(np.float32)
        self.interactions_ = r  # [U, I] binary CSR: each user's input signal
        self.normalized_ = normalized.tocsr()  # [U, I] R~
        self.normalized_.sort_indices()
        self._r_norm_t_csr = self.normalized_.T.tocsr()  # [I, U] R~^T
        self._r_norm_t_csr.sort_indices()
        self._r_norm = _torch_csr(self.normalized_)
        self._r_norm_t = _torch_csr(self._r_norm_t_csr)
        self.item_inv_sqrt_ = torch.as_tensor(item_inv_sqrt, dtype=torch.float32)  # [I]
        self.item_sqrt_ = torch.as_tensor(np.sqrt(item_deg), dtype=torch.float32)  # [I]

    # ------------------------------------------------------------------ filters
    # Signals are held item-major, x: [I, B] (one column per user), so every
    # filter is a left product by a sparse or thin dense matrix.
    def item_graph(self, x: Tensor) -> Tensor:
        """P x = R~^T (R~ x) for x [I, B]."""
        return _spmm(self._r_norm_t_csr, self._r_norm_t, _spmm(self.normalized_, self._r_norm, x))

    def ideal_low_pass(self, x: Tensor) -> Tensor:
        """D_I^{1/2} V_k V_k^T D_I^{-1/2} x for x [I, B] (the transpose of GF-CF's row form)."""
        if self.item_factors_.shape[1] == 0:
            return torch.zeros_like(x)
        z = self.item_factors_.T @ (self.item_inv_sqrt_.unsqueeze(1) * x)  # [k, B]
        return self.item_sqrt_.unsqueeze(1) * (self.item_factors_ @ z)  # [I, B]

    def blur(self, x: Tensor) -> Tensor:
        """GF-CF's score s0 = P x + alpha * ideal(x), item-major [I, B]."""
        out = self.item_graph(x)
        if self.ideal_weight:
            out = out + self.ideal_weight * self.ideal_low_pass(x)
        return out

    def sharpen(self, s: Tensor) -> Tensor:
        """Integrate ds/dt = -P s over sharpen_time with sharpen_steps RK4 or Euler steps."""
        if self.sharpen_time == 0:
            return s
        h = self.sharpen_time / self.sharpen_steps
        for _ in range(self.sharpen_steps):
            if self.sharpen_method == "euler":
                s = s - h * self.item_graph(s)
                continue
            k1 = -self.item_graph(s)
            k2 = -self.item_graph(s + 0.5 * h * k1)
            k3 = -self.item_graph(s + 0.5 * h * k2)
            k4 = -self.item_graph(s + h * k3)
            s = s + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        return s

    def user_signal(self, users: np.ndarray) -> Tensor:
        """Binary training rows of some users, item-major: [I, B]."""
        rows = self.interactions_[users].T.tocoo()
        x = torch.zeros(rows.shape, dtype=torch.float32)
        x[torch.as_tensor(rows.row, dtype=torch.long), torch.as_tensor(rows.col, dtype=torch.long)] = 1.0
        return x

    def _prepare_ideal(self) -> None:
        """Sharpened item side of the ideal filter, S D_I^{1/2} V_k: [I, k].

        The sharpening S is a polynomial in P, hence linear, so
        S(D^{1/2} V_k z) = (S D^{1/2} V_k) z: the ideal term is sharpened once
        here instead of once per batch of users.
        """
        with torch.no_grad():
            self.ideal_items_ = self.sharpen(self.item_sqrt_.unsqueeze(1) * self.item_factors_)

    def _score_batch(self, users: np.ndarray) -> Tensor:
        """Filtered scores of some users, item-major [I, B]."""
        rows = self.interactions_[users]  # [B, I] sparse binary
        # P x = R~^T (R~ x) with sparse products while the signal is still sparse.
        propagated = self._r_norm_t_csr @ (self.normalized_ @ rows.T.tocsc())  # [I, B]
        out = self.sharpen(torch.as_tensor(propagated.toarray(), dtype=torch.float32))
        if self.ideal_weight and self.item_factors_.shape[1]:
            scaled = (self.item_factors_ * self.item_inv_sqrt_.unsqueeze(1)).numpy()  # [I, k]
            z = torch.as_tensor(np.asarray(rows @ scaled), dtype=torch.float32)  # [B, k]
            out += self.ideal_weight * (self.ideal_items_ @ z.T)
        return out

    # ------------------------------------------------------------------ scoring
    def score(self, users, items=None) -> Tensor:
        ds = self.check_fitted()
        users = np.asarray(users.cpu() if isinstance(users, Tensor) else users, dtype=np.int64)
        users = users.reshape(-1)
        out = torch.empty(len(users), ds.n_items, dtype=torch.float32)
        with torch.no_grad():
            for start in range(0, len(users), self.batch_size):
                batch = users[start:start + self.batch_size]
                out[start:start + len(batch)] = self._score_batch(batch).T
        if items is not None:
            out = out[:, torch.as_tensor(np.asarray(items), dtype=torch.long)]
        return out

    # ------------------------------------------------------------------ embeddings
    def user_embeddings(self) -> np.ndarray:
        """[n_users, k] left singular vectors of R~ scaled by the singular values."""
        self.check_fitted()
        return (self.user_factors_ * self.singular_values_.sqrt()).numpy()

    def item_embeddings(self) -> np.ndarray:
        """[n_items, k] right singular vectors of R~ scaled by the singular values."""
        self.check_fitted()
        return (self.item_factors_ * self.singular_values_.sqrt()).numpy()

    # ------------------------------------------------------------------ persistence
    def state_tensors(self) -> dict[str, Tensor]:
        self.check_fitted()
        return {"user_factors": self.user_factors_.contiguous(),
                "singular_values": self.singular_values_.contiguous(),
                "item_factors": self.item_factors_.contiguous()}

    def load_state_tensors(self, tensors: dict[str, Tensor], dataset: Dataset) -> GraphFilter:
        self._build_graph(dataset)
        self.user_factors_ = tensors["user_factors"].float()
        self.singular_values_ = tensors["singular_values"].float()
        self.item_factors_ = tensors["item_factors"].float()
        if self.item_factors_.shape[0] != dataset.n_items:
            raise ValueError(f"saved item factors cover {self.item_factors_.shape[0]} items; "
                             f"dataset {dataset.name!r} has {dataset.n_items}")
        self._prepare_ideal()
        self.dataset_ = dataset
        return self


class GFCF(GraphFilter):
    """GF-CF with the paper's defaults: alpha 0.3, 256 singular vectors, no sharpening."""

    name = "gf_cf"

    def __init__(self, ideal_weight: float = 0.3, n_factors: int = 256, sharpen_time: float = 0.0,
                 sharpen_steps: int = 1, sharpen_method: str = "rk4", svd_iters: int = 6,
                 batch_size: int = 1024, seed: int = 0) -> None:
        super().__init__(ideal_weight, n_factors, sharpen_time, sharpen_steps, sharpen_method,
                         svd_iters, batch_size, seed)


class BSPM(GraphFilter):
    """BSPM with the paper's Gowalla defaults: alpha 0.2, 448 singular vectors, RK4 T=2.5."""

    name = "bspm"

    def __init__(self, ideal_weight: float = 0.2, n_factors: int = 448, sharpen_time: float = 2.5,
                 sharpen_steps: int = 1, sharpen_method: str = "rk4", svd_iters: int = 6,
                 batch_size: int = 1024, seed: int = 0) -> None:
        super().__init__(ideal_weight, n_factors, sharpen_time, sharpen_steps, sharpen_method,
                         svd_iters, batch_size, seed)
