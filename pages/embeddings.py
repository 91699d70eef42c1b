"""Embeddings: where a run puts users and items, their neighbours, and what text adds."""

import streamlit as st

from recsys_core.viz import embedding_charts as ec
from ui import explore, runs

st.title("Embeddings")
st.markdown("Each point is a user or an item, placed by a 2-D projection of the embedding "
            "a trained model learned for it. Close points score alike.")

saved = runs.runs_frame()
if saved.empty:
    st.info("No saved runs yet: train a model on the Train page.")
    st.stop()
run_id = runs.run_picker("Run", "emb_run", saved)
c1, c2, c3 = st.columns(3)
method = c1.selectbox("Projection", ["pca", "tsne", "umap"], key="emb_method",
                      format_func={"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get,
                      help="PCA is exact and fast on every node; t-SNE and UMAP keep local "
                           "neighbourhoods and run on a sample of large runs.")
color_by = c2.selectbox("Colour by", ec.COLOR_BY, key="emb_color",
                        help="Node type, item genre, degree (log scale) or Louvain community.")
kinds = c3.selectbox("Nodes", list(explore.KIND_NAMES), key="emb_nodes",
                     format_func=explore.KIND_NAMES.get)

try:
    view, fig = explore.projection_chart(run_id, method, kinds, color_by)
except AttributeError as err:  # popularity and graph filters score without embeddings
    st.info(f"Nothing to draw: {err}. Pick a run of an embedding model (lightgcn, mf, "
            "text_lightgcn, ...).")
    st.stop()
except Exception as err:  # a failed projection must not break the page
    st.error(f"Could not project this run's embeddings: {err}")
    st.stop()
table = view.table
if color_by == "community":
    st.caption(explore.communities(run_id)[1] + ".")
st.caption(view.note)
event = st.plotly_chart(fig, key="emb_chart", on_select="rerun", selection_mode="points",
                        config={"displaylogo": False})

# Only the open tab is computed and drawn.
near_tab, views_tab = st.tabs(["Nearest neighbours", "What the language model adds"],
                              key="emb_view", on_change="rerun")
points = event.selection.points if event and event.selection else []
clicked = points[0].get("customdata") if points else None
if near_tab.open:
    with near_tab:
        full_table, x = explore.node_embeddings(run_id)
        options = table["node"].tolist()
        labels = dict(zip(table["node"], table["kind"] + " · " + table["title"].astype(str)))
        if clicked is not None and clicked in labels:
            st.session_state["emb_node"] = clicked
        elif st.session_state.get("emb_node") not in labels:
            st.session_state.pop("emb_node", None)
        node = st.selectbox("Node (click a point or search by title)", options, key="emb_node",
                            format_func=labels.get)
        c1, c2 = st.columns([1, 3])
        k = c1.slider("Neighbours", 3, 30, 10, key="emb_k")
        side = c1.radio("Among", ["items", "users", "both"], key="emb_side")
        near = ec.neighbours_frame(full_table, x, int(node), k,
                                   kind=None if side == "both" else side[:-1])
        c2.dataframe(near, hide_index=True, column_config={
            "cosine": st.column_config.ProgressColumn("cosine similarity", min_value=-1.0,
                                                      max_value=1.0, format="%.3f")})
if views_tab.open:
    with views_tab:
        item_table, panels = explore.item_views(run_id)
        if len(panels) < 2:
            st.info("This run's model has no text features, so there is one view of its items. "
                    "Train text_lightgcn to compare text-only, ID-only and fused embeddings.")
        else:
            st.markdown("The same items, projected (PCA) from three embeddings: the language "
                        "model's text embedding alone, the learned IDs propagated by the graph "
                        "alone, and the fused embedding the model scores with. Colour is the "
                        "item's genre.")
            st.plotly_chart(ec.side_by_side_figure(item_table, panels, color_by="genre"),
                            key="emb_views", config={"displaylogo": False})
