"""FAISS top-k: the recall gate, the cache beside the run, and agreement with exact scoring."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data.synthetic import generate
from recsys_core.models import make
from recsys_core.runs import RunStore
from recsys_core.serve import topk
from recsys_core.serve.runs import open_run, prepare_index


@pytest.fixture(scope="module")
def mf_run(tmp_path_factory):
    """MF on 3,000 items: enough IVF cells for the search parameter to matter."""
    ds = generate(seed=5, n_users=400, n_items=3000, n_interactions=24_000).to_dataset("wide")
    ds = ds.split("random", test=0.2, valid=0.1, seed=0)
    # Settings pinned: the index gate is tested on embeddings with clear cluster structure
    # (64 dimensions, six epochs at a large step), not on whatever MF's defaults are.
    model = make("mf", dim=64, lr=1e-2, reg=1e-4, epochs=6, seed=0).fit(ds)
    store = RunStore(tmp_path_factory.mktemp("topk-home"))
    return store, store.save(model, ds, {}), model, ds


def test_exact_top_k_matches_recommend(mf_run):
    _, _, model, ds = mf_run
    seen = topk.SeenItems(ds)
    for u in (0, 17, 399):
        idx, scores = topk.exact_top_k(model, u, 20, seen.of(u))
        items, expected = model.recommend([ds.user_ids[u]], k=20)
        assert list(ds.item_ids[idx]) == list(items[0])
        np.testing.assert_array_equal(scores, expected[0])


def test_recall_is_measured_by_hand_on_a_tiny_case():
    class Fixed:  # scores = U @ I.T; the "index" returns a fixed list
        def score(self, users):
            import torch

            return torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])

    class HalfRight:
        def search(self, user, k, exclude, blocked=None):
            return np.array([0, 4, 3, 2, 1])[:k], np.zeros(k)

    class NoSeen:
        def of(self, u):
            return np.array([], dtype=np.int64)

    # exact top 2 = {0, 1}; the index's top 2 = {0, 4}: recall@2 = 1/2
    recall = topk.measure_recall(HalfRight(), Fixed(), NoSeen(), np.array([0]), ks=(2, 5))
    assert recall == {2: 0.5, 5: 1.0}


def test_a_good_index_passes_the_gate_and_agrees_with_exact(mf_run):
    _, _, model, ds = mf_run
    seen = topk.SeenItems(ds)
    engine, decision = topk.build_index(model, ds, seen, "ivf", sample_users=200)
    assert decision.used, decision.reason
    assert decision.record.recall_at_10 >= topk.RECALL_TARGET
    assert decision.record.nlist == 3000 // 39  # too few items for 4 sqrt(n) cells
    # the chosen nprobe is the first that reached the target
    trials = decision.record.trials
    assert trials[-1]["search"] == decision.record.search
    assert all(t["recall@10"] < topk.RECALL_TARGET for t in trials[:-1])
    overlap = []
    for u in range(0, 400, 40):
        exact, _ = topk.exact_top_k(model, u, 10, seen.of(u))
        approx, _ = engine.search(u, 10, seen.of(u))
        assert not set(approx) & set(seen.of(u))
        overlap.append(len(set(exact) & set(approx)) / 10)
    assert np.mean(overlap) >= 0.9


def test_a_deliberately_bad_index_is_refused(mf_run):
    _, _, model, ds = mf_run
    seen = topk.SeenItems(ds)
    engine, decision = topk.build_index(model, ds, seen, "ivf", search=1, sample_users=200)
    assert engine is None and not decision.used
    assert "refused: recall@10" in decision.reason and "nprobe=1" in decision.reason
    assert decision.record.recall_at_10 < topk.RECALL_TARGET


def test_hnsw_passes_the_gate(mf_run):
    _, _, model, ds = mf_run
    engine, decision = topk.build_index(model, ds, topk.SeenItems(ds), "hnsw", sample_users=100)
    assert decision.used, decision.reason


def test_models_without_dot_product_embeddings_are_served_exactly(mf_run):
    _, _, _, ds = mf_run
    popularity = make("popularity").fit(ds)
    engine, decision = topk.build_index(popularity, ds, topk.SeenItems(ds))
    assert engine is None and "exact scoring" in decision.reason


def test_index_is_cached_beside_the_run_and_a_bad_cached_one_is_refused(mf_run):
    import faiss

    store, run_id, _, _ = mf_run
    run = open_run(store, run_id, index="faiss")
    assert run.engine is not None and run.index.used
    folder = store.runs_dir / run_id / "serving"
    assert (folder / "ivf.faiss").is_file() and (folder / "ivf.json").is_file()
    again = open_run(store, run_id, index="faiss")  # loaded from the cache, re-measured
    assert again.index.used and again.engine.record.search == run.engine.record.search

    # Swap in an index built with bad settings: one cell probed out of many.
    bad, _ = topk.build_index(run.model, run.ds, run.seen, "ivf", search=1, sample_users=10,
                              target=0.0)
    faiss.write_index(bad.index, str(folder / "ivf.faiss"))
    record = folder / "ivf.json"
    record.write_text(record.read_text().replace(f'"search": {run.engine.record.search}',
                                                 '"search": 1'))
    refused, decision = topk.load_index(run.model, run.ds, run.seen, folder, "ivf")
    assert refused is None and "refused" in decision.reason
    engine, decision = prepare_index(store, run, "ivf", topk.RECALL_TARGET)  # rebuilt
    assert engine is not None and decision.used

    (folder / "ivf.faiss").write_bytes(b"not an index")
    refused, decision = topk.load_index(run.model, run.ds, run.seen, folder, "ivf")
    assert refused is None and "unreadable" in decision.reason


def test_served_list_with_index_drops_seen_items(mf_run):
    store, run_id, _, ds = mf_run
    run = open_run(store, run_id, index="faiss")
    for u in (1, 2, 3):
        idx, _ = run.top_k(u, 10, exclude_seen=True, include_cold=False)
        assert len(idx) == 10
        assert not set(idx) & set(run.seen.of(u))
        assert not run.cold[idx].any()
