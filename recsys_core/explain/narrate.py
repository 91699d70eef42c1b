"""The default narrator: deterministic sentences built from the evidence.

Each kind of evidence has its own sentence form, and the form changes with
what the evidence holds (one cited item or several, liked or only rated, a
popular item or a niche one). Items are named by title in double quotes;
every number printed is a number of the evidence, so the text passes
:func:`recsys_core.explain.check.check` by construction.
"""

from __future__ import annotations

from typing import Protocol

from recsys_core.explain.evidence import Evidence

#: Text similarity below this is too weak to mention.
MIN_SIMILARITY = 0.15
#: A genre shared with fewer history items than this is not worth a sentence.
MIN_TAG_ITEMS = 2
#: Share of the catalogue, by popularity rank, whose items are called "most popular".
POPULAR_SHARE = 0.1


class NarrationError(RuntimeError):
    """A narrator could not produce text; ``str(err)`` says why, for the user."""


class Narrator(Protocol):
    """Anything that turns evidence into text."""

    backend: str

    def narrate(self, evidence: Evidence) -> str: ...


class TemplateNarrator:
    """Plain-language explanation from evidence, no language model involved."""

    backend = "template"

    def narrate(self, evidence: Evidence) -> str:
        sentences = [
            self._lead(evidence),
            self._paths(evidence),
            self._content(evidence),
            self._popularity(evidence),
        ]
        return " ".join(s for s in sentences if s)

    def __repr__(self) -> str:
        return "TemplateNarrator()"

    # ------------------------------------------------------------ sentence forms
    @staticmethod
    def _lead(ev: Evidence) -> str:
        item = q(ev.item_title)
        if ev.history:
            liked = [h for h in ev.history if h.liked]
            other = [h for h in ev.history if not h.liked]
            if liked and not other:
                reason = f"you liked {join_titles([h.title for h in liked])}"
            elif liked:
                reason = (f"you liked {join_titles([h.title for h in liked])} and also "
                          f"engaged with {join_titles([h.title for h in other])}")
            else:
                reason = f"of your interest in {join_titles([h.title for h in other])}"
            if len(ev.history) == 1:
                return f"We recommend {item} mainly because {reason}."
            return (f"We recommend {item} mainly because {reason}: these are the items in your "
                    f"history that raise its score the most.")
        if ev.history_size == 0:
            return f"We recommend {item} even though you have no history yet."
        return f"We recommend {item} for reasons beyond any single item in your history."

    @staticmethod
    def _paths(ev: Evidence) -> str:
        if not ev.paths:
            return ""
        first = ev.paths[0]
        people = "person" if first.users == 1 else "people"
        sentence = f"{first.users} {people} who liked {q(first.via_title)} also liked {q(ev.item_title)}"
        if len(ev.paths) > 1 and ev.paths[1].users > 1:
            second = ev.paths[1]
            sentence += f", and so did {second.users} who liked {q(second.via_title)}"
        return sentence + "."

    @staticmethod
    def _content(ev: Evidence) -> str:
        close = [t for t in ev.text if t.similarity >= MIN_SIMILARITY]
        if close:
            best = close[0]
            sentence = (f"In content it is closest to {q(best.title)} from your history "
                        f"(text similarity {best.similarity:.2f})")
            if best.shared_tags:
                sentence += f", and both are {join_plain(list(best.shared_tags))}"
            return sentence + "."
        if ev.tags and ev.tags[0].history_items >= MIN_TAG_ITEMS:
            tag = ev.tags[0]
            return (f"It is {tag.tag}, like {tag.history_items} of the {tag.history_size} items "
                    f"in your history.")
        return ""

    @staticmethod
    def _popularity(ev: Evidence) -> str:
        pop = ev.popularity
        if pop is None or pop.interactions == 0:
            return ""
        people = "interaction" if pop.interactions == 1 else "interactions"
        if pop.rank <= max(1, round(pop.n_items * POPULAR_SHARE)):
            return (f"It is also one of the most popular items, ranking {ordinal(pop.rank)} of "
                    f"{pop.n_items:,} by its {pop.interactions:,} {people}.")
        if pop.recent:
            return (f"It has been active lately, with {pop.recent:,} of its "
                    f"{pop.interactions:,} {people} in the last {pop.recent_days:g} days.")
        if not ev.history and not ev.paths:
            return f"It has {pop.interactions:,} {people} so far."
        return f"It is a less obvious pick, with {pop.interactions:,} {people} so far."


def q(title: str) -> str:
    """A title in double quotes, the way every narrator names items."""
    return f'"{title}"'


def join_titles(titles: list[str]) -> str:
    return join_plain([q(t) for t in titles])


def join_plain(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"
