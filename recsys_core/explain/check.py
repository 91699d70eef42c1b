"""Faithfulness check: a text may name only evidence items and state only evidence numbers.

Names. Every catalogue title (and its short form without a trailing
"(year)" or leading article) found in the text must belong to an item the
evidence cites; anything the text puts in quotes or bold must be an evidence
title, tag or the user; "user X" must be the explained user. Multi-word titles
match case-insensitively, one-word titles only with their exact casing (so the
film "Up" is not found in "picked up"); genre and tag words of the catalogue
("Romance") are never read as titles.

Numbers. Once the named titles are cut out (titles may carry digits), every
number left, digits or the words two to twenty, must equal a number of the
evidence to the precision it is written with: "0.62" matches 0.6234, "62%"
matches 62.3, "41" matches 41 only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from recsys_core.data.dataset import Dataset
from recsys_core.explain.evidence import Evidence, graph_context

NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:st|nd|rd|th)?(?!\w)|\b("
    + "|".join(NUMBER_WORDS) + r")\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(r'"([^"\n]{1,200})"|“([^”\n]{1,200})”|\*\*([^*\n]{1,200})\*\*')
_USER = re.compile(r"\busers?\s+(?:id\s+)?#?([\w.@-]+)", re.IGNORECASE)
# A token that may be a user id written bare ("u2 liked it too"): letters and digits mixed.
_ID_TOKEN = re.compile(r"(?<![\w.@-])(?=[\w.@-]*\d)(?=[\w.@-]*[^\W\d])[\w.@-]+(?<![.,;:])")
_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}[^)]*\)\s*$")
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass
class CheckResult:
    """Outcome of :func:`check`; ``reason`` is a sentence for the user when ``ok`` is False."""

    ok: bool
    reason: str | None = None
    named: list[str] = field(default_factory=list)  # titles found in the text
    numbers: list[str] = field(default_factory=list)  # numbers found in the text


def check(text: str, evidence: Evidence, ds: Dataset | None = None) -> CheckResult:
    """Whether ``text`` names only evidence items and states only evidence numbers."""
    if not text or not text.strip():
        return CheckResult(False, "the generated text is empty")
    allowed = {_fold(t) for t in evidence.item_titles()}
    allowed_aliases = set(allowed) | {_fold(a) for t in evidence.item_titles() for a in aliases(t)}

    # 1. Catalogue titles named anywhere in the text.
    spans: list[tuple[int, int]] = []
    named: list[str] = []
    index = catalogue_index(ds) if ds is not None else {}
    own = _alias_index({_fold(t): t for t in evidence.item_titles()})
    words = set(_WORD.findall(text.casefold()))
    candidates = dict(own)  # evidence titles win over a catalogue title with the same alias
    for word in words:
        for alias_key, alias, title in index.get(word, ()):
            candidates.setdefault(alias_key, (alias, title))
    matches = []
    lowered = text.lower()
    for alias_key, (alias, title) in candidates.items():
        for m in _find(alias, text, lowered):
            matches.append((m.start(), m.end(), title, alias_key))
    # Longest match wins, so "Star Wars" inside "Star Wars: Episode V" is one mention.
    for start, end, title, _ in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
        if any(s <= start and end <= e for s, e in spans):
            continue
        spans.append((start, end))
        named.append(title)
        if _fold(title) not in allowed:
            return CheckResult(False, f"the generated text named '{title}', which is not in "
                                      f"the evidence", named)

    # 2. Anything quoted or bold must be an evidence title, tag or the user.
    tags = {_fold(g.tag) for g in evidence.tags}
    tags |= {_fold(t) for te in evidence.text for t in te.shared_tags}
    for m in _QUOTED.finditer(text):
        quoted = next(g for g in m.groups() if g is not None).strip()
        key = _fold(quoted)
        if key in allowed_aliases or key in tags or key == _fold(str(evidence.user_id)):
            spans.append((m.start(), m.end()))
            continue
        return CheckResult(False, f"the generated text named '{quoted}', which is not in the "
                                  f"evidence", named)

    # 3. Users: only the explained user may be named.
    for m in _USER.finditer(text):
        who = m.group(1).rstrip(".,;:")
        if _fold(who) == _fold(str(evidence.user_id)):
            spans.append((m.start(), m.end()))
            continue
        if any(c.isdigit() for c in who) or (ds is not None and _is_user(ds, who)):
            return CheckResult(False, f"the generated text named user '{who}', which is not in "
                                      f"the evidence", named)
    if ds is not None:  # other users' ids written without the word "user"
        masked_names = _mask(text, spans)
        for m in _ID_TOKEN.finditer(masked_names):
            who = m.group(0)
            if _fold(who) != _fold(str(evidence.user_id)) and _is_user(ds, who):
                return CheckResult(False, f"the generated text named user '{who}', which is "
                                          f"not in the evidence", named)

    # 4. Numbers outside the named spans must match the evidence.
    masked = _mask(text, spans)
    values = evidence.numbers()
    found = []
    for m in _NUMBER.finditer(masked):
        written = m.group(0)
        found.append(written)
        if m.group(3):
            stated, decimals = float(NUMBER_WORDS[m.group(3).lower()]), 0
        else:
            stated = float(m.group(1).replace(",", "") + (m.group(2) or ""))
            decimals = len(m.group(2)) - 1 if m.group(2) else 0
        tol = 0.5 * 10.0 ** -decimals + 1e-9
        if not any(abs(v - stated) <= tol for v in values):
            return CheckResult(False, f"the generated text states the number {written}, which "
                                      f"does not match the evidence", named, found)
    return CheckResult(True, None, named, found)


def aliases(title: str) -> list[str]:
    """Short forms a text may use for a title: without "(year)", without a leading article."""
    out = []
    short = _YEAR_SUFFIX.sub("", title).strip()
    if short and short != title:
        out.append(short)
    for t in (title, short):
        bare = _ARTICLE.sub("", t).strip()
        if bare and bare != t and len(bare) >= 4:
            out.append(bare)
    return [a for a in out if len(a) >= 2]


_INDEX_CACHE: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
_WORD = re.compile(r"[^\W_]+")  # letters and digits: "__Title__" holds the word "title"


def catalogue_titles(ds: Dataset) -> dict[str, str]:
    """Folded title -> title for every item with a real title (ids are not names)."""
    titles: dict[str, str] = {}
    if "title" in ds.items.columns:
        for t in ds.items["title"].tolist():
            if isinstance(t, str) and t.strip():
                titles[_fold(t.strip())] = t.strip()
    return titles


def catalogue_index(ds: Dataset) -> dict[str, list[tuple[str, str, str]]]:
    """Longest word of an alias -> [(folded alias, alias, title)] over the catalogue, cached."""
    key = ds.content_hash()
    if key not in _INDEX_CACHE:
        _INDEX_CACHE.clear()  # one dataset at a time is plenty
        # Genre and tag words ("Romance") are not item names, even where a title is one.
        vocabulary = {_fold(t) for tags in graph_context(ds).tags for t in tags}
        by_word: dict[str, list[tuple[str, str, str]]] = {}
        for alias_key, (alias, title) in _alias_index(catalogue_titles(ds)).items():
            words = _WORD.findall(alias_key)
            if alias_key not in vocabulary and words:
                # Keyed by its longest word: rarer than "the", so few candidates per text.
                by_word.setdefault(max(words, key=len), []).append((alias_key, alias, title))
        _INDEX_CACHE[key] = by_word
    return _INDEX_CACHE[key]


def _is_user(ds: Dataset, who: str) -> bool:
    try:
        ds.user_index(who)
    except KeyError:
        return False
    return True


def _alias_index(titles: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Folded alias -> (alias, title); the full title wins over another title's short form."""
    index: dict[str, tuple[str, str]] = {}
    for title in titles.values():
        for alias in aliases(title):
            index.setdefault(_fold(alias), (alias, title))
    for title in titles.values():
        index[_fold(title)] = (title, title)
    return index


def _find(alias: str, text: str, lowered: str):
    """Whole-word occurrences of ``alias``: exact case for one word, any case otherwise."""
    one_word = " " not in alias
    if one_word and alias not in text:
        return []
    if not one_word and alias.lower() not in lowered:
        return []
    # Letters and digits bound a word, "_" does not: "__Title__" (markdown bold) names Title.
    pattern = r"(?<![^\W_])" + re.escape(alias) + r"(?![^\W_])"
    return list(re.finditer(pattern, text, 0 if one_word else re.IGNORECASE))


def _fold(s: str) -> str:
    return " ".join(s.split()).casefold()


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for s, e in spans:
        for k in range(s, e):
            chars[k] = " "
    return "".join(chars)
