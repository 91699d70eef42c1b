"""Warm-ups: what the server computes while idle is exactly what each page asks for first.

Each test clears the page's caches, runs the warm-up, then makes the page's
own computation fail: the page must still render, from the cache.
"""

from __future__ import annotations

import pytest
from apptest_helpers import assert_clean, open_page, texts


def _refuse(*args, **kwargs):
    raise AssertionError("computed again: the warm-up missed the page's cache key")


def test_warm_data_fills_the_data_pages_charts(monkeypatch):
    from recsys_core.viz import data_charts
    from ui import cache

    cache.stats_figures.clear()
    cache.warm_data()
    monkeypatch.setattr(data_charts, "stats_figures", _refuse)
    at = open_page("data")
    assert_clean(at)
    assert len(at.get("plotly_chart")) == 4


def test_warm_graph_fills_the_graph_pages_first_view(monkeypatch):
    from recsys_core import graph
    from ui import cache

    cache.ego_view.clear()
    cache.full_graph_stats.clear()
    cache.warm_graph()
    monkeypatch.setattr(graph, "ego_network", _refuse)
    monkeypatch.setattr(graph, "to_networkx", _refuse)
    at = open_page("graph")
    assert_clean(at)
    assert "Sampling: showing 150 of" in texts(at)


def test_loading_an_upload_draws_its_first_graph_view_in_the_background(monkeypatch):
    import threading

    from recsys_core import graph
    from ui import cache, state

    rows = "".join(f"u{u},i{(u * 7 + k) % 25},{1 + k % 5}\n" for u in range(40) for k in range(6))
    at = open_page("data")
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="upload_interactions").set_value(
        ("mine.csv", ("user,item,rating\n" + rows).encode(), "text/csv")).run()
    cache.ego_view.clear()  # from here on only the warm-up can fill them
    cache.full_graph_stats.clear()
    at.button(key="load_button").click().run()
    assert_clean(at)
    assert at.session_state[state.CURRENT] == "mine"
    for thread in threading.enumerate():
        if thread.name == "warm-graph":
            thread.join(timeout=60)
    monkeypatch.setattr(graph, "ego_network", _refuse)
    monkeypatch.setattr(graph, "to_networkx", _refuse)
    at.switch_page("pages/graph.py").run()
    assert_clean(at)
    assert "Sampling: showing all 24 nodes within 2 hops." in texts(at)


def test_the_check_fails_for_a_view_that_was_not_warmed(monkeypatch):
    # The check above can fail: one hop is not warmed, so the page builds it and is refused.
    from recsys_core import graph
    from ui import cache

    cache.warm_graph()
    at = open_page("graph")
    monkeypatch.setattr(graph, "ego_network", _refuse)
    at.slider(key="graph_hops").set_value(1).run()
    assert at.exception and "warm-up missed" in at.exception[0].value


def test_warm_classroom_fills_the_first_walkthrough(monkeypatch):
    import recsys_core.models
    from recsys_core.viz import classroom
    from ui import cache, classroom_view

    cache.classroom_walkthrough.clear()
    cache.oversmoothing.clear()
    classroom_view.warm()
    monkeypatch.setattr(recsys_core.models, "make", _refuse)
    monkeypatch.setattr(classroom, "oversmoothing_curves", _refuse)
    at = open_page("classroom")
    assert_clean(at)
    assert at.get("plotly_chart")


def test_warm_kernels_loads_the_propagation_kernel():
    from recsys_core.models import lightgcn
    from ui import cache

    cache.warm_kernels()
    if lightgcn.numba is not None:
        assert lightgcn._csr_rows_matmul.signatures  # compiled or read from numba's cache


@pytest.mark.slow
def test_warm_newest_run_fills_what_the_embeddings_page_opens(monkeypatch):
    from trained_runs import open_page as open_run_page
    from trained_runs import trained_home

    from ui import explore, runs
    from ui.run_archive import RunArchive

    home, _ = trained_home()
    monkeypatch.setenv("GRAPHREC_HOME", home)
    runs.load_run.clear()
    explore.node_embeddings.clear()
    explore.projection_view.clear()
    explore.projection_chart.clear()
    explore.warm_newest_run()
    monkeypatch.setattr(RunArchive, "load", _refuse)
    monkeypatch.setattr(explore.ec, "projection_figure", _refuse)  # the first map is built
    at = open_run_page("embeddings", monkeypatch, home)
    assert at.get("plotly_chart")
    assert at.selectbox(key="emb_run").value == runs.runs_frame()["run"].iloc[0]


@pytest.mark.slow
def test_warm_recommendations_fills_the_first_explained_list(monkeypatch):
    from trained_runs import open_page as open_run_page
    from trained_runs import trained_home

    import recsys_core.explain
    from ui import explore, runs

    home, _ = trained_home()
    monkeypatch.setenv("GRAPHREC_HOME", home)
    for cached in (explore.top_k, explore.explanation):
        cached.clear()
    explore.warm_recommendations()
    monkeypatch.setattr(explore, "_ranked", _refuse)  # the first list is ranked
    monkeypatch.setattr(recsys_core.explain, "explain", _refuse)  # the open cards explained
    at = open_run_page("recommendations", monkeypatch, home)
    assert at.selectbox(key="rec_run").value == runs.runs_frame()["run"].iloc[0]
    assert not at.error and "No path graph" not in texts(at)
    open_cards = [e for e in at.expander if e.label.startswith(("1. ", "2. ", "3. "))]
    assert len(open_cards) == explore.OPEN_CARDS
    assert all("faithfulness check" in texts(card) for card in open_cards)
    # Another user was not warmed: the page computes it and is refused.
    users = at.selectbox(key="rec_user")
    users.set_value(users.options[1]).run()
    assert at.exception and "warm-up missed" in at.exception[0].value
