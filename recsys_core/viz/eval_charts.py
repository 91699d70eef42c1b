"""Charts of evaluation results, built from :func:`recsys_core.evaluate.evaluate`'s tidy frame.

The input frame has columns ``model, metric, k, segment, protocol, value``
and, when several runs are compared, ``run`` and ``dataset``. Each series in
a chart is one *label* (model, plus dataset and run where they differ, see
:func:`with_labels`), so runs of one model on two datasets, or two runs of
one model, stay apart. Every chart title says how its numbers were computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

FULL_RANKING = "full ranking"  # the protocol label evaluate() gives top-K rows

#: How each metric is computed, shown next to charts and tables.
METRIC_HELP = {
    "recall": "hits in the top K / the user's held-out items, averaged over users",
    "precision": "hits in the top K / K, averaged over users",
    "ndcg": "DCG of the top K / ideal DCG over min(held-out, K) items (binary relevance)",
    "map": "mean of precision@i at each hit in the top K / min(held-out, K)",
    "map_over_relevant": "sum of precision@i at each hit in the top K / held-out items "
                         "(Microsoft Recommenders' MAP)",
    "mrr": "1 / rank of the first hit in the top K (0 without a hit)",
    "hit_rate": "share of users with at least one hit in the top K",
    "coverage": "share of the catalogue that appears in at least one user's top K",
    "avg_popularity": "mean training-interaction count of the recommended items",
    "accuracy": "share of held-out positives and sampled negatives classified right",
    "f1": "harmonic mean of classification precision and recall",
    "auc": "area under the ROC curve: chance a positive outscores a sampled negative",
    "threshold": "score cut-off used for the hard 0/1 classification",
}

#: Protocol text shown under charts, by protocol prefix.
PROTOCOL_HELP = {
    FULL_RANKING: ("Full ranking: every item is scored for each test user, the user's training "
                   "(and validation) items are masked, and the top K is compared with the "
                   "held-out items."),
    "sampled negatives": ("Classification: each held-out positive is paired with items the user "
                          "never interacted with, drawn uniformly at random; a score above the "
                          "threshold counts as a predicted positive."),
}

LABEL_SEP = " · "


def protocol_help(protocol: str) -> str:
    for prefix, text in PROTOCOL_HELP.items():
        if protocol.startswith(prefix):
            return text
    return protocol


def with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with a ``label`` column naming each series.

    The label is the model name, then the dataset when the frame holds
    several datasets, then the run id when one model has several runs on one
    dataset; so one run per model and dataset gives plain model names. An
    existing ``label`` column is kept.
    """
    out = frame.copy()
    if "label" in out.columns:
        return out
    label = out["model"].astype(str)
    if "dataset" in out.columns and out["dataset"].nunique() > 1:
        label = label + LABEL_SEP + out["dataset"].astype(str)
    if "run" in out.columns:
        runs_per_series = out.groupby(label)["run"].transform("nunique")
        if (runs_per_series > 1).any():
            label = label + LABEL_SEP + out["run"].astype(str)
    out["label"] = label
    return out


def _rows(frame: pd.DataFrame, metric: str, k: int | None = None, segment: str | None = "all",
          protocol: str = FULL_RANKING) -> pd.DataFrame:
    frame = with_labels(frame)
    mask = (frame["metric"] == metric) & frame["protocol"].astype(str).str.startswith(protocol)
    if segment is not None:
        mask &= frame["segment"] == segment
    if k is not None:
        mask &= frame["k"] == k
    return frame[mask]


def _finish(fig: go.Figure, title: str, note: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title=dict(text=f"{title}<br><sup>{note}</sup>"), height=height,
        margin=dict(l=10, r=10, t=80, b=10), legend_title="series")
    return fig


def metric_bar(frame: pd.DataFrame, metric: str, k: int, segment: str = "all",
               protocol: str = FULL_RANKING) -> go.Figure:
    """One bar per series: ``metric@k`` in one segment (value printed on the bar)."""
    rows = _rows(frame, metric, k if protocol == FULL_RANKING else None, segment, protocol)
    rows = rows.groupby("label", sort=False)["value"].mean()
    fig = go.Figure(go.Bar(x=rows.index.tolist(), y=rows.to_numpy(), text=[f"{v:.4f}" for v in rows],
                           textposition="outside", marker_color="#0072B2"))
    name = f"{metric}@{k}" if protocol == FULL_RANKING else metric
    fig.update_yaxes(title=name, rangemode="tozero")
    return _finish(fig, f"{name} by model ({segment}, {protocol})", METRIC_HELP.get(metric, ""))


def metric_vs_k(frame: pd.DataFrame, metrics: Sequence[str] = ("recall", "ndcg"),
                segment: str = "all") -> go.Figure:
    """Lines of each metric against K, one panel per metric, one line per series."""
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[f"{m}@K" for m in metrics])
    labels = list(dict.fromkeys(with_labels(frame)["label"]))
    colours = _colours(labels)
    for col, metric in enumerate(metrics, start=1):
        rows = _rows(frame, metric, None, segment)
        for label in labels:
            line = rows[rows["label"] == label].groupby("k")["value"].mean().sort_index()
            if line.empty:
                continue
            fig.add_trace(go.Scatter(
                x=line.index.astype(int).tolist(), y=line.to_numpy(), mode="lines+markers",
                name=label, legendgroup=label, showlegend=col == 1,
                line=dict(color=colours[label])), row=1, col=col)
        fig.update_xaxes(title="K", row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    return _finish(fig, f"Ranking metrics against K ({segment}, {FULL_RANKING})",
                   "recall: " + METRIC_HELP["recall"] + "; ndcg: binary relevance")


def segment_bars(frame: pd.DataFrame, metric: str, k: int,
                 segments: Sequence[str] | None = None) -> go.Figure:
    """Grouped bars of ``metric@k`` per segment (x) and series (colour)."""
    rows = _rows(frame, metric, k, segment=None)
    if segments is not None:
        rows = rows[rows["segment"].isin(segments)]
    order = segment_order(rows["segment"].unique())
    colours = _colours(list(dict.fromkeys(rows["label"])))
    fig = go.Figure()
    for label, colour in colours.items():
        part = rows[rows["label"] == label].groupby("segment")["value"].mean()
        part = part.reindex([s for s in order if s in part.index])
        fig.add_trace(go.Bar(x=part.index.tolist(), y=part.to_numpy(), name=label,
                             marker_color=colour))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=f"{metric}@{k}", rangemode="tozero")
    return _finish(fig, f"{metric}@{k} by segment ({FULL_RANKING})",
                   "activity quartiles split test users by training interactions; "
                   "cold items: held-out items with no training interaction")


def segment_order(segments) -> list[str]:
    def key(s: str):
        if s == "all":
            return (0, s)
        if s.startswith("activity"):
            return (1, s)
        return (2, s)

    return sorted(segments, key=key)


def roc_figure(curves: Mapping[str, pd.DataFrame], aucs: Mapping[str, float] | None = None,
               protocol: str = "sampled negatives 1:1") -> go.Figure:
    """ROC curves (``fpr``, ``tpr`` columns) with the chance diagonal; AUC in the legend.

    Without a given AUC a curve's area is computed by the trapezoid rule.
    """
    fig = go.Figure()
    colours = _colours(list(curves))
    for label, points in curves.items():
        fpr = points["fpr"].to_numpy(np.float64)
        tpr = points["tpr"].to_numpy(np.float64)
        auc = (aucs or {}).get(label)
        if auc is None:
            auc = float(np.trapezoid(tpr, fpr))
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{label} (AUC {auc:.3f})",
                                 line=dict(color=colours[label])))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (AUC 0.5)",
                             line=dict(color="#999999", dash="dash")))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    return _finish(fig, f"ROC curves ({protocol})", METRIC_HELP["auc"], height=460)


def coverage_popularity(frame: pd.DataFrame, k: int) -> go.Figure:
    """Two panels per series: catalogue coverage@k and average popularity@k."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"coverage@{k}", f"avg_popularity@{k}"])
    for col, metric in enumerate(("coverage", "avg_popularity"), start=1):
        rows = _rows(frame, metric, k).groupby("label", sort=False)["value"].mean()
        fig.add_trace(go.Bar(x=rows.index.tolist(), y=rows.to_numpy(), showlegend=False,
                             marker_color="#009E73" if col == 1 else "#E69F00",
                             text=[f"{v:.3g}" for v in rows], textposition="outside"),
                      row=1, col=col)
        fig.update_yaxes(rangemode="tozero", row=1, col=col)
    return _finish(fig, f"What each model recommends ({FULL_RANKING}, all users)",
                   "coverage: " + METRIC_HELP["coverage"] + "; popularity: "
                   + METRIC_HELP["avg_popularity"])


def classification_table(frame: pd.DataFrame, segment: str = "all") -> pd.DataFrame:
    """The article's classification metrics, one row per series, with their protocol."""
    frame = with_labels(frame)
    rows = frame[(frame["segment"] == segment)
                 & frame["protocol"].astype(str).str.startswith("sampled negatives")]
    if rows.empty:
        return pd.DataFrame(columns=["label", "protocol"])
    table = rows.pivot_table(index=["label", "protocol"], columns="metric", values="value",
                             aggfunc="mean", sort=False).reset_index()
    order = [m for m in ("accuracy", "precision", "recall", "f1", "auc", "threshold")
             if m in table.columns]
    table.columns.name = None
    return table[["label", "protocol", *order]]


def png_config(filename: str) -> dict:
    """Plotly config whose toolbar camera button saves the chart as ``filename``.png."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in filename) or "chart"
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": safe, "scale": 2}}


def _colours(labels: Sequence[str]) -> dict[str, str]:
    palette = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
               "#000000", "#8c564b", "#7f7f7f")
    return {label: palette[n % len(palette)] for n, label in enumerate(labels)}


def training_curves(history: pd.DataFrame, title: str = "Training") -> go.Figure:
    """Loss per epoch (left axis) and validation metrics (right axis) of one training run.

    ``history`` has columns ``epoch``, ``loss`` and any metric columns such as
    ``recall@20`` / ``ndcg@20`` (NaN on epochs without validation).
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if not history.empty:
        fig.add_trace(go.Scatter(x=history["epoch"], y=history["loss"], mode="lines+markers",
                                 name="training loss (BPR)", line=dict(color="#555555")),
                      secondary_y=False)
        colours = {"recall@20": "#0072B2", "ndcg@20": "#E69F00"}
        for metric, colour in colours.items():
            if metric in history.columns:
                rows = history[["epoch", metric]].dropna()
                fig.add_trace(go.Scatter(x=rows["epoch"], y=rows[metric], mode="lines+markers",
                                         name=f"validation {metric}", line=dict(color=colour)),
                              secondary_y=True)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="loss", secondary_y=False)
    fig.update_yaxes(title="validation metric", rangemode="tozero", secondary_y=True)
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.25))
    return fig
