"""Hyperparameter widgets of the train page: one input per model parameter, with help.

Defaults come from each model's ``__init__`` signature, except where
:data:`PAGE_DEFAULTS` picks a shorter run for interactive use.
"""

from __future__ import annotations

import inspect
from typing import Any

import streamlit as st

from recsys_core import models

#: What each common hyperparameter does, shown as the widget's help.
PARAM_HELP = {
    "dim": "Embedding size: numbers per user and item. Larger fits more detail, trains slower.",
    "layers": "Graph propagation layers: how many hops of neighbours shape an embedding.",
    "lr": "Adam learning rate: the step size of each update.",
    "batch_size": "BPR (user, liked item, random item) triples per optimiser step.",
    "epochs": "Upper limit of passes over the training interactions; early stopping may end sooner.",
    "reg": "L2 penalty on the embeddings: higher values fight overfitting.",
    "seed": "Random seed: the same seed and settings give the same model.",
    "patience": "Validation checks without a better NDCG@20 before training stops (0: never early).",
    "eval_every": "Epochs between validation checks (NDCG@20 on the validation part).",
    "valid_fraction": "Share of each user's training items held out for validation when the "
                      "dataset has no validation part.",
    "max_seconds": "Wall-clock budget in seconds for the whole run (0: no limit).",
    "refit": "After early stopping picks the number of epochs, retrain from scratch on the "
             "training and validation interactions together for that many epochs.",
    "gate": "Blend the ID-only and the text-fused scores with a text weight chosen on "
            "validation, so text that does not help is switched off.",
    "ideal_weight": "Weight of the graph filter's ideal low-pass term (empty: chosen on "
                    "validation, then refitted on all training data).",
    "n_factors": "Singular vectors in the ideal low-pass term (empty: chosen on validation).",
    "sharpen_time": "BSPM's sharpening time T; 0 is GF-CF (empty: chosen on validation).",
    "l2": "EASE's L2 weight lambda (empty: chosen on validation, then refitted on all "
          "training data).",
    "memory_gb": "Most memory EASE may use; it refuses larger catalogues and says the limit.",
    "heads": "Attention heads per GAT layer.",
    "dropout": "Share of activations dropped at random during training.",
    "text_model": "Folder of a local sentence-transformers model (empty: the bundled all-MiniLM-L6-v2).",
    "text_weight": "How strongly the language-model text features shape the embeddings.",
    "user_text": "How a user's text feature is formed from their profile and their items' texts.",
    "hidden": "Width of the hidden layer.",
    "threads": "CPU threads for training (empty: chosen for this machine).",
    "item_dropout": "Share of items seen through their text alone in each batch, which trains "
                    "the text pathway that serves items nobody has interacted with.",
    "user_dropout": "The same for users: trains recommendations for users with no history.",
    "align": "Weight of pulling each text-only embedding towards the graph embedding.",
    "rating_weighted": "Weight a user's items by rating when averaging their texts.",
    "profile_weight": "Share of a user's profile text in their text feature (the rest: their "
                      "items' texts).",
    "use_profiles": "Use users' own profile texts where the data has them.",
}

#: Shorter runs than the library defaults, for a page someone is watching.
PAGE_DEFAULTS = {"epochs": 30, "patience": 3, "max_seconds": 0.0}

#: Parameters not offered on the page (set by the run itself).
HIDDEN = {"callbacks", "verbose", "device", "encoder"}


def param_defaults(model_name: str) -> dict[str, Any]:
    """A model's hyperparameters and their page defaults, in signature order."""
    sig = inspect.signature(models.model_class(model_name).__init__)
    out = {}
    for name, p in sig.parameters.items():
        if name == "self" or name in HIDDEN or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        out[name] = PAGE_DEFAULTS.get(name, default)
    return out


def param_inputs(model_name: str, key: str) -> dict[str, Any]:
    """One widget per hyperparameter of ``model_name``; returns the chosen values."""
    values: dict[str, Any] = {}
    defaults = param_defaults(model_name)
    cols = st.columns(3)
    for n, (name, default) in enumerate(defaults.items()):
        col = cols[n % 3]
        help_text = PARAM_HELP.get(name, f"The model's {name!r} parameter.")
        wkey = f"{key}_{model_name}_{name}"
        if isinstance(default, bool):
            values[name] = col.checkbox(name, value=default, help=help_text, key=wkey)
        elif isinstance(default, int):
            values[name] = int(col.number_input(name, value=default, step=1, help=help_text,
                                                key=wkey))
        elif isinstance(default, float):
            step = default / 10 if 0 < default < 1 else 1.0
            values[name] = float(col.number_input(name, value=default, step=float(step),
                                                  format="%g", help=help_text, key=wkey))
        elif isinstance(default, str) or default is None:
            text = col.text_input(name, value=default or "", help=help_text, key=wkey)
            values[name] = _parse(text) if default is None else (text or default)
        else:  # tuples and other structured defaults are kept as they are
            values[name] = default
    if values.get("max_seconds") == 0.0:
        values["max_seconds"] = None
    return values


def _parse(text: str):
    """Text typed for a parameter without a default: empty is None, numbers become numbers."""
    text = text.strip()
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
