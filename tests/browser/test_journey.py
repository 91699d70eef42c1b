"""The analyst's journey in headless Chromium: train two models, look at embeddings, read
explained recommendations, ask for a cold-start user, compare metrics, download a CSV.

Screenshots of the train, embeddings, recommendations and evaluation pages go to
docs/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest
from browser_harness import (
    ROOT,
    StreamlitServer,
    fill_number,
    open_app,
    open_hyperparameters,
    screenshot,
    selectbox,
    wait_idle,
)

pytestmark = pytest.mark.browser

EPOCHS = "10"  # long enough for the 1 s refresh to see the bar move
PLOT_TRACES = """(i) => {
    const plots = document.querySelectorAll('.js-plotly-plot');
    const p = plots[i];
    return p && p.data ? p.data.map(t => ({name: t.name || '', x: Array.from(t.x || []),
                                           n: (t.hovertext || t.x || []).length})) : [];
}"""


@pytest.fixture(scope="module")
def journey_url(tmp_path_factory):
    """A server with its own run store; the text-embedding cache is copied so texts
    the project has encoded before are not encoded again."""
    home = tmp_path_factory.mktemp("graphrec-home")
    cache = ROOT / ".graphrec" / "cache" / "text"
    if cache.is_dir():
        shutil.copytree(cache, home / "cache" / "text")
    with StreamlitServer(env={"GRAPHREC_HOME": str(home)}) as server:
        yield server.url


def nav(page, title: str, path: str, timeout: float = 120.0) -> None:
    """Switch page through the sidebar (same session, so its jobs stay visible)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    page.wait_for_url(f"**/{path}", timeout=timeout * 1000)
    wait_idle(page, timeout)


def set_epochs(page, model: str, position: int) -> None:
    """Open the model's hyperparameter expander (the ``position``-th to open) and set a short run."""
    open_hyperparameters(page, model, position)
    fill_number(page, "epochs", EPOCHS, position)


def saved_cards(page) -> int:
    """Finished job cards (their progress text also says "saved as run", in lower case)."""
    return page.get_by_text(re.compile(r"^Saved as run ")).count()


def progress_values(page) -> list[int]:
    return [int(v) for v in page.locator('[data-testid="stProgress"] [role="progressbar"]')
            .evaluate_all("bars => bars.map(b => b.getAttribute('aria-valuenow') || '0')")]


def test_train_explore_recommend_evaluate(page, journey_url):
    app_url = journey_url
    # 1. Sample data: the app opens with the bundled sample registered.
    open_app(page, app_url)
    page.get_by_text("Current dataset: sample").wait_for()

    # 2. Train lightgcn and text_lightgcn for a few epochs, watching the progress bar move.
    nav(page, "Train", "train")
    models = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Models").first
    models.locator("input").first.click()
    page.get_by_role("option", name="text_lightgcn", exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_text("text_lightgcn: hyperparameters", exact=True).wait_for()
    set_epochs(page, "lightgcn", 0)
    set_epochs(page, "text_lightgcn", 1)
    page.get_by_role("button", name="Train", exact=True).click()
    seen: set[int] = set()
    for _ in range(900):  # up to 15 minutes on a busy machine
        seen.update(progress_values(page))
        if saved_cards(page) >= 2:
            break
        page.wait_for_timeout(1000)
    assert saved_cards(page) >= 2, "both runs finish and are saved"
    assert len(seen) >= 3, f"the progress bar moved through several values, saw {sorted(seen)}"
    page.locator(".js-plotly-plot").first.wait_for()
    screenshot(page, "train")

    # 3. The embeddings page shows points.
    nav(page, "Embeddings", "embeddings")
    page.locator(".js-plotly-plot").first.wait_for()
    traces = page.evaluate(PLOT_TRACES, 0)
    assert sum(t["n"] for t in traces) == 1600  # 1,000 users + 600 items, PCA of all
    screenshot(page, "embeddings")

    # 4. The recommendations page shows explanations.
    nav(page, "Recommendations", "recommendations")
    page.get_by_text("Written by template").first.wait_for()
    assert page.get_by_text(re.compile(r"^1\. .+ · score")).count() == 1
    screenshot(page, "recommendations")
    # The CSV is written when clicked and explains all ten, not only the three open cards.
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download these recommendations").click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
    assert len(rows) == 10 and all(len(r["explanation"]) > 20 for r in rows)

    # 5. A cold-start sentence returns items from the text_lightgcn run (the two
    # training jobs may finish in either order, so pick it by name).
    run_box = selectbox(page, "Run")
    run_box.click()
    run_box.fill("text_lightgcn")  # filters the list to that run
    page.get_by_role("option").filter(has_text="text_lightgcn · ").first.click()
    wait_idle(page, 120)
    assert selectbox(page, "Run").input_value().startswith("text_lightgcn · sample · ")
    page.get_by_role("tab", name="Cold start").click()
    page.get_by_label("Their tastes, in a sentence").fill(
        "I love haunted houses, ghosts and slasher films")
    page.get_by_role("button", name="Recommend").first.click()
    wait_idle(page, 120)
    page.get_by_role("button", name="Download (CSV)").wait_for()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
    assert len(rows) == 10 and set(rows[0]) == {"rank", "item", "title", "score", "interactions"}
    screenshot(page, "cold_start")

    # 6. The evaluation page shows both models in its chart.
    nav(page, "Evaluation", "evaluation")
    page.locator(".js-plotly-plot").first.wait_for()
    names = {x for t in page.evaluate(PLOT_TRACES, 0) for x in t["x"]}
    assert {"lightgcn", "text_lightgcn"} <= {n.split(" · ")[0] for n in names}
    screenshot(page, "evaluation")

    # 7. A CSV download has the expected columns.
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download the table (CSV)").click()
    header = open(dl.value.path(), encoding="utf-8").readline().strip().split(",")
    assert header == ["model", "metric", "k", "segment", "protocol", "value", "run", "dataset"]
    assert page.dialogs == []
