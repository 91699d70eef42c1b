"""File readers: bytes in, a raw :class:`Table` (a DataFrame plus what was found) out.

Formats (``format=`` names, inferred from the file name and content when None):

- ``csv`` / ``tsv``: delimited text with the delimiter sniffed (``,`` ``\\t`` ``;`` ``|``
  ``::`` or space) and the header detected;
- ``dat``: ``::``-separated MovieLens-1M / MovieTweetings files (no header);
- ``ml100k``: MovieLens-100K ``u.item`` (pipe, Latin-1, 19 genre flags -> ``genres``) and
  ``u.user``; ``u.data`` itself is read as headerless TSV;
- ``recbole``: RecBole atomic files ``.inter`` / ``.item`` / ``.user`` (``name:type`` headers);
- ``lightgcn``: adjacency lists ``user item item ...`` per line (LightGCN, NGCF benchmarks);
- ``parquet``.

Any of them may arrive gzip-compressed or inside a zip archive. Bytes that are
not valid UTF-8 are decoded as Latin-1 (byte by byte, so files mixing both
still read) and the report says so.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from recsys_core.data.report import DataError

FORMATS = ("csv", "tsv", "dat", "ml100k", "recbole", "lightgcn", "parquet")

#: Default upload limit when neither ``max_bytes`` nor GRAPHREC_MAX_UPLOAD_MB is set.
DEFAULT_MAX_MB = 200.0

# Delimiters tried by the sniffer, in order of preference on ties.
_DELIMITERS = ("::", "\t", ",", ";", "|", " ")
_SNIFF_LINES = 200
#: Bytes pyarrow parses per block; column types are guessed from the first block.
BLOCK_SIZE = 1 << 24
# MovieLens-100K u.item genre flags, in file order.
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
# MovieLens-1M users.dat occupation codes (its README).
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def _latin1_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    return err.object[err.start:err.end].decode("latin-1"), err.end


codecs.register_error("graphrec-latin1", _latin1_fallback)


def default_max_bytes() -> int:
    """Upload limit in bytes: GRAPHREC_MAX_UPLOAD_MB (megabytes) or 200 MB."""
    raw = os.environ.get("GRAPHREC_MAX_UPLOAD_MB", "")
    try:
        mb = float(raw) if raw.strip() else DEFAULT_MAX_MB
    except ValueError:
        mb = DEFAULT_MAX_MB
    return int(mb * 1024 * 1024)


@dataclass
class RawFile:
    """A file's text as UTF-8 bytes, after decompression and decoding."""

    name: str  # what messages call the file (basename, or archive:member)
    inner: str  # the name used to infer the format (compression suffix removed)
    data: bytes  # UTF-8 text, or the raw bytes of a binary format (parquet)
    notes: list[str] = field(default_factory=list)
    binary_format: bool = False  # parquet: data is not text


@dataclass
class Table:
    """One file parsed into a frame; ``names`` are the column names used."""

    frame: pd.DataFrame
    file: str
    format: str
    header: bool  # did the file carry column names
    sep: str | None = None
    notes: list[str] = field(default_factory=list)
    first_line: int = 1  # file line number of frame row 0 (for messages)
    listed_users: np.ndarray | None = None  # adjacency lists: every user listed, even with no items

    def line_of(self, rows: np.ndarray | list[int]) -> list[int]:
        """File line numbers (text) or row numbers (parquet, frames) of frame positions."""
        return [int(r) + self.first_line for r in rows]

    def where(self, rows: np.ndarray | list[int], limit: int = 5) -> str:
        """'lines 3, 8, 12' for the first offending frame positions."""
        shown = self.line_of(list(rows)[:limit])
        word = "line" if self.format not in ("parquet", "frame") else "row"
        more = f" (and {len(rows) - limit:,} more)" if len(rows) > limit else ""
        return f"{word}{'s' if len(shown) > 1 else ''} {', '.join(map(str, shown))}{more}"


# ---------------------------------------------------------------------- bytes


def source_name(source: Any) -> str:
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return Path(str(getattr(source, "name", "upload"))).name


def open_source(source: Any, *, max_bytes: int | None = None, prefer: str = "interactions"
                ) -> RawFile:
    """Read a path or a file-like object, decompress it, check size and decode.

    ``prefer`` picks the member of a zip archive holding several files.
    """
    limit = default_max_bytes() if max_bytes is None else int(max_bytes)
    name = source_name(source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise DataError(f"{name}: file not found ({path})", file=name)
        if path.is_dir():
            raise DataError(f"{name}: is a folder, not a file", file=name)
        size = path.stat().st_size
        _check_size(name, size, limit)
        data = path.read_bytes()
    else:
        if hasattr(source, "seek"):
            source.seek(0)  # an upload may have been read before (a preview)
        data = source.read() if hasattr(source, "read") else bytes(source)
        if isinstance(data, str):
            data = data.encode("utf-8")
        _check_size(name, len(data), limit)
    inner = name
    notes: list[str] = []
    if data[:2] == b"\x1f\x8b":
        try:
            data = _gunzip(data, limit, name)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"{name}: not a readable gzip file ({err})", file=name) from None
        inner = name[:-3] if name.lower().endswith(".gz") else name
        notes.append(f"{name}: gzip-compressed")
    elif data[:4] == b"PK\x03\x04":
        inner, data = _unzip(name, data, limit, prefer)
        notes.append(f"{name}: read member {inner!r} of the zip archive")
        name = f"{name}:{inner}"
    if data[:4] == b"PAR1" or inner.lower().endswith((".parquet", ".pq")):
        return RawFile(name, inner, data, notes, binary_format=True)
    text_data, note = decode_text(data, name)
    if note:
        notes.append(note)
    return RawFile(name, inner, text_data, notes)


def _check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise DataError(
            f"{name}: file is {human_size(size)}, over the {human_size(limit)} limit "
            "(set GRAPHREC_MAX_UPLOAD_MB or max_bytes to raise it)", file=name)


def human_size(n: int) -> str:
    """'312 bytes', '4.2 KB', '200 MB'."""
    if n < 1024:
        return f"{n} bytes"
    if n < 2**20:
        return f"{n / 1024:.1f} KB"
    return f"{n / 2**20:.1f} MB".replace(".0 MB", " MB")


def _gunzip(data: bytes, limit: int, name: str) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
        out = f.read(limit + 1)
    if len(out) > limit:
        raise DataError(f"{name}: decompressed data is over the {human_size(limit)} limit "
                        "(set GRAPHREC_MAX_UPLOAD_MB or max_bytes to raise it)", file=name)
    return out


def _unzip(name: str, data: bytes, limit: int, prefer: str) -> tuple[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise DataError(f"{name}: not a readable zip archive ({err})", file=name) from None
    listed = set(archive.namelist())
    if "[Content_Types].xml" in listed or {"mimetype", "content.xml"} <= listed:
        raise DataError(f"{name}: an Excel or OpenDocument workbook, not a table file; "
                        "save the sheet as CSV and upload that", file=name)
    members = [m for m in archive.infolist()
               if not m.is_dir() and not Path(m.filename).name.startswith((".", "__"))]
    if not members:
        raise DataError(f"{name}: the zip archive holds no files", file=name)
    member = pick_member([m.filename for m in members], prefer) or max(
        members, key=lambda m: m.file_size).filename
    info = archive.getinfo(member)
    if info.file_size > limit:
        _check_size(f"{name}:{member}", info.file_size, limit)
    return Path(member).name, archive.read(member)


_MEMBER_NAMES = {
    "interactions": ("ratings", "u.data", "interactions", "train", "inter", "events", "data"),
    "items": ("movies", "u.item", "items", "item", "products", "books"),
    "users": ("users", "u.user", "user"),
}


def pick_member(names: list[str], prefer: str) -> str | None:
    """The archive member that most likely holds ``prefer`` ('interactions', 'items', 'users')."""
    if len(names) == 1:
        return names[0]
    for key in _MEMBER_NAMES.get(prefer, ()):
        for n in names:
            base = Path(n).name.lower()
            stem, ext = base.rsplit(".", 1) if "." in base else (base, "")
            if base == key or stem == key or ext == key:
                return n
    return None


def decode_text(data: bytes, name: str) -> tuple[bytes, str | None]:
    """UTF-8 bytes of a text file; refuses binary data; Latin-1 for non-UTF-8 bytes."""
    if data[:3] == codecs.BOM_UTF8:
        data = data[3:]
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return data.decode("utf-16").encode("utf-8"), f"{name}: decoded from UTF-16"
    head = data[:65536]
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataError(f"{name}: an old Excel (.xls) workbook, not a table file; "
                        "save the sheet as CSV and upload that", file=name)
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 12, 13))
    if b"\x00" in head or (head and controls / len(head) > 0.05):
        raise DataError(
            f"{name}: looks like binary data, not a text table "
            f"(first bytes {head[:16]!r}); expected CSV, TSV, .dat, .inter, .txt or parquet",
            file=name)
    try:
        data.decode("utf-8")
        return data, None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        text = data.decode("utf-8", errors="graphrec-latin1")
        note = (f"{name}: not valid UTF-8 (first at line {line}); "
                "those bytes were decoded as Latin-1")
        return text.encode("utf-8"), note


# ---------------------------------------------------------------------- layout


def infer_format(raw: RawFile) -> str:
    """Guess the format from the (inner) file name, then from the content."""
    lower = raw.inner.lower()
    if raw.binary_format:
        return "parquet"
    if lower in ("u.item", "u.user"):
        return "ml100k"
    if lower.endswith((".inter", ".item", ".user", ".kg", ".link")):
        return "recbole"
    head = _head_lines(raw.data, 50)
    if not head:
        return "csv"
    if lower.endswith(".dat") or all("::" in line for line in head[:20]):
        return "dat"
    if _looks_adjacency(head):
        return "lightgcn"
    if lower.endswith(".tsv") or lower.endswith(".tab"):
        return "tsv"
    return "csv"


def _head_lines(data: bytes, n: int) -> list[str]:
    chunk = data[: 1 << 20].decode("utf-8", errors="replace")
    lines = [ln for ln in chunk.splitlines() if ln.strip()]
    return lines[:n]


def _looks_adjacency(lines: list[str]) -> bool:
    """Space-separated integers with varying counts per line: the LightGCN layout."""
    sample = lines[:50]
    if len(sample) < 2 or any("\t" in ln or "," in ln for ln in sample):
        return False
    counts = set()
    for ln in sample:
        tokens = ln.split()
        if not all(t.isdigit() for t in tokens):
            return False
        counts.add(len(tokens))
    return len(counts) > 1 or (len(counts) == 1 and max(counts) > 4)


def sniff_delimiter(lines: list[str], name: str) -> str:
    """The delimiter giving the same field count (>= 2) on most of the sample lines."""
    best: tuple[float, int, str] | None = None
    for rank, sep in enumerate(_DELIMITERS):
        counts = [_field_count(ln, sep) for ln in lines]
        values, freq = np.unique(counts, return_counts=True)
        mode = int(values[np.argmax(freq)])
        share = float(freq.max()) / len(counts)
        if mode < 2 or share < 0.6:
            continue
        if sep == " " and best is not None:
            continue  # spaces also occur inside text fields; only when nothing else fits
        key = (share, -rank, sep)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is not None:
        return best[2]
    other = _repeated_symbol(lines)
    if other is not None:
        raise DataError(
            f"{name}: unknown delimiter {other!r}; supported are comma, tab, semicolon, "
            f"pipe, '::' and space (pass sep={other!r} to read it)", file=name)
    raise DataError(
        f"{name}: only a single column found (line 1: {lines[0][:80]!r}); an interaction "
        "file needs at least a user and an item column separated by comma, tab, ';', '|' or '::'",
        file=name)


def _field_count(line: str, sep: str) -> int:
    if sep in (",", ";", "|", "\t") and '"' in line:
        try:
            return len(next(csv.reader([line], delimiter=sep)))
        except (csv.Error, StopIteration):
            return line.count(sep) + 1
    if sep == " ":
        return len(line.split())
    return line.count(sep) + 1


def _repeated_symbol(lines: list[str]) -> str | None:
    """A punctuation character occurring equally often (>= 1) on every sample line."""
    counts: dict[str, set[int]] = {}
    for ln in lines:
        for ch in set(ln):
            if not ch.isalnum() and ch not in " ._-\"'":
                counts.setdefault(ch, set())
        for ch in counts:
            counts[ch].add(ln.count(ch))
    for ch, seen in counts.items():
        if len(seen) == 1 and min(seen) >= 1:
            return ch
    return None


def detect_header(rows: list[list[str]], known: set[str]) -> bool:
    """Is the first row column names? Yes if a name is known, or its type pattern differs."""
    from recsys_core.data.columns import normalize_name

    first = rows[0]
    if any(normalize_name(v) in known for v in first):
        return True
    if len(rows) < 2:
        return not any(_NUMBER.match(v) for v in first)
    pattern = [bool(_NUMBER.match(v)) for v in first]
    for row in rows[1:20]:
        if len(row) != len(first):
            continue
        if [bool(_NUMBER.match(v)) for v in row] != pattern:
            return True
    return False


# ---------------------------------------------------------------------- parsing


def read_table(raw: RawFile, *, role: str = "interactions", format: str | None = None,
               sep: str | None = None, header: bool | None = None,
               id_columns: Any = None) -> Table:
    """Parse ``raw`` into a :class:`Table`.

    ``role`` is 'interactions', 'items' or 'users' (it decides positional
    column names for headerless files). ``id_columns`` is a callable mapping
    the column names to the columns to keep as strings (ids keep leading zeros).
    """
    fmt = format or infer_format(raw)
    if fmt not in FORMATS:
        raise DataError(f"{raw.name}: unknown format {fmt!r}; known: {', '.join(FORMATS)}",
                        file=raw.name)
    if fmt == "parquet":
        return _read_parquet(raw)
    if not raw.data.strip():
        raise DataError(f"{raw.name}: the file is empty", file=raw.name)
    if fmt == "lightgcn":
        return read_adjacency(raw)
    if fmt == "recbole":
        return _read_recbole(raw, role)
    if fmt == "ml100k" and raw.inner.lower() != "u.user":
        return _read_ml100k_items(raw)
    if fmt == "dat":
        sep = "::"
    elif fmt == "ml100k":
        sep, header = "|", False
    elif fmt == "tsv" and sep is None:
        sep = "\t"
    return read_delimited(raw, role=role, sep=sep, header=header, id_columns=id_columns,
                          fmt=fmt)


def read_delimited(raw: RawFile, *, role: str, sep: str | None, header: bool | None,
                   id_columns: Any, fmt: str = "csv") -> Table:
    from recsys_core.data.columns import SYNONYMS

    lines = _head_lines(raw.data, _SNIFF_LINES)
    if not lines:
        raise DataError(f"{raw.name}: the file is empty", file=raw.name)
    if sep is None:
        sep = sniff_delimiter(lines, raw.name)
    rows = [_split(ln, sep) for ln in lines[:50]]
    ncols = max(len(r) for r in rows[:20])
    if ncols < 2:
        raise DataError(f"{raw.name}: only a single column found (line 1: {lines[0][:80]!r})",
                        file=raw.name)
    known = {n for syn in SYNONYMS.values() for n in syn if len(n) > 1} | {
        "id", "title", "name", "genres", "genre", "description", "tags", "age", "gender"}
    if header is None:
        header = detect_header(rows, known)
    if header:
        names = [v.strip() or f"column{k}" for k, v in enumerate(rows[0])]
        names = _dedupe_names(names)
        if len(lines) == 1:
            raise DataError(
                f"{raw.name}: header only ({', '.join(names)}), no data rows", file=raw.name)
    else:
        names = positional_names(role, ncols, rows)
    strings = set(id_columns(names) if callable(id_columns) else (id_columns or [])) & set(names)
    if role != "interactions":
        strings = set(names)  # metadata: text as is, ids compared as strings
    data = raw.data
    delimiter = sep
    quote: str | bool = '"'
    if len(sep) > 1:
        # pyarrow takes one-character delimiters; '::' files never quote fields.
        data = data.replace(sep.encode(), b"\x1f")
        delimiter, quote = "\x1f", False
    elif sep == " ":
        # Aligned columns ("1   2   5"): runs of blanks are one separator.
        data = re.sub(rb"(?m)^[ \t]+|[ \t]+$", b"", re.sub(rb"[ \t]+", b" ", data))
        quote = False
    bad_rows: list[str] = []

    def on_invalid(row) -> str:
        if len(bad_rows) < 3:
            number = row.number
            at = data.find(row.text.encode("utf-8")) if number is None else -1
            if at >= 0:
                number = data.count(b"\n", 0, at) + 1
            shown = row.text[:80].replace("\x1f", sep)
            bad_rows.append(f"line {number}: {shown!r}" if number else repr(shown))
        return "skip"

    # Interaction ids are dictionary-encoded while parsing: the codes come free.
    types = {c: pa.dictionary(pa.int32(), pa.string()) if role == "interactions"
             else pa.string() for c in strings}

    def parse(column_types: dict) -> pa.Table:
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if header else 0,
                                           block_size=BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char=quote,
                                             ignore_empty_lines=True,
                                             # descriptions may span lines inside quotes
                                             newlines_in_values=role != "interactions",
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types, strings_can_be_null=True,
                quoted_strings_can_be_null=True),
        )

    try:
        try:
            table = parse(types)
        except pa.ArrowInvalid as err:
            if "conversion error" not in str(err):
                raise
            # A type guessed from the first block failed later on: read the other
            # columns as text so validation can name the offending rows.
            bad_rows.clear()
            table = parse({c: types.get(c, pa.string()) for c in names})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DataError(f"{raw.name}: cannot parse the file ({str(err).splitlines()[0]})",
                        file=raw.name) from None
    if bad_rows:
        raise DataError(
            f"{raw.name}: rows with a different number of fields than the {len(names)} "
            f"columns ({', '.join(names)}): {'; '.join(bad_rows)}", file=raw.name)
    frame = table.to_pandas()
    if len(frame) == 0:
        raise DataError(f"{raw.name}: header only ({', '.join(names)}), no data rows",
                        file=raw.name)
    notes: list[str] = []
    if role == "users" and fmt == "dat" and not header and names[1:4] == [
            "gender", "age", "occupation"]:
        codes = pd.to_numeric(frame["occupation"], errors="coerce")
        if codes.notna().all() and codes.between(0, len(ML1M_OCCUPATIONS) - 1).all():
            frame["occupation"] = [ML1M_OCCUPATIONS[int(c)] for c in codes]
            notes.append(f"{raw.name}: MovieLens-1M occupation codes -> names")
    shown = {"\t": "tab", " ": "space"}.get(sep, repr(sep))
    notes.insert(0, f"{raw.name}: {fmt} with delimiter {shown}, "
                    f"{'header row' if header else 'no header (columns by position)'}, "
                    f"{len(frame):,} rows")
    return Table(frame, raw.name, fmt, header, sep, notes, first_line=2 if header else 1)


def _split(line: str, sep: str) -> list[str]:
    if sep == " ":
        return line.split()
    if len(sep) == 1 and '"' in line:
        try:
            return next(csv.reader([line], delimiter=sep))
        except (csv.Error, StopIteration):
            pass
    return line.split(sep)


def _dedupe_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


def positional_names(role: str, ncols: int, rows: list[list[str]]) -> list[str]:
    """Column names for a headerless file, by the conventions of MovieLens-style files."""
    if role == "interactions":
        base = ["user", "item", "rating", "timestamp"]
    elif role == "items":
        base = ["item_id", "title", "genres"]
    else:
        base = _user_names(ncols, rows)
    return base[:ncols] + [f"column{k}" for k in range(len(base), ncols)]


def _user_names(ncols: int, rows: list[list[str]]) -> list[str]:
    """MovieLens-1M users.dat is id::gender::age::occupation::zip; u.user is id|age|gender|..."""
    if ncols >= 3 and rows and all(len(r) > 2 for r in rows[:20]):
        if all(r[1].strip() in ("M", "F") for r in rows[:20]):
            return ["user_id", "gender", "age", "occupation", "zip"]
        if all(r[2].strip() in ("M", "F") for r in rows[:20]):
            return ["user_id", "age", "gender", "occupation", "zip"]
    return ["user_id", "profile"]


def _read_ml100k_items(raw: RawFile) -> Table:
    """u.item: id|title|release date|video release date|IMDb URL|19 genre flags."""
    table = read_delimited(raw, role="items", sep="|", header=False, id_columns=None,
                           fmt="ml100k")
    frame = table.frame
    if frame.shape[1] != 5 + len(ML100K_GENRES):
        return table
    flags = frame.iloc[:, 5:].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy() > 0
    names = np.array(ML100K_GENRES, dtype=object)
    genres = ["|".join(names[row]) for row in flags]
    out = pd.DataFrame({
        "item_id": frame.iloc[:, 0].astype(str),
        "title": frame.iloc[:, 1],
        "release_date": frame.iloc[:, 2],
        "url": frame.iloc[:, 4],
        "genres": genres,
    })
    table.frame = out
    table.notes.append(f"{raw.name}: MovieLens-100K item file; 19 genre flags -> genres")
    return table


def _read_recbole(raw: RawFile, role: str) -> Table:
    """RecBole atomic file: tab-separated with ``name:type`` headers."""
    first = raw.data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    fields = first.split("\t")
    if not all(":" in f for f in fields):
        raise DataError(
            f"{raw.name}: a RecBole atomic file needs 'name:type' headers "
            f"(e.g. user_id:token), found {first[:80]!r}", file=raw.name)
    names = [f.split(":", 1)[0] for f in fields]
    types = {f.split(":", 1)[0]: f.split(":", 1)[1] for f in fields}
    strings = [f for f in fields if f.split(":", 1)[1].startswith("token")]
    table = read_delimited(raw, role=role, sep="\t", header=True,
                           id_columns=lambda cols: strings, fmt="recbole")
    table.frame.columns = names
    table.notes.append(f"{raw.name}: RecBole types " + ", ".join(f"{k}:{v}" for k, v in types.items()))
    return table


def read_adjacency(raw: RawFile) -> Table:
    """LightGCN text: each line ``user item item ...``; a user with no items is kept."""
    text = raw.data.decode("utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{raw.name}: the file is empty", file=raw.name)
    counts = np.fromiter((len(ln.split()) for ln in lines), dtype=np.int64, count=len(lines))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            tokens = np.fromstring(text, dtype=np.int64, sep=" ")  # C parser; fast
        except (ValueError, DeprecationWarning):
            tokens = np.zeros(0, dtype=np.int64)
    if len(tokens) != counts.sum():
        for number, line in enumerate(text.splitlines(), start=1):
            bad = [p for p in line.split() if not p.isdigit()]
            if bad:
                raise DataError(
                    f"{raw.name}: line {number}: {bad[0]!r} is not an integer id; the LightGCN "
                    "format is 'user item item ...' with integer ids", file=raw.name,
                    rows=[number])
        raise DataError(f"{raw.name}: cannot read the adjacency lists", file=raw.name)
    heads = np.concatenate([[0], np.cumsum(counts)[:-1]])
    users = tokens[heads]  # first token of each line
    is_item = np.ones(len(tokens), dtype=bool)
    is_item[heads] = False
    if (tokens < 0).any():
        raise DataError(f"{raw.name}: negative ids; the LightGCN format uses ids >= 0",
                        file=raw.name)
    frame = pd.DataFrame({"user": np.repeat(users, counts - 1), "item": tokens[is_item]})
    return Table(frame, raw.name, "lightgcn", header=False, sep=" ",
                 notes=[f"{raw.name}: LightGCN adjacency lists, {len(users):,} users, "
                        f"{len(frame):,} interactions"],
                 listed_users=users)


def _read_parquet(raw: RawFile) -> Table:
    try:
        frame = pd.read_parquet(io.BytesIO(raw.data))
    except Exception as err:  # pyarrow raises several types for corrupt files
        raise DataError(f"{raw.name}: not a readable parquet file ({err})",
                        file=raw.name) from None
    if len(frame.columns) == 0 or len(frame) == 0:
        raise DataError(f"{raw.name}: the parquet file has no rows", file=raw.name)
    frame.columns = [str(c) for c in frame.columns]
    return Table(frame.reset_index(drop=True), raw.name, "parquet", header=True,
                 notes=[f"{raw.name}: parquet, {len(frame):,} rows"], first_line=1)
