"""Request and response bodies of the HTTP service (they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Id = str | int  # original ids keep their type: numbers stay numbers


class Health(BaseModel):
    status: str
    runs: list[str] = Field(description="runs in memory; the first is the default")


class RunInfo(BaseModel):
    id: str
    name: str | None
    model: str | None
    dataset: str | None
    created: float | None = Field(description="unix seconds: training started")
    finished: float | None = Field(description="unix seconds: saved")
    status: str | None
    params: dict[str, Any]
    metrics: dict[str, Any] = Field(description="test metrics recorded at training")
    loaded: bool = Field(description="held in memory by this server")
    index: str | None = Field(description="how top-k is computed, when loaded")


class RunList(BaseModel):
    default: str
    runs: list[RunInfo]


class RankedItem(BaseModel):
    item: Id
    title: str = Field(description="plain text, never markup")
    score: float
    rank: int = Field(ge=1)


class Recommendations(BaseModel):
    user: Id
    run: str
    items: list[RankedItem]


class Similar(BaseModel):
    item: Id
    title: str
    run: str
    method: str
    items: list[RankedItem]


class ExplanationOut(BaseModel):
    user: Id
    item: Id
    run: str
    text: str = Field(description="the explanation shown")
    faithful: bool = Field(description="the text passed the check against the evidence")
    backend: str = Field(description="who wrote the text: template, chat:<model>, ...")
    fallback_reason: str | None
    rejected_text: str | None
    evidence: dict[str, Any]


class ColdStartIn(BaseModel):
    """A person the model has never seen, described by a sentence and/or liked items."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, max_length=10_000, description="their tastes in words")
    liked_items: list[Id] = Field(default_factory=list, max_length=1000,
                                  description="original ids of items they liked")
    k: Annotated[int, Field(strict=True, ge=1, le=1000)] = 10
    include_cold: bool = True
    run: str | None = Field(None, description="run id (default: the server's default run)")


class ColdStartOut(BaseModel):
    run: str
    via: str = Field(description="what the user vector was built from")
    items: list[RankedItem]
