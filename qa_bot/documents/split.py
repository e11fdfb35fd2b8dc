"""Documents to passages: each reader's paragraphs cut into model-sized windows with citations."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Callable, Iterable

from .readers import READERS, reader_for
from .records import Document, Parsed, Passage
from .text import passage_id, windows, words


def structure(doc: Document) -> Parsed:
    """The reader's view of a document (parsed now for a Document made from text alone)."""
    if doc.parsed is not None:
        return doc.parsed
    stem = PurePosixPath(doc.source).stem
    if READERS.get(PurePosixPath(doc.source).suffix.lower()) == "md":
        from .readers.md import parse_markdown

        return parse_markdown(doc.text, stem)
    from .text import parse_plain

    return parse_plain(doc.text, stem)


def split_document(
    doc: Document,
    max_tokens: int = 254,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Passage]:
    """Cut a document into passages with title, date, author, page or section and exact line spans."""
    count = count_tokens or (lambda s: int(words(s) * 1.4) + 1)
    parsed = structure(doc)
    title = parsed.title or PurePosixPath(doc.source).stem
    passages: list[Passage] = []
    for number, chunk in enumerate(parsed.chunks, start=1):
        own = chunk.kind == "navigation"  # a navigation item is not the article: its own date, no author
        for text, first, last in windows(chunk, max_tokens, count):
            passages.append(
                Passage(
                    id=passage_id(doc.source, text),
                    source=doc.source,
                    paragraph=number,
                    line_start=first,
                    line_end=last,
                    text=text,
                    title=title,
                    date=chunk.date if own else (chunk.date or parsed.date),
                    page=chunk.page,
                    section=chunk.section,
                    author=None if own else parsed.author,
                    kind=chunk.kind,
                )
            )
    return _unique(passages)


def _unique(passages: Iterable[Passage]) -> list[Passage]:
    """Drop exact duplicate passages (same id) after the first."""
    seen: set[str] = set()
    out = []
    for p in passages:
        if p.id not in seen:
            seen.add(p.id)
            out.append(p)
    return out
