"""Plain text to paragraphs: line shapes, sentences, document structure and model-sized windows.

Structure means a header (title, dateline, byline), a footer (sign-off, signature, copyright)
and navigation lists ("More From ...": headlines with dates), told apart from the article.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from .records import Chunk, Parsed

# Sentence-ending punctuation, optionally followed by closing quotes/brackets.
_TERMINAL = re.compile(r"[.!?:;…][\"'”’»)\]]*\s*$")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+(?=[\"'“‘«(\[]?[A-Z0-9])")
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_WORDY = re.compile(rf"\b({_MONTHS})\.?\b", re.IGNORECASE)
_DATE_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[./]\d{1,2}[./]\d{2,4}$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s+")
_BOILERPLATE = re.compile(r"©|\(c\)\s*\d{4}|all rights reserved", re.IGNORECASE)
SALUTATION = re.compile(r"^(dear|hello|hi|greetings|to whom)\b", re.IGNORECASE)  # "Dear friends," opens a letter
_BYLINE = re.compile(r"^(?:by|author|written by|posted by)[:\s]+(.{3,80})$", re.IGNORECASE)
_TITLE_BY = re.compile(r"\b(?:statement|article|speech|letter|remarks|message|address|interview|report|note)\s+by\s+(.{3,200})$", re.IGNORECASE)
_ROLE = re.compile(
    r"\b(ambassador|minister|president|director|secretary|chairman|chair|editor|manager|ceo|head|consul|"
    r"officer|professor|spokesman|spokesperson|chief|governor|mayor|attach[eé]|counsellor|counselor)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"^(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}$")
_NAV_MARK = re.compile(
    r"^(more (from|articles|stories|news|posts|in)\b|related( articles| stories| posts| news|)$|latest (news|articles|posts|stories)"
    r"|read (more|also|next)\b|see also$|you (may|might) also like|recommended( for you| articles| stories|)$"
    r"|popular (posts|articles|stories)|top stories|most (read|popular|viewed))",
    re.IGNORECASE,
)
WRAP_MAX = 100  # lines no longer than this in a block may be hard-wrapped prose


# --------------------------------------------------------------------------- lines


def file_lines(text: str) -> list[str]:
    """Lines as grep, sed and editors count them: cut at "\\n" only (never at \\f, U+2028, NEL)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def clean(line: str) -> str:
    """One line as passage text: every run of whitespace (form feeds, U+2028 too) one space."""
    return " ".join(line.split())


def words(line: str) -> int:
    return len(line.split())


def is_terminal(line: str) -> bool:
    return bool(_TERMINAL.search(line))


def is_list_item(line: str) -> bool:
    return bool(_LIST_ITEM.match(line))


def is_date_line(line: str) -> bool:
    """'April 26, 2023', 'Pyongyang, April 23, Juche 109(2020)', '2023-04-26'."""
    s = line.strip()
    if _DATE_ISO.match(s):
        return True
    return words(s) <= 8 and bool(_DATE_WORDY.search(s)) and bool(re.search(r"\d", s)) and not _TERMINAL.search(s.rstrip(")"))


def is_heading_like(line: str) -> bool:
    """Titles, dates, salutations and signatures: lines that are not a sentence.

    A line is content when it ends a sentence and has at least five words, or when
    it is long (13+ words) even without punctuation (e.g. a truncated headline).
    """
    s = line.strip()
    if _MD_HEADING.match(s) or is_date_line(s):
        return True
    if _BOILERPLATE.search(s) and words(s) <= 8:
        return True
    n = words(s)
    if n >= 13 or (_LIST_ITEM.match(s) and n >= 4):
        return False
    return n < 5 or not _TERMINAL.search(s)


def split_sentences(text: str) -> list[str]:
    """Split text at sentence ends; the pieces concatenate (with single spaces) to the text."""
    return [p for p in _SENTENCE_SPLIT.split(text) if p]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _SENTENCE_SPLIT.finditer(text):
        end = m.start() + len(m.group(0).rstrip())  # keep closing quotes with the sentence they close
        spans.append((start, end))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _key(line: str) -> str:
    return clean(line).casefold()


# --------------------------------------------------------------------------- paragraphs


@dataclass
class Item:
    """A paragraph (kind 'para', several lines) or a heading-like line (kind 'head')."""

    kind: str
    lines: list[tuple[int, str]]

    @property
    def first(self) -> str:
        return self.lines[0][1]


def group_paragraphs(numbered: list[tuple[int, str]], prose: bool = True, skip: int | None = None) -> list[Item]:
    """Group numbered lines (blank ones included) into paragraphs and heading-like lines.

    `prose` (plain text): a line that ends a sentence ends its paragraph, unless its block
    is hard-wrapped (short lines that break where the next word would not fit); short lines
    that are not sentences are headings. Without `prose` (Markdown) a paragraph is a block
    between blank lines, cut before list items. `skip` is the title line: a heading.
    """
    out: list[Item] = []
    seen: set[str] = set()
    current: list[tuple[int, str]] = []

    def close() -> None:
        nonlocal current
        if current:
            out.append(Item("para", current))
        current = []

    runs: list[list[tuple[int, str]]] = [[]]
    for n, raw in numbered:
        if raw.strip():
            runs[-1].append((n, raw.strip()))
        elif runs[-1]:
            runs.append([])
    for run in runs:
        width = max(len(t) for _, t in run) if len(run) >= 2 and all(len(t) <= WRAP_MAX for _, t in run) else 0
        # Lines that break mid-sentence show the block is hard-wrapped: then only a short line ends a paragraph.
        wraps = width and any(not is_terminal(t) and not is_list_item(t) for _, t in run[:-1])
        for i, (n, line) in enumerate(run):
            nxt = run[i + 1][1] if i + 1 < len(run) else None
            if not prose:
                if is_list_item(line):
                    close()
                current.append((n, line))
                continue
            key = _key(line)
            if n == skip:
                close()
                out.append(Item("head", [(n, line)]))
                seen.add(key)
                continue
            if key in seen and words(line) >= 3:
                close()  # a repeated line is indexed once, at its first place
                continue
            continues = nxt is not None and nxt[:1].islower() and not is_terminal(line)
            if is_heading_like(line) and not current and not continues:
                out.append(Item("head", [(n, line)]))
                seen.add(key)
                continue
            if is_list_item(line) or is_date_line(line):
                close()
            if is_date_line(line):
                out.append(Item("head", [(n, line)]))
                continue
            seen.add(key)
            current.append((n, line))
            wrapped = (
                width
                and nxt is not None
                and not is_list_item(nxt)
                and (len(line) + 1 + len(nxt.split()[0]) > width or (wraps and len(line) >= 0.6 * width))
            )
            if is_terminal(line) and not wrapped:
                close()  # a line that ends a sentence is a paragraph of its own
        close()
    if not prose:
        return out
    # A paragraph made only of heading-like text (e.g. "Welcome to all!") is a heading.
    return [Item("head", it.lines) if it.kind == "para" and len(it.lines) == 1 and is_heading_like(it.first) else it for it in out]


# --------------------------------------------------------------------------- navigation


def find_navigation(lines: list[str]) -> tuple[set[int], list[Chunk]]:
    """Navigation lists: runs of headlines with their dates (or under "More From ..."), as chunks.

    Returns the 1-based line numbers they cover and one navigation chunk per headline or
    list label, each dated by the date printed with it.
    """
    n = len(lines)
    dates = [is_date_line(l) and l.strip() != "" for l in lines]
    marks = [bool(_NAV_MARK.match(l.strip())) and words(l) <= 8 for l in lines]

    def navish(i: int) -> bool:
        s = lines[i].strip()
        if not s or dates[i] or marks[i]:
            return True
        if (i > 0 and dates[i - 1]) or (i + 1 < n and dates[i + 1]):
            return True
        return any(_key(lines[j]) == _key(s) for j in range(max(0, i - 2), min(n, i + 3)) if j != i)

    covered: set[int] = set()
    chunks: list[Chunk] = []
    i = 0
    while i < n:
        if not navish(i) or not lines[i].strip():
            i += 1
            continue
        j = i
        while j < n and navish(j):
            j += 1
        region = range(i, j)
        if sum(dates[k] for k in region) >= 3 or (any(marks[k] for k in region) and sum(dates[k] for k in region) >= 1):
            covered.update(k + 1 for k in region)
            chunks.extend(_nav_items(lines, region, dates, marks))
        i = j
    return covered, chunks


def _nav_items(lines: list[str], region: range, dates: list[bool], marks: list[bool]) -> list[Chunk]:
    items: list[Chunk] = []
    head: tuple[int, str] | None = None
    date: str | None = None
    pending: str | None = None

    def close() -> None:
        nonlocal head, date
        if head:
            items.append(Chunk(lines=(head,), kind="navigation", date=date))
        head, date = None, None

    for k in region:
        s = clean(lines[k])
        if not s:
            continue
        if marks[k]:
            close()
            items.append(Chunk(lines=((k + 1, s),), kind="navigation"))
        elif dates[k]:
            if head and date is None:
                date = s
            else:
                close()
                pending = s
        elif head and _key(s) == _key(head[1]):
            continue  # the same headline printed twice around its date
        else:
            close()
            head, date, pending = (k + 1, s), pending, None
    close()
    return items


# --------------------------------------------------------------------------- plain text


def _title(lines: list[str]) -> tuple[str, int] | None:
    """First line and its number when it is a heading on its own (short, no sentence end)."""
    nonblank = [(i, l.strip()) for i, l in enumerate(lines) if l.strip()]
    if not nonblank:
        return None
    i, first = nonblank[0]
    first = _MD_HEADING.sub("", first)
    alone = i + 1 >= len(lines) or not lines[i + 1].strip() or is_heading_like(lines[i + 1])
    if alone and words(first) <= 30 and not re.search(r"[.!?…][\"'”’]*$", first) and not is_date_line(first):
        return clean(first), i + 1
    return None


def _signature(lines: list[str]) -> str | None:
    """'Alexander Matsegora / Ambassador of Russia' from the closing lines, or None."""
    names = [l for l in lines if _NAME.match(l) and not _ROLE.search(l) and not is_date_line(l) and not _BOILERPLATE.search(l)
             and not _NAV_MARK.match(l)]  # "More From Coastal Daily News" names the publisher, not who signed
    roles = [l for l in lines if _ROLE.search(l) and words(l) <= 10 and not is_terminal(l)]
    if not names:
        return None
    return names[-1] + (f" / {roles[-1]}" if roles else "")


def parse_plain(text: str, stem: str) -> Parsed:
    """A plain-text file: header, body paragraphs (with headings as sections), footer, navigation."""
    lines = file_lines(text)
    nav_lines, nav_chunks = find_navigation(lines)
    found = _title(lines)
    numbered = [(n, "" if n in nav_lines else raw) for n, raw in enumerate(lines, start=1)]
    items = group_paragraphs(numbered, prose=True, skip=found[1] if found else None)
    paras = [i for i, it in enumerate(items) if it.kind == "para"]
    first, last = (paras[0], paras[-1]) if paras else (len(items), len(items))
    header = [it.lines[0] for it in items[:first]]
    footer = [ln for it in items[last + 1 :] for ln in it.lines]
    cut = next((i for i, (_, l) in enumerate(header) if SALUTATION.match(l)), len(header))
    header = header[:cut]  # a salutation ("Dear friends,") opens the body; it is not metadata ...
    opening, section = [], None  # ... but the first paragraph's start; a heading after it names the section
    for k, it in enumerate(items[cut:first]):
        if k and it.kind == "head" and not is_date_line(it.first):
            section = clean(_MD_HEADING.sub("", it.first))
        else:
            opening.extend(it.lines)

    date = next((l for _, l in header if is_date_line(l)), None) or next((l for _, l in footer if is_date_line(l)), None)
    author = None
    for _, l in header:
        m = _BYLINE.match(l)
        if m:
            author = clean(m.group(1))
    if author is None and found:
        m = _TITLE_BY.search(found[0])
        author = clean(m.group(1)) if m else None
    author = author or _signature([l for _, l in footer])

    chunks: list[Chunk] = []
    # Title and dateline alone make no passage: every passage carries them already (and search
    # sees them); a subtitle or byline does.
    title_line = found[1] if found else None
    if found and _TITLE_BY.search(found[0]) and not any(n == title_line for n, _ in header):
        # "Press Statement by Im Chon Il, Vice-Minister ...": a title that says who wrote it and what office he holds
        header = [(title_line, lines[title_line - 1])] + header
    if any((n != title_line or _TITLE_BY.search(l)) and not is_date_line(l) for n, l in header):
        chunks.append(Chunk(lines=tuple(header), kind="header"))
    for it in items[first : last + 1]:
        if it.kind == "head":
            if not is_date_line(it.first):
                section = clean(_MD_HEADING.sub("", it.first))
            continue
        chunks.append(Chunk(lines=tuple(opening) + tuple(it.lines), section=section))
        opening = []
    if opening:
        chunks.append(Chunk(lines=tuple(opening), section=section))
    if any(not is_date_line(l) for _, l in footer):  # a closing dateline alone is the document's date
        chunks.append(Chunk(lines=tuple(footer), kind="signature"))
    chunks.extend(nav_chunks)
    chunks.sort(key=lambda c: c.lines[0][0])
    return Parsed(chunks=tuple(chunks), title=found[0] if found else stem, date=date and clean(date), author=author, text=text)


# --------------------------------------------------------------------------- windows


def join_lines(lines: Iterable[str], hyphenated: bool = False, compounds: frozenset[str] = frozenset()) -> tuple[str, list[int]]:
    """Lines joined into one text, and where each line starts in it.

    With `hyphenated`, a line ending in letter+"-" before a lower-case word is joined without
    the hyphen ("lan-" + "guages" -> "languages"), unless the word before it is in `compounds`
    (the document writes it hyphenated elsewhere: "micro-" + "perimeters" -> "micro-perimeters").
    """
    text, starts = "", []
    for line in lines:
        line = clean(line)
        if not line:
            continue
        if text:
            m = re.search(r"([^\W\d_]+)-$", text) if hyphenated else None
            if m and line[:1].islower():
                if m.group(1).casefold() not in compounds:
                    text = text[:-1]
            elif not (hyphenated and broken_number(text, line)):
                text += " "
        starts.append(len(text))
        text += line
    return text, starts


def broken_number(before: str, after: str) -> bool:
    """Whether a PDF line break cut a version or number in two: "Fedramp2." + "0.0-", "0.0-" + "oscal1.0.x"."""
    return bool(re.search(r"\d\.$", before) and re.match(r"\d+\.\d", after)
                or re.search(r"\d-$", before) and re.match(r"[a-z]+\d", after))


def passage_id(source: str, text: str) -> str:
    return hashlib.sha256(f"{source}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def windows(
    chunk: Chunk, max_tokens: int, count_tokens: Callable[[str], int]
) -> list[tuple[str, int, int]]:
    """(text, first line, last line) windows of whole sentences (or table rows) within max_tokens."""
    numbers = [n for n, t in chunk.lines if clean(t)]
    text, starts = join_lines((t for _, t in chunk.lines), chunk.hyphenated, chunk.compounds)
    if not text:
        return []
    if count_tokens(text) <= max_tokens:
        return [(text, numbers[0], numbers[-1])]

    def line_at(pos: int) -> int:
        return numbers[max(bisect.bisect_right(starts, pos) - 1, 0)]

    pieces: list[tuple[int, int, str]] = []  # (first line, last line, sentence or row)
    spans = (
        [(s, (starts[i + 1] - 1 if i + 1 < len(starts) else len(text))) for i, s in enumerate(starts)]
        if chunk.rows
        else _sentence_spans(text)
    )
    for a, b in spans:
        sentence = text[a:b].strip()
        if count_tokens(sentence) <= max_tokens:
            pieces.append((line_at(a), line_at(b - 1), sentence))
            continue
        # A single sentence still too long is cut at word boundaries.
        # Word-piece counts add up across whitespace (BERT-style pre-tokenisation), so sum them.
        chunk_words: list[tuple[int, str]] = []
        size = 0
        for m in re.finditer(r"\S+", text[a:b]):
            word, n = (line_at(a + m.start()), m.group(0)), count_tokens(m.group(0))
            if chunk_words and size + n > max_tokens:
                pieces.append((chunk_words[0][0], chunk_words[-1][0], " ".join(w for _, w in chunk_words)))
                chunk_words, size = [], 0
            chunk_words.append(word)
            size += n
        if chunk_words:
            pieces.append((chunk_words[0][0], chunk_words[-1][0], " ".join(w for _, w in chunk_words)))
    out: list[tuple[str, int, int]] = []
    current: list[tuple[int, int, str]] = []
    size = 0
    for piece in pieces:
        n = count_tokens(piece[2])
        if current and size + n > max_tokens:
            out.append((" ".join(t for _, _, t in current), current[0][0], current[-1][1]))
            current, size = [], 0
        current.append(piece)
        size += n
    if current:
        out.append((" ".join(t for _, _, t in current), current[0][0], current[-1][1]))
    return out


def fit_windows(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """A single paragraph cut into sentence-aligned pieces that each fit the model."""
    return [t for t, _, _ in windows(Chunk(lines=((1, text),)), max_tokens, count_tokens)]
