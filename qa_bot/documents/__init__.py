"""Documents to passages: read a folder (one reader per format), cut each file into cited paragraphs.

Everything about where a passage starts and ends lives here; nothing here knows about models
or indexes (the token counter is passed in). Parsers (pypdf, lxml, python-docx) load only when
a file of their format is read, so answering a question imports none of them.
"""

from __future__ import annotations

from .files import Folder, iter_files, left_out, load, read_document, read_folder, scan_folder, source_name
from .readers import SUFFIXES, reader_for
from .records import KINDS, Chunk, Document, Parsed, Passage, Skipped, Unreadable
from .split import split_document, structure
from .text import SALUTATION, fit_windows, is_date_line, is_heading_like, passage_id, split_sentences, words

__all__ = [
    "KINDS", "SALUTATION", "SUFFIXES", "Chunk", "Document", "Folder", "Parsed", "Passage", "Skipped", "Unreadable",
    "fit_windows", "is_date_line", "is_heading_like", "iter_files", "left_out", "load", "passage_id", "read_document",
    "read_folder", "reader_for", "scan_folder", "source_name", "split_document", "split_sentences",
    "structure", "words",
]
