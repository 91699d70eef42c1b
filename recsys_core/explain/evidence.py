"""Evidence for one recommendation: structured facts, each with a numeric strength.

Four kinds, all taken from the model and the training graph, never invented:

- ``history``: the user's training items whose edge raises the item's score
  most, measured by removing the edge and re-scoring; ``effect`` is the score
  drop. How depends on the model, first match wins, and
  ``Evidence.influence_method`` names it:

  1. LightGCN (ego embeddings + mean of normalised propagations, verified by
     reproducing the model's scores): exact batched re-propagation of the two
     rows that matter (:func:`recsys_core.explain.influence.removal_scores`);
  2. other models whose module reads its graph from one attribute
     (``edge_index`` or ``adj``, e.g. the seed GNN, Text-LightGCN): the model's
     own forward pass on a copy whose graph lacks the edge, exact for the
     graph; Text-LightGCN keeps its layer-0 text features, which in a full
     rebuild would also lose the item from the user's text mean;
  3. models that give each history item's effect themselves
     (``history_effects(u, i, history) -> (effects, method)``; EASE, whose
     score is a sum of item-item weights, so the effect is exact);
  4. models with item embeddings only (MF): leave-one-out fold-in
     (:func:`recsys_core.explain.influence.foldin_effects`);
  5. otherwise (popularity) the history has no effect and none is cited.
- ``paths``: collaborative paths user -> liked item -> other user -> item,
  ``users`` counting the other people who liked both items.
- ``text`` and ``tags``: text similarity between the item and history items
  (cosine of text embeddings) and the item's genres/tags shared with the history.
- ``popularity``: training interactions, popularity rank and recent activity.

"Liked" means any training interaction on implicit data and a rating at or
above the median training rating on explicit data.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from recsys_core.data.dataset import Dataset
from recsys_core.explain import influence
from recsys_core.graph import normalize_bipartite

#: Recent activity window for popularity evidence, in days before the last timestamp.
RECENT_DAYS = 30.0
#: Longest item description carried as evidence (characters).
DESCRIPTION_CHARS = 300
#: Columns of ``Dataset.items`` read as genres or tags.
TAG_COLUMNS = ("genres", "genre", "tags", "tag", "categories", "category")


@dataclass(frozen=True)
class HistoryEvidence:
    """A history item and how much its edge raises the recommended item's score."""

    item_id: Any  # original item id
    title: str
    effect: float  # score(u, i) minus the score once the edge (u, item) is removed
    share: float  # effect / sum of all positive effects in the history, 0..1
    liked: bool  # rating at or above the like threshold (always True on implicit data)
    rating: float | None  # the user's rating (None on implicit data)

    @property
    def strength(self) -> float:
        return self.effect


@dataclass(frozen=True)
class PathEvidence:
    """user -> liked ``via`` item -> ``users`` other people -> recommended item."""

    via_id: Any
    via_title: str
    users: int  # other people who liked both the via item and the recommended item
    via_users: int  # other people who liked the via item

    @property
    def strength(self) -> float:
        """Share of the via item's other fans who also liked the recommended item, 0..1."""
        return self.users / self.via_users if self.via_users else 0.0


@dataclass(frozen=True)
class TextEvidence:
    """Text similarity between the recommended item and one history item."""

    item_id: Any
    title: str
    similarity: float  # cosine similarity of text embeddings, -1..1
    shared_tags: tuple[str, ...]  # genres/tags both items carry

    @property
    def strength(self) -> float:
        return self.similarity


@dataclass(frozen=True)
class TagEvidence:
    """A genre/tag of the recommended item and how many history items carry it."""

    tag: str
    history_items: int  # history items with this tag
    history_size: int  # all history items

    @property
    def strength(self) -> float:
        return self.history_items / self.history_size if self.history_size else 0.0


@dataclass(frozen=True)
class PopularityEvidence:
    """How popular and how recently active the recommended item is."""

    interactions: int  # training interactions with the item
    rank: int  # 1 = most interacted item in the catalogue
    n_items: int  # catalogue size
    percentile: float  # % of catalogue items with fewer interactions, 0..100
    recent: int | None  # interactions in the last RECENT_DAYS days of the data (None: no timestamps)
    recent_days: float = RECENT_DAYS

    @property
    def strength(self) -> float:
        return self.percentile / 100.0


@dataclass
class Evidence:
    """Everything an explanation may say about one (user, item) pair."""

    user_id: Any
    item_id: Any
    item_title: str
    model: str
    score: float  # the model's score for the pair
    rank: int | None  # rank of the item among the user's unseen items (1 = top)
    history_size: int
    influence_method: str  # how ``history`` effects were measured
    history: list[HistoryEvidence] = field(default_factory=list)
    paths: list[PathEvidence] = field(default_factory=list)
    text: list[TextEvidence] = field(default_factory=list)
    text_method: str = "none"
    tags: list[TagEvidence] = field(default_factory=list)
    popularity: PopularityEvidence | None = None
    description: str = ""  # the recommended item's description (data, never instructions)
    #: Every history item's effect (columns item_id, title, effect), strongest first.
    influence_table: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    # ------------------------------------------------------------ views
    def item_titles(self) -> set[str]:
        """Titles the evidence mentions: the recommended item and every cited item."""
        titles = {self.item_title}
        titles.update(h.title for h in self.history)
        titles.update(p.via_title for p in self.paths)
        titles.update(t.title for t in self.text)
        return titles

    def numbers(self) -> list[float]:
        """Every number the evidence holds, in the units a sentence would use."""
        values: list[float] = [float(self.history_size), float(len(self.history)), self.score]
        if self.rank is not None:
            values.append(float(self.rank))
        for h in self.history:
            values += [h.share, h.share * 100.0, h.effect]
            if h.rating is not None:
                values.append(h.rating)
        for p in self.paths:
            values += [p.users, p.via_users, p.strength * 100.0]
        for t in self.text:
            values += [t.similarity, t.similarity * 100.0, len(t.shared_tags)]
        for g in self.tags:
            values += [g.history_items, g.history_size, g.strength * 100.0]
        if self.popularity is not None:
            pop = self.popularity
            values += [pop.interactions, pop.rank, pop.n_items, pop.percentile,
                       100.0 - pop.percentile]
            if pop.recent is not None:
                values += [pop.recent, pop.recent_days]
        return [float(v) for v in values]

    def to_frame(self) -> pd.DataFrame:
        """One row per piece of evidence: kind, item_id, title, strength, detail."""
        rows = []
        for h in self.history:
            rows.append(("history", h.item_id, h.title, h.strength,
                         f"score drop {h.effect:.4g} when removed"))
        for p in self.paths:
            rows.append(("path", p.via_id, p.via_title, p.strength,
                         f"{p.users} of {p.via_users} people who liked it also liked the item"))
        for t in self.text:
            rows.append(("text", t.item_id, t.title, t.strength,
                         f"similarity {t.similarity:.2f}; shared: {', '.join(t.shared_tags)}"))
        for g in self.tags:
            rows.append(("tag", None, g.tag, g.strength,
                         f"{g.history_items} of {g.history_size} history items"))
        if self.popularity is not None:
            pop = self.popularity
            rows.append(("popularity", self.item_id, self.item_title, pop.strength,
                         f"{pop.interactions} interactions, rank {pop.rank} of {pop.n_items}"))
        return pd.DataFrame(rows, columns=["kind", "item_id", "title", "strength", "detail"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready evidence (what an LLM prompt and ``--json`` carry)."""
        def clean(obj: Any) -> Any:
            if isinstance(obj, dict):
                return {k: clean(v) for k, v in obj.items()}
            if isinstance(obj, list | tuple):
                return [clean(v) for v in obj]
            if isinstance(obj, np.generic):
                return obj.item()
            if isinstance(obj, float):
                return round(obj, 4)
            return obj

        return clean({
            "user": self.user_id,
            "recommended_item": {"id": self.item_id, "title": self.item_title,
                                 "description": self.description,
                                 "rank_for_user": self.rank},
            "model": self.model,
            "history_size": self.history_size,
            "history_influence": {
                "method": self.influence_method,
                "items": [asdict(h) for h in self.history],
            },
            "collaborative_paths": [
                {**asdict(p), "share_percent": round(p.strength * 100.0)} for p in self.paths
            ],
            "text_similarity": {"method": self.text_method,
                                "items": [asdict(t) for t in self.text]},
            "shared_tags": [asdict(g) for g in self.tags],
            "popularity": asdict(self.popularity) if self.popularity else None,
        })


# ---------------------------------------------------------------- extraction
def gather(model, ds: Dataset, user: Any, item: Any, *, top: int = 3,
           text_embeddings: np.ndarray | None = None) -> Evidence:
    """Evidence for original user id ``user`` and original item id ``item``."""
    u = ds.user_index(user)
    i = ds.item_index(item)
    ctx = graph_context(ds)
    history, ratings = ctx.history(u)
    keep = history != i  # an item seen already is not its own reason
    history, ratings = history[keep], ratings[keep]
    like_at = ctx.like_at
    liked = ratings >= like_at if ds.explicit else np.ones(len(history), dtype=bool)

    with torch.no_grad():
        all_scores = model.score(torch.tensor([u])).float()[0].numpy()  # [n_items]
    score = float(all_scores[i])
    rank = _rank(ctx.seen, u, i, all_scores)

    method, table = history_effects(model, ds, u, i, history, ctx)
    positive = table[table["effect"] > 0]
    total = float(positive["effect"].sum())
    rating_of = dict(zip(history.tolist(), ratings.tolist()))
    liked_of = dict(zip(history.tolist(), liked.tolist()))
    cited = [
        HistoryEvidence(
            item_id=_py(ds.item_ids[h]), title=ctx.titles[h], effect=float(e),
            share=float(e) / total if total > 0 else 0.0, liked=bool(liked_of[h]),
            rating=float(rating_of[h]) if ds.explicit else None,
        )
        for h, e in zip(positive["item"].head(top), positive["effect"].head(top))
    ]
    table = table.assign(item_id=[_py(ds.item_ids[h]) for h in table["item"]],
                         title=[ctx.titles[h] for h in table["item"]])

    text_method, text = text_evidence(ds, i, history, top, text_embeddings, model)
    return Evidence(
        user_id=_py(ds.user_ids[u]), item_id=_py(ds.item_ids[i]), item_title=ctx.titles[i],
        model=getattr(model, "name", type(model).__name__), score=score, rank=rank,
        history_size=len(history), influence_method=method, history=cited,
        paths=collaborative_paths(ds, u, i, history[liked], top, ctx.likes),
        text=text, text_method=text_method, tags=tag_evidence(ds, i, history),
        popularity=popularity_evidence(ctx, i), description=_description(ds, i),
        influence_table=table,
    )


class GraphContext:
    """Per-dataset structures every explanation reuses (built once, cached by content hash)."""

    def __init__(self, ds: Dataset):
        train = ds.train_interactions
        self.like_at = like_threshold(ds)
        self.removal = influence.RemovalGraph(ds.matrix("train"))  # exact edge-removal support
        self.seen = ds.seen_matrix().tocsr()  # [U, I] items masked when ranking
        last = train.drop_duplicates(["user", "item"], keep="last").sort_values(
            ["user", "item"], kind="stable")
        self._hist_items = last["item"].to_numpy(np.int64)
        self._hist_ratings = last["rating"].to_numpy(np.float64)
        self._hist_ptr = np.searchsorted(last["user"].to_numpy(np.int64),
                                         np.arange(ds.n_users + 1))
        liked = train[train["rating"] >= self.like_at] if ds.explicit else train
        likes = sp.csr_matrix((np.ones(len(liked), dtype=np.float32),
                               (liked["user"].to_numpy(), liked["item"].to_numpy())),
                              shape=(ds.n_users, ds.n_items))
        likes.sum_duplicates()
        likes.data[:] = 1.0
        self.likes = likes.tocsc()  # [U, I] binary: who liked what
        self.counts = np.bincount(train["item"].to_numpy(np.int64), minlength=ds.n_items)
        ts = train["timestamp"].to_numpy(np.float64)
        self.recent_counts = None
        if len(ts) and np.isfinite(ts).any():
            recent = train["item"].to_numpy(np.int64)[ts >= np.nanmax(ts) - RECENT_DAYS * 86400.0]
            self.recent_counts = np.bincount(recent, minlength=ds.n_items)

        self.tags = _all_item_tags(ds)  # [n_items] genres/tags per item
        self.titles = [ds.item_title(i) for i in range(ds.n_items)]  # [n_items] display names

    def history(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """The user's training items (sorted) and ratings (the last one per item)."""
        a, b = self._hist_ptr[u], self._hist_ptr[u + 1]
        return self._hist_items[a:b], self._hist_ratings[a:b]


_CONTEXT: dict[tuple[str, str], GraphContext] = {}
#: Datasets whose contexts are kept (a few sessions or splits at once).
CONTEXT_SLOTS = 4


def dataset_key(ds: Dataset) -> tuple[str, str]:
    """Identity of a dataset *and* its split: content hash plus a digest of the training pairs.

    Computed once per Dataset object (split and replace make new objects).
    """
    cached = ds.__dict__.get("_explain_key")
    if cached is not None:
        return cached
    train = ds.train_interactions
    digest = hashlib.blake2b(digest_size=8)
    digest.update(np.ascontiguousarray(train["user"].to_numpy(np.int64)).tobytes())
    digest.update(np.ascontiguousarray(train["item"].to_numpy(np.int64)).tobytes())
    digest.update(np.ascontiguousarray(train["rating"].to_numpy(np.float64)).tobytes())
    ds.__dict__["_explain_key"] = key = (ds.content_hash(), digest.hexdigest())
    return key


def graph_context(ds: Dataset) -> GraphContext:
    """The cached :class:`GraphContext` of a dataset and split."""
    key = dataset_key(ds)
    if key not in _CONTEXT:
        while len(_CONTEXT) >= CONTEXT_SLOTS:
            _CONTEXT.pop(next(iter(_CONTEXT)))  # oldest first
        _CONTEXT[key] = GraphContext(ds)
    return _CONTEXT[key]


def like_threshold(ds: Dataset) -> float:
    """Rating at or above which an interaction counts as liked (median training rating)."""
    if not ds.explicit or len(ds.train_interactions) == 0:
        return -np.inf
    return float(np.median(ds.train_interactions["rating"].to_numpy(np.float64)))


def history_effects(model, ds: Dataset, u: int, i: int, history: np.ndarray,
                    ctx: GraphContext | None = None) -> tuple[str, pd.DataFrame]:
    """Each history item's effect on the score of item ``i`` (columns item, effect), sorted."""
    ctx = ctx or graph_context(ds)
    # Items without training edges are scored by other means (text towers), not propagation.
    has_edges = ctx.removal.r_csc.indptr[i + 1] > ctx.removal.r_csc.indptr[i]
    spec = propagation_spec(model, ds) if has_edges else None
    if spec is not None and len(history):
        base, without = influence.removal_scores(ctx.removal, spec, u, i, history)
        method = "edge removal with exact LightGCN re-propagation" + (
            " (layer-0 features kept)" if _layer0(model) is not None else "")
    elif len(history) and _graph_attribute(model) is not None:
        base, without = _rescored_without_edges(model, ctx, u, i, history)
        method = ("edge removal: the model's own forward pass on the graph without the edge"
                  + (" (layer-0 features kept)" if _graph_attribute(model) == "adj" else ""))
    elif len(history) and callable(getattr(model, "history_effects", None)):
        # Item-item models (EASE) know each history item's exact share of the score.
        effects, method = model.history_effects(u, i, history)
        base, without = 0.0, -np.asarray(effects, dtype=np.float64)
    elif len(history) and _item_embeddings(model) is not None:
        base, without = influence.foldin_effects(_item_embeddings(model), history, i)
        method = "fold-in: ridge user vector from item embeddings, leaving each item out"
    else:
        base, without = 0.0, np.zeros(len(history))
        method = ("none: the model's score does not depend on the user's history"
                  if len(history) else "none: the user has no training history")
    table = pd.DataFrame({"item": history, "effect": base - np.asarray(without)})
    table = table.sort_values("effect", ascending=False, kind="stable").reset_index(drop=True)
    return method, table


def _graph_attribute(model) -> str | None:
    """Which graph the model's module reads: 'edge_index' [2, E] or 'adj' (normalised CSR)."""
    module = getattr(model, "module_", None)
    if module is None or not callable(getattr(model, "invalidate", None)):
        return None
    for name in ("edge_index", "adj"):
        if isinstance(getattr(module, name, None), torch.Tensor):
            return name
    return None


def _rescored_without_edges(model, ctx: GraphContext, u: int, i: int, history: np.ndarray
                            ) -> tuple[float, np.ndarray]:
    """Score of (u, i) from a shallow copy of the model whose graph lacks each edge in turn.

    Exact for any model whose module reads its graph from one attribute; the
    shared model is never modified.
    """
    name = _graph_attribute(model)
    n_users = ctx.removal.n_users
    r = ctx.removal.r

    def score_with(graph) -> float:
        clone = copy.copy(model)
        clone.module_ = copy.copy(model.module_)
        setattr(clone.module_, name, graph)
        clone.invalidate()
        with torch.no_grad():
            return float(clone.score([u], [i])[0, 0])

    with torch.no_grad():
        base = float(model.score([u], [i])[0, 0])
    scores = np.empty(len(history))
    for j, h in enumerate(history):
        if name == "edge_index":
            edges = model.module_.edge_index
            a, b = edges[0], edges[1]
            keep = ~(((a == u) & (b == n_users + h)) | ((a == n_users + h) & (b == u)))
            scores[j] = score_with(edges[:, keep])
        else:
            reduced = r.copy()
            row = slice(reduced.indptr[u], reduced.indptr[u + 1])
            reduced.data[row][reduced.indices[row] == h] = 0.0
            reduced.eliminate_zeros()
            scores[j] = score_with(normalize_bipartite(reduced))
    return base, scores


def propagation_spec(model, ds: Dataset) -> influence.PropagationSpec | None:
    """LightGCN layer-0 embeddings and layer weights, if the model propagates that way.

    The spec is trusted only if it reproduces the model's own scores for a
    few users; otherwise None and the caller uses the fold-in.
    """
    source = _ego_tensor(model)
    if source is None:
        return None
    # Reading and verifying costs a full propagation: keep the verdict while the
    # weights are unchanged (in-place optimiser steps bump a tensor's version).
    key = (_state_key(model), dataset_key(ds))
    cached = _SPEC_CACHE.get(id(model))
    if cached is not None and cached[0] == key:
        return cached[1]
    spec = _infer_spec(model, ds, source)
    if spec is not None and not _reproduces_scores(model, ds, spec):
        spec = None
    if len(_SPEC_CACHE) > 8:
        _SPEC_CACHE.clear()
    _SPEC_CACHE[id(model)] = (key, spec)
    return spec


_SPEC_CACHE: dict[int, tuple[tuple, influence.PropagationSpec | None]] = {}


def _state_key(model) -> tuple:
    """Identity and version of every tensor in the module's state (weights and buffers
    such as a text gate): any in-place change or reassignment gives a new key."""
    state = model.module_.state_dict(keep_vars=True)
    return tuple((name, id(t), t.data_ptr(), t._version) for name, t in state.items())


def _ego_tensor(model) -> torch.Tensor | None:
    """The trainable [n_users + n_items, d] layer-0 embedding table, if the model has one."""
    if not isinstance(getattr(model, "layers", None), int):
        return None
    module = getattr(model, "module_", None)
    embedding = getattr(module, "embedding", None) if module is not None else None
    weight = getattr(embedding, "weight", None)
    return weight if isinstance(weight, torch.Tensor) else None


def _layer0(model) -> Callable[[], torch.Tensor] | None:
    """The module's own layer-0 table whose propagation scores warm pairs, if it has one.

    ``warm_layer0`` (a gated Text-LightGCN: ID-only and fused blocks side by side)
    wins over ``ego_all`` (ID plus projected text).
    """
    module = getattr(model, "module_", None)
    for name in ("warm_layer0", "ego_all"):
        table = getattr(module, name, None)
        if callable(table):
            return table
    return None


def _infer_spec(model, ds: Dataset, source: torch.Tensor) -> influence.PropagationSpec | None:
    """LightGCN reading of the model: ego embeddings, equal layer weights 1 / (L + 1).

    A module with its own layer-0 table (:func:`_layer0`, e.g. Text-LightGCN's ID
    plus projected text) propagates that instead of its ID table.
    """
    layer0 = _layer0(model)
    if layer0 is not None:
        with torch.no_grad():
            source = layer0()
    emb0 = source.detach().cpu().double().numpy()  # [N, d]
    if emb0.shape[0] != ds.n_users + ds.n_items:
        return None
    layers = model.layers
    weights = np.full(layers + 1, 1.0 / (layers + 1))
    return influence.PropagationSpec(emb0=emb0, layer_weights=weights, n_users=ds.n_users)


def _reproduces_scores(model, ds: Dataset, spec: influence.PropagationSpec) -> bool:
    removal = graph_context(ds).removal
    final = influence.propagate_full(removal.adj, spec)  # [N, d]
    # Users with training edges: only their scores come from propagation (as for items).
    warm_users = np.flatnonzero(np.diff(removal.r.indptr) > 0)
    if len(warm_users) == 0:
        return False
    users = warm_users[np.unique(np.linspace(0, len(warm_users) - 1,
                                             num=min(4, len(warm_users))).astype(int))]
    with torch.no_grad():
        theirs = model.score(torch.as_tensor(users)).double().numpy()  # [B, n_items]
    ours = final[users] @ final[ds.n_users:].T
    # Compare items with training edges: only their scores come from propagation.
    warm = np.diff(removal.r_csc.indptr) > 0
    theirs, ours = theirs[:, warm], ours[:, warm]
    return bool(np.allclose(ours, theirs, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(theirs).max())))


def _item_embeddings(model) -> np.ndarray | None:
    try:
        emb = model.item_embeddings()
    except (AttributeError, NotImplementedError, RuntimeError):
        return None
    return None if emb is None else np.asarray(emb, dtype=np.float64)


def _rank(seen: sp.csr_matrix, u: int, i: int, scores: np.ndarray) -> int | None:
    seen_items = seen.indices[seen.indptr[u]:seen.indptr[u + 1]]
    if i in set(seen_items.tolist()):
        return None
    mask = np.ones(len(scores), dtype=bool)
    mask[seen_items] = False
    return int((scores[mask] > scores[i]).sum()) + 1


def collaborative_paths(ds: Dataset, u: int, i: int, liked_history: np.ndarray, top: int,
                        likes: sp.csc_matrix) -> list[PathEvidence]:
    """Top ``top`` paths u -> h -> other users -> i by the number of other users.

    ``likes`` is the binary [n_users, n_items] matrix of liked interactions.
    """
    if len(liked_history) == 0:
        return []
    fans_i = likes[:, i].toarray().ravel() > 0
    fans_i[u] = False
    sub = likes[:, liked_history]  # [n_users, H]
    both = np.asarray(sub[fans_i].sum(axis=0)).ravel().astype(int)  # [H]
    via = np.asarray(sub.sum(axis=0)).ravel().astype(int) - 1  # other fans of h (u is one)
    order = np.lexsort((-via, -both))  # most shared fans first, then the bigger community
    return [
        PathEvidence(via_id=_py(ds.item_ids[liked_history[j]]),
                     via_title=item_title(ds, liked_history[j]),
                     users=int(both[j]), via_users=int(max(via[j], both[j])))
        for j in order[:top] if both[j] > 0
    ]


def text_evidence(ds: Dataset, i: int, history: np.ndarray, top: int,
                  text_embeddings: np.ndarray | None, model=None
                  ) -> tuple[str, list[TextEvidence]]:
    """History items most similar in text to item ``i``, with shared tags."""
    if len(history) == 0:
        return "none", []
    method, emb = _text_vectors(ds, text_embeddings, model)
    if emb is None:
        return "none", []
    if sp.issparse(emb):
        sims = np.asarray((emb[history] @ emb[i].T).todense()).ravel()
    else:
        sims = emb[history] @ emb[i]
    tags_i = set(item_tags(ds, i))
    order = np.argsort(-sims, kind="stable")[:top]
    return method, [
        TextEvidence(item_id=_py(ds.item_ids[history[j]]), title=item_title(ds, history[j]),
                     similarity=float(sims[j]),
                     shared_tags=tuple(t for t in item_tags(ds, history[j]) if t in tags_i))
        for j in order if sims[j] > 0
    ]


_TFIDF_CACHE: dict[str, sp.csr_matrix] = {}


def _text_vectors(ds: Dataset, given: np.ndarray | None, model) -> tuple[str, Any]:
    """Row-normalised item text vectors: given, the model's own, or TF-IDF of item texts."""
    if given is not None:
        return "text embeddings", _normalise(np.asarray(given, dtype=np.float64))
    for name in ("item_text_embeddings_", "item_text_", "text_embeddings_"):
        own = getattr(model, name, None)
        if own is not None:
            own = own.detach().cpu().numpy() if isinstance(own, torch.Tensor) else own
            if len(own) == ds.n_items:
                return "the model's text embeddings", _normalise(np.asarray(own, np.float64))
    if not ds.item_texts or not any(t.strip() for t in ds.item_texts):
        return "none", None
    key = ds.content_hash()
    if key not in _TFIDF_CACHE:
        _TFIDF_CACHE.clear()  # one dataset at a time is plenty
        _TFIDF_CACHE[key] = tfidf(ds.item_texts)
    return "TF-IDF of item texts", _TFIDF_CACHE[key]


_STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was "
    "were with who whom which what when where while their they them his her he she you your "
    "we our us i me my not no but so than then there these those into out up down over "
    "about after before all any each more most some such only own same too very can will "
    "just one two".split())
_TOKEN = re.compile(r"[^\W\d_]{2,}")


def tfidf(texts: list[str]) -> sp.csr_matrix:
    """[n, vocabulary] L2-normalised TF-IDF rows: sublinear tf, smoothed idf, stop words dropped.

    tf = 1 + log(count); idf = 1 + log((1 + n) / (1 + df)).
    """
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for r, text in enumerate(texts):
        counts: dict[int, int] = {}
        for token in _TOKEN.findall(text.casefold()):
            if token not in _STOP_WORDS:
                j = vocab.setdefault(token, len(vocab))
                counts[j] = counts.get(j, 0) + 1
        rows += [r] * len(counts)
        cols += list(counts)
        vals += list(counts.values())
    m = sp.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)),
                      shape=(len(texts), len(vocab)))
    m.data = 1.0 + np.log(m.data)
    df = np.bincount(m.indices, minlength=len(vocab))
    m = m @ sp.diags(1.0 + np.log((1.0 + len(texts)) / (1.0 + df)))
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ m).tocsr()


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def item_tags(ds: Dataset, i: int) -> list[str]:
    """Genres/tags of item ``i`` from the metadata, in their listed order."""
    return graph_context(ds).tags[i]


def item_title(ds: Dataset, i: int) -> str:
    """The item's display title (cached per dataset)."""
    return graph_context(ds).titles[int(i)]


def _all_item_tags(ds: Dataset) -> list[list[str]]:
    tags: list[list[str]] = [[] for _ in range(ds.n_items)]
    for col in TAG_COLUMNS:
        if col not in ds.items.columns:
            continue
        for i, value in enumerate(ds.items[col].tolist()):
            if isinstance(value, list | tuple | np.ndarray):
                parts = [str(v) for v in value]
            elif isinstance(value, str):
                parts = re.split(r"[|,;]", value)
            else:
                continue
            for p in parts:
                p = p.strip()
                if p and p not in tags[i]:
                    tags[i].append(p)
    return tags


def tag_evidence(ds: Dataset, i: int, history: np.ndarray) -> list[TagEvidence]:
    """The item's tags with how many history items share each, most shared first."""
    tags_i = item_tags(ds, i)
    if not tags_i or len(history) == 0:
        return []
    counts = {t: 0 for t in tags_i}
    for h in history:
        for t in set(item_tags(ds, int(h))) & counts.keys():
            counts[t] += 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return [TagEvidence(tag=t, history_items=c, history_size=len(history))
            for t, c in ranked if c > 0]


def popularity_evidence(ctx: GraphContext, i: int) -> PopularityEvidence:
    counts = ctx.counts
    c = int(counts[i])
    return PopularityEvidence(
        interactions=c, rank=int((counts > c).sum()) + 1, n_items=len(counts),
        percentile=round(100.0 * float((counts < c).sum()) / max(len(counts), 1), 1),
        recent=None if ctx.recent_counts is None else int(ctx.recent_counts[i]),
    )


def _description(ds: Dataset, i: int) -> str:
    for col in ("description", "overview", "summary"):
        if col in ds.items.columns:
            value = ds.items[col].iat[i]
            if isinstance(value, str) and value.strip():
                text = " ".join(value.split())
                return text if len(text) <= DESCRIPTION_CHARS else text[:DESCRIPTION_CHARS] + "..."
    return ""


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
