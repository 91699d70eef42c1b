"""Recommenders behind one interface; ``make(name, **params)`` builds one by name."""

from __future__ import annotations

import importlib

from recsys_core.models.base import Recommender

# name -> "module:Class"; modules are imported on first use so the app starts fast.
REGISTRY: dict[str, str] = {}


def register(name: str, target: str) -> None:
    REGISTRY[name] = target


def available() -> list[str]:
    return sorted(REGISTRY)


def model_class(name: str) -> type[Recommender]:
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(available())}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make(name: str, **params) -> Recommender:
    """A new, unfitted model by registry name, e.g. ``make("lightgcn", dim=64)``."""
    return model_class(name)(**params)


# Each model module adds one line here when it lands.
register("text_knn", "recsys_core.models.text_knn:TextKNN")
register("text_lightgcn", "recsys_core.models.text_lightgcn:TextLightGCN")
register("text_sage", "recsys_core.models.text_sage:TextSAGE")
register("gf_cf", "recsys_core.models.graph_filter:GFCF")
register("bspm", "recsys_core.models.graph_filter:BSPM")
register("popularity", "recsys_core.models.popularity:Popularity")
register("mf", "recsys_core.models.mf:MF")
register("lightgcn", "recsys_core.models.lightgcn:LightGCN")
register("seed_gnn", "recsys_core.models.seed_gnn:SeedGNN")
register("gat", "recsys_core.models.gat:GAT")
register("ease", "recsys_core.models.ease:EASE")
