"""Figure and HTML builders: pure functions from data to plotly figures or HTML strings.

Nothing here imports Streamlit; pages call these and render the result. Modules
are imported on use (``from recsys_core.viz import data_charts``) so that
importing one does not load plotly or pyvis for the others.
"""
