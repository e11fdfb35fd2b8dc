"""Plain text: decoded with a warned-about fallback, then header, body, footer and navigation."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath

from ..records import Parsed, Unreadable
from ..text import parse_plain

log = logging.getLogger("qa_bot.documents")


def decode(data: bytes, name: str) -> str:
    """UTF-8 text, else a warned-about fallback decoding; Unreadable for binary data."""
    if b"\x00" in data[:8192]:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16")
            except UnicodeDecodeError:
                pass
        raise Unreadable("binary file")
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
    raise Unreadable("undecodable text")  # pragma: no cover - latin-1 decodes any byte string


def read(name: str, data: bytes) -> Parsed:
    return parse_plain(decode(data, name), PurePosixPath(name).stem)
