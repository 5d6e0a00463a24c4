#!/usr/bin/env bash
# Create .venv (if missing) and install gan_lab with its dependencies and dev tools.
# torch/torchvision are pinned to the versions this project is tested with; the rest come from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
echo "gan_lab installed in $(pwd)/.venv"
