"""Answers to output: rich text for terminals, JSON for programs, HTML for chat.

Every piece of document or user text is treated as data (rich Text objects, html.escape),
never as markup.
"""

from __future__ import annotations

import html
import json

from .search import Answer, Hit

NOT_FOUND = "Nothing relevant found in the documents."
RELATED = "Related passages, but none seems to answer this exactly:"


def notice(answer: Answer) -> str | None:
    """The line shown above (or instead of) the passages: not found, only related, or a hint."""
    lines = [answer.hint] if getattr(answer, "hint", None) else []
    verdict = getattr(answer, "verdict", "answered" if answer.found else "none")
    if verdict == "none" or not answer.hits:
        lines.append(NOT_FOUND)
    elif verdict == "related":
        lines.append(RELATED)
    return "\n".join(lines) or None


def citation(hit: Hit) -> str:
    """`source:line` plus paragraph and line span, e.g. `004.txt:5 (¶1, lines 5–5)`."""
    p = hit.passage
    lines = f"line {p.line_start}" if p.line_start == p.line_end else f"lines {p.line_start}–{p.line_end}"
    return f"{p.source}:{p.line_start} (¶{p.paragraph}, {lines})"


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

    note = notice(answer)
    if not answer.hits:
        return Text(note or NOT_FOUND, style="yellow")
    parts = [Text(note, style="yellow")] if note else []
    for hit in answer.hits:
        p = hit.passage
        head = Text()
        head.append(f"{hit.rank}. ", style="bold cyan")
        head.append(p.title, style="bold")
        if p.date:
            head.append(f" · {p.date}", style="dim")
        head.append(f"   score {hit.score:.2f}", style="dim")
        cite = Text(citation(hit), style="green")
        before, hl, after = split_highlight(hit)
        body = Text()
        body.append(before)
        body.append(hl, style="bold" if (before or after) else "")
        body.append(after)
        parts.append(Group(head, Padding(Group(cite, body), (0, 0, 1, 3))))
    return Group(*parts)


def html_notice(answer: Answer) -> str | None:
    """The notice line as Telegram HTML (italic), or None for a plain answer."""
    note = notice(answer)
    return f"<i>{html.escape(note)}</i>" if note else None


def html_hit(hit: Hit, limit: int | None = None) -> str:
    """One hit as Telegram HTML: title, date, citation, passage with its best sentence in bold."""
    p = hit.passage
    head = f"<b>{hit.rank}. {html.escape(p.title)}</b>"
    if p.date:
        head += f" · <i>{html.escape(p.date)}</i>"
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
