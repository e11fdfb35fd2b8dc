"""Per realdocs file: passages, share of the library's raw text that ends up in passages, and
the share of passages found at their cited page and lines.

Raw text is what the parsing library gives with no cleaning (pypdf extract_text, python-docx
paragraphs and table cells, lxml text of <body> without script/style, the file for .md/.txt), so
the share counts removed boilerplate (headers, navigation, footers) as missing.
Run: PYTHONPATH=. python scripts/realdocs_report.py [/work/shared/realdocs]
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

from qa_bot.documents import scan_folder, split_document
from qa_bot.documents.check import is_cited


def raw_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(p.extract_text() or "" for p in PdfReader(path).pages)
    if suffix == ".docx":
        import docx

        d = docx.Document(path)
        cells = [c.text for t in d.tables for r in t.rows for c in r.cells]
        return "\n".join([p.text for p in d.paragraphs] + cells)
    if suffix in (".html", ".htm"):
        import lxml.html

        root = lxml.html.document_fromstring(path.read_bytes())
        for el in root.xpath("//script|//style"):
            el.drop_tree()
        body = root.find("body")
        return (body if body is not None else root).text_content()
    return path.read_text(encoding="utf-8", errors="replace")


def tokens(text: str) -> Counter:
    import unicodedata

    return Counter(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


def main(root: Path) -> None:
    start = time.perf_counter()
    folder = scan_folder(root)
    print(f"read {len(folder.documents)} files in {time.perf_counter() - start:.1f} s; {folder.summary() or 'none skipped'}")
    print(f"{'file':42} {'passages':>8} {'raw text kept':>13} {'cited ok':>9}  kinds")
    for doc in folder.documents:
        passages = split_document(doc)
        raw = tokens(raw_text(doc.path))
        kept = tokens(" ".join(p.text for p in passages))
        share = sum((raw & kept).values()) / max(sum(raw.values()), 1)
        ok = sum(is_cited(doc, p) for p in passages) / max(len(passages), 1)
        kinds = Counter(p.kind for p in passages)
        print(f"{doc.source:42} {len(passages):8d} {share:12.1%} {ok:9.1%}  {dict(kinds)}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/realdocs"))
