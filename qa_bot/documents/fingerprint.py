"""A docs folder's fingerprint: one short string that changes when any document is added,
removed or modified (names, sizes and mtimes), so a no-change check is one directory walk.

Standard library only, so a front end can compute it in a forked child before the heavy
imports (`preload.Preload`); `index` stores it with every generation and compares.
"""

from __future__ import annotations

import array
import hashlib
import os
import sys
from pathlib import Path

from .readers import SUFFIXES

UNKNOWN = object()  # a fingerprint nobody computed ahead (preload.Preload.digest): compute it now


def stats_digest(stats: dict[str, tuple]) -> str:
    """Order-independent fingerprint of (path, size, mtime) for every file: one hash per folder
    (`folder_hash`), summed and xored, and the file count (fast, stable across runs)."""
    folders: dict[str, tuple[list, list, list]] = {}
    for source, (size, mtime) in stats.items():
        prefix, _, name = source.rpartition("/")
        names, sizes, mtimes = folders.setdefault(prefix + "/" if prefix else "", ([], [], []))
        names.append(name)
        sizes.append(size)
        mtimes.append(mtime)
    return _combine([folder_hash(prefix, *parts) for prefix, parts in folders.items()], len(stats))


def folder_hash(prefix: str, names: list[str], sizes: list[int], mtimes: list[int]) -> int:
    """64-bit hash of one folder's files (names relative to it, as cited), in name order."""
    order = sorted(range(len(names)), key=names.__getitem__)
    text = prefix + "\0" + "\0".join([names[i] for i in order])
    numbers = array.array("q", [sizes[i] for i in order] + [mtimes[i] for i in order])
    if sys.byteorder != "little":
        numbers.byteswap()  # little-endian int64, as every stored fingerprint was written
    digest = hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8)
    digest.update(numbers.tobytes())
    return int.from_bytes(digest.digest(), "little")


def _combine(hashes: list[int], count: int) -> str:
    """The folders' hashes summed and xored (order-free), with the file count."""
    total = xor = 0
    for h in hashes:
        total = (total + h) & 0xFFFFFFFFFFFFFFFF
        xor ^= h
    return f"v2:{count}:{total}:{xor}"


def quick_digest(docs: Path | str) -> str | None:
    """`stats_digest` of the docs folder by os.scandir, one stat per document and no Path objects;
    None when the folder holds a link or an entry it cannot read (the full walk then handles them).

    One thread: a pool of two was slower here (the Python work between the stat calls holds
    the GIL, and the threads hand it back and forth).
    """
    suffixes = tuple(SUFFIXES)

    def one(folder: str, prefix: str):
        names, sizes, mtimes, subdirs = [], [], [], []
        with os.scandir(folder) as entries:
            for e in entries:
                name = e.name
                if name[0] == ".":
                    continue
                if not e.is_file(follow_symlinks=False):  # from the directory entry's type: no system call
                    if e.is_symlink():
                        return None
                    if e.is_dir(follow_symlinks=False):
                        subdirs.append(name)
                        continue
                if name.lower().endswith(suffixes):  # Path.suffix, for a name that does not start with a dot
                    st = e.stat(follow_symlinks=False)
                    names.append(name)
                    sizes.append(st.st_size)
                    mtimes.append(st.st_mtime_ns)
        if not (prefix + "".join(names)).isascii():  # cited as documents.source_name writes them
            names = [os.fsencode(n).decode("utf-8", "backslashreplace") for n in names]
            prefix = os.fsencode(prefix).decode("utf-8", "backslashreplace")
        return folder_hash(prefix, names, sizes, mtimes) if names else None, len(names), subdirs

    hashes, count = [], 0
    pending = [(os.fspath(docs), "")]
    try:
        while pending:
            folder, raw_prefix = pending.pop()
            got = one(folder, raw_prefix)
            if got is None:
                return None
            h, n, subdirs = got
            if h is not None:
                hashes.append(h)
            count += n
            pending += [(f"{folder}/{d}", f"{raw_prefix}{d}/") for d in subdirs]
    except OSError:
        return None
    return _combine(hashes, count)
