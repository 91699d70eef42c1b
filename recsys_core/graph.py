"""The bipartite user-item graph.

Node numbering used everywhere: users are nodes ``0..n_users-1`` and items are
nodes ``n_users..n_users+n_items-1``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from recsys_core.data.dataset import Dataset


def edge_index(ds: Dataset, which: str = "train") -> torch.Tensor:
    """[2, 2E] undirected edge index of the chosen interactions (both directions)."""
    m = ds.matrix(which).tocoo()
    users = torch.as_tensor(m.row, dtype=torch.long)
    items = torch.as_tensor(m.col, dtype=torch.long) + ds.n_users
    return torch.stack([torch.cat([users, items]), torch.cat([items, users])])


def normalized_adjacency(ds: Dataset, which: str = "train") -> torch.Tensor:
    """Symmetrically normalised adjacency D^-1/2 A D^-1/2 as a torch sparse CSR tensor.

    Shape [n_users + n_items, n_users + n_items]; isolated nodes get zero rows.
    """
    return normalize_bipartite(ds.matrix(which))


def normalize_bipartite(r: sp.spmatrix) -> torch.Tensor:
    """Build D^-1/2 [[0, R], [R^T, 0]] D^-1/2 from a user x item matrix R."""
    r = sp.csr_matrix(r, dtype=np.float32)
    r.data[:] = 1.0
    n_users, n_items = r.shape
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    adj.resize((n_users + n_items, n_users + n_items))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    with np.errstate(divide="ignore"):
        inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0).astype(np.float32)
    norm = sp.diags(inv_sqrt) @ adj @ sp.diags(inv_sqrt)
    norm = norm.tocsr()
    norm.sort_indices()
    return torch.sparse_csr_tensor(
        torch.as_tensor(norm.indptr, dtype=torch.int64),
        torch.as_tensor(norm.indices, dtype=torch.int64),
        torch.as_tensor(norm.data, dtype=torch.float32),
        size=norm.shape,
    )
