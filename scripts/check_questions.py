"""Validate tests/data/dev_questions.jsonl against the documents it cites.

Checks each record's shape and that every gold answer is a verbatim (whitespace-normalised,
case-insensitive) substring of its source's extracted text, on the cited PDF page or seed line.
Prints counts by kind, style, language, split and source. Exit status 1 if any record fails.

Usage: python scripts/check_questions.py [--questions PATH] [--seeds DIR] [--realdocs DIR]
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"answerable", "metadata", "near-topic", "off-topic"}
STYLES = {"plain", "chat", "lowercase", "typo", "keywords", "metadata"}
LANGS = {"en", "ru", "ko"}
SPLITS = {"tune", "test"}
KEYS = {"id", "question", "kind", "style", "lang", "gold", "split"}


def norm(text: str) -> str:
    """Collapse all whitespace runs to one space and casefold."""
    return re.sub(r"\s+", " ", text).strip().casefold()


@lru_cache(maxsize=None)
def pdf_pages(path: Path) -> tuple[str, ...]:
    """Text of each PDF page, as pypdf's page.extract_text() gives it."""
    import pypdf

    return tuple(page.extract_text() or "" for page in pypdf.PdfReader(str(path)).pages)


@lru_cache(maxsize=None)
def docx_text(path: Path) -> str:
    """Body paragraphs followed by every table cell, one per line."""
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


@lru_cache(maxsize=None)
def html_text(path: Path, full: bool) -> str:
    """Main content (trafilatura); with full=True also title and all visible text (lxml)."""
    import lxml.html
    import trafilatura

    raw = path.read_text(encoding="utf-8", errors="replace")
    main = trafilatura.extract(raw, include_tables=True) or ""
    if not full:
        return main
    tree = lxml.html.fromstring(raw)
    for bad in tree.xpath("//script|//style"):
        bad.drop_tree()
    title = tree.findtext(".//title") or ""
    return "\n".join([title, tree.text_content(), main])


def source_text(path: Path, page: int | None, metadata: bool) -> str:
    """Extracted text of one source (one page for a PDF) in which the answer must occur."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        pages = pdf_pages(path)
        if page is None or not 1 <= page <= len(pages):
            raise ValueError(f"page {page} out of range 1..{len(pages)}")
        return pages[page - 1]
    if page is not None:
        raise ValueError("page given for a non-PDF source")
    if suffix == ".docx":
        return docx_text(path)
    if suffix in (".html", ".htm"):
        return html_text(path, metadata)
    return path.read_text(encoding="utf-8")


def whole_line(path: Path, line: object, answer: str) -> bool:
    """True when a seed line is exactly this answer (a signature may be a bare two-word name)."""
    if not path.is_file() or not isinstance(line, int):
        return False
    lines = path.read_text(encoding="utf-8").split("\n")
    return 1 <= line <= len(lines) and norm(lines[line - 1]) == norm(answer)


def check_record(rec: dict, seeds: Path, realdocs: Path) -> list[str]:
    """All problems found in one record (empty list when it is fine)."""
    errors = []
    if set(rec) != KEYS:
        errors.append(f"keys {sorted(set(rec) ^ KEYS)} wrong")
        return errors
    for field, allowed in (("kind", KINDS), ("style", STYLES), ("lang", LANGS), ("split", SPLITS)):
        if rec[field] not in allowed:
            errors.append(f"{field}={rec[field]!r}")
    if not isinstance(rec["question"], str) or not rec["question"].strip():
        errors.append("empty question")
    gold = rec["gold"]
    if rec["kind"] in ("near-topic", "off-topic"):
        if gold != []:
            errors.append("unanswerable question with gold")
        return errors
    if not gold:
        errors.append("answerable question without gold")
    for entry in gold:
        source, answer, page = entry.get("source"), entry.get("answer", ""), entry.get("page")
        words = len(answer.split())
        if "\n" in answer or not 3 <= words <= 12:
            if not (words == 2 and whole_line(seeds / source, entry.get("line"), answer)):
                errors.append(f"answer {answer!r} has {words} words or a line break")
        seed = seeds / source
        path = seed if seed.is_file() else realdocs / source
        if not path.is_file():
            errors.append(f"no source {source!r}")
            continue
        try:
            text = source_text(path, page, rec["kind"] == "metadata")
        except ValueError as exc:
            errors.append(f"{source}: {exc}")
            continue
        if norm(answer) not in norm(text):
            errors.append(f"{source} p.{page}: answer {answer!r} not found")
        if path.parent == seeds:
            expected = {"source", "answer", "page", "line"}
            line = entry.get("line")
            lines = path.read_text(encoding="utf-8").split("\n")
            if not isinstance(line, int) or not 1 <= line <= len(lines):
                errors.append(f"{source}: bad line {line!r}")
            elif norm(answer) not in norm(lines[line - 1]):
                errors.append(f"{source}:{line}: answer {answer!r} not on that line")
        else:
            expected = {"source", "answer", "page"}
        if set(entry) != expected:
            errors.append(f"gold keys {sorted(entry)} should be {sorted(expected)}")
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/data/dev_questions.jsonl")
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    default_real = next((p for p in (ROOT.parent / "shared/realdocs", Path("/work/shared/realdocs"))
                         if p.is_dir()), ROOT.parent / "shared/realdocs")
    parser.add_argument("--realdocs", type=Path, default=default_real)
    args = parser.parse_args()

    records, failures, ids = [], 0, set()
    for number, raw in enumerate(args.questions.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as exc:
            print(f"line {number}: bad JSON: {exc}")
            failures += 1
            continue
        problems = check_record(rec, args.seeds, args.realdocs)
        if rec.get("id") in ids:
            problems.append("duplicate id")
        ids.add(rec.get("id"))
        for problem in problems:
            print(f"{rec.get('id', number)}: {problem}")
        failures += bool(problems)
        records.append(rec)

    def corpus(rec: dict) -> str:
        if not rec["gold"]:
            return "-"
        return "seeds" if (args.seeds / rec["gold"][0]["source"]).is_file() else "realdocs"

    print(f"{len(records)} questions, {failures} failing")
    for title, key in (("kind", lambda r: r["kind"]), ("style", lambda r: r["style"]),
                       ("lang", lambda r: r["lang"]), ("split", lambda r: r["split"]),
                       ("kind x split", lambda r: f"{r['kind']}/{r['split']}"),
                       ("corpus of answerable+metadata", corpus),
                       ("source", lambda r: r["gold"][0]["source"] if r["gold"] else "-")):
        counts = collections.Counter(key(r) for r in records)
        print(f"\n{title}:")
        for name, count in sorted(counts.items(), key=lambda item: str(item[0])):  # a null split sorts too
            print(f"  {str(name):40s} {count:4d}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
