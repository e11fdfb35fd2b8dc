"""Shared fixtures: the real model is loaded once per session; the seeds index is built once."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from qa_bot.config import DEFAULT_MODEL, PROJECT_ROOT, Settings
from qa_bot.embed import load_encoder

SEEDS = PROJECT_ROOT / "seeds"


def children() -> set[int]:
    """Pids whose parent is this process, zombies included (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid():
            out.add(int(stat.parent.name))
    return out


def reaped(pids: set[int], within: float = 5.0) -> bool:
    """True once none of `pids` is a child of this process any more (gone and waited for), polling:
    a child may still be unmapping its memory when its answer has been read."""
    deadline = time.monotonic() + within
    while pids & children():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture(scope="session")
def encoder():
    return load_encoder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def seeds_settings(tmp_path_factory, encoder) -> Settings:
    """Settings for a private copy of the seeds and a fresh index (the user's embeddings/ is untouched)."""
    root = tmp_path_factory.mktemp("seeds")
    docs = root / "docs"
    shutil.copytree(SEEDS, docs)
    return Settings(docs=docs, index=root / "index", model=DEFAULT_MODEL)


@pytest.fixture(scope="session")
def retriever(seeds_settings):
    from qa_bot import engine

    return engine.open_retriever(seeds_settings, progress=False)


@pytest.fixture
def docs_copy(tmp_path) -> Path:
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    return docs


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Keep the per-user ONNX export cache of the test session out of the user's ~/.cache."""
    import os

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture(scope="session", autouse=True)
def multilingual_off():
    """Index builds in tests skip the optional e5 vectors; tests of the extra switch it on."""
    import os

    old = os.environ.get("QA_BOT_MULTILINGUAL")
    os.environ["QA_BOT_MULTILINGUAL"] = "0"
    yield
    if old is None:
        os.environ.pop("QA_BOT_MULTILINGUAL", None)
    else:
        os.environ["QA_BOT_MULTILINGUAL"] = old
