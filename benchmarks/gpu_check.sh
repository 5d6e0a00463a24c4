#!/usr/bin/env bash
# The GPU path, ready to measure: every recipe for STEPS steps on DEVICE under each of PRECISIONS
# (autocast) with channels_last; prints img/s and peak GPU memory in one table (benchmarks/gpu_check.py).
#
#   benchmarks/gpu_check.sh                                   # CUDA, 300 steps, bf16 and fp16: ~9 recipes x 2
#   DEVICE=cpu STEPS=2 BATCH=4 PRECISIONS=fp32 benchmarks/gpu_check.sh   # the same code path without a GPU
#
# Needs the datasets under GAN_LAB_DATA (the first run decodes the folder sets into GAN_LAB_CACHE).
# Extra arguments are Hydra overrides for every run, e.g. trainer.num_threads=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-300}
BATCH=${BATCH:-0}
PRECISIONS=${PRECISIONS:-bf16 fp16}
# shellcheck disable=SC2086  # PRECISIONS and RECIPES are word lists
exec "$PYTHON" -m benchmarks.gpu_check --device "$DEVICE" --steps "$STEPS" --batch-size "$BATCH" \
    --precisions $PRECISIONS ${RECIPES:+--recipes $RECIPES} ${JSON:+--json "$JSON"} "$@"
