"""Markdown: headings become a section path ("Setup › Linux"); lines are the file's lines.

Paragraphs are blocks between blank lines, list items apart; a fenced code block is one
paragraph; HTML comments and YAML front matter are not passages (front matter gives metadata).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from ..records import Chunk, Parsed
from ..text import clean, file_lines, group_paragraphs
from .txt import decode

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
SEP = " › "


def _strip_inline(s: str) -> str:
    """Heading text without links' targets, emphasis and code marks."""
    s = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"<[^>]+>", "", s)
    return clean(re.sub(r"[*_`]+", "", s))


def read(name: str, data: bytes) -> Parsed:
    return parse_markdown(decode(data, name), PurePosixPath(name).stem)


def parse_markdown(text: str, stem: str) -> Parsed:
    lines = file_lines(text)
    meta: dict[str, str] = {}
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, min(len(lines), 200)) if lines[i].strip() in ("---", "...")), None)
        if end is not None:
            for line in lines[1:end]:
                m = re.match(r"^(title|date|author)\s*:\s*(.+)$", line.strip(), re.IGNORECASE)
                if m:
                    meta[m.group(1).lower()] = m.group(2).strip().strip("\"'")
            start = end + 1

    path: list[tuple[int, str]] = []  # (level, heading)
    # A first heading alone at the top level is the document's title, not a section.
    levels, fenced = [], False
    for line in lines[start:]:
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and _ATX.match(line):
            levels.append(len(_ATX.match(line).group(1)))
    top = min(levels, default=0)
    title_level = top if levels and levels[0] == top and levels.count(top) == 1 else 0
    title = meta.get("title")
    chunks: list[Chunk] = []
    block: list[tuple[int, str]] = []
    section: str | None = None

    def flush() -> None:
        nonlocal block
        for item in group_paragraphs(block, prose=False):
            chunks.append(Chunk(lines=tuple(item.lines), section=section))
        block = []

    def heading(level: int, words: str, number: int) -> None:
        nonlocal section, title
        flush()
        words = _strip_inline(words)
        if not words:
            return
        title = title or words
        while path and path[-1][0] >= level:
            path.pop()
        if level != title_level:
            path.append((level, words))
        section = SEP.join(h for _, h in path) or None

    i = start
    in_comment = False
    while i < len(lines):
        raw = lines[i]
        number = i + 1
        if in_comment:
            in_comment = "-->" not in raw
            i += 1
            continue
        if raw.lstrip().startswith("<!--"):
            in_comment = "-->" not in raw
            i += 1
            continue
        fence = _FENCE.match(raw)
        if fence:
            flush()
            mark = fence.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith(mark):
                j += 1
            # the fence lines are kept, so the passage reads like the file between its cited lines
            body = [(k + 1, lines[k]) for k in range(i, min(j + 1, len(lines))) if lines[k].strip()]
            if len(body) > 1 or j >= len(lines):
                chunks.append(Chunk(lines=tuple(body), section=section))
            i = j + 1
            continue
        m = _ATX.match(raw)
        if m:
            heading(len(m.group(1)), m.group(2), number)
            i += 1
            continue
        if (
            i + 1 < len(lines)
            and raw.strip()
            and _SETEXT.match(lines[i + 1])
            and not (block and block[-1][1].strip())  # a setext heading stands after a blank line
        ):
            heading(1 if lines[i + 1].strip()[0] == "=" else 2, raw, number)
            i += 2
            continue
        block.append((number, raw))
        i += 1
    flush()
    return Parsed(chunks=tuple(chunks), title=title or stem, date=meta.get("date"), author=meta.get("author"), text=text)
