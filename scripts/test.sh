#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the checks: ruff, then the test suite (slow tests excluded; `-m slow` runs them).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export WANDB_MODE=${WANDB_MODE:-offline}
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
