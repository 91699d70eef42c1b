"""Train: pick a dataset and models, train in the background, watch progress, manage runs."""

import streamlit as st

from ui import runs, state, train_form, tune_view

st.title("Train")
st.markdown(
    "Train one or more models on a dataset loaded on the **Data** page. Training runs in the "
    "background: switch pages and come back, it keeps going. Each finished run is evaluated "
    "on the test part and saved, so it survives a restart of the app."
)

names = list(state.registry())
if not names:
    st.info("No dataset is loaded. Choose one on the Data page.")
    st.stop()
current = state.current_name()
ds_name = st.selectbox("Dataset", names, index=names.index(current) if current in names else 0,
                       key="train_dataset", help="Datasets loaded in this session.")
ds = state.registry()[ds_name]
if not ds.is_split:
    st.warning("This dataset is not split, so a run cannot be evaluated: choose a split on "
               "the Data page first.")

available = runs.trainable_models()
default = [m for m in ("lightgcn",) if m in available] or available[:1]
chosen = st.multiselect("Models", available, default=default, key="train_models",
                        help="Each model trains as its own job, one after another.")
params = {}
for name in chosen:
    with st.expander(f"{name}: hyperparameters"):
        st.caption(runs.model_summary(name))
        params[name] = train_form.param_inputs(name, key="train")

mode, budget = tune_view.mode_inputs()
if st.button(mode, type="primary", key="train_start", disabled=not chosen or not ds.is_split):
    for name in chosen:
        if mode == "Tune":
            tune_view.submit_tuning(ds_name, ds, name, params[name], budget)
        else:
            runs.submit_training(ds_name, ds, name, params[name])
    st.toast(f"Started {len(chosen)} {mode.lower()} job(s).")

runs.live_jobs()
