"""Evaluation: every saved run's metrics side by side, in charts and as a table."""

import streamlit as st

from recsys_core.viz import eval_charts as ev
from ui import cache, explore, runs, tune_view

st.title("Evaluation")
st.markdown("Compare saved runs across models and datasets. Each chart says how its numbers "
            "were computed; the camera icon in a chart's toolbar saves it as PNG.")

saved = runs.runs_frame()
if saved.empty:
    st.info("No saved runs yet: train a model on the Train page.")
    st.stop()
labels = dict(zip(saved["run"], saved["model"] + " · " + saved["dataset"] + " · " + saved["run"]))
chosen = st.multiselect("Runs to compare", saved["run"].tolist(),
                        default=saved["run"].tolist()[:8], key="eval_runs",
                        format_func=labels.get)
frame = explore.evaluations(chosen)
if frame.empty:
    st.info("Choose at least one run that was evaluated (its dataset had a test part).")
    st.stop()

ranking = frame[frame["protocol"] == ev.FULL_RANKING]
ks = sorted(int(k) for k in ranking["k"].dropna().unique())
metrics = [m for m in ("recall", "ndcg", "precision", "hit_rate", "map", "map_over_relevant",
                       "mrr") if m in set(ranking["metric"])]
segments = ev.segment_order(ranking["segment"].unique())
c1, c2, c3 = st.columns(3)
metric = c1.selectbox("Metric", metrics, key="eval_metric", help=None)
k = c2.selectbox("K", ks, index=ks.index(20) if 20 in ks else 0, key="eval_k")
segment = c3.selectbox("Users / items", segments, key="eval_segment",
                       help="all, user activity quartiles, or held-out items with (warm) "
                            "and without (cold) training interactions")
st.caption(f"**{metric}@K**: {ev.METRIC_HELP[metric]}. {ev.protocol_help(ev.FULL_RANKING)}")


def chart(fig, name: str) -> None:
    st.plotly_chart(fig, key=f"eval_{name}", config=ev.png_config(name))


chart(cache.evaluation_chart("metric_bar", frame, metric=metric, k=k, segment=segment),
      f"{metric}_at_{k}")
st.download_button("Download the table (CSV)", frame.to_csv(index=False).encode("utf-8"),
                   file_name="evaluation.csv", mime="text/csv", key="eval_download")

# Only the open tab is computed and drawn, so the page stays quick with many runs.
vs_k, by_segment, coverage, classification, numbers, tuning = st.tabs(
    ["Recall and NDCG against K", "By segment", "Coverage and popularity",
     "Classification metrics and ROC", "All numbers", "Tuning studies"], key="eval_view",
    on_change="rerun")
if vs_k.open:
    with vs_k:
        chart(cache.evaluation_chart("metric_vs_k", frame, segment=segment), "recall_ndcg_vs_k")
if by_segment.open:
    with by_segment:
        chart(cache.evaluation_chart("segment_bars", frame, metric=metric, k=k),
              f"{metric}_by_segment")
if coverage.open:
    with coverage:
        chart(cache.evaluation_chart("coverage_popularity", frame, k=k), "coverage_popularity")
if classification.open:
    with classification:
        st.caption("The seed article's classification metrics. " + ev.protocol_help("sampled negatives"))
        st.dataframe(ev.classification_table(frame, segment), hide_index=True, key="eval_cls")
        curves, aucs = explore.roc_curves(chosen)
        if curves:
            chart(ev.roc_figure(curves, aucs), "roc_curves")
        else:
            st.info("The chosen runs have no ROC points.")
if numbers.open:
    with numbers:
        st.dataframe(frame, hide_index=True, key="eval_table")
if tuning.open:
    with tuning:
        tune_view.studies_panel()
