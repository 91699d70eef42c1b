"""Graph page: ego network HTML, sampling statement, search, options, networkx statistics."""

from __future__ import annotations

import re

from apptest_helpers import assert_clean, open_page, texts


def iframe_html(at) -> str:
    frames = [e for e in at.main if getattr(e, "type", "") == "iframe"]
    assert frames, "no iframe on the page"
    return frames[-1].proto.srcdoc


def centre(at):
    return next(s for s in at.selectbox if s.label == "Centre")


def test_default_view_is_a_capped_ego_network_of_the_most_connected_user():
    at = open_page("graph")
    kind, original, _ = centre(at).value
    ds = at.session_state["datasets"]["sample"]
    counts = ds.interactions["user"].value_counts()
    assert kind == "user" and original == ds.user_ids[counts.index[0]]
    assert "Sampling: showing 150 of" in texts(at)
    html = iframe_html(at)
    assert "vis.Network" in html
    assert not re.search(r"<script[^>]*\bsrc=", html)  # vis.js is inlined: nothing fetched
    stats = at.dataframe[0].value
    assert stats.loc["nodes", "this neighbourhood"] == 150
    assert stats.loc["nodes", "whole graph"] == ds.n_users + ds.n_items
    assert stats.loc["connected components", "whole graph"] == 1


def test_search_by_title_and_one_hop():
    at = open_page("graph")
    at.text_input(key="graph_query").set_value("dragon").run()
    assert_clean(at)
    options = centre(at).options
    assert options and all("Dragon" in o or "dragon" in o for o in options)
    kind, original, title = centre(at).value
    assert kind == "item"
    at.number_input(key="graph_cap").set_value(300).run()  # above this item's degree
    at.slider(key="graph_hops").set_value(1).run()
    assert_clean(at)
    ds = at.session_state["datasets"]["sample"]
    degree = int((ds.interactions["item"] == ds.item_index(original)).sum())
    assert f"showing all {degree + 1} nodes within 1 hop" in texts(at)


def test_node_cap_and_toggles_change_the_drawing():
    at = open_page("graph")
    at.number_input(key="graph_cap").set_value(40).run()
    assert "Sampling: showing 40 of" in texts(at)
    plain = iframe_html(at)
    at.toggle(key="graph_genre").set_value(True).run()
    assert_clean(at)
    coloured = iframe_html(at)
    assert coloured != plain
    assert '"physics": {"enabled": false' in coloured.replace("'", '"')  # off by default
    at.toggle(key="graph_physics").set_value(True).run()
    assert '"physics": {"enabled": true' in iframe_html(at).replace("'", '"')
    assert at.dataframe[0].value.loc["nodes", "this neighbourhood"] == 40
