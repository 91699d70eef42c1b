"""Recommendations: a user's history and top K with explanations, two runs compared, cold start."""

import streamlit as st

from ui import explore, recommend_view, runs

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
k = c1.slider("How many recommendations (K)", 5, 50, explore.DEFAULT_K, key="rec_k")
include_cold = c2.checkbox("Include items with no interactions", key="rec_cold",
                           value=explore.DEFAULT_INCLUDE_COLD,
                           help="Text models can recommend items nobody has interacted with yet.")

find, pick = st.columns([1, 2])
query = find.text_input("Find a user by id", key="rec_query", placeholder="e.g. u0042")
ids = [str(u) for u in ds.user_ids if query.strip().lower() in str(u).lower()][:500]
user = pick.selectbox(f"User ({len(ids)} shown)", ids, key="rec_user") if ids else None
if user is None:
    st.warning(f"No user id contains “{query}”.")

# Only the open tab is computed and drawn.
tab_user, tab_compare, tab_cold = st.tabs(["A user", "Compare two runs", "Cold start"],
                                          key="rec_view", on_change="rerun")
if tab_user.open and user is not None:
    with tab_user:
        recommend_view.user_tab(run_id, ds, user, k, include_cold, llm)
if tab_compare.open:
    with tab_compare:
        recommend_view.compare_tab(run_id, saved, user, k, include_cold)
if tab_cold.open:
    with tab_cold:
        recommend_view.cold_start_tab(run_id, ds, k, include_cold)
