"""Documents to passages: each reader's paragraphs cut into model-sized windows with citations."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Callable, Iterable

from .readers import READERS
from .records import NEXT_PAGE, Chunk, Document, Parsed, Passage
from .text import clean, is_list_item, is_terminal, passage_id, windows, words

LEAD_IN_WORDS = 8
_HEADING_WORDS = re.compile(r"[A-Z][\w'’-]*(?:\s+[\w'’-]+)*\??")  # "How to contact us": words only


def _lead_in(chunk: Chunk) -> bool:
    """A label or an introduction that means little alone: 'TST_SCH_NOOP', 'Inputs include:'."""
    text = " ".join(clean(t) for _, t in chunk.lines)
    if chunk.kind != "text" or not text:
        return False
    return text.endswith(":") or (words(text) <= LEAD_IN_WORDS and not is_terminal(text) and not is_list_item(text))


def merge_lead_ins(chunks: Iterable[Chunk], max_gap: int | None = None) -> list[Chunk]:
    """Join each lead-in to the paragraph, list or table after it on the same page and section,
    so a label is found with what it labels. `max_gap` bounds the line numbers between them
    (file lines: only a blank line may lie between, so the citation stays exact)."""
    out: list[Chunk] = []
    for chunk in chunks:
        prev = out[-1] if out else None
        if (
            prev is not None
            and _lead_in(prev)
            and chunk.kind in ("text", "table")
            and (prev.page, prev.section) == (chunk.page, chunk.section)
            and prev.lines[-1][0] <= chunk.lines[0][0]
            and (max_gap is None or chunk.lines[0][0] - prev.lines[-1][0] <= max_gap)
        ):
            out[-1] = Chunk(lines=prev.lines + chunk.lines, page=chunk.page, section=chunk.section, kind=chunk.kind,
                            date=chunk.date, rows=chunk.rows, hyphenated=chunk.hyphenated, compounds=chunk.compounds)
        else:
            out.append(chunk)
    return out


def attach_tails(chunks: list[Chunk]) -> list[Chunk]:
    """Join a short fragment to the paragraph just above it (the next line, same page and section)
    when what follows, past a blank line, opens with a heading: the last cell of a PDF table row
    ("... POA&M template." / "FedRAMP PMO" / "How to contact us"). A label labels text below it,
    not a heading; a code box's caption ("Representation" / "<observation ...>") stays a label."""
    out: list[Chunk] = []
    for i, chunk in enumerate(chunks):
        prev = out[-1] if out else None
        nxt = chunks[i + 1] if i + 1 < len(chunks) else None
        if (
            prev is not None
            and _lead_in(chunk)
            and not chunk.lines[-1][1].rstrip().endswith(":")
            and prev.kind == "text"
            and (prev.page, prev.section) == (chunk.page, chunk.section)
            and prev.lines[-1][0] + 1 == chunk.lines[0][0]
            and nxt is not None and nxt.page == chunk.page and nxt.lines[0][0] > chunk.lines[-1][0] + 1
            and _HEADING_WORDS.fullmatch(clean(nxt.lines[0][1]))
        ):
            out[-1] = Chunk(lines=prev.lines + chunk.lines, page=prev.page, section=prev.section, kind=prev.kind,
                            date=prev.date, rows=prev.rows, hyphenated=prev.hyphenated, compounds=prev.compounds)
        else:
            out.append(chunk)
    return out


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
    kind = READERS.get(PurePosixPath(doc.source).suffix.lower())
    chunks = parsed.chunks
    if kind == "pdf":
        chunks = attach_tails(list(chunks))
    if kind != "txt":
        chunks = merge_lead_ins(chunks, max_gap=2 if kind == "md" else None)
    for number, chunk in enumerate(chunks, start=1):
        own = chunk.kind == "navigation"  # a navigation item is not the article: its own date, no author
        for text, first, last in windows(chunk, max_tokens, count):
            page, page_end = chunk.page, None
            if first > NEXT_PAGE:  # a window wholly on the next page of a paragraph that ran over the break
                page, first, last = page + 1, first - NEXT_PAGE, last - NEXT_PAGE
            elif last > NEXT_PAGE:
                page_end, last = page + 1, last - NEXT_PAGE
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
                    page=page,
                    section=chunk.section,
                    author=None if own else parsed.author,
                    kind=chunk.kind,
                    page_end=page_end,
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
