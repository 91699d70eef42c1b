r"""How much each history item raises a recommended item's score.

The effect of a history item ``h`` on the score of item ``i`` for user ``u`` is

.. math::

    \Delta_h = s(u, i \mid G) - s(u, i \mid G \setminus \{(u, h)\})

the score with the full training graph minus the score once the edge
``(u, h)`` is gone; positive means ``h`` pulls ``i`` up.

**LightGCN family** (He et al., "LightGCN", SIGIR 2020). The final embeddings
are :math:`E = \sum_{k=0}^{L} \alpha_k \hat A^k E^{(0)}` with
:math:`\hat A = D^{-1/2} A D^{-1/2}` and :math:`s(u, i) = e_u^\top e_i`.
Removing the edge changes the degrees of ``u`` and ``h`` and therefore every
normalised weight on their rows and columns: :math:`\hat A_h = \hat A + \Delta_h`
where :math:`\Delta_h` is non-zero only on rows and columns ``u`` and ``h``.
The weights :math:`E^{(0)}` stay as trained, so the new score is *exact*
without retraining. Only two rows of the final embeddings are needed, so the
computation pulls from the two target nodes instead of pushing the whole
graph: because :math:`\hat A_h` is symmetric,
:math:`(\hat A_h^k E^{(0)})_t = (\hat A_h^k \mathbf{1}_t)^\top E^{(0)}`, and
:math:`v_k = \hat A v_{k-1} + \Delta_h v_{k-1}` is evaluated for all removals
at once as one sparse-dense product plus a scatter over the few entries of
each :math:`\Delta_h`. No sampling and no approximation: the result equals
rebuilding the dataset without the edge and propagating again (checked in the
tests).

**Models without a graph** (matrix factorisation and the like). There is no
propagation to redo, so the user is *folded in* from item embeddings:
:math:`p(H) = (Q_H^\top Q_H + \lambda I)^{-1} Q_H^\top \mathbf{1}` is the ridge
solution that scores the user's history items 1, and
:math:`\Delta_h = q_i^\top p(H) - q_i^\top p(H \setminus \{h\})`. This is exact
for that fold-in model, which is a stand-in for the trained user vector, and
is labelled as such in the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

#: Removal columns handled per sparse-dense product (bounds memory to N x 2*chunk doubles).
REMOVAL_CHUNK = 64


@dataclass
class PropagationSpec:
    """What LightGCN-style propagation needs to re-score a user-item pair.

    ``emb0`` stacks the layer-0 embeddings of users then items, the node order
    of :mod:`recsys_core.graph`; ``layer_weights`` are the :math:`\\alpha_k`.
    """

    emb0: np.ndarray  # [n_users + n_items, d] layer-0 embeddings
    layer_weights: np.ndarray  # [layers + 1] alpha_k (LightGCN: 1 / (layers + 1) each)
    n_users: int

    @property
    def layers(self) -> int:
        return len(self.layer_weights) - 1


def bipartite_adjacency(r: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Symmetric D^-1/2 A D^-1/2 (float64 CSR) of a user x item matrix, and the node degrees."""
    r = sp.csr_matrix(r, dtype=np.float64)
    r.data[:] = 1.0
    n_users, n_items = r.shape
    adj = sp.bmat([[None, r], [r.T, None]], format="csr")
    adj.resize((n_users + n_items, n_users + n_items))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0)
    norm = (sp.diags(inv_sqrt) @ adj @ sp.diags(inv_sqrt)).tocsr()
    return norm, deg


def propagate_full(adj: sp.spmatrix, spec: PropagationSpec) -> np.ndarray:
    """[N, d] final embeddings sum_k alpha_k A^k E0 over the whole graph."""
    x = spec.emb0.astype(np.float64)
    out = spec.layer_weights[0] * x
    for k in range(1, spec.layers + 1):
        x = adj @ x
        out = out + spec.layer_weights[k] * x
    return out


class RemovalGraph:
    """The training graph in the forms edge removal needs, built once per dataset."""

    def __init__(self, r: sp.spmatrix):
        self.r = sp.csr_matrix(r, dtype=np.float64)  # [U, I] binary user x item
        self.r.sum_duplicates()
        self.r.data[:] = 1.0
        self.r_csc = self.r.tocsc()  # column access: the users of an item
        self.adj, self.deg = bipartite_adjacency(self.r)  # [N, N] normalised, [N] degrees
        self.n_users = self.r.shape[0]

    def delta(self, user: int, item: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Entries (rows, cols, values) of A_without(user,item) - A, both triangles."""
        r, deg, n_users = self.r, self.deg, self.n_users
        u, h = user, n_users + item
        du, dh = deg[u], deg[h]
        # Row u: every neighbour x of u; u's degree drops by one, x's stays.
        xs = r.indices[r.indptr[user]:r.indptr[user + 1]] + n_users
        old_u = 1.0 / np.sqrt(du * deg[xs])
        if du > 1:
            new_u = np.where(xs == h, 0.0, 1.0 / np.sqrt((du - 1.0) * deg[xs]))
        else:  # u becomes isolated
            new_u = np.zeros_like(old_u)
        # Row h: every neighbour y != u of h; h's degree drops by one.
        ys = self.r_csc.indices[self.r_csc.indptr[item]:self.r_csc.indptr[item + 1]]
        ys = ys[ys != u].astype(np.int64)
        old_h = 1.0 / np.sqrt(dh * deg[ys])
        new_h = 1.0 / np.sqrt((dh - 1.0) * deg[ys]) if dh > 1 else np.zeros(0)
        d_u = new_u - old_u
        d_h = new_h - old_h
        rows = np.concatenate([np.full(len(xs), u), xs, np.full(len(ys), h), ys])
        cols = np.concatenate([xs, np.full(len(xs), u), ys, np.full(len(ys), h)])
        vals = np.concatenate([d_u, d_u, d_h, d_h])
        return rows, cols, vals


def removal_scores(graph: RemovalGraph | sp.spmatrix, spec: PropagationSpec, user: int,
                   item: int, history: np.ndarray) -> tuple[float, np.ndarray]:
    """Exact LightGCN score of (user, item) with each history edge removed in turn.

    ``graph`` is the binary user x item training matrix the model propagates
    over (or its :class:`RemovalGraph`). Returns ``(base_score, scores)`` with
    ``scores[j]`` the score once the edge (user, history[j]) alone is removed.
    """
    if not isinstance(graph, RemovalGraph):
        graph = RemovalGraph(graph)
    # The dense products here are small; one BLAS thread avoids thread start-up and
    # contention costs that dominate at this size.
    with _blas().limit(limits=1):
        return _removal_scores(graph, spec, user, item, history)


_CONTROLLER: list[ThreadpoolController] = []


def _blas() -> ThreadpoolController:
    """One controller for the process: building one scans the loaded libraries (slow)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _removal_scores(graph: RemovalGraph, spec: PropagationSpec, user: int, item: int,
                    history: np.ndarray) -> tuple[float, np.ndarray]:
    emb0 = np.asarray(spec.emb0, dtype=np.float64)  # [N, d]
    targets = np.array([user, spec.n_users + item])
    history = np.asarray(history, dtype=np.int64)
    # [E0 | A E0]: the last hop is read from A E0, computed once per weights and graph.
    ends = _cached_ends(graph, spec, emb0)  # [N, 2d]

    # Base score: the same pull with no removal.
    base = _pull(graph.adj, ends, spec.layer_weights, targets, [])  # [2, d]
    base_score = float(base[0] @ base[1])

    scores = np.empty(len(history))
    for start in range(0, len(history), REMOVAL_CHUNK):
        chunk = history[start:start + REMOVAL_CHUNK]
        deltas = [graph.delta(user, int(h)) for h in chunk]
        # Column 2j pulls the user's row, 2j+1 the item's row, both under removal j.
        cols_targets = np.tile(targets, len(chunk))
        per_col = [d for d in deltas for _ in range(2)]
        final = _pull(graph.adj, ends, spec.layer_weights, cols_targets, per_col)  # [2B, d]
        scores[start:start + len(chunk)] = np.einsum("bd,bd->b", final[0::2], final[1::2])
    return base_score, scores


def _cached_ends(graph: RemovalGraph, spec: PropagationSpec, emb0: np.ndarray) -> np.ndarray:
    cache = getattr(spec, "_ends", None)
    if cache is None or cache[0] is not graph:
        cache = (graph, np.hstack([emb0, graph.adj @ emb0]))  # [N, 2d]
        spec._ends = cache
    return cache[1]


#: Pull vectors denser than this are propagated as dense arrays, sparser ones as sparse.
SPARSE_DENSITY = 0.05


def _pull(adj: sp.csr_matrix, ends: np.ndarray, weights: np.ndarray, targets: np.ndarray,
          deltas: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Rows ``targets`` of sum_k w_k (A + Delta_c)^k E0, one column c per target.

    ``ends`` is [E0 | A E0]. Pull vectors v_k = (A + Delta_c)^k 1_t are
    propagated for k < L only; the last hop uses symmetry,
    v_L^T E0 = v_{L-1}^T (A E0) + (Delta_c v_{L-1})^T E0.
    """
    n_nodes, d = adj.shape[0], ends.shape[1] // 2
    n_cols = len(targets)
    layers = len(weights) - 1
    v = np.zeros((n_nodes, n_cols))  # [N, B] one-hot pull vectors
    v[targets, np.arange(n_cols)] = 1.0
    if deltas:
        rows = np.concatenate([dl[0] for dl in deltas])
        cols = np.concatenate([dl[1] for dl in deltas])
        vals = np.concatenate([dl[2] for dl in deltas])
        which = np.repeat(np.arange(n_cols), [len(dl[0]) for dl in deltas])
        flat_out = rows * n_cols + which
        flat_in = cols * n_cols + which

    def delta_times(x: np.ndarray) -> np.ndarray:
        """Delta_c x_c for every column at once: a scatter over the few changed entries."""
        return np.bincount(flat_out, weights=vals * x.ravel()[flat_in],
                           minlength=n_nodes * n_cols).reshape(n_nodes, n_cols)

    acc = weights[0] * v
    for k in range(1, layers):
        if np.count_nonzero(v) < SPARSE_DENSITY * v.size:
            nxt = (adj @ sp.csc_matrix(v)).toarray()  # early hops touch few nodes
        else:
            nxt = adj @ v  # [N, B]
        if deltas:
            nxt += delta_times(v)
        v = nxt
        acc += weights[k] * v
    out = acc.T @ ends[:, :d]  # [B, d] layers 0 .. L-1
    if layers >= 1:
        out += weights[layers] * (v.T @ ends[:, d:])  # v_{L-1}^T A E0
        if deltas:
            out += weights[layers] * (delta_times(v).T @ ends[:, :d])
    return out


def foldin_effects(item_emb: np.ndarray, history: np.ndarray, item: int,
                   ridge: float = 1.0) -> tuple[float, np.ndarray]:
    """Fold-in score of ``item`` from the history and with each history item left out.

    The user vector is the ridge solution p(H) = (Q_H^T Q_H + ridge I)^-1 Q_H^T 1;
    returns ``(base_score, scores)`` with ``scores[j]`` using H without history[j].
    """
    q = np.asarray(item_emb, dtype=np.float64)
    history = np.asarray(history, dtype=np.int64)
    qh = q[history]  # [H, d]
    target = q[item]  # [d]
    d = q.shape[1]

    def score(rows: np.ndarray) -> float:
        gram = rows.T @ rows + ridge * np.eye(d)
        p = np.linalg.solve(gram, rows.sum(axis=0))
        return float(target @ p)

    base = score(qh)
    scores = np.array([score(np.delete(qh, j, axis=0)) for j in range(len(history))])
    return base, scores
