"""Word .docx (python-docx): headings, custom heading styles included, become sections; lists
stay together; tables become rows "cell | cell | cell"; lines are ¶ numbers within the section.

A ¶ is a non-empty paragraph or a table row, counted from 1 after each heading, so
`policy.docx § Scope, ¶ 3` can be found by counting. A table of contents is labelled navigation.
"""

from __future__ import annotations

import io
import re

from ..records import Chunk, Parsed, Unreadable
from ..text import clean

_HEADING_NAME = re.compile(r"^(?:heading|hdr|appendix level|titre|überschrift)\s*(\d)?", re.IGNORECASE)
_LIST_NAME = re.compile(r"list|bullet|number", re.IGNORECASE)
SEP = " › "


def read(name: str, data: bytes) -> Parsed:
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise Unreadable(f"damaged or not a Word file ({type(exc).__name__})") from None

    style_info: dict[str, tuple[int | None, bool, str]] = {}  # style id -> (heading level, list, name)

    def describe(style) -> tuple[int | None, bool, str]:
        if style is None:
            return None, False, ""
        key = style.style_id
        if key in style_info:
            return style_info[key]
        level, listed, sname = None, False, style.name or ""
        el = style.element
        ppr = el.find(qn("w:pPr"))
        if ppr is not None:
            outline = ppr.find(qn("w:outlineLvl"))
            if outline is not None and outline.get(qn("w:val"), "9").isdigit() and int(outline.get(qn("w:val"))) < 9:
                level = int(outline.get(qn("w:val"))) + 1
            listed = ppr.find(qn("w:numPr")) is not None
        m = _HEADING_NAME.match(sname)
        if level is None and m and not sname.lower().startswith("header"):
            level = int(m.group(1) or 1)
        if sname.lower() == "title":
            level = 0
        listed = listed or bool(_LIST_NAME.search(sname))
        base = getattr(style, "base_style", None)
        if base is not None and (level is None or not listed):
            b_level, b_listed, _ = describe(base)
            level = level if level is not None else b_level
            listed = listed or b_listed
        style_info[key] = (level, listed, sname)
        return style_info[key]

    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []
    counter = 0
    title = None
    pending: list[tuple[int, str]] = []  # a list being collected
    pending_kind = "text"

    def section() -> str | None:
        return SEP.join(h for _, h in path) or None

    def flush() -> None:
        nonlocal pending
        if pending:
            chunks.append(Chunk(lines=tuple(pending), section=section(), kind=pending_kind))
        pending = []

    for child in document.element.body.iterchildren():
        if child.tag == qn("w:tbl"):
            flush()
            rows = []
            for row in Table(child, document).rows:
                cells: list[str] = []
                try:
                    row_cells = row.cells
                except Exception:  # a malformed grid
                    continue
                for cell in row_cells:
                    t = clean(cell.text)
                    if t and (not cells or cells[-1] != t):
                        cells.append(t)
                if cells:
                    counter += 1
                    rows.append((counter, " | ".join(cells)))
            if rows:
                chunks.append(Chunk(lines=tuple(rows), section=section(), kind="table", rows=True))
            continue
        if child.tag != qn("w:p"):
            continue
        para = Paragraph(child, document)
        text = clean(para.text)
        if not text:
            continue
        try:
            level, listed, sname = describe(para.style)
        except Exception:
            level, listed, sname = None, False, ""
        ppr = child.find(qn("w:pPr"))
        if ppr is not None:
            outline = ppr.find(qn("w:outlineLvl"))
            if outline is not None and (outline.get(qn("w:val")) or "9").isdigit() and int(outline.get(qn("w:val"))) < 9:
                level = int(outline.get(qn("w:val"))) + 1
            listed = listed or ppr.find(qn("w:numPr")) is not None
        if level is not None:
            flush()
            if level == 0 or (title is None and not path and level == 1 and sname.lower() == "title"):
                title = title or text
                continue
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, text))
            counter = 0
            continue
        counter += 1
        kind = "navigation" if sname.lower().startswith("toc") else "text"
        if listed or kind == "navigation":
            if pending and pending_kind != kind:
                flush()
            pending_kind = kind
            pending.append((counter, text))
            continue
        flush()
        chunks.append(Chunk(lines=((counter, text),), section=section()))
    flush()
    if not chunks:
        raise Unreadable("no text")
    props = document.core_properties
    title = title or clean(props.title or "") or None
    date = props.created.date().isoformat() if props.created else None
    text = "\n".join(t for c in chunks for _, t in c.lines)
    return Parsed(chunks=tuple(chunks), title=title, date=date, author=clean(props.author or "") or None, text=text)
