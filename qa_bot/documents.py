"""Documents to passages: read a folder, split each file into cited paragraphs.

Everything about where a passage starts and ends lives here; nothing here knows
about models or indexes (the token counter is passed in).
"""

from __future__ import annotations

import hashlib
import logging
import re
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
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


@dataclass(frozen=True)
class Passage:
    """One retrievable unit of text and the citation that proves it."""

    id: str
    source: str
    paragraph: int
    line_start: int
    line_end: int
    text: str
    title: str
    date: str | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Document:
    """A file read from the docs folder: its relative path, raw text and content hash."""

    source: str
    text: str
    sha256: str


# --------------------------------------------------------------------------- reading


def iter_files(root: Path) -> Iterator[Path]:
    """Every .txt/.md file under root, recursively, in a stable order; hidden paths skipped."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in SUFFIXES and not path.is_dir():
            yield path  # broken links and special files too: read_document warns about them


def decode(data: bytes, name: str) -> str | None:
    """UTF-8 text, else a warned-about fallback decoding; None for binary data."""
    if b"\x00" in data[:8192]:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16")
            except UnicodeDecodeError:
                pass
        log.warning("skipping %s: looks like a binary file", name)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        log.warning("%s is not valid UTF-8; decoded as %s", name, encoding)
        return text
    return None  # pragma: no cover - latin-1 decodes any byte string


def read_document(path: Path, root: Path) -> Document | None:
    """Read one file; None (with a warning naming it) when it cannot be read as text."""
    source = path.relative_to(root).as_posix()
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            log.warning("skipping %s: not a regular file", source)
            return None
        data = path.read_bytes()
    except OSError as exc:
        log.warning("skipping %s: %s", source, exc.strerror or exc)
        return None
    text = decode(data, source)
    if text is None:
        return None
    return Document(source=source, text=text, sha256=hashlib.sha256(data).hexdigest())


def read_folder(root: Path) -> list[Document]:
    """All readable documents under root."""
    docs = []
    for path in iter_files(root):
        doc = read_document(path, root)
        if doc is not None:
            docs.append(doc)
    return docs


# --------------------------------------------------------------------------- line shapes


def words(line: str) -> int:
    return len(line.split())


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
        # keep closing quotes with the sentence they close
        end = m.start() + len(m.group(0).rstrip())
        spans.append((start, end))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


# --------------------------------------------------------------------------- splitting


@dataclass
class _Block:
    """A paragraph under construction: its lines (number, stripped text)."""

    lines: list[tuple[int, str]]

    def text(self) -> str:
        return " ".join(t for _, t in self.lines)


def _paragraph_blocks(lines: list[str], skip: int | None) -> tuple[list[_Block], list[str]]:
    """Group lines into paragraphs; return them and the heading-like lines seen.

    `skip` is the 1-based number of the title line, which is never a passage.
    """
    blocks: list[_Block] = []
    headings: list[str] = []
    seen: set[str] = set()
    current: list[tuple[int, str]] = []

    def close() -> None:
        nonlocal current
        if current:
            blocks.append(_Block(current))
        current = []

    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or number == skip:
            close()
            continue
        key = " ".join(line.split()).casefold()
        if key in seen and words(line) >= 3:
            close()  # a repeated line (navigation lists) is indexed once, at its first place
            continue
        continues = number < len(lines) and lines[number][:1].islower() and not _TERMINAL.search(line)
        if is_heading_like(line) and not current and not continues:
            headings.append(line)
            seen.add(key)
            continue
        if _LIST_ITEM.match(line) or is_date_line(line):
            close()
        if is_date_line(line):
            headings.append(line)
            continue
        seen.add(key)
        current.append((number, line))
        if _TERMINAL.search(line):
            close()  # a line that ends a sentence is a paragraph of its own
    close()
    # A paragraph made only of heading-like text (e.g. "Welcome to all!") is not a passage.
    kept = []
    for block in blocks:
        if len(block.lines) == 1 and is_heading_like(block.lines[0][1]):
            headings.append(block.lines[0][1])
        else:
            kept.append(block)
    return kept, headings


def _title(lines: list[str]) -> tuple[str, int] | None:
    """First line and its number when it is a heading on its own (short, no sentence end)."""
    nonblank = [(i, l.strip()) for i, l in enumerate(lines) if l.strip()]
    if not nonblank:
        return None
    i, first = nonblank[0]
    first = _MD_HEADING.sub("", first)
    alone = i + 1 >= len(lines) or not lines[i + 1].strip() or is_heading_like(lines[i + 1])
    if alone and words(first) <= 30 and not re.search(r"[.!?…][\"'”’]*$", first) and not is_date_line(first):
        return first, i + 1
    return None


def _date(headings: list[str]) -> str | None:
    for h in headings:
        if is_date_line(h):
            return h.strip()
    return None


def passage_id(source: str, text: str) -> str:
    return hashlib.sha256(f"{source}\x00{text}".encode()).hexdigest()[:16]


def _windows(block: _Block, max_tokens: int, count_tokens: Callable[[str], int]) -> list[tuple[str, int, int]]:
    """(text, first line, last line) windows of whole sentences that each fit in max_tokens."""
    text = block.text()
    if count_tokens(text) <= max_tokens:
        return [(text, block.lines[0][0], block.lines[-1][0])]
    starts, offset = [], 0  # character offset where each line begins in `text`
    for number, line in block.lines:
        starts.append((offset, number))
        offset += len(line) + 1

    def line_at(pos: int) -> int:
        return max(n for o, n in starts if o <= pos)

    pieces: list[tuple[int, int, str]] = []  # (first line, last line, sentence)
    for a, b in _sentence_spans(text):
        sentence = text[a:b].strip()
        if count_tokens(sentence) <= max_tokens:
            pieces.append((line_at(a), line_at(b - 1), sentence))
            continue
        # A single sentence still too long is cut at word boundaries.
        # Word-piece counts add up across whitespace (BERT-style pre-tokenisation), so sum them.
        chunk: list[tuple[int, str]] = []
        size = 0
        for m in re.finditer(r"\S+", text[a:b]):
            word, n = (line_at(a + m.start()), m.group(0)), count_tokens(m.group(0))
            if chunk and size + n > max_tokens:
                pieces.append((chunk[0][0], chunk[-1][0], " ".join(w for _, w in chunk)))
                chunk, size = [], 0
            chunk.append(word)
            size += n
        if chunk:
            pieces.append((chunk[0][0], chunk[-1][0], " ".join(w for _, w in chunk)))
    windows: list[tuple[str, int, int]] = []
    current: list[tuple[int, int, str]] = []
    size = 0
    for piece in pieces:
        n = count_tokens(piece[2])
        if current and size + n > max_tokens:
            windows.append((" ".join(t for _, _, t in current), current[0][0], current[-1][1]))
            current, size = [], 0
        current.append(piece)
        size += n
    if current:
        windows.append((" ".join(t for _, _, t in current), current[0][0], current[-1][1]))
    return windows


def fit_windows(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """A single paragraph cut into sentence-aligned pieces that each fit the model."""
    return [t for t, _, _ in _windows(_Block([(1, " ".join(text.split()))]), max_tokens, count_tokens)]


def split_document(
    doc: Document,
    max_tokens: int = 254,
    count_tokens: Callable[[str], int] | None = None,
) -> list[Passage]:
    """Cut a document into passages with title, date and exact 1-based line spans."""
    count = count_tokens or (lambda s: int(words(s) * 1.4) + 1)
    lines = doc.text.splitlines()
    found = _title(lines)
    blocks, headings = _paragraph_blocks(lines, skip=found[1] if found else None)
    title = found[0] if found else Path(doc.source).stem
    date = _date(headings)
    passages: list[Passage] = []
    for number, block in enumerate(blocks, start=1):
        for text, first, last in _windows(block, max_tokens, count):
            passages.append(
                Passage(
                    id=passage_id(doc.source, text),
                    source=doc.source,
                    paragraph=number,
                    line_start=first,
                    line_end=last,
                    text=text,
                    title=title,
                    date=date,
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
