"""GraphRec Studio dashboard: `streamlit run app.py` (or `python -m ui.launch`).

Page config, the shared sidebar (which dataset the pages work on) and the
navigation. To add a page, append one ``st.Page`` to ``PAGES``.
"""

from pathlib import Path

from ui import preload

with preload.paused():  # the server's background imports wait while the app runs
    import streamlit as st

    from ui import browser_preload, state, widgets

    # A local icon: a ":material/...:" favicon is fetched from Google's font servers.
    st.set_page_config(page_title="GraphRec Studio", layout="wide",
                       page_icon=str(Path(__file__).resolve().parent / "ui/assets/icon.png"))

    PAGES = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
        st.Page("pages/graph.py", title="Graph", icon=":material/share:"),
        st.Page("pages/classroom.py", title="Message passing", icon=":material/school:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
        st.Page("pages/recommendations.py", title="Recommendations", icon=":material/recommend:"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/leaderboard:"),
    ]

    page = st.navigation(PAGES)
    state.ensure_default()
    widgets.dataset_picker()
    page.run()
    # After the page, so it never delays the page's own content.
    browser_preload.warm_browser()
