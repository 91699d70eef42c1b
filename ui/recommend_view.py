"""The Recommendations page's three tabs: one user's list, two runs compared, cold start.

Each function draws one tab for the run the page has picked; the page calls
only the open one.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from recsys_core.data.dataset import Dataset
from recsys_core.serve.curl import curl_command
from ui import explore, runs


def user_tab(run_id: str, ds: Dataset, user: str, k: int, include_cold: bool,
             llm: tuple[str, str]) -> None:
    """History, the top K as explained cards, the path graph of one item (drawn when opened)
    and the CSV."""
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**History (training interactions)**")
        st.dataframe(explore.history(ds, user), hide_index=True, height=420)
    with right:
        recs = explore.top_k(run_id, user, k, include_cold)
        st.markdown(f"**Top {len(recs)} for user {user}**")
        for row in recs.itertuples():
            explore.recommendation_card(run_id, user, row, llm)
    # Drawn only when opened: its vis.js canvas was a third of the page's front-end work.
    paths = st.expander("Draw the paths behind one recommendation", key="rec_paths",
                        on_change="rerun")
    if paths.open:
        pick = paths.selectbox("Item", recs["item"].astype(str).tolist(), key="rec_graph_item",
                               format_func=dict(zip(recs["item"].astype(str), recs["title"])).get)
        try:
            paths.iframe(explore.path_graph_html(run_id, user, pick, llm), height=400)
        except Exception as err:  # the graph pictures the evidence; the cards above stand
            paths.info(f"No path graph for this item: {err}")
    # Drawn only when opened: the code block's highlighter is the page's biggest front-end module.
    http = st.expander("Get this list from the HTTP service", key="rec_http", on_change="rerun")
    if http.open:
        http.markdown("Start the service with `python -m recsys_core serve` (add `--api-key` "
                      "to require a key); this command returns the same list as JSON:")
        http.code(curl_command(run_id, user, k, exclude_seen=True, include_cold=include_cold),
                  language="bash")
    # Written when clicked: it explains every card, opened or not.
    st.download_button("Download these recommendations and explanations (CSV)",
                       lambda: explore.explained_table(run_id, user, recs, llm)
                       .to_csv(index=False).encode("utf-8"), key="rec_download",
                       file_name=f"recommendations_{run_id}_{user}.csv", mime="text/csv")


def compare_tab(run_id: str, saved: pd.DataFrame, user: str | None, k: int,
                include_cold: bool) -> None:
    """The user's top K from this run and another run on the same dataset, overlap ticked."""
    same = saved[(saved["dataset"] == saved.set_index("run").at[run_id, "dataset"])
                 & (saved["run"] != run_id)]
    if same.empty or user is None:
        st.info("Pick a user, and train another model on the same dataset, to compare two "
                "runs' lists.")
        return
    other = runs.run_picker("Compare with run", "rec_other", same)
    a, b = explore.overlap(explore.top_k(run_id, user, k, include_cold),
                           explore.top_k(other, user, k, include_cold))
    st.markdown(f"**{int(a['in both'].sum())} of {k}** items are in both lists (ticked).")
    ca, cb = st.columns(2)
    ca.caption(f"run {run_id}")
    ca.dataframe(a, hide_index=True, key="rec_cmp_a")
    cb.caption(f"run {other}")
    cb.dataframe(b, hide_index=True, key="rec_cmp_b")


def cold_start_tab(run_id: str, ds: Dataset, k: int, include_cold: bool) -> None:
    """Recommendations for a new user described by a sentence or by items they liked."""
    st.markdown("Recommendations for someone the model has never seen, without retraining.")
    how = st.radio("Describe the new user by", ["a sentence", "items they liked"],
                   key="cold_how", horizontal=True)
    cold = None
    try:
        if how == "a sentence":
            text = st.text_area("Their tastes, in a sentence", key="cold_text",
                                placeholder="I love slow-burning space operas and heist comedies.")
            if st.button("Recommend", key="cold_text_go") and text.strip():
                cold = explore.cold_start_text(run_id, text.strip(), k, include_cold)
        else:
            titles = {str(i): ds.item_title(n) for n, i in enumerate(ds.item_ids)}
            liked = st.multiselect("Items they liked", list(titles), key="cold_items",
                                   format_func=titles.get)
            if st.button("Recommend", key="cold_items_go") and liked:
                cold = explore.cold_start_items(run_id, tuple(liked), k, include_cold)
    except ValueError as err:
        st.error(str(err))
    if cold is None:
        return
    counts = ds.matrix("train").getnnz(axis=0)
    cold = cold.assign(interactions=[int(counts[ds.item_index(i)]) for i in cold["item"]])
    st.dataframe(cold, hide_index=True, key="cold_table")
    st.download_button("Download (CSV)", cold.to_csv(index=False).encode("utf-8"),
                       file_name=f"cold_start_{run_id}.csv", mime="text/csv",
                       key="cold_download")
