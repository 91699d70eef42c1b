"""History effects of a gated Text-LightGCN: exact re-propagation against the model's own pass.

Trains ``text_lightgcn`` on the bundled sample (random 70/10/20 split, its
defaults but ``--epochs``), then for the top ``--items`` recommendations of
``--users`` users measures, for the same (user, item, history) each time:

- ``fast``: :func:`recsys_core.explain.influence.removal_scores` on the model's
  own layer-0 table (:meth:`TextLightGCNModule.warm_layer0`: the ID-only and
  fused blocks side by side), what explanations use;
- ``forward``: the model's own forward pass on the graph without each history
  edge in turn (:func:`recsys_core.explain.evidence._rescored_without_edges`),
  what explanations used for a gated model before.

Prints one JSON line: the text weight the gate chose, milliseconds per
explanation's history effects (median and p95) for both, their ratio, and the
largest absolute difference between the two methods' effects (they must agree).

    .venv/bin/python benchmarks/explain_speed.py [--epochs 20] [--users 20] [--items 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recsys_core.data import load  # noqa: E402
from recsys_core.explain import influence  # noqa: E402
from recsys_core.explain.evidence import (  # noqa: E402
    _rescored_without_edges,
    graph_context,
    propagation_spec,
)
from recsys_core.models import make  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--items", type=int, default=3)
    args = parser.parse_args()
    ds = load(ROOT / "sample_data" / "interactions.csv", items=ROOT / "sample_data" / "items.csv"
              ).split("random", test=0.2, valid=0.1, seed=0)
    model = make("text_lightgcn", epochs=args.epochs, refit=False).fit(ds)
    ctx = graph_context(ds)
    spec = propagation_spec(model, ds)
    if spec is None:
        raise SystemExit("the model's scores are not reproduced by re-propagation")
    r, warm = ctx.removal.r, np.diff(ctx.removal.r_csc.indptr) > 0
    fast_ms, forward_ms, gaps = [], [], []
    users = [u for u in range(ds.n_users) if r.indptr[u + 1] > r.indptr[u]][: args.users]
    for u in users:
        history = r.indices[r.indptr[u]:r.indptr[u + 1]]
        items, _ = model.recommend([ds.user_ids[u]], k=args.items * 4)
        shown = [ds.item_index(i) for i in items[0]]
        for i in [i for i in shown if warm[i]][: args.items]:
            start = time.perf_counter()
            base, without = influence.removal_scores(ctx.removal, spec, u, i, history)
            fast_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            base2, without2 = _rescored_without_edges(model, ctx, u, i, history)
            forward_ms.append((time.perf_counter() - start) * 1000)
            gaps.append(float(np.abs((base - np.asarray(without))
                                     - (base2 - np.asarray(without2))).max()))
    fast, forward = float(np.median(fast_ms)), float(np.median(forward_ms))
    print(json.dumps({
        "metric": "history_effects_ms", "model": "text_lightgcn", "dataset": "sample",
        "gate": float(model.module_.gate), "layer0_width": int(spec.emb0.shape[1]),
        "explanations": len(fast_ms),
        "fast_ms_p50": round(fast, 2), "fast_ms_p95": round(float(np.percentile(fast_ms, 95)), 2),
        "forward_ms_p50": round(forward, 2),
        "forward_ms_p95": round(float(np.percentile(forward_ms, 95)), 2),
        "forward_over_fast": round(forward / max(fast, 1e-9), 1),
        "max_abs_effect_difference": max(gaps)}), flush=True)


if __name__ == "__main__":
    main()
