r"""A validated gate between an ID-only and a text-fused recommender.

A fused model adds text to what an ID-only model already knows. Where the
texts carry the signal (genres, descriptions written from a community's
vocabulary) that helps; where they do not (titles alone, noise), the extra
inputs fit noise and the fused model ranks warm items worse than plain
LightGCN. Rather than trust either, the fused models keep both views and
blend their scores with one weight chosen on validation:

.. math::
    \hat y_{ui} = (1 - g)\, a_u^\top a_i + g\, f_u^\top f_i
    \qquad (u, i \text{ with training edges}),
    \qquad
    \hat y_{ui} = \big(g + (1 - g)\,\kappa\big)\, f_u^\top f_i
    \qquad (u \text{ or } i \text{ without}),

where :math:`a` is the ID-only view, :math:`f` the fused view (for a node
without training edges, its text-tower vector), :math:`g \in` :data:`GATE_GRID`
the weight chosen on validation NDCG@20 by the one-standard-error rule
(Hastie, Tibshirani & Friedman, *The Elements of Statistical Learning*,
section 7.10): the smallest weight whose mean NDCG@20 is within one standard
error of the best weight's, the error taken over users' paired differences.
Text must earn its place: a gain no larger than the noise of the validation
sample (stage 2 also trains the IDs a few epochs more, which alone moves
validation by about that much) leaves the weight at 0. And :math:`\kappa = \sqrt{E[(a_u^\top a_i)^2] /
E[(f_u^\top f_i)^2]}` over warm pairs puts text-only scores on the scale the
blend gives warm items. :math:`g = 0` is the ID-only model on warm items; the
grid contains 0, so on validation the gate is never worse than ID-only, and
cold items keep their text scores whatever :math:`g` is. The grid is a
search over one bounded scalar (five full rankings of the validation users),
cheap next to training.

How far cold items' text scores compete with warm items in one list is a
second weight, :math:`w \in` :data:`COLD_GRID`, multiplying every score of an
item without training edges. The text says how well a cold item suits a user,
not how likely anyone is to reach an item nobody has reached yet: on a random
split of MovieLens-100K the 43 items whose few ratings all fell into the test
part took places in warm users' top 10 at :math:`w = 1` (NDCG@10 .376 against
.434 with them below the warm items). So :math:`w` is chosen on validation
with cold items in the lists (the items the validation carve leaves without
training edges are the cold ones there) by the same rule, keeping the
*largest* weight within one standard error of the best: cold items stay in
lists as far as that costs nothing measurable. Their order among themselves
(ranking new items only) is the text's whatever :math:`w` is.

The blend is written as a dot product of block vectors, so scoring, top-k,
serving indexes and embedding views work unchanged:

===========  ================  =========  ====================  ====================
node         block 1           block 2    block 3               block 4
===========  ================  =========  ====================  ====================
warm user    √(1-g) a          √g f       √((1-g)κ) f           0
cold user    0                 √g f       0                     √((1-g)κ) f
warm item    √(1-g) a          √g f       0                     √((1-g)κ) f
cold item    0                 √g f       √((1-g)κ) f           √((1-g)κ) f
===========  ================  =========  ====================  ====================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

#: Text weights tried on validation, ascending (ties keep the smaller one).
GATE_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Weights of cold items' text scores against warm items' scores, tried on validation
#: (ties keep the larger one).
COLD_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


def blend(id_users: Tensor, id_items: Tensor, fused_users: Tensor, fused_items: Tensor,
          warm_users: Tensor, warm_items: Tensor, gate: float,
          ratio: float) -> tuple[Tensor, Tensor]:
    """Block user and item vectors [*, d_a + 3 d_f] of the blend (module docstring)."""
    g = float(min(max(gate, 0.0), 1.0))
    a, b, c = (1 - g) ** 0.5, g ** 0.5, ((1 - g) * max(ratio, 0.0)) ** 0.5
    wu, wi = warm_users.unsqueeze(1).float(), warm_items.unsqueeze(1).float()  # [U, 1], [I, 1]
    users = torch.cat([a * wu * id_users, b * fused_users, c * wu * fused_users,
                       c * (1 - wu) * fused_users], dim=1)
    items = torch.cat([a * wi * id_items, b * fused_items, c * (1 - wi) * fused_items,
                       c * fused_items], dim=1)
    return users, items


def score_ratio(id_users: Tensor, id_items: Tensor, fused_users: Tensor, fused_items: Tensor,
                warm_users: Tensor, warm_items: Tensor, sample: int = 256) -> float:
    """κ: root-mean-square ID-only score over root-mean-square fused score, warm pairs."""
    users = torch.nonzero(warm_users).flatten()[:sample]
    items = torch.nonzero(warm_items).flatten()
    if len(users) == 0 or len(items) == 0:
        return 1.0
    ids = id_users[users] @ id_items[items].T  # [S, I_warm]
    fused = fused_users[users] @ fused_items[items].T
    denominator = float(fused.pow(2).mean().sqrt())
    return float(ids.pow(2).mean().sqrt()) / denominator if denominator > 0 else 1.0


def select_gate(validate: Callable[[], np.ndarray], set_gate: Callable[[float], None],
                grid=GATE_GRID, prefer: str = "smallest") -> tuple[float, dict[float, float]]:
    """The weight the one-standard-error rule picks, and each weight's mean value.

    ``set_gate(g)`` makes the model score with weight ``g``; ``validate()``
    returns per-user values (the same users in the same order every call). The
    chosen weight is the smallest in ``grid`` (``prefer="largest"``: the
    largest) whose mean is at least the best mean minus the standard error of
    the per-user differences to the best; it is set when this returns.
    """
    if prefer not in ("smallest", "largest"):
        raise ValueError(f"prefer must be 'smallest' or 'largest', not {prefer!r}")
    per_user: dict[float, np.ndarray] = {}
    for g in grid:
        set_gate(g)
        per_user[g] = np.asarray(validate(), dtype=np.float64)
    means = {g: float(v.mean()) if len(v) else 0.0 for g, v in per_user.items()}
    sign = -1 if prefer == "smallest" else 1
    best = max(grid, key=lambda g: (means[g], sign * g))
    chosen = best
    for g in sorted(grid, reverse=prefer == "largest"):
        diff = per_user[best] - per_user[g]
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        if means[g] >= means[best] - se:
            chosen = g
            break
    set_gate(chosen)
    return chosen, means


def per_user_ndcg(model, ds, part: str = "valid", k: int = 20,
                  batch_size: int = 1024) -> np.ndarray:
    """NDCG@k of every user with held-out items in ``part``, in user order (full ranking)."""
    from recsys_core.evaluate import batch_top_k_metrics

    held_out = ds.matrix(part)
    users = np.flatnonzero(np.diff(held_out.indptr) > 0)
    out = []
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        with torch.no_grad():
            scores = model.score(torch.as_tensor(batch, dtype=torch.long)).float().clone()
        values = batch_top_k_metrics(scores, ds, batch, part, (k,))[f"ndcg@{k}"]
        out.append(values.double().numpy())
    return np.concatenate(out) if out else np.zeros(0)
