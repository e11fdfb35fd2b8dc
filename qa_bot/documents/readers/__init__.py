"""One reader per format behind one interface: `read(name, data) -> Parsed`.

Readers are imported on first use, so answering (which never reads files) loads no parser;
a reader raises `Unreadable(reason)` for a file it cannot turn into text.
"""

from __future__ import annotations

import importlib
from typing import Callable

from ..records import Parsed

READERS = {".txt": "txt", ".md": "md", ".markdown": "md", ".pdf": "pdf", ".html": "html", ".htm": "html", ".docx": "docx"}
SUFFIXES = tuple(READERS)

Reader = Callable[[str, bytes], Parsed]


def reader_for(suffix: str) -> Reader:
    """The `read` function of the reader for a file suffix such as '.pdf'."""
    return importlib.import_module(f"{__name__}.{READERS[suffix.lower()]}").read
