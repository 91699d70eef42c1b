import numpy as np
import pandas as pd
import pytest

from recsys_core.viz.eval_charts import (
    classification_table,
    coverage_popularity,
    metric_bar,
    metric_vs_k,
    png_config,
    protocol_help,
    roc_figure,
    segment_bars,
    training_curves,
    with_labels,
)

FR = "full ranking"
SN = "sampled negatives 1:1"


def _frame():
    """Two models on one dataset, metrics hand-set so every expected value is known."""
    rows = []
    for model, base in (("lightgcn", 0.10), ("text_lightgcn", 0.20)):
        for k in (5, 10, 20):
            for metric in ("recall", "ndcg"):
                scale = 1.0 if metric == "recall" else 0.5
                rows.append((model, metric, k, "all", FR, base * scale * k / 5))
            rows.append((model, "coverage", k, "all", FR, base + 0.01 * k))
            rows.append((model, "avg_popularity", k, "all", FR, 100 * base))
            rows.append((model, "recall", k, "cold items", FR, base / 2))
            rows.append((model, "recall", k, "activity Q1: 1-3 train items", FR, base / 4))
        for metric, value in (("accuracy", 0.7), ("recall", 0.6), ("auc", 0.8), ("f1", 0.65)):
            rows.append((model, metric, None, "all", SN, value + base))
    frame = pd.DataFrame(rows, columns=["model", "metric", "k", "segment", "protocol", "value"])
    frame["k"] = frame["k"].astype("Int64")
    return frame


def test_labels_name_only_what_varies():
    frame = _frame()
    assert set(with_labels(frame)["label"]) == {"lightgcn", "text_lightgcn"}
    # One run per model: runs are not named even though their ids differ.
    frame["run"] = np.where(frame["model"] == "lightgcn", "r1", "r2")
    assert set(with_labels(frame)["label"]) == {"lightgcn", "text_lightgcn"}
    frame["dataset"] = np.where(frame.index % 2 == 0, "sample", "gowalla")
    labels = set(with_labels(frame)["label"])
    assert labels == {"lightgcn · sample", "lightgcn · gowalla",
                      "text_lightgcn · sample", "text_lightgcn · gowalla"}
    # Two runs of one model on one dataset are told apart by run id.
    frame["dataset"] = "sample"
    frame["run"] = np.where(frame.index % 2 == 0, "r1", "r3")
    assert set(with_labels(frame)["label"]) == {
        "lightgcn · r1", "lightgcn · r3", "text_lightgcn · r1", "text_lightgcn · r3"}


def test_metric_bar_values_and_protocol_separation():
    fig = metric_bar(_frame(), "recall", 10)
    (bar,) = fig.data
    assert list(bar.x) == ["lightgcn", "text_lightgcn"]
    np.testing.assert_allclose(bar.y, [0.2, 0.4])  # base * k / 5
    assert "recall@10 by model (all, full ranking)" in fig.layout.title.text
    # Classification recall is a different number and is not mixed in.
    cls = metric_bar(_frame(), "recall", 10, protocol="sampled negatives")
    np.testing.assert_allclose(cls.data[0].y, [0.7, 0.8])
    assert "sampled negatives" in cls.layout.title.text


def test_metric_vs_k_lines():
    fig = metric_vs_k(_frame())
    assert [t.name for t in fig.data] == ["lightgcn", "text_lightgcn"] * 2
    ndcg_text = fig.data[3]
    assert list(ndcg_text.x) == [5, 10, 20]
    np.testing.assert_allclose(ndcg_text.y, [0.1, 0.2, 0.4])
    assert ndcg_text.xaxis == "x2" and not ndcg_text.showlegend


def test_segment_bars_order_and_values():
    fig = segment_bars(_frame(), "recall", 20)
    assert list(fig.data[0].x) == ["all", "activity Q1: 1-3 train items", "cold items"]
    np.testing.assert_allclose(fig.data[1].y, [0.8, 0.05, 0.1])
    assert fig.layout.barmode == "group"


def test_roc_figure_auc_by_trapezoid():
    curves = {"m": pd.DataFrame({"fpr": [0, 0, 1], "tpr": [0, 1, 1]}),
              "n": pd.DataFrame({"fpr": [0, 0.5, 1], "tpr": [0, 0.5, 1]})}
    fig = roc_figure(curves)
    assert [t.name for t in fig.data] == ["m (AUC 1.000)", "n (AUC 0.500)", "chance (AUC 0.5)"]
    fig = roc_figure(curves, aucs={"m": 0.912})
    assert fig.data[0].name == "m (AUC 0.912)"


def test_coverage_popularity_panels():
    fig = coverage_popularity(_frame(), 20)
    np.testing.assert_allclose(fig.data[0].y, [0.3, 0.4])
    np.testing.assert_allclose(fig.data[1].y, [10.0, 20.0])


def test_classification_table():
    table = classification_table(_frame())
    assert list(table.columns) == ["label", "protocol", "accuracy", "recall", "f1", "auc"]
    assert table["protocol"].unique().tolist() == [SN]
    np.testing.assert_allclose(table.set_index("label").loc["text_lightgcn", "auc"], 1.0)
    assert classification_table(_frame(), segment="nothing").empty


def test_help_and_png_config():
    assert protocol_help("sampled negatives 1:4").startswith("Classification:")
    assert protocol_help(FR).startswith("Full ranking:")
    cfg = png_config("recall@20 by model")
    assert cfg["toImageButtonOptions"] == {"format": "png", "filename": "recall_20_by_model",
                                           "scale": 2}


@pytest.mark.parametrize("builder", [lambda f: metric_bar(f, "ndcg", 99),
                                     lambda f: segment_bars(f, "ndcg", 99)])
def test_missing_rows_give_empty_charts_not_errors(builder):
    fig = builder(_frame())
    assert all(len(t.y) == 0 for t in fig.data)


def test_training_curves_axes_and_gaps():
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [0.69, 0.5, 0.4],
                            "recall@20": [np.nan, 0.1, 0.12], "ndcg@20": [np.nan, 0.05, 0.06]})
    fig = training_curves(history, title="lightgcn")
    assert [t.name for t in fig.data] == ["training loss (BPR)", "validation recall@20",
                                          "validation ndcg@20"]
    assert list(fig.data[1].x) == [2, 3]  # epochs without validation are left out
    assert fig.data[0].yaxis == "y" and fig.data[1].yaxis == "y2"
    assert len(training_curves(pd.DataFrame()).data) == 0
