"""The docs folder to documents: which files, read safely, and which were skipped and why.

Links that leave the folder are skipped unless asked for; names that are not UTF-8 are cited
escaped; every file left out is collected as a `Skipped` record for one summary line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .readers import SUFFIXES, reader_for
from .records import Document, Skipped, Unreadable

log = logging.getLogger("qa_bot.documents")


def source_name(path: Path, root: Path) -> str:
    """The relative path to cite: '/'-separated, bytes that are not UTF-8 escaped as \\xNN."""
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def _walk(root: Path, follow_links: bool) -> Iterator[Path]:
    """Every non-hidden file under root in a stable order (links to folders only when following)."""
    seen: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=follow_links):
        real = os.path.realpath(folder)
        if real in seen:  # a link cycle
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name
        for d in dirs:  # links to folders os.walk does not enter: report them as files
            p = Path(folder) / d
            if p.is_symlink() and not follow_links:
                yield p


def _outside(path: Path, root: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
    except ValueError:
        return True
    return False


def iter_files(root: Path, follow_links: bool = False) -> Iterator[Path]:
    """Every file under root a reader exists for, recursively, in a stable order; hidden paths skipped.

    Links that lead out of the folder are left out unless `follow_links`.
    """
    for path in sorted(_walk(Path(root), follow_links)):
        if path.suffix.lower() in SUFFIXES and not path.is_dir():
            if follow_links or not (path.is_symlink() and path.exists() and _outside(path, root)):
                yield path  # broken links and special files too: reading them says why they are skipped


def load(path: Path, root: Path, follow_links: bool = False) -> Document | Skipped:
    """Read and parse one file, or say why it is skipped."""
    source = source_name(path, root)
    suffix = path.suffix.lower()
    try:
        if path.is_symlink() and not follow_links and path.exists() and _outside(path, root):
            return Skipped(source, "link outside the folder; --follow-links lets it in")
        if path.is_dir():
            return Skipped(source, "link to a folder")
        if suffix not in SUFFIXES:
            return Skipped(source, "unsupported format")
        if not stat.S_ISREG(path.stat().st_mode):
            return Skipped(source, "not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        return Skipped(source, "broken link" if path.is_symlink() else "not found")
    except OSError as exc:
        return Skipped(source, f"unreadable: {exc.strerror or exc}")
    try:
        parsed = reader_for(suffix)(source, data)
    except Unreadable as exc:
        return Skipped(source, str(exc))
    except Exception as exc:  # a parser library failing on a damaged file must not stop the folder
        log.debug("reading %s failed", source, exc_info=True)
        return Skipped(source, f"damaged or unreadable ({type(exc).__name__})")
    if not parsed.chunks:
        return Skipped(source, "no text")
    return Document(source=source, text=parsed.text, sha256=hashlib.sha256(data).hexdigest(), parsed=parsed, path=path)


@dataclass
class Folder:
    """The documents read from a folder and the files skipped, with reasons."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def summary(self, limit: int = 8) -> str | None:
        """'skipped 3 files: a.pdf (no text layer), …', or None when nothing was skipped."""
        if not self.skipped:
            return None
        shown = ", ".join(f"{s.source} ({s.reason})" for s in self.skipped[:limit])
        more = f", and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
        n = len(self.skipped)
        return f"skipped {n} file{'s' if n != 1 else ''}: {shown}{more}"


def scan_folder(root: Path, follow_links: bool = False) -> Folder:
    """Read every file under root: the documents, and every file left out with its reason."""
    folder = Folder()
    for path in sorted(_walk(Path(root), follow_links)):
        got = load(path, Path(root), follow_links)
        (folder.documents if isinstance(got, Document) else folder.skipped).append(got)
    return folder


def left_out(root: Path, follow_links: bool = False) -> list[Skipped]:
    """Files under root that iter_files does not list (another format, a link leaving the folder), with why.

    Nothing is read: what an index run reports besides the files it could not parse.
    """
    listed = set(iter_files(root, follow_links))
    out = []
    for path in sorted(_walk(Path(root), follow_links)):
        if path not in listed:
            got = load(path, Path(root), follow_links)
            if isinstance(got, Skipped):
                out.append(got)
    return out


def read_folder(root: Path, follow_links: bool = False) -> list[Document]:
    """All readable documents under root; the files skipped are reported in one warning line."""
    folder = scan_folder(root, follow_links)
    if folder.skipped:
        log.warning("%s", folder.summary())
    return folder.documents


def read_document(path: Path, root: Path, follow_links: bool = False) -> Document | None:
    """Read one file; None (with a warning naming it and the reason) when it is skipped."""
    got = load(path, root, follow_links)
    if isinstance(got, Skipped):
        log.warning("skipping %s: %s", got.source, got.reason)
        return None
    return got
