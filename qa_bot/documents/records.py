"""The records every stage shares: passages, documents, and what a reader hands back.

Kept free of parsing code so that importing them (as answering does) costs nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("text", "header", "signature", "navigation", "table")


@dataclass(frozen=True)
class Passage:
    """One retrievable unit of text and the citation that proves it.

    Lines are those of the file (.txt, .md), of the page (`page`, .pdf; `line_end` on `page_end` when
    the passage runs over a page break), the source lines of the block (.html), or the paragraph
    numbers within `section` (.docx).
    """

    id: str
    source: str
    paragraph: int
    line_start: int
    line_end: int
    text: str
    title: str
    date: str | None
    page: int | None = None
    section: str | None = None
    author: str | None = None
    kind: str = "text"
    page_end: int | None = None  # a PDF passage that runs over a page break: the page of `line_end`

    def to_dict(self) -> dict:
        return asdict(self)


# A PDF paragraph that runs over a page break numbers its lines on the next page from NEXT_PAGE + 1,
# so a window of it knows which page each of its lines is on (split.split_document decodes them).
NEXT_PAGE = 1_000_000


@dataclass(frozen=True)
class Chunk:
    """A paragraph a reader found: numbered lines and where they are (page, section, kind).

    `date` overrides the document's date (an item of a navigation list has its own);
    `rows` marks a table, which is cut into windows only between lines.
    """

    lines: tuple[tuple[int, str], ...]
    page: int | None = None
    section: str | None = None
    kind: str = "text"
    date: str | None = None
    rows: bool = False
    hyphenated: bool = False  # lines broken inside words ("lan-" / "guages"): joined without the hyphen
    compounds: frozenset[str] = frozenset()  # first parts that keep their hyphen ("micro-" / "perimeters")


@dataclass(frozen=True)
class Parsed:
    """What a reader makes of one file: its paragraphs and the document's own metadata."""

    chunks: tuple[Chunk, ...]
    title: str | None = None
    date: str | None = None
    author: str | None = None
    text: str = ""  # all extracted text, for figures and checks


@dataclass(frozen=True)
class Document:
    """A file read from the docs folder: its relative path, text, content hash and structure.

    `source` is the name to cite (non-UTF-8 bytes escaped as \\xNN); `path` is the file itself.
    """

    source: str
    text: str
    sha256: str
    parsed: Parsed | None = field(default=None, compare=False, repr=False)
    path: Path | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index and why, e.g. ("scan.pdf", "no text layer")."""

    source: str
    reason: str


class Unreadable(Exception):
    """Raised by a reader for a file it cannot turn into text; the message is the reason."""
