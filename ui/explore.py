"""Cached computations behind the embeddings, recommendations and evaluation pages.

Everything here is keyed by a saved run's id (runs never change once saved),
so each projection, node table or explanation is computed once per server.
Projections are also cached on disk under the run store's cache folder, so
they survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from recsys_core.viz import embedding_charts as ec
from recsys_core.viz.projection import Projection, project, sample_rows
from ui import runs
from ui.cache import no_run_context_warning

#: Points drawn at most in one scatter (the projection itself may use more).
DISPLAY_MAX = 20_000
#: Recommendation cards shown open, with their explanation, when a list first appears.
OPEN_CARDS = 3
#: The Recommendations page's first list: K and whether cold items may appear.
DEFAULT_K, DEFAULT_INCLUDE_COLD = 10, True
#: Session keys of the optional language-model narrator.
LLM_URL, LLM_MODEL = "llm_url", "llm_model"


def projection_cache_dir() -> str:
    from recsys_core.runs import default_root

    return str(default_root() / "cache" / "projections")


@st.cache_resource(max_entries=8, show_spinner=False)
def node_embeddings(run_id: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(node table, all node embeddings [U + I, d]) of a run."""
    model, ds = runs.load_run(run_id)
    x = np.vstack([model.user_embeddings(), model.item_embeddings()]).astype(np.float32)
    return ec.node_table(ds), x


#: The Embeddings page's first view: projection, colour and nodes.
FIRST_VIEW = ("pca", "kind", ("user", "item"))


def warm_newest_run() -> None:
    """Load the newest saved run, its embeddings and the Embeddings page's first map, which
    the run pages open first, into the shared caches (the server's preload calls it)."""
    with no_run_context_warning():
        saved = runs.runs_frame()
        if not saved.empty:
            run_id, (method, color_by, kinds) = saved["run"].iloc[0], FIRST_VIEW
            try:
                projection_chart(run_id, method, kinds, color_by)
            except AttributeError:  # no embeddings (a popularity run): the other pages load it
                runs.load_run(run_id)


def warm_recommendations() -> None:
    """Compute the Recommendations page's first view of the newest run (its first user's
    top K and the open cards' explanations) into the shared caches,
    so the first visitors find it ready (the server's preload calls it)."""
    with no_run_context_warning():
        saved = runs.runs_frame()
        if saved.empty:
            return
        run_id = saved["run"].iloc[0]
        _, ds = runs.load_run(run_id)
        user, llm = str(ds.user_ids[0]), ("", "")
        recs = top_k(run_id, user, DEFAULT_K, DEFAULT_INCLUDE_COLD)
        for item in recs["item"].astype(str).head(OPEN_CARDS):
            explanation(run_id, user, item, llm)


@dataclass
class View:
    """What the embeddings page draws: rows of the node table and their 2-D coordinates."""

    table: pd.DataFrame  # the drawn nodes' rows of the node table
    coords: np.ndarray  # [len(table), 2]
    note: str  # what was projected and what is shown
    projection: Projection


@st.cache_resource(max_entries=16, show_spinner="Projecting the embeddings…")
def projection_view(run_id: str, method: str, kinds: tuple[str, ...], seed: int = 0) -> View:
    """Project a run's user and/or item embeddings; large sets are subsampled for display."""
    table, x = node_embeddings(run_id)
    nodes = table.index[table["kind"].isin(kinds)].to_numpy()
    proj = project(x[nodes], method, seed=seed, cache_dir=projection_cache_dir(),
                   cache_key=f"{run_id}-{'-'.join(kinds)}")
    show = sample_rows(len(proj.rows), DISPLAY_MAX, seed)
    note = proj.note
    if len(show) < len(proj.rows):
        note += f" Showing a uniform random {len(show):,} of them (seed {seed})."
    if proj.cached:
        note += " Read from the cache."
    rows = nodes[proj.rows[show]]
    return View(table.iloc[rows].reset_index(drop=True), proj.coords[show], note, proj)


KIND_NAMES = {("user", "item"): "users and items", ("item",): "items", ("user",): "users"}


@st.cache_resource(max_entries=32, show_spinner=False)
def projection_chart(run_id: str, method: str, kinds: tuple[str, ...], color_by: str,
                     seed: int = 0) -> tuple[View, Any]:
    """The projection and its scatter (a plotly figure, built once: building and validating
    thousands of points takes plotly a few tenths of a second)."""
    view = projection_view(run_id, method, kinds, seed)
    table = view.table
    if color_by == "community":
        labels, how = communities(run_id)
        table = table.assign(community=labels[table["node"].to_numpy()])
    title = f"{method.upper()} of {KIND_NAMES.get(kinds, ', '.join(kinds))} · run {run_id}"
    return view, ec.projection_figure(table, view.coords, color_by, title=title)


@st.cache_resource(max_entries=8, show_spinner="Finding communities…")
def communities(run_id: str) -> tuple[np.ndarray, str]:
    """Louvain community of every node of the run's training graph."""
    _, ds = runs.load_run(run_id)
    return ec.community_labels(ds)


@st.cache_resource(max_entries=4, show_spinner="Projecting each view of the items…")
def item_views(run_id: str, seed: int = 0) -> tuple[pd.DataFrame, list[tuple[str, np.ndarray]]]:
    """PCA of each embedding view of the same items (text, ID, fused)."""
    model, ds = runs.load_run(run_id)
    table, _ = node_embeddings(run_id)
    views = ec.embedding_views(model)
    rows = sample_rows(ds.n_items, DISPLAY_MAX, seed)
    panels = [(name, project(x[rows], "pca").coords) for name, x in views.items()]
    return table[table["kind"] == "item"].iloc[rows].reset_index(drop=True), panels


# ------------------------------------------------------------------ recommendations
def history(ds, user: Any) -> pd.DataFrame:
    """A user's training interactions, newest first: item id, title, rating."""
    u = ds.user_index(user)
    train = ds.train_interactions
    rows = train[train["user"] == u].sort_values("timestamp", ascending=False, na_position="last")
    return pd.DataFrame({"item": [ds.item_ids[i] for i in rows["item"]],
                         "title": [ds.item_title(i) for i in rows["item"]],
                         "rating": rows["rating"].to_numpy()})


@st.cache_data(max_entries=256, show_spinner=False)
def top_k(run_id: str, user: str, k: int, include_cold: bool) -> pd.DataFrame:
    """Rank, item id, title and score of a user's top k (seen items excluded)."""
    model, ds = runs.load_run(run_id)
    items, scores = model.recommend([user], k=k, exclude_seen=True, include_cold=include_cold)
    return _ranked(ds, items[0], scores[0])


def _ranked(ds, items, scores) -> pd.DataFrame:
    # Masked items (seen, or cold when excluded) score -inf: they are not recommendations.
    scores = np.asarray(scores, dtype=np.float64)
    keep = np.isfinite(scores)
    items, scores = np.asarray(items, dtype=object)[keep], scores[keep]
    return pd.DataFrame({"rank": np.arange(1, len(items) + 1), "item": list(items),
                         "title": [ds.item_title(ds.item_index(i)) for i in items],
                         "score": np.asarray(scores, dtype=np.float64)})


@st.cache_resource(max_entries=512, show_spinner=False)
def explanation(run_id: str, user: str, item: str, llm: tuple[str, str] = ("", "")):
    """The explanation of one recommendation (template, or the LLM in ``llm`` settings)."""
    from recsys_core.explain import explain

    model, ds = runs.load_run(run_id)
    teller = None
    if llm[0] and llm[1]:
        from recsys_core.explain import ChatCompletionsNarrator

        # A short timeout and no retry: a dead endpoint must not stall the page.
        teller = ChatCompletionsNarrator(url=llm[0], model=llm[1], timeout=10.0, retries=0)
    return explain(model, ds, user, item, narrator=teller)


def explained_table(run_id: str, user: str, recs: pd.DataFrame, llm: tuple[str, str]) -> pd.DataFrame:
    """The shown recommendations with their explanation text, for CSV download."""
    rows = []
    for row in recs.itertuples():
        exp = explanation(run_id, user, str(row.item), llm)
        rows.append({"run": run_id, "user": user, "rank": row.rank, "item": row.item,
                     "title": row.title, "score": row.score, "explanation": exp.text,
                     "backend": exp.backend, "faithful": exp.faithful,
                     "fallback_reason": exp.fallback_reason or ""})
    return pd.DataFrame(rows)


@st.cache_data(max_entries=128, show_spinner="Reading the sentence…")
def cold_start_text(run_id: str, text: str, k: int, include_cold: bool) -> pd.DataFrame:
    from recsys_core.coldstart import recommend_for_text

    model, ds = runs.load_run(run_id)
    items, scores = recommend_for_text(model, text, k, include_cold=include_cold)
    return _ranked(ds, items, scores)


@st.cache_data(max_entries=128, show_spinner=False)
def cold_start_items(run_id: str, liked: tuple[str, ...], k: int, include_cold: bool) -> pd.DataFrame:
    from recsys_core.coldstart import recommend_for_items

    model, ds = runs.load_run(run_id)
    items, scores = recommend_for_items(model, list(liked), k, include_cold=include_cold)
    return _ranked(ds, items, scores)


# ------------------------------------------------------------------ evaluation
def evaluations(run_ids: list[str]) -> pd.DataFrame:
    """Tidy evaluation rows of several runs, with ``run`` and ``dataset`` columns."""
    frames = [runs.run_evaluation(r) for r in run_ids]
    frames = [f for f in frames if f is not None and not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ------------------------------------------------------------------ rendering
def llm_settings() -> tuple[str, str]:
    """The narrator settings widgets; returns (endpoint URL, model name), empty for the template."""
    with st.expander("Explanation narrator (optional language model)"):
        st.markdown("Explanations are written by a fixed template from the evidence. You can "
                    "let a language model behind an OpenAI-compatible endpoint (Ollama, vLLM, "
                    "llama.cpp server) write them instead; it sees only the evidence, and any "
                    "failure or unfaithful text falls back to the template, saying why.")
        c1, c2 = st.columns(2)
        url = c1.text_input("Endpoint URL", key=LLM_URL, placeholder="http://127.0.0.1:11434")
        name = c2.text_input("Model name", key=LLM_MODEL, placeholder="llama3.2")
        if url.strip() and not name.strip():
            st.warning("Name the model the endpoint serves; until then the template writes.")
    return (url.strip(), name.strip()) if url.strip() and name.strip() else ("", "")


def card_key(run_id: str, user: str, item: Any) -> str:
    """Session-state key of a recommendation card (True while it is open)."""
    return f"rec_card_{run_id}_{user}_{item}"


def recommendation_card(run_id: str, user: str, row, llm: tuple[str, str]) -> None:
    """One recommendation: score, explanation, fallback notice and the evidence table.

    The first :data:`OPEN_CARDS` cards open with their explanation; the others are
    explained when opened (a rerun), so a long list costs three explanations, not K.
    """
    card = st.expander(f"{row.rank}. {row.title} · score {row.score:.4f}",
                       expanded=row.rank <= OPEN_CARDS, key=card_key(run_id, user, row.item),
                       on_change="rerun")
    if not card.open:
        return
    with card:
        try:
            exp = explanation(run_id, user, str(row.item), llm)
        except Exception as err:  # an explanation failure must not hide the list
            st.error(f"No explanation: {type(err).__name__}: {err}")
            return
        st.markdown(_plain(exp.text))
        check = "passed" if exp.faithful else "FAILED"
        st.caption(f"Written by {exp.backend}; faithfulness check {check}.")
        if exp.fallback_reason:
            st.warning(f"The language model's text was not used: {exp.fallback_reason}")
        # A plain table: a handful of rows needs no scrollable grid, and draws faster.
        st.table(exp.evidence.to_frame().round({"strength": 3}), hide_index=True,
                 border="horizontal")


@st.cache_resource(max_entries=64, show_spinner=False)
def path_graph_html(run_id: str, user: str, item: str, llm: tuple[str, str]) -> str:
    """The pyvis page drawing the evidence paths of one recommendation."""
    from recsys_core.viz.rec_graph import path_html

    _, ds = runs.load_run(run_id)
    return path_html(explanation(run_id, user, item, llm).evidence, ds)


def overlap(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both lists with an ``in both`` column marking shared items."""
    shared = set(a["item"].astype(str)) & set(b["item"].astype(str))
    mark = lambda f: f.assign(**{"in both": f["item"].astype(str).isin(shared)})  # noqa: E731
    return mark(a), mark(b)


def _plain(text: str) -> str:
    """Show data literally in markdown (no links, emphasis or HTML)."""
    for ch in "\\`*_{}[]<>()#+-.!|$~":
        text = text.replace(ch, "\\" + ch)
    return text


def roc_curves(run_ids: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, float]]:
    """ROC points and AUC of each run that has them, under the same labels as the charts."""
    from recsys_core.viz.eval_charts import with_labels

    frame = evaluations(run_ids)
    if frame.empty:
        return {}, {}
    labelled = with_labels(frame)
    curves, aucs = {}, {}
    for run_id in run_ids:
        rows = labelled[labelled["run"] == run_id]
        points = runs.run_roc(run_id)
        if rows.empty or points is None:
            continue
        label = rows["label"].iloc[0]
        curves[label] = points
        auc = rows[(rows["metric"] == "auc") & (rows["segment"] == "all")]["value"]
        if len(auc):
            aucs[label] = float(auc.iloc[0])
    return curves, aucs
