"""Streamlit helpers shared by the pages: session-state keys, cached loaders, widgets.

This is the only package besides ``app.py`` and ``pages/`` that imports Streamlit;
``recsys_core`` stays free of it.
"""
