"""Home page and the shared sidebar: the sample is current on first start."""

from __future__ import annotations

from pathlib import Path

from apptest_helpers import APP, TIMEOUT, assert_clean, open_page
from streamlit.testing.v1 import AppTest

from recsys_core.data import load
from ui import state

ROOT = Path(APP).parent


def test_home_summarises_the_bundled_sample():
    at = open_page("home")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Users": "1,000", "Items": "600", "Interactions": "40,000",
                       "Density": "6.667 %"}  # 40,000 / (1,000 x 600)
    assert [s.value for s in at.subheader] == ["Current dataset: sample", "Where to go next"]
    assert not at.get("plotly_chart")  # the landing page opens without charts
    links = [link.proto.page for link in at.get("page_link")]
    assert links == ["data", "graph", "classroom", "train", "embeddings", "recommendations",
                     "evaluation"]


def test_sidebar_picker_switches_the_current_dataset():
    seed = load(ROOT / "sample_data/seed_example/interactions.csv", name="seed")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.DATASETS] = {"tiny": seed, "tiny copy": seed.replace(name="copy")}
    at.session_state[state.CURRENT] = "tiny"
    at.run()
    picker = at.sidebar.selectbox(key=state.PICKER)
    assert picker.options == ["tiny", "tiny copy"] and picker.value == "tiny"
    assert [m.value for m in at.metric][:3] == ["2", "2", "4"]
    picker.set_value("tiny copy").run()
    assert_clean(at)
    assert at.session_state[state.CURRENT] == "tiny copy"
    assert at.subheader[0].value == "Current dataset: copy"
