"""Recommendations page: history, top K with explanations, LLM fallback, compare, cold start."""

from __future__ import annotations

import pytest
from apptest_helpers import texts
from trained_runs import open_page, tiny_dataset, trained_home


def _frames(at, column):
    return [d.value for d in at.dataframe if column in d.value.columns]


def _evidence(at):
    return [t.value for t in at.table if "strength" in t.value.columns]


@pytest.mark.slow
def test_user_top_k_with_explanations_and_csv(monkeypatch):
    home, ids = trained_home()
    at = open_page("recommendations", monkeypatch, home)
    at.selectbox(key="rec_run").set_value(ids["lightgcn"]).run()
    at.text_input(key="rec_query").set_value("u0003").run()
    assert at.selectbox(key="rec_user").value == "u0003"
    ds = tiny_dataset()
    history = next(f for f in _frames(at, "rating") if "title" in f.columns)
    u = ds.user_index("u0003")
    # The run was refit on train + validation, so both are the user's history.
    assert len(history) == int((ds.train["user"] == u).sum() + (ds.valid["user"] == u).sum())
    cards = [e for e in at.expander if e.label.startswith(("1. ", "2. ", "10. "))]
    assert len(cards) == 3
    body = texts(at)
    assert "Written by template; faithfulness check passed." in body
    # The first three cards open explained; the others explain when opened.
    evidence = _evidence(at)
    assert len(evidence) == 3 and body.count("Written by template") == 3
    assert list(evidence[0].columns) == ["kind", "item_id", "title", "strength", "detail"]
    from ui import explore

    tenth = explore.top_k(ids["lightgcn"], "u0003", 10, True).iloc[9]
    at.session_state[explore.card_key(ids["lightgcn"], "u0003", tenth["item"])] = True
    at.run()
    assert len(_evidence(at)) == 4 and texts(at).count("Written by template") == 4
    # Recommended items are never in the user's history.
    recs = [e.label.split(". ", 1)[1].rsplit(" · score", 1)[0] for e in at.expander
            if e.label[:1].isdigit()]
    assert not set(recs) & set(history["title"])
    # The pyvis path graph of one recommended item, drawn once its expander is opened.
    assert not at.get("iframe")
    at.session_state["rec_paths"] = True
    at.run()
    frames = at.get("iframe")
    assert len(frames) == 1 and "vis.Network" in frames[0].proto.srcdoc
    assert at.selectbox(key="rec_graph_item").value == str(
        explore.top_k(ids["lightgcn"], "u0003", 10, True).iloc[0]["item"])
    assert at.get("download_button")
    # The curl line that returns the same list from the HTTP service, drawn once opened.
    assert not [c for c in at.code if c.value.startswith("curl ")]
    at.session_state["rec_http"] = True
    at.run()
    curl = [c.value for c in at.code if c.value.startswith("curl ")]
    assert len(curl) == 1 and f"run={ids['lightgcn']}" in curl[0]
    assert "/v1/users/u0003/recommendations?k=10&exclude_seen=true" in curl[0]
    table = explore.explained_table(ids["lightgcn"], "u0003",
                                    explore.top_k(ids["lightgcn"], "u0003", 10, True), ("", ""))
    assert list(table.columns) == ["run", "user", "rank", "item", "title", "score", "explanation",
                                   "backend", "faithful", "fallback_reason"]
    assert table["explanation"].str.len().gt(20).all()


@pytest.mark.slow
def test_llm_failure_falls_back_and_says_why(monkeypatch):
    home, ids = trained_home()
    at = open_page("recommendations", monkeypatch, home)
    at.selectbox(key="rec_run").set_value(ids["lightgcn"]).run()
    at.slider(key="rec_k").set_value(5).run()
    at.text_input(key="llm_url").set_value("http://127.0.0.1:9").run()
    at.text_input(key="llm_model").set_value("nobody").run()
    warnings = [w.value for w in at.warning]
    assert warnings and all(w.startswith("The language model's text was not used:")
                            for w in warnings)
    assert "127.0.0.1:9" in warnings[0]
    assert "Written by template" in texts(at)


def open_tab(at, label: str) -> None:
    at.session_state["rec_view"] = label
    at.run()


@pytest.mark.slow
def test_compare_runs_and_cold_start(monkeypatch):
    home, ids = trained_home()
    at = open_page("recommendations", monkeypatch, home)
    at.selectbox(key="rec_run").set_value(ids["text_lightgcn"]).run()
    # Closed tabs are not computed: no second run to pick, no sentence box yet.
    assert not [s for s in at.selectbox if s.key == "rec_other"] and not at.text_area
    open_tab(at, "Compare two runs")
    # The user tab's cards are gone; the narrator settings above the tabs stay.
    assert [e.label for e in at.expander] == ["Explanation narrator (optional language model)"]
    at.selectbox(key="rec_other").set_value(ids["lightgcn"]).run()
    both = [f for f in _frames(at, "in both")]
    assert len(both) == 2
    shared = set(both[0].loc[both[0]["in both"], "item"])
    assert shared == set(both[1].loc[both[1]["in both"], "item"])
    assert shared == set(both[0]["item"]) & set(both[1]["item"])
    assert f"**{len(shared)} of 10** items are in both lists" in texts(at)
    # A sentence gives recommendations from the text model.
    open_tab(at, "Cold start")
    at.text_area(key="cold_text").set_value("A family film about dragons and magic").run()
    at.button(key="cold_text_go").click().run()
    cold = next(f for f in _frames(at, "interactions"))
    assert len(cold) == 10 and cold["score"].is_monotonic_decreasing
    # Liked items work for any model; a model without text cannot read a sentence.
    at.selectbox(key="rec_run").set_value(ids["lightgcn"]).run()
    at.text_area(key="cold_text").set_value("space opera").run()
    at.button(key="cold_text_go").click().run()
    assert any("has no text pathway" in e.value for e in at.error)
    at.radio(key="cold_how").set_value("items they liked").run()
    at.multiselect(key="cold_items").set_value(["m0001", "m0002"]).run()
    at.button(key="cold_items_go").click().run()
    cold = next(f for f in _frames(at, "interactions"))
    assert not {"m0001", "m0002"} & set(cold["item"])


def test_without_saved_runs_points_to_the_train_page(monkeypatch, tmp_path):
    at = open_page("recommendations", monkeypatch, str(tmp_path))
    assert "No saved runs yet: train a model on the Train page." in texts(at)
