"""Answers to output: rich text for terminals, JSON for programs, HTML for chat.

Every piece of document or user text is treated as data (rich Text objects, html.escape),
never as markup.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .search import Answer, Hit

NOT_FOUND = "Nothing relevant found in the documents."


def _span(word: str, a: int, b: int) -> str:
    return f"{word} {a}" if a == b else f"{word}s {a}–{b}"


def citation(hit: Hit) -> str:
    """Where to check a passage, in the terms of its format.

    PDF `report.pdf p. 7, lines 12–18`; HTML `page.html § Installation › Linux`;
    DOCX `policy.docx § Scope, ¶ 3`; Markdown `notes.md § Setup, lines 40–44`;
    text `004.txt:5 (¶1, lines 5–5)`.
    """
    p = hit.passage
    kind = Path(p.source).suffix.lower()
    page, section = getattr(p, "page", None), getattr(p, "section", None)
    if page is not None:
        return f"{p.source} p. {page}, {_span('line', p.line_start, p.line_end)}"
    if kind in (".html", ".htm"):
        return f"{p.source} § {section}" if section else f"{p.source} ({_span('line', p.line_start, p.line_end)})"
    if kind == ".docx":
        where = f"¶ {p.line_start}" if p.line_start == p.line_end else f"¶ {p.line_start}–{p.line_end}"
        return f"{p.source} § {section}, {where}" if section else f"{p.source}, {where}"
    if kind in (".md", ".markdown") and section:
        return f"{p.source} § {section}, {_span('line', p.line_start, p.line_end)}"
    lines = f"line {p.line_start}" if p.line_start == p.line_end else f"lines {p.line_start}–{p.line_end}"
    return f"{p.source}:{p.line_start} (¶{p.paragraph}, {lines})"


def byline(hit: Hit) -> str:
    """' · by X' and a label for passages that are not body text (' · signature'), or ''."""
    p = hit.passage
    out = f" · by {p.author}" if getattr(p, "author", None) else ""
    kind = getattr(p, "kind", "text")
    return out + (f" · {kind}" if kind and kind != "text" else "")


def split_highlight(hit: Hit) -> tuple[str, str, str]:
    """The passage as (before, highlighted sentence, after)."""
    text, hl = hit.passage.text, hit.highlight
    i = text.find(hl) if hl else -1
    if i < 0 or hl == text:
        return "", text, ""
    return text[:i], hl, text[i + len(hl) :]


def to_json(answer: Answer) -> str:
    return json.dumps(answer.to_dict(), ensure_ascii=False)


def rich_answer(answer: Answer):
    """A rich renderable for one answer."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    if not answer.found:
        return Text(NOT_FOUND, style="yellow")
    parts = []
    for hit in answer.hits:
        p = hit.passage
        head = Text()
        head.append(f"{hit.rank}. ", style="bold cyan")
        head.append(p.title, style="bold")
        if p.date:
            head.append(f" · {p.date}", style="dim")
        if byline(hit):
            head.append(byline(hit), style="dim")
        head.append(f"   score {hit.score:.2f}", style="dim")
        cite = Text(citation(hit), style="green")
        before, hl, after = split_highlight(hit)
        body = Text()
        body.append(before)
        body.append(hl, style="bold" if (before or after) else "")
        body.append(after)
        parts.append(Group(head, Padding(Group(cite, body), (0, 0, 1, 3))))
    return Group(*parts)


def html_hit(hit: Hit, limit: int | None = None) -> str:
    """One hit as Telegram HTML: title, date, citation, passage with its best sentence in bold."""
    p = hit.passage
    head = f"<b>{hit.rank}. {html.escape(p.title)}</b>"
    if p.date:
        head += f" · <i>{html.escape(p.date)}</i>"
    if byline(hit):
        head += f"<i>{html.escape(byline(hit))}</i>"
    cite = f"<code>{html.escape(citation(hit))}</code>"
    before, hl, after = split_highlight(hit)
    if limit is not None:
        before, hl, after = _shorten(before, hl, after, limit)
    body = html.escape(before) + (f"<b>{html.escape(hl)}</b>" if (before or after) else html.escape(hl)) + html.escape(after)
    return f"{head}\n{cite}\n{body}"


def _shorten(before: str, hl: str, after: str, limit: int) -> tuple[str, str, str]:
    """Trim text around the highlight at sentence boundaries until the plain text fits `limit`."""
    from .documents import split_sentences

    b, a = split_sentences(before.strip()), split_sentences(after.strip())
    while len(" ".join(b + [hl] + a)) > limit and (b or a):
        if len(" ".join(a)) >= len(" ".join(b)) and a:
            a.pop()
        elif b:
            b.pop(0)
    before_s = ("… " if b != split_sentences(before.strip()) else "") + " ".join(b) + (" " if b else "")
    after_s = (" " if a else "") + " ".join(a) + (" …" if a != split_sentences(after.strip()) else "")
    if len(hl) > limit:
        cut = hl[:limit].rsplit(" ", 1)[0]
        hl = cut + " …"
    return before_s, hl, after_s
