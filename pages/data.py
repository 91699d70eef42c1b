"""Data: choose the sample, the seed example or your own files; map columns; split; inspect."""

import streamlit as st

from ui import cache, data_form, state, widgets

state.ensure_app_ran()  # a deep link on a fresh server runs this file alone

st.title("Data")
st.markdown("Load interactions (who interacted with what), optionally with item and user "
            "metadata. Several datasets can be loaded and named in one session.")

if message := state.pop_flash():
    st.success(message)
files = data_form.choose_files()
if files is not None:
    mapping = None if files.bundled else data_form.column_mapping(files)
    with st.container(border=True):
        # In a popover: the browser draws its widgets only when it is opened.
        tune, chosen = st.columns([1, 3], vertical_alignment="center")
        with tune.popover("Feedback, k-core and split", icon=":material/tune:"):
            opts = data_form.options(given=files.has_test)
        chosen.caption(data_form.describe(opts))
        name = st.text_input("Name this dataset", value=files.default_name,
                             key=f"opt_name_{files.default_name}")
        submitted = st.button("Load dataset", type="primary", key="load_button")
    if submitted:
        ds = data_form.load_choice(files, mapping, opts, name.strip() or files.default_name)
        if ds is not None:
            cache.warm_graph_soon(ds)
            state.flash(f"Loaded “{state.current_name()}”: {ds.n_users:,} users, "
                        f"{ds.n_items:,} items, {ds.n_interactions:,} interactions.")
            st.rerun()

ds = state.current_dataset()
if ds is None:
    st.stop()
st.divider()
st.subheader(f"Current dataset: {widgets.plain(state.current_name())}")
widgets.report(ds.report)
st.markdown(data_form.split_summary(ds))
key = ds.content_hash()
widgets.summary_metrics(cache.dataset_stats(key, ds), ds)
widgets.figures_grid(cache.stats_figures(key, ds),
                     ["ratings", "user_degree", "item_degree", "long_tail"])

with st.expander(f"Datasets in this session ({len(state.registry())})"):
    for other in list(state.registry()):
        c1, c2 = st.columns([4, 1])
        c1.markdown(f"**{widgets.plain(other)}**: {widgets.plain(repr(state.registry()[other]))}")
        if c2.button("Remove", key=f"remove_{other}", disabled=len(state.registry()) == 1):
            state.remove_dataset(other)
            st.rerun()
