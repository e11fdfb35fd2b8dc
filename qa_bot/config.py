"""Settings: defaults, environment variables (QA_BOT_*) and flags, in that order of strength."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BACKEND = "onnx-int8"
MODES = ("hybrid", "dense", "bm25")
BACKENDS = ("torch", "onnx", "onnx-int8")


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
        """Defaults, overridden by QA_BOT_DOCS/INDEX/MODEL/MODE/BACKEND/THRESHOLD, overridden by flags that are not None.

        A bad value raises ValueError naming the variable or flag it came from.
        """
        env = os.environ
        values: dict = {}
        for key in ("docs", "index", "model", "mode", "backend"):
            name = f"QA_BOT_{key.upper()}"
            if env.get(name):
                values[key] = env[name]
        threshold = env_number("QA_BOT_THRESHOLD", float)
        if threshold is not None:
            values["threshold"] = threshold
        given = {k: v for k, v in flags.items() if v is not None}
        values.update(given)

        def origin(key: str) -> str:
            return f"--{key}" if key in given else f"QA_BOT_{key.upper()}"

        if "threshold" in values and not math.isfinite(float(values["threshold"])):
            raise ValueError(f"{origin('threshold')} must be a finite number (got {values['threshold']})")
        if "mode" in values and values["mode"] not in MODES:
            raise ValueError(f"{origin('mode')}={values['mode']!r} is not one of {', '.join(MODES)}")
        if "backend" in values and values["backend"] not in BACKENDS:
            raise ValueError(f"{origin('backend')}={values['backend']!r} is not one of {', '.join(BACKENDS)}")
        for key in ("docs", "index"):
            if key in values:
                values[key] = Path(values[key]).expanduser()
        return replace(cls(), **values)


def env_number(name: str, kind: type = int, minimum: float | None = None) -> int | float | None:
    """The number in environment variable `name`, None when unset or empty.

    A value that is not a (finite) number, or is below `minimum`, raises ValueError naming the variable.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
        if not math.isfinite(value):
            raise ValueError
    except ValueError:
        what = "a whole number" if kind is int else "a finite number"
        raise ValueError(f"{name}={raw!r} is not {what}") from None
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={raw!r} must be at least {minimum}")
    return value


def state_dir() -> Path:
    """Where per-user state lives: $XDG_STATE_HOME/qa-bot (default ~/.local/state/qa-bot)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "qa-bot"


def history_path(index: Path) -> Path:
    """The REPL history file of one index: keyed by a hash of the index folder, so indexes never share questions."""
    key = hashlib.sha256(str(Path(index).expanduser().resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return state_dir() / "history" / key
