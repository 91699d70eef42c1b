"""Recommendations: a user's history and top K with explanations, two runs compared, cold start."""

import streamlit as st
import streamlit.components.v1 as components

from ui import explore, runs

st.title("Recommendations")
st.markdown("Pick a trained run and a user to see what the model recommends and why. "
            "Items the user already interacted with are never recommended again.")

saved = runs.runs_frame()
if saved.empty:
    st.info("No saved runs yet: train a model on the Train page.")
    st.stop()
run_id = runs.run_picker("Run", "rec_run", saved)
model, ds = runs.open_run(run_id)
llm = explore.llm_settings()
c1, c2 = st.columns(2)
k = c1.slider("How many recommendations (K)", 5, 50, 10, key="rec_k")
include_cold = c2.checkbox("Include items with no interactions", value=True, key="rec_cold",
                           help="Text models can recommend items nobody has interacted with yet.")

tab_user, tab_compare, tab_cold = st.tabs(["A user", "Compare two runs", "Cold start"])
with tab_user:
    query = st.text_input("Find a user by id", key="rec_query", placeholder="e.g. u0042")
    ids = [str(u) for u in ds.user_ids if query.strip().lower() in str(u).lower()][:500]
    user = st.selectbox(f"User ({len(ids)} shown)", ids, key="rec_user") if ids else None
    if user is None:
        st.warning(f"No user id contains “{query}”.")
    else:
        left, right = st.columns([2, 3])
        with left:
            st.markdown("**History (training interactions)**")
            st.dataframe(explore.history(ds, user), hide_index=True, height=420)
        with right:
            recs = explore.top_k(run_id, user, k, include_cold)
            st.markdown(f"**Top {len(recs)} for user {user}**")
            for row in recs.itertuples():
                explore.recommendation_card(run_id, user, row, llm)
        pick = st.selectbox("Draw the paths behind", recs["item"].astype(str).tolist(),
                            key="rec_graph_item",
                            format_func=dict(zip(recs["item"].astype(str), recs["title"])).get)
        try:
            components.html(explore.path_graph_html(run_id, user, pick, llm), height=400)
        except Exception as err:  # the graph pictures the evidence; the table above stands
            st.info(f"No path graph for this item: {err}")
        # Written when clicked: it explains every card, opened or not.
        st.download_button("Download these recommendations and explanations (CSV)",
                           lambda: explore.explained_table(run_id, user, recs, llm)
                           .to_csv(index=False).encode("utf-8"), key="rec_download",
                           file_name=f"recommendations_{run_id}_{user}.csv", mime="text/csv")

with tab_compare:
    same = saved[(saved["dataset"] == saved.set_index("run").at[run_id, "dataset"])
                 & (saved["run"] != run_id)]
    if same.empty or user is None:
        st.info("Pick a user, and train another model on the same dataset, to compare two "
                "runs' lists.")
    else:
        other = runs.run_picker("Compare with run", "rec_other", same)
        ours = explore.top_k(run_id, user, k, include_cold)
        theirs = explore.top_k(other, user, k, include_cold)
        a, b = explore.overlap(ours, theirs)
        st.markdown(f"**{int(a['in both'].sum())} of {k}** items are in both lists (ticked).")
        ca, cb = st.columns(2)
        ca.caption(f"run {run_id}")
        ca.dataframe(a, hide_index=True, key="rec_cmp_a")
        cb.caption(f"run {other}")
        cb.dataframe(b, hide_index=True, key="rec_cmp_b")

with tab_cold:
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
    if cold is not None:
        counts = ds.matrix("train").getnnz(axis=0)
        cold = cold.assign(interactions=[int(counts[ds.item_index(i)]) for i in cold["item"]])
        st.dataframe(cold, hide_index=True, key="cold_table")
        st.download_button("Download (CSV)", cold.to_csv(index=False).encode("utf-8"),
                           file_name=f"cold_start_{run_id}.csv", mime="text/csv",
                           key="cold_download")
