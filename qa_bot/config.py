"""Settings: defaults, environment variables (QA_BOT_*) and flags, in that order of strength."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BACKEND = "onnx-int8"
MODES = ("hybrid", "dense", "bm25")


def _default_docs() -> Path:
    bundled = PROJECT_ROOT / "seeds"
    return bundled if bundled.is_dir() else Path("seeds")


def _default_index() -> Path:
    return PROJECT_ROOT / "embeddings" if (PROJECT_ROOT / "pyproject.toml").exists() else Path("embeddings")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; build with `Settings.from_env(**flags)`."""

    docs: Path = field(default_factory=_default_docs)
    index: Path = field(default_factory=_default_index)
    model: str = DEFAULT_MODEL
    k: int = 3
    mode: str = "hybrid"
    threshold: float | None = None  # None: the mode's calibrated default
    follow_links: bool = False  # index files reached through links that leave the docs folder
    backend: str | None = None  # embedding at index time: torch, onnx, onnx-int8; None: the index's own, else onnx-int8

    @classmethod
    def from_env(cls, **flags) -> "Settings":
        """Defaults, overridden by QA_BOT_DOCS/INDEX/MODEL/MODE/THRESHOLD, overridden by flags that are not None."""
        env = os.environ
        values: dict = {}
        if env.get("QA_BOT_DOCS"):
            values["docs"] = Path(env["QA_BOT_DOCS"])
        if env.get("QA_BOT_INDEX"):
            values["index"] = Path(env["QA_BOT_INDEX"])
        if env.get("QA_BOT_MODEL"):
            values["model"] = env["QA_BOT_MODEL"]
        if env.get("QA_BOT_MODE"):
            values["mode"] = env["QA_BOT_MODE"]
        if env.get("QA_BOT_BACKEND"):
            values["backend"] = env["QA_BOT_BACKEND"]
        if env.get("QA_BOT_THRESHOLD"):
            values["threshold"] = float(env["QA_BOT_THRESHOLD"])
        values.update({k: v for k, v in flags.items() if v is not None})
        for key in ("docs", "index"):
            if key in values:
                values[key] = Path(values[key]).expanduser()
        return replace(cls(), **values)
