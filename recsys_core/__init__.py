"""GraphRec Studio core: data, graph, text, models, training, evaluation, explanations, runs.

Nothing in this package imports Streamlit; the dashboard in ``app.py`` and
``pages/`` is a thin layer over it.
"""

import os

# Models ship with their packages; never reach for a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__version__ = "0.1.0"
