#!/usr/bin/env bash
# Set up if needed, build the index of seeds/ if needed, open the REPL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/qa-bot repl "$@"
