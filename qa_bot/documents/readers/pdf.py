"""PDF through its text layer (pypdf, BSD-3; PyMuPDF would be faster but is AGPL): a page number
for every passage, lines of that page's extracted text, running headers, footers and page numbers
removed, words hyphenated at line ends joined. A paragraph that runs over a page break (no full stop
at the page's end, the next page's text opening in lower case) stays one passage, cited from its
first page's line to the next page's.

pypdf's plain extraction follows the content stream, which for two-column papers is column by
column; its "layout" mode puts both columns on one line, so it is not used (measured on the
ACL paper in realdocs). Scans, encrypted and damaged files raise Unreadable with the reason.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections import Counter
from datetime import datetime

from ..records import NEXT_PAGE, Chunk, Parsed, Unreadable
from ..text import broken_number, clean, file_lines, is_list_item, is_terminal, words

log = logging.getLogger("qa_bot.documents")

_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—\s]*(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?[-–—\s]*$", re.IGNORECASE)
_NUMBERED_HEADING = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?|[A-Z]\.\d{1,2}(?:\.\d{1,2})*|Appendix [A-Z]:?)\s+[A-Z][^.]*$")
_DOT_LEADER = re.compile(r"\.{4,}|(?:\. ){3,}")
_TITLE_WORD = re.compile(r"^[A-Z]")
_GOES_ON = re.compile(r"[a-z][a-z'’-]*(?:[\s,;:.)]|$)")  # a page opening mid-sentence: a lower-case word, not code ("value=")
EDGE = 4  # lines at the top and bottom of a page where running headers and footers live


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", clean(line).casefold())


def _running(pages: list[list[str]]) -> set[str]:
    """Keys of lines printed at the top or bottom of many pages: running headers and footers."""
    counts: Counter[str] = Counter()
    with_text = 0
    for lines in pages:
        nonblank = [l for l in lines if l.strip()]
        if not nonblank:
            continue
        with_text += 1
        counts.update({_edge_key(l) for l in nonblank[:EDGE] + nonblank[-EDGE:]})
    floor = max(3, with_text // 2)
    return {k for k, n in counts.items() if n >= floor and k.strip("#")} if with_text >= 3 else set()


def furniture(page_lines: list[list[str]]) -> list[set[int]]:
    """For each page, the indices of its lines that are page furniture: running headers and footers
    (printed at the top or bottom of many pages) and page numbers, among its first and last EDGE lines."""
    running = _running(page_lines)
    out = []
    for lines in page_lines:
        nonblank = [i for i, l in enumerate(lines) if l.strip()]
        out.append({i for i in set(nonblank[:EDGE] + nonblank[-EDGE:])
                    if _edge_key(lines[i]) in running or _PAGE_NUMBER.match(clean(lines[i]))})
    return out


def _title_case(line: str) -> bool:
    """'2.1.1 Token versus Entity Granularity' is a heading; '7 We also experimented with' (a footnote) is not."""
    long = [w for w in line.split()[1:] if len(w) >= 4]
    return not long or sum(bool(_TITLE_WORD.match(w)) for w in long) * 2 >= len(long)


def _date(meta) -> str | None:
    raw = str(meta.get("/CreationDate") or "") if meta else ""
    m = re.match(r"D:(\d{4})(\d{2})?(\d{2})?", raw)
    if not m:
        return None
    try:
        return datetime(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)).date().isoformat()
    except ValueError:
        return None


def _meta_text(meta, key: str) -> str | None:
    try:
        value = clean(str(meta.get(key) or "")) if meta else ""
    except Exception:  # a damaged info dictionary
        return None
    return value if 2 < len(value) < 300 and not value.lower().startswith(("microsoft word", "untitled")) else None


def read(name: str, data: bytes) -> Parsed:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its recoverable-damage warnings are not ours to print
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many PDFs are encrypted with an empty user password
            except Exception:
                opened = 0
            if not opened:
                raise Unreadable("encrypted")
        pages = list(reader.pages)
        meta = reader.metadata
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"damaged PDF ({type(exc).__name__})") from None
    texts: list[str] = []
    for page in pages:
        try:
            texts.append(unicodedata.normalize("NFKC", page.extract_text() or ""))
        except Exception:
            texts.append("")
    if sum(len(t.split()) for t in texts) < 5:
        raise Unreadable("no text layer (a scan?)")
    page_lines = [file_lines(t) for t in texts]
    skip = furniture(page_lines)
    # Words the document hyphenates inside a line ("micro-segmentation") keep the hyphen at a line end.
    compounds = frozenset(m.group(1).casefold() for t in texts for m in re.finditer(r"\b([^\W\d_]+)-[^\W\d_]", t))

    chunks: list[Chunk] = []
    section: str | None = None
    current: list[tuple[int, str]] = []  # the open paragraph's (line, text), lines of the next page past NEXT_PAGE
    opened = (0, None, False)  # (page, section, contents page) of the open paragraph

    def close() -> None:
        nonlocal current
        if current:
            page, in_section, contents = opened
            chunks.append(Chunk(lines=tuple(current), page=page, section=in_section, hyphenated=True, compounds=compounds,
                                kind="navigation" if contents else "text"))
        current = []

    for page_no, lines in enumerate(page_lines, start=1):
        body = [i for i, l in enumerate(lines) if l.strip() and i not in skip[page_no - 1]]
        last_body = body[-1] if body else -1  # blank lines below it, above the footer, end nothing
        lengths = sorted(len(clean(l)) for l in lines if l.strip())
        width = lengths[int(len(lengths) * 0.9)] if lengths else 0
        contents_page = sum(bool(_DOT_LEADER.search(l)) for l in lines) >= 5  # a table of contents: no headings
        # A paragraph the last page left open (no full stop at its end) goes on here when this page's
        # text opens in lower case ("ex-" / "plaining the observed ..."): one passage, cited across the break.
        carried = bool(current) and opened[0] == page_no - 1 and not contents_page
        if not carried:
            close()
        for i, raw in enumerate(lines):
            line = clean(raw)
            if not line:
                if not carried and i < last_body:  # nor do blank lines above a page's first text or below its last
                    close()
                continue
            if i in skip[page_no - 1]:
                continue  # running header or footer, page number
            heading = bool(_NUMBERED_HEADING.match(line)) and words(line) <= 10 and not contents_page and _title_case(line)
            if carried:
                carried = False
                if heading or not _GOES_ON.match(line):
                    close()
            if heading or is_list_item(line):
                close()
            if heading:
                section = line  # and the heading opens its first paragraph
            number = i + 1
            if not current:
                opened = (page_no, section, contents_page)
            elif opened[0] != page_no:
                number += NEXT_PAGE  # the paragraph carried over from the last page
            current.append((number, line))
            nxt = next((clean(l) for l in lines[i + 1 :] if l.strip()), "")
            if not heading and ((is_terminal(line) and len(line) < 0.8 * width and not broken_number(line, nxt))
                                or (nxt and is_list_item(nxt))):
                close()
        if current and (opened[0] != page_no or contents_page or is_terminal(current[-1][1])):
            close()  # a paragraph crosses one page break at most, and a full stop ends it
    close()
    title = _meta_text(meta, "/Title")
    if title is None:
        first = next((c for c in chunks if c.page == 1), None)
        title = clean(first.lines[0][1]) if first else None
    author = _meta_text(meta, "/Author")
    author = re.sub(r"\s*;\s*", ", ", author) if author else None  # 'Scott Rose;Oliver Borchert'
    return Parsed(chunks=tuple(chunks), title=title, date=_date(meta), author=author,
                  text="\n\f".join(texts))
