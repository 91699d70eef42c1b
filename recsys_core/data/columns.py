"""Column roles: which column holds the user, the item, the rating, the timestamp.

People name these columns in many ways (``userId``, ``customer_id``, ``asin``,
``stars``, ``datetime`` ...). :func:`infer_columns` matches names
case-insensitively, ignoring ``_``, ``-``, spaces and RecBole ``:type``
suffixes, against the synonym lists below. Exactly one candidate per role is
accepted; two candidates for one role is an ambiguity the caller must resolve
with an explicit mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

from recsys_core.data.report import DataError

#: Interaction roles in the order a headerless file lists them (MovieLens, LightGCN).
ROLES = ("user", "item", "rating", "timestamp")

# Normalised names (lower case, no separators). Earlier entries are stronger:
# when two columns match one role, a column matching an earlier entry wins
# only if it is the sole column at that strength; otherwise it is ambiguous.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "user": (
        "userid", "user", "uid", "users", "customerid", "customer", "visitorid", "visitor",
        "memberid", "member", "clientid", "client", "accountid", "account", "readerid",
        "reader", "viewerid", "viewer", "buyerid", "buyer", "reviewerid", "reviewer",
        "playerid", "personid", "profileid", "subscriberid", "sessionid", "useridx", "u",
    ),
    "item": (
        "itemid", "item", "iid", "items", "movieid", "movie", "productid", "product", "asin",
        "sku", "articleid", "article", "bookid", "book", "isbn", "songid", "song", "trackid",
        "track", "artistid", "videoid", "video", "animeid", "venueid", "venue", "locationid",
        "poiid", "poi", "businessid", "business", "recipeid", "recipe", "gameid", "game",
        "courseid", "course", "jokeid", "newsid", "docid", "contentid", "objectid",
        "parentasin", "itemidx", "i",
    ),
    "rating": (
        "rating", "ratings", "score", "stars", "star", "rate", "rated", "value", "feedback",
        "preference", "overall", "label", "weight", "count", "playcount", "plays", "clicks",
        "quantity", "r",
    ),
    "timestamp": (
        "timestamp", "ts", "time", "date", "datetime", "unixtime", "unixreviewtime",
        "eventtime", "created", "createdat", "ratedat", "dateadded",
        "reviewtime", "eventdate", "t",
    ),
}

# Names that identify an entity in a metadata file (item or user file).
ID_SYNONYMS = {"id", "key", "index"}


def normalize_name(name: object) -> str:
    """``'User_ID:token'`` -> ``'userid'``: lower case, no type suffix, no separators."""
    text = str(name).strip().lower()
    text = text.split(":", 1)[0] if ":" in text else text
    return re.sub(r"[\s_\-.]+", "", text)


def _strength(name: object, role: str) -> int | None:
    """Rank of ``name`` in ``role``'s synonym list, or None when it does not match."""
    key = normalize_name(name)
    synonyms = SYNONYMS[role]
    return synonyms.index(key) if key in synonyms else None


def role_candidates(columns: Iterable[object], role: str) -> list[str]:
    """All columns whose name is a synonym of ``role``, strongest first."""
    found = [(s, str(c)) for c in columns if (s := _strength(c, role)) is not None]
    return [c for _, c in sorted(found, key=lambda t: t[0])]


def infer_columns(
    frame: pd.DataFrame | Iterable[object],
    columns: Mapping[str, str] | None = None,
    *,
    file: str | None = None,
    required: Iterable[str] = ("user", "item"),
) -> dict[str, str | None]:
    """Map each role in :data:`ROLES` to a column name (or None when absent).

    ``frame`` is a DataFrame or just its column names. ``columns`` overrides the
    inference per role (``{"user": "buyer", "rating": None}``; None means "this
    file has no such column"). Raises :class:`DataError` when a required role
    has no candidate, when a role has several equally good candidates, or when
    an explicit mapping names a column that does not exist.
    """
    names = [str(c) for c in (frame.columns if isinstance(frame, pd.DataFrame) else frame)]
    where = f"{file}: " if file else ""
    explicit = dict(columns or {})
    for role in explicit:
        if role not in ROLES:
            raise DataError(
                f"{where}unknown column role {role!r}; roles are {', '.join(ROLES)}", file=file
            )
    for role, col in explicit.items():
        if col is not None and str(col) not in names:
            raise DataError(
                f"{where}column {col!r} given for {role} is not in the file; "
                f"columns are: {', '.join(names)}",
                file=file, column=str(col),
            )
    taken = {str(c) for c in explicit.values() if c is not None}
    result: dict[str, str | None] = {}
    for role in ROLES:
        if role in explicit:
            result[role] = None if explicit[role] is None else str(explicit[role])
            continue
        free = [c for c in names if c not in taken]
        found = [(s, c) for c in free if (s := _strength(c, role)) is not None]
        if not found:
            result[role] = None
            continue
        best = min(s for s, _ in found)
        top = [c for s, c in found if s == best]
        if len(top) > 1:
            raise DataError(
                f"{where}ambiguous {role} column: candidates are {', '.join(map(repr, top))}; "
                f"choose one with columns={{'{role}': ...}}",
                file=file, column=top[0],
            )
        result[role] = top[0]
        taken.add(top[0])
    for role in required:
        if result.get(role) is None:
            raise DataError(
                f"{where}no {role} column found; columns are: {', '.join(map(repr, names))}. "
                f"Name it e.g. '{role}_id' or pass columns={{'{role}': '<column>'}}",
                file=file,
            )
    return result


def infer_id_column(names: Iterable[object], role: str, *, file: str | None = None) -> str:
    """The id column of a metadata file: a ``role`` synonym, else ``id``, else the first column."""
    names = [str(c) for c in names]
    if not names:
        raise DataError(f"{file}: the file has no columns", file=file)
    candidates = role_candidates(names, role)
    if candidates:
        best = _strength(candidates[0], role)
        top = [c for c in candidates if _strength(c, role) == best]
        if len(top) > 1:
            raise DataError(
                f"{file}: ambiguous {role} id column: candidates are {', '.join(map(repr, top))}",
                file=file, column=top[0],
            )
        return top[0]
    plain = [c for c in names if normalize_name(c) in ID_SYNONYMS]
    return plain[0] if plain else names[0]
