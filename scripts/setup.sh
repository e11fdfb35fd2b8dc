#!/usr/bin/env bash
# Create .venv/ and install qa-bot with CPU PyTorch; a no-op when nothing changed since last time.
# QA_BOT_EXTRAS=multilingual adds the optional extra for Russian and Korean questions.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.qa-bot-setup
EXTRAS=test${QA_BOT_EXTRAS:+,$QA_BOT_EXTRAS}
want=$( (cat pyproject.toml scripts/setup.sh; echo "$EXTRAS") | sha256sum | cut -c1-16)
# Byte-code for qa_bot itself, as pip writes it for a regular install (an editable one does not):
# a cold `qa-bot ask` then skips compiling its modules (~0.05-0.09 s here) even where Python is
# told not to write byte-code (PYTHONDONTWRITEBYTECODE). Only stale files are compiled again.
compile() { .venv/bin/python -m compileall -q qa_bot >/dev/null 2>&1 || true; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/qa-bot ]; then
  compile
  exit 0
fi
echo "qa-bot: setting up .venv (first run takes a few minutes) ..." >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
# CPU PyTorch first: an unpinned torch would pull gigabytes of CUDA packages.
.venv/bin/python -c "import torch" 2>/dev/null || pip install "torch==2.13.0"
pip install -e ".[$EXTRAS]"
compile
echo "$want" > "$stamp"
