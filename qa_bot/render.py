"""Answers to output: rich text for terminals, JSON for programs, HTML for chat.

Every piece of document or user text is treated as data (rich Text objects, html.escape),
never as markup, and everything bound for a terminal goes through `safe_text` first.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

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

# Terminal escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC
# strings, two-byte ESC sequences, and their 8-bit C1 forms (CSI 0x9b, OSC 0x9d, DCS 0x90 ...).
# A string sequence without its terminator loses only its introducer, never the text after it.
_ESCAPE_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x9d\x90\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
)
# Left-over C0/C1 controls (but \n and \t), DEL, and the bidi overrides and isolates that can
# make text read differently from what it is (Trojan Source).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def safe_text(text: object) -> str:
    """`text` with escape sequences and control characters removed, lone surrogates replaced.

    Document text, file names and user input pass through here before any terminal sees them,
    so a file cannot retitle the window, hide text or write the clipboard (OSC 52).
    """
    s = _ESCAPE_SEQUENCES.sub("", str(text))
    s = _CONTROLS.sub("", s)
    return _SURROGATES.sub("\ufffd", s)


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (undecodable bytes from argv or files) replaced by U+FFFD."""
    return _SURROGATES.sub("\ufffd", text)


def console(file=None, stderr: bool = False):
    """A rich Console for answers: colour and wrapping on a terminal, plain unpadded lines when piped."""
    from rich.console import Console

    c = Console(file=file, stderr=stderr, highlight=False)
    if not c.is_terminal:
        c.soft_wrap = True  # no wrapping at 80 columns, no trailing spaces
    return c


def _span(word: str, a: int, b: int) -> str:
    return f"{word} {a}" if a == b else f"{word}s {a}–{b}"


def citation(hit: Hit) -> str:
    """Where to check a hit's passage (`cite`)."""
    return cite(hit.passage)


def cite(p) -> str:
    """Where to check a passage, in the terms of its format.

    PDF `report.pdf p. 7, lines 12–18` (over a page break `p. 7, line 40 – p. 8, line 3`); HTML `page.html § Installation › Linux`;
    DOCX `policy.docx § Scope, ¶ 3`; Markdown `notes.md § Setup, lines 40–44`;
    text `004.txt:5 (¶1, line 5)`.
    """
    kind = Path(p.source).suffix.lower()
    page, section = getattr(p, "page", None), getattr(p, "section", None)
    if page is not None:
        page_end = getattr(p, "page_end", None)
        if page_end is not None and page_end != page:  # a paragraph that runs over a page break
            return f"{p.source} p. {page}, line {p.line_start} – p. {page_end}, line {p.line_end}"
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


def json_line(record: dict) -> str:
    """One JSON object on one line, always valid UTF-8 (lone surrogates replaced)."""
    return valid_unicode(json.dumps(record, ensure_ascii=False))


def to_json(answer: Answer) -> str:
    return json_line(answer.to_dict())


def rich_answer(answer: Answer, plain: bool = False):
    """A rich renderable for one answer; `plain` indents with spaces instead of padding to the width."""
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
        head.append(safe_text(p.title), style="bold")
        if p.date:
            head.append(f" · {safe_text(p.date)}", style="dim")
        if byline(hit):
            head.append(safe_text(byline(hit)), style="dim")
        head.append(f"   score {hit.score:.2f}", style="dim")
        cite = Text(safe_text(citation(hit)), style="green")
        before, hl, after = split_highlight(hit)
        body = Text()
        body.append(safe_text(before))
        body.append(safe_text(hl), style="bold" if (before or after) else "")
        body.append(safe_text(after))
        if plain:
            indent = "   "
            parts.append(Text("\n").join([head, Text(indent) + cite, Text(indent) + _indent(body, indent), Text("")]))
        else:
            parts.append(Group(head, Padding(Group(cite, body), (0, 0, 1, 3))))
    return Group(*parts)


def _indent(text, indent: str):
    """`text` with every line after the first indented too."""
    from rich.text import Text

    return Text("\n" + indent).join(text.split("\n", allow_blank=True)) if "\n" in text.plain else text


def print_answer(out, answer: Answer) -> None:
    """Print one answer on a rich Console: padded blocks on a terminal, plain lines when piped."""
    out.print(rich_answer(answer, plain=not out.is_terminal))


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
