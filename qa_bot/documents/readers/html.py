"""HTML: the main content only (lxml and rules), headings as sections, cited at source lines.

Navigation, sidebars, footers, scripts and styles are dropped, and so are Wikipedia's [edit]
links and [n] citation marks; maths keeps its TeX. Each block cites the line of the HTML file
where it starts, so a reader can find it with view-source; tables become rows "a | b | c".
"""

from __future__ import annotations

import re

from ..records import Chunk, Parsed, Unreadable
from ..text import clean

_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "nav", "aside", "footer", "form", "button", "iframe",
              "select", "input", "textarea", "canvas", "object", "embed", "link", "meta")
_DROP_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog")
_BOILERPLATE = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|sidebar|breadcrumbs?|toc|mw-editsection|mw-jump-link|jump-to-nav|"
    r"noprint|navbox|vertical-navbox|catlinks|printfooter|reference|references|reflist|mw-references-wrap|"
    r"mw-cite-backlink|sistersitebox|ambox|hatnote|share|sharing|social|cookie|cookies|advert|ads|"
    r"skip-link|siteSub|contentSub|mw-indicators|mw-head|mw-panel|mw-navigation|footer|site-footer|"
    r"comments?|related|newsletter|subscribe|visually-hidden|sr-only)(?:$|[\s_-])",
    re.IGNORECASE,
)
_BLOCKS = frozenset("p h1 h2 h3 h4 h5 h6 li dd dt pre blockquote figcaption caption table div section article "
                    "main header footer ul ol dl tr td th address details summary".split())
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BREAKS = frozenset("figure hr center video audio object".split())  # never part of a formula's sentence
_MARKS = re.compile(r"\[(?:\d{1,3}|[a-z]|edit|citation needed|note \d+)\]", re.IGNORECASE)
SEP = " › "


def _tex(node) -> str:
    for ann in node.iter("{*}annotation", "annotation"):
        if "tex" in (ann.get("encoding") or ""):
            return ann.text_content() if hasattr(ann, "text_content") else (ann.text or "")
    return node.get("alttext") or ""


def _untex(s: str) -> str:
    m = re.match(r"^\{\\displaystyle\s*(.*)\}$", s.strip(), re.DOTALL)
    return clean(m.group(1) if m else s)


def _replace(node, text: str) -> None:
    """Put `text` (and the node's tail) where the node was."""
    parent = node.getparent()
    if parent is None:
        return
    text = text + (node.tail or "")
    prev = node.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    else:
        parent.text = (parent.text or "") + text
    parent.remove(node)


def _ends_paragraph(node, outer, tex: str) -> bool:
    """A displayed formula right after a paragraph ("... is Hermitian if and only if it is such
    that" + formula, or "or in matrix form:" + an indented formula) goes at the end of that
    paragraph, with the text that follows it up to the next block ("for any pair of vectors v, w");
    left where it stood, it and that text would end up apart from the sentence they complete."""
    holder, parent = outer, outer.getparent()
    if parent is not None and parent.tag == "dd" and _only(parent, outer):
        dl = parent.getparent()
        if dl is None or dl.tag != "dl" or len(dl) != 1 or (dl.text or "").strip():
            return False
        holder = dl
    elif node.get("display") != "block":
        return False
    prev = holder.getprevious()
    if prev is None or not isinstance(prev.tag, str) or prev.tag != "p" or (prev.tail or "").strip():
        return False
    text = tex + (outer.tail or "" if holder is outer else (outer.tail or "") + (holder.tail or ""))
    if len(prev):
        prev[-1].tail = (prev[-1].tail or "") + text
    else:
        prev.text = (prev.text or "") + text
    prev.tail = "\n"
    follow = []  # inline elements after it (more maths, a link) belong to the same sentence
    nxt = holder.getnext()
    while nxt is not None and isinstance(nxt.tag, str) and not _holds_block(nxt):
        follow.append(nxt)
        nxt = nxt.getnext()
    holder.getparent().remove(holder)
    for el in follow:
        prev.append(el)  # its tail comes with it
    return True


def _holds_block(el) -> bool:
    """Whether an element is, or holds, something that starts a block of its own (a caption, a rule)."""
    return any(isinstance(d.tag, str) and (d.tag in _BLOCKS or d.tag in _BREAKS) for d in el.iter())


def _only(parent, child) -> bool:
    """Whether `child` is all that `parent` holds (besides white space and punctuation)."""
    if len(parent) != 1:
        return False
    return not re.sub(r"[\s.,;:]", "", (parent.text or "") + (child.tail or ""))


def _is_boilerplate(el, keep) -> bool:
    if el is keep or el.tag in ("html", "body"):
        return False
    if el.tag in _DROP_TAGS:
        return True
    if (el.get("role") or "").lower() in _DROP_ROLES or el.get("aria-hidden") == "true":
        return True
    if re.search(r"display\s*:\s*none", el.get("style") or "", re.IGNORECASE) or el.get("hidden") is not None:
        return True
    names = f"{el.get('id') or ''} {el.get('class') or ''}"
    return bool(names.strip()) and bool(_BOILERPLATE.search(names))


def _own_text(el) -> str:
    """The element's text without that of its block-level children."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _BLOCKS:
            if child.tag == "br":
                parts.append(" ")
            else:
                parts.append(child.text_content())
        parts.append(child.tail or "")
    return _MARKS.sub("", clean("".join(parts)))


def _lead(text: str) -> int:
    """Newlines before the first visible character of a text node."""
    stripped = text.lstrip()
    return text[: len(text) - len(stripped)].count("\n") if stripped else -1


def _text_line(el) -> int:
    """The source line where the element's own text begins (not where its tag opens)."""
    base = el.sourceline or 1
    if el.text and _lead(el.text) >= 0:
        return base + _lead(el.text)
    for child in el:
        if not isinstance(child.tag, str):
            continue
        if child.tag not in _BLOCKS and child.text_content().strip():
            return child.sourceline or base
        if child.tail and _lead(child.tail) >= 0:
            last = max((d.sourceline or 0 for d in child.iter() if isinstance(d.tag, str)), default=base)
            return last + _lead(child.tail)
    return base


def _heading_text(el) -> str:
    return clean(_MARKS.sub("", el.text_content())).strip("#¶§ ").strip()


_MONTH_NAMES = "January|February|March|April|May|June|July|August|September|October|November|December"
# a notice that opens its element: "This page was last edited on 24 February 2020, at 20:33", "Last updated: 2021-03-04"
_LAST_CHANGED = re.compile(
    r"\s*(?:This (?:page|article|document) was last|(?:Page |Article )?Last) (?:modified|edited|updated)\b\s*(?:on\b)?\s*:?\s*"
    rf"(\d{{1,2}} (?:{_MONTH_NAMES}) \d{{4}}|(?:{_MONTH_NAMES}) \d{{1,2}}, \d{{4}}|\d{{4}}-\d\d-\d\d)\b", re.IGNORECASE)


_MAY_SAY_CHANGED = re.compile(rb"ast (?:modified|edited|updated)", re.IGNORECASE)


def _last_changed(root) -> tuple[int, str, str] | None:
    """(source line, text, date) of the element whose own text opens with a page's "last edited / modified /
    updated on DATE" notice (a wiki's footer, dropped with the rest of the page's furniture), or None."""
    # only the elements around a text that says so (found by XPath in C: a page-wide pass in Python cost 7-8 ms)
    for found in root.xpath('//text()[contains(., "ast modified") or contains(., "ast edited") or contains(., "ast updated")]'):
        el = found.getparent()
        while el is not None and not (isinstance(el.tag, str) and el.tag in _BLOCKS):
            el = el.getparent()
        own = clean(_own_text(el)) if el is not None else ""
        m = _LAST_CHANGED.match(own) if own else None
        if m:
            return _text_line(el), own if len(own) <= 200 else clean(m.group(0)), m.group(1)
    return None


def read(name: str, data: bytes) -> Parsed:
    import lxml.html
    from lxml import etree

    if not data.strip():
        raise Unreadable("empty file")
    try:
        root = lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError) as exc:
        raise Unreadable(f"unreadable HTML ({exc})") from None
    title_el = root.find(".//title")
    page_title = clean(title_el.text_content()) if title_el is not None else ""
    author = None
    for xp in ('//meta[@name="author"]/@content', '//*[@itemprop="author"]//text()', '//*[@rel="author"]//text()',
               '//*[contains(@class, "byline")]//text()'):
        found = clean(" ".join(root.xpath(xp)))
        if found:
            author = re.sub(r"^by\s+", "", found, flags=re.IGNORECASE)[:120]
            break
    date = next((clean(v) for xp in ('//meta[@property="article:published_time"]/@content', "//time/@datetime",
                                     '//meta[@name="date"]/@content', "//time//text()")
                 for v in root.xpath(xp) if clean(v)), None)

    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        _replace(node, "")
    for node in list(root.iter("{*}math", "math")):  # MathML: keep the TeX, once
        outer = node
        for anc in node.iterancestors():  # Wikipedia wraps it (hidden) with a fallback image
            if "mwe-math-element" in (anc.get("class") or ""):
                outer = anc
                break
        if outer.getparent() is not None:
            tex = " " + _untex(_tex(node)) + " "
            if not _ends_paragraph(node, outer, tex):
                _replace(outer, tex)

    # 'This page was last edited on 24 February 2020', in a footer that goes (looked for only where the bytes say so)
    changed = _last_changed(root) if _MAY_SAY_CHANGED.search(data) else None
    if date is None and changed is not None:
        date = changed[2]
    for foot in root.iter("footer"):  # 'Posted by Alon Zakai.' in an article's footer, before footers go
        m = re.search(r"\b(?i:posted|written|published) by\s+([A-Z][^.|·\n]{2,60})", foot.text_content())
        if m and author is None:
            author = clean(m.group(1))
    main = None
    for xp in ("//main", '//*[@role="main"]', "//article", '//*[@id="mw-content-text"]', '//*[@id="content"]',
               '//*[@id="main-content"]', '//*[@id="main"]', "//body"):
        hits = root.xpath(xp)
        if hits:
            main = max(hits, key=lambda el: len(el.text_content()))
            break
    if main is None:
        main = root
    for el in list(main.iter()):
        if isinstance(el.tag, str) and el.getparent() is not None and _is_boilerplate(el, main):
            el.drop_tree()
    # The page's own title: an <h1> of the content (Wikipedia keeps it just outside), else <title>.
    h1s = [clean(h.text_content()) for h in main.iter("h1")] or [clean(h.text_content()) for h in root.xpath('//*[@id="firstHeading"]')]
    title = h1s[0] if h1s and h1s[0] else re.sub(r"\s+[-–—|]\s+[^-–—|]+$", "", page_title) or None

    chunks: list[Chunk] = []
    path: list[tuple[int, str]] = []
    lists: dict = {}  # a list element (held, so that no other element takes its place) -> index of its chunk

    def section() -> str | None:
        return SEP.join(h for _, h in path) or None

    def walk(el) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag
            line = child.sourceline or 1
            if tag in _HEADINGS:
                text = _heading_text(child)
                level = _HEADINGS[tag]
                if level == 1:
                    path.clear()
                elif text:
                    while path and path[-1][0] >= level:
                        path.pop()
                    path.append((level, text))
                continue
            if tag == "table":
                rows = []
                for tr in child.iter("tr"):
                    cells = []
                    for cell in tr:
                        if isinstance(cell.tag, str) and cell.tag in ("td", "th"):
                            t = _MARKS.sub("", clean(cell.text_content()))
                            if t and (not cells or cells[-1] != t):
                                cells.append(t)
                    if cells:
                        rows.append((tr.sourceline or line, " | ".join(cells)))
                if rows:
                    chunks.append(Chunk(lines=tuple(rows), section=section(), kind="table", rows=True))
                continue
            if tag == "pre":
                for br in child.iter("br"):
                    br.tail = " " + (br.tail or "")  # a code line break on the same source line
                text = child.text_content()
                body = [(line + i, clean(t)) for i, t in enumerate(text.split("\n")) if t.strip()]
                if body:
                    chunks.append(Chunk(lines=tuple(body), section=section()))
                continue
            own = _own_text(child) if tag in _BLOCKS else ""
            if own:
                line = _text_line(child)
                parent = child.getparent()
                if tag in ("li", "dd", "dt") and parent is not None and parent in lists:
                    k = lists[parent]
                    chunks[k] = Chunk(lines=chunks[k].lines + ((line, own),), section=chunks[k].section)
                else:
                    chunks.append(Chunk(lines=((line, own),), section=section()))
                    if tag in ("li", "dd", "dt") and parent is not None:
                        lists[parent] = len(chunks) - 1
            walk(child)

    walk(main)
    if changed is not None and not any(changed[1] in t for c in chunks for _, t in c.lines):
        chunks.append(Chunk(lines=((changed[0], changed[1]),)))  # when the page last changed: its last paragraph
    if not chunks:
        raise Unreadable("no text in the page")
    text = "\n".join(t for c in chunks for _, t in c.lines)
    return Parsed(chunks=tuple(chunks), title=title, date=date, author=author, text=text)
