"""Charts of a tuning study's trials, built from :meth:`recsys_core.runs.RunStore.trials`.

The input frame has one row per trial with ``number``, ``state``
(complete / pruned / fail), ``value`` (validation NDCG@20; for a pruned
trial the best value it reached before it was stopped) and ``params`` (a
dict of the sampled hyperparameters). :func:`trial_table` flattens the
parameters into columns; :func:`value_vs_param` plots the value against one
parameter, :func:`parallel_coordinates` every parameter at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

#: Marker colour of each trial state.
STATE_COLOURS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#7f7f7f"}
VALUE_LABEL = "validation NDCG@20"
NOTE = ("Each point is one trial, trained on the training part less a validation part and "
        "scored by full-ranking NDCG@20 on validation (never on test). Pruned trials show the "
        "best value they reached before the median rule stopped them.")


def trial_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs, duration, then one column per parameter."""
    params = pd.DataFrame(list(trials["params"]) if len(trials) else [], index=trials.index)
    keep = [c for c in ("number", "state", "value", "best_epoch", "epochs", "duration")
            if c in trials]
    return pd.concat([trials[keep], params], axis=1)


def param_names(trials: pd.DataFrame) -> list[str]:
    """Parameters sampled in any trial, in first-seen order."""
    names: list[str] = []
    for params in trials["params"]:
        names += [p for p in params if p not in names]
    return names


def value_vs_param(trials: pd.DataFrame, param: str, title: str = "Trials") -> go.Figure:
    """Scatter of validation NDCG@20 against ``param``, one colour per trial state.

    A parameter sampled on a log scale (all values positive, spanning more
    than a factor of 20) gets a log axis; the best trial is ringed.
    """
    table = trial_table(trials)
    fig = go.Figure()
    if param not in table:
        raise ValueError(f"no trial sampled {param!r}; sampled: {', '.join(param_names(trials))}")
    for state, colour in STATE_COLOURS.items():
        rows = table[(table["state"] == state) & table["value"].notna()]
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(
            x=rows[param], y=rows["value"], mode="markers", name=state,
            marker={"color": colour, "size": 9},
            customdata=rows["number"], hovertemplate=f"trial %{{customdata}}<br>{param} %{{x}}"
                                                     "<br>NDCG@20 %{y:.4f}<extra></extra>"))
    done = table[table["state"] == "complete"]
    if not done.empty:
        best = done.loc[done["value"].idxmax()]
        fig.add_trace(go.Scatter(x=[best[param]], y=[best["value"]], mode="markers", name="best",
                                 marker={"size": 18, "color": "rgba(0,0,0,0)",
                                         "line": {"color": "#d62728", "width": 2}}))
    values = pd.to_numeric(table[param], errors="coerce").dropna()
    log = bool(len(values) and (values > 0).all() and values.max() / values.min() > 20)
    fig.update_layout(title={"text": f"{title}: {VALUE_LABEL} against {param}"}, height=420,
                      xaxis={"title": param, "type": "log" if log else "-"},
                      yaxis={"title": VALUE_LABEL}, margin={"t": 60, "b": 90})
    fig.add_annotation(text=NOTE, showarrow=False, xref="paper", yref="paper", x=0, y=-0.3,
                       xanchor="left", align="left", font={"size": 11})
    return fig


def parallel_coordinates(trials: pd.DataFrame, title: str = "Trials") -> go.Figure:
    """Every trial with a value as a line through its parameters and its NDCG@20.

    Categorical parameters become integer positions labelled with their values.
    """
    table = trial_table(trials)
    table = table[table["value"].notna()]
    dims = []
    for name in param_names(trials):
        column = table[name]
        numeric = pd.to_numeric(column, errors="coerce")
        if numeric.notna().all() and column.map(lambda v: not isinstance(v, (bool, str))).all():
            values = numeric.to_numpy(float)
            if (values > 0).all() and values.max() / values.min() > 20:
                dims.append({"label": f"log10 {name}", "values": np.log10(values)})
            else:
                dims.append({"label": name, "values": values})
        else:
            levels = sorted(column.astype(str).unique())
            dims.append({"label": name, "values": column.astype(str).map(levels.index),
                         "tickvals": list(range(len(levels))), "ticktext": levels})
    dims.append({"label": VALUE_LABEL, "values": table["value"].to_numpy(float)})
    fig = go.Figure(go.Parcoords(
        line={"color": table["value"].to_numpy(float), "colorscale": "Viridis",
              "showscale": True, "colorbar": {"title": "NDCG@20"}},
        dimensions=dims))
    fig.update_layout(title={"text": f"{title}: every trial's parameters and {VALUE_LABEL}"},
                      height=460, margin={"t": 80, "b": 40})
    return fig
