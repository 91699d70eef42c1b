"""The HTTP API through FastAPI's TestClient: every endpoint, every error, auth and limits."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recsys_core.explain import explain
from recsys_core.runs import RunStore
from recsys_core.serve import service
from recsys_core.serve.app import ServeSettings, create_app
from tests.serve.conftest import HOSTILE_TITLE


@pytest.fixture(scope="module")
def client(serve_home):
    home, ids = serve_home
    app = create_app(ServeSettings(home=str(home), runs=[ids["mf"]]))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def mf(serve_home):
    home, ids = serve_home
    return RunStore(home).load(ids["mf"])


def test_healthz_lists_the_default_run_first(client, serve_home):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["runs"][0] == serve_home[1]["mf"]


def test_runs_lists_every_saved_run_with_its_test_metrics(client, serve_home):
    body = client.get("/v1/runs").json()
    by_id = {r["id"]: r for r in body["runs"]}
    assert body["default"] == serve_home[1]["mf"]
    assert set(by_id) >= set(serve_home[1].values())
    assert by_id[serve_home[1]["mf"]]["model"] == "mf"
    assert by_id[serve_home[1]["mf"]]["metrics"]["ndcg@10"] == pytest.approx(0.25)
    assert by_id[serve_home[1]["mf"]]["loaded"] is True
    assert by_id[serve_home[1]["text_knn"]]["dataset"] == "serve-small"


@pytest.mark.parametrize("user_pos", [0, 7, 149])
def test_http_list_equals_in_process_recommend(client, mf, user_pos):
    model, ds = mf
    user = ds.user_ids[user_pos]
    items, scores = model.recommend([user], k=15)
    body = client.get(f"/v1/users/{user}/recommendations", params={"k": 15}).json()
    assert body["user"] == user
    assert [r["item"] for r in body["items"]] == list(items[0])
    assert [r["rank"] for r in body["items"]] == list(range(1, 16))
    np.testing.assert_allclose([r["score"] for r in body["items"]], scores[0], rtol=1e-6)
    assert [r["title"] for r in body["items"]] == [ds.item_title(ds.item_index(i))
                                                   for i in items[0]]


def test_exclude_seen_keeps_history_out_and_can_be_turned_off(client, mf):
    model, ds = mf
    user = ds.user_ids[3]
    history = set(ds.item_ids[ds.seen_matrix()[3].indices])
    full = client.get(f"/v1/users/{user}/recommendations", params={"k": 1000}).json()["items"]
    assert not history & {r["item"] for r in full}
    assert len(full) == ds.n_items - len(history)  # k capped at what may be recommended
    unmasked = client.get(f"/v1/users/{user}/recommendations",
                          params={"k": 1000, "exclude_seen": "false"}).json()["items"]
    assert len(unmasked) == ds.n_items and history <= {r["item"] for r in unmasked}


@pytest.mark.parametrize("k", ["0", "-3", "1001", "abc", "2.5"])
def test_bad_k_is_422_naming_k(client, mf, k):
    user = mf[1].user_ids[0]
    for path in (f"/v1/users/{user}/recommendations", f"/v1/items/{mf[1].item_ids[0]}/similar"):
        response = client.get(path, params={"k": k})
        assert response.status_code == 422
        assert "k" in response.json()["detail"] and response.json()["errors"][0]["loc"][-1] == "k"


def test_unknown_user_item_and_run_are_404_naming_them(client, mf):
    ds = mf[1]
    user, item = ds.user_ids[0], ds.item_ids[0]
    cases = {"/v1/users/nobody-42/recommendations": "unknown user 'nobody-42'",
             f"/v1/users/{user}/recommendations/no-such-item/explanation": "unknown item 'no-such-item'",
             f"/v1/users/nobody-42/recommendations/{item}/explanation": "unknown user 'nobody-42'",
             "/v1/items/no-such-item/similar": "unknown item 'no-such-item'",
             f"/v1/users/{user}/recommendations?run=20990101-000000-x-000000":
                 "unknown run '20990101-000000-x-000000'"}
    for path, message in cases.items():
        response = client.get(path)
        assert response.status_code == 404, path
        assert message in response.json()["detail"], path


def test_explanation_is_the_dashboards(client, mf):
    model, ds = mf
    user = ds.user_ids[5]
    item = model.recommend([user], k=1)[0][0][0]
    body = client.get(f"/v1/users/{user}/recommendations/{item}/explanation").json()
    expected = explain(model, ds, user, item)
    assert body["text"] == expected.text and body["backend"] == "template"
    assert body["faithful"] is expected.faithful
    assert body["evidence"]["recommended_item"]["id"] == item
    assert body["evidence"]["user"] == user


def test_similar_items_are_cosine_neighbours_without_the_item_itself(client, mf):
    model, ds = mf
    emb = model.item_embeddings()
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit[4]
    cos[4] = -np.inf
    expected = ds.item_ids[np.argsort(-cos, kind="stable")[:5]]
    body = client.get(f"/v1/items/{ds.item_ids[4]}/similar", params={"k": 5}).json()
    assert [r["item"] for r in body["items"]] == list(expected)
    assert ds.item_ids[4] not in [r["item"] for r in body["items"]]
    np.testing.assert_allclose([r["score"] for r in body["items"]],
                               np.sort(cos)[::-1][:5], rtol=1e-5)


def test_titles_are_json_data_never_html(client, mf):
    ds = mf[1]
    response = client.get(f"/v1/items/{ds.item_ids[1]}/similar", params={"k": 1000})
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    titles = {r["item"]: r["title"] for r in response.json()["items"]}
    assert titles[ds.item_ids[0]] == HOSTILE_TITLE


def test_cold_start_from_liked_items_any_model(client, mf):
    model, ds = mf
    liked = [ds.item_ids[2], ds.item_ids[9]]
    body = client.post("/v1/recommendations", json={"liked_items": liked, "k": 5}).json()
    assert body["via"] == "liked items" and len(body["items"]) == 5
    assert not set(liked) & {r["item"] for r in body["items"]}


def test_cold_start_from_text_on_a_run_without_text_is_422_saying_why(client):
    response = client.post("/v1/recommendations", json={"text": "space operas", "k": 5})
    assert response.status_code == 422
    assert "has no text encoder" in response.json()["detail"]


def test_cold_start_from_text_and_items_on_a_text_run(client, serve_home, mf):
    ds = mf[1]
    run = serve_home[1]["text_knn"]
    text_only = client.post("/v1/recommendations", params={"run": run},
                            json={"text": "a tense heist thriller", "k": 5})
    assert text_only.status_code == 200 and text_only.json()["via"] == "text"
    assert text_only.json()["run"] == run
    both = client.post("/v1/recommendations", json={"text": "a tense heist thriller", "k": 5,
                                                    "liked_items": [ds.item_ids[0]], "run": run})
    assert both.status_code == 200 and both.json()["via"] == "text and liked items"
    assert ds.item_ids[0] not in [r["item"] for r in both.json()["items"]]


@pytest.mark.parametrize("body, status, words", [
    ({}, 422, "non-empty 'text'"),
    ({"text": "   "}, 422, "non-empty 'text'"),
    ({"liked_items": ["m9999"], "k": 3}, 404, "unknown item id(s): 'm9999'"),
    ({"liked_items": ["x"], "k": 0}, 422, "k"),
    ({"liked_items": ["x"], "k": "10"}, 422, "k"),
    ({"liked_items": ["x"], "k": 2.5}, 422, "k"),
    ({"liked_items": ["x"], "colour": "red"}, 422, "colour: Extra inputs are not permitted"),
])
def test_cold_start_bad_bodies(client, body, status, words):
    response = client.post("/v1/recommendations", json=body)
    assert response.status_code == status
    assert words in response.json()["detail"]


def test_body_over_one_megabyte_is_413(client):
    big = b'{"text": "' + b"a" * 1_000_100 + b'"}'
    response = client.post("/v1/recommendations", content=big,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    def chunks():  # no Content-Length: counted while read
        for _ in range(12):
            yield b"a" * 100_000

    response = client.post("/v1/recommendations", content=chunks(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_unexpected_error_is_500_with_an_id_and_logged(client, mf, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "similar_items", broken)
    with caplog.at_level(logging.ERROR, logger="recsys_core.serve"):
        response = client.get(f"/v1/items/{mf[1].item_ids[0]}/similar")
    assert response.status_code == 500
    body = response.json()
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert body["error_id"] in body["detail"]
    assert any(body["error_id"] in r.getMessage() and r.exc_info for r in caplog.records)


def test_api_key_required_when_set(serve_home, mf):
    home, ids = serve_home
    client = TestClient(create_app(ServeSettings(home=str(home), runs=[ids["mf"]],
                                                 api_key="s3cret-key")))
    path = f"/v1/users/{mf[1].user_ids[0]}/recommendations"
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(path, headers={"Authorization": "s3cret-key"}).status_code == 401
    assert client.post("/v1/recommendations", json={"liked_items": ["x"]}).status_code == 401
    ok = client.get(path, headers={"Authorization": "Bearer s3cret-key"})
    assert ok.status_code == 200 and ok.json()["items"]
    assert client.get("/healthz").status_code == 200  # probes stay open
    assert client.get(path).headers["www-authenticate"] == "Bearer"


def test_api_key_off_means_open(client, mf):
    assert client.get(f"/v1/users/{mf[1].user_ids[0]}/recommendations").status_code == 200


def test_docs_and_openapi_are_served_without_a_cdn(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/v1/users/{user}/recommendations" in schema["paths"]
    assert "/v1/recommendations" in schema["paths"]


def test_a_run_saved_after_start_is_served_and_old_runs_are_evicted(serve_home, mf):
    from recsys_core.models import make

    home, ids = serve_home
    app = create_app(ServeSettings(home=str(home), runs=[ids["mf"]], max_bytes=1))
    client = TestClient(app)
    model, ds = mf
    new_run = RunStore(home).save(make("popularity").fit(ds), ds, {})
    user = ds.user_ids[0]
    body = client.get(f"/v1/users/{user}/recommendations", params={"run": new_run}).json()
    assert body["run"] == new_run
    assert [r["item"] for r in body["items"]] == list(make("popularity").fit(ds)
                                                      .recommend([user], k=10)[0][0])
    assert client.get(f"/v1/users/{user}/recommendations",
                      params={"run": "latest"}).json()["run"] == new_run
    # a 1-byte memory bound keeps only the run used last
    assert app.state.cache.loaded() == [new_run]
    RunStore(home).delete(new_run)
