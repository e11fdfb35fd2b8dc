"""Citation checks: is a passage's text really at the page and lines it cites?

Used by the tests and scripts/realdocs_report.py; compares letters and digits only, so line
breaks, hyphens joined at line ends and spacing do not matter.
"""

from __future__ import annotations

import html as html_lib
import re
from pathlib import PurePosixPath

from .records import Document, Passage
from .split import structure
from .text import file_lines


def norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def cited_text(doc: Document, p: Passage) -> str:
    """The text at the place a passage cites, read back from the document."""
    suffix = PurePosixPath(doc.source).suffix.lower()
    if p.page is not None:
        pages = doc.text.split("\n\f")
        page_end = getattr(p, "page_end", None)
        if page_end is None:
            return " ".join(file_lines(pages[p.page - 1])[p.line_start - 1 : p.line_end])
        # over a page break: the first page from line_start and the next up to line_end, less only what
        # lies between them that is blank or page furniture (footer, page number, running header)
        from .readers.pdf import furniture

        page_lines = [file_lines(t) for t in pages]
        skip = furniture(page_lines)
        head = list(range(p.line_start - 1, len(page_lines[p.page - 1])))
        tail = list(range(min(p.line_end, len(page_lines[page_end - 1]))))
        while head and (head[-1] in skip[p.page - 1] or not page_lines[p.page - 1][head[-1]].strip()):
            head.pop()
        while tail and (tail[0] in skip[page_end - 1] or not page_lines[page_end - 1][tail[0]].strip()):
            tail.pop(0)
        return " ".join([page_lines[p.page - 1][i] for i in head] + [page_lines[page_end - 1][i] for i in tail])
    if suffix in (".html", ".htm"):
        raw = (doc.path.read_bytes() if doc.path else doc.text.encode()).decode("utf-8", "replace")
        lines = file_lines(raw)[p.line_start - 1 : p.line_end + 40]
        text = html_lib.unescape(re.sub(r"<[^>]*>", "", "\n".join(lines)))
        return re.sub(r"\[(?:\d{1,3}|[a-z]|edit|citation needed)\]", "", text, flags=re.IGNORECASE)  # as the reader drops them
    if suffix == ".docx":
        return " ".join(t for c in structure(doc).chunks if c.section == p.section
                        for n, t in c.lines if p.line_start <= n <= p.line_end)
    return " ".join(file_lines(doc.text)[p.line_start - 1 : p.line_end])


def is_cited(doc: Document, p: Passage) -> bool:
    """True when the passage's text is found at its cited place (HTML: its first words at its
    cited source line, since a block runs on past the line where it starts)."""
    text = norm(p.text)
    if PurePosixPath(doc.source).suffix.lower() in (".html", ".htm"):
        text = norm(" ".join(p.text.split()[:8]))
    return text in norm(cited_text(doc, p))
