"""Explanations: evidence from the model and graph, narrated, then checked.

``explain(model, ds, user, item)`` gathers the evidence
(:mod:`~recsys_core.explain.evidence`), has a narrator write it up (the
deterministic template by default, or a language model from
:mod:`~recsys_core.explain.llm`) and checks the text
(:mod:`~recsys_core.explain.check`). A language model's text that fails the
check, or a backend that fails, is replaced by the template text and the
reason is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys_core.data.dataset import Dataset
from recsys_core.explain.check import CheckResult
from recsys_core.explain.check import check as check_text
from recsys_core.explain.evidence import (
    Evidence,
    HistoryEvidence,
    PathEvidence,
    PopularityEvidence,
    TagEvidence,
    TextEvidence,
    gather,
)
from recsys_core.explain.llm import ChatCompletionsNarrator, TransformersNarrator
from recsys_core.explain.narrate import NarrationError, Narrator, TemplateNarrator

__all__ = [
    "ChatCompletionsNarrator", "CheckResult", "Evidence", "Explanation", "HistoryEvidence",
    "NarrationError", "Narrator", "PathEvidence", "PopularityEvidence", "TagEvidence",
    "TemplateNarrator", "TextEvidence", "TransformersNarrator", "check_text", "explain", "gather",
]


@dataclass
class Explanation:
    """Why one item is recommended to one user: evidence first, words second."""

    evidence: Evidence
    text: str  # the explanation shown
    faithful: bool  # the shown text passed the check against the evidence
    backend: str  # who wrote ``text``: "template", "chat:<model>", "transformers:<folder>"
    fallback_reason: str | None = None  # why a language model's text was not used
    rejected_text: str | None = None  # the language model's text that failed the check

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "faithful": self.faithful,
            "backend": self.backend,
            "fallback_reason": self.fallback_reason,
            "rejected_text": self.rejected_text,
            "evidence": self.evidence.to_dict(),
        }


def explain(model, ds: Dataset, user: Any, item: Any, *, narrator: Narrator | None = None,
            top: int = 3, text_embeddings: np.ndarray | None = None) -> Explanation:
    """Explain why ``model`` recommends ``item`` to ``user`` (original ids).

    ``narrator`` None uses the template; ``top`` caps each evidence list;
    ``text_embeddings`` ([n_items, d]) replaces the model's own text features
    or the TF-IDF fallback for text similarity.
    """
    evidence = gather(model, ds, user, item, top=top, text_embeddings=text_embeddings)
    template = TemplateNarrator()
    reason = rejected = None
    if narrator is not None and not isinstance(narrator, TemplateNarrator):
        backend = getattr(narrator, "backend", type(narrator).__name__)
        try:
            generated = narrator.narrate(evidence)
        except NarrationError as err:
            reason = str(err)
        except Exception as err:  # a third-party narrator must not break the page
            reason = f"the {backend} narrator failed: {type(err).__name__}: {err}"
        else:
            result = check_text(generated, evidence, ds)
            if result.ok:
                return Explanation(evidence, generated, True, backend)
            reason, rejected = result.reason, generated
    text = template.narrate(evidence)
    return Explanation(evidence, text, check_text(text, evidence, ds).ok, template.backend,
                       reason, rejected)
