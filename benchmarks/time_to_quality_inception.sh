#!/usr/bin/env bash
# Time to Inception-FID quality of the default recipe (docs/benchmarks.md, "Time to quality: Inception FID").
# Trains `experiment=dcgan_mnist` with a checkpoint and a classifier FID every half epoch, evaluates
# 10k-sample Inception FID (vs the 10k MNIST test images) at the given steps, then prints the curve.
# Usage (from the repo root): benchmarks/time_to_quality_inception.sh [max_epochs] [step ...]
set -euo pipefail
EPOCHS=${1:-5}
shift || true
STEPS=${*:-"1170 2340"}
export GAN_LAB_DATA=${GAN_LAB_DATA:-/work/shared/datasets}
export WANDB_MODE=${WANDB_MODE:-offline}
WEIGHTS=${GAN_LAB_FID_WEIGHTS:-/work/shared/weights/fid_inception_2015-12-05_torchscript.pt}
RUN=${RUN:-outputs/runs/dcgan_mnist/time_to_quality}
PY=${PYTHON:-python}

[ -f "$RUN/checkpoints/last.ckpt" ] || $PY train.py experiment=dcgan_mnist trainer.max_epochs="$EPOCHS" \
    trainer.checkpoint_every=234 trainer.keep_last=1000 trainer.eval_every=234 trainer.progress_bar=false \
    hydra.run.dir="$RUN"
for STEP in $STEPS; do
    CKPT=$(printf "%s/checkpoints/step_%07d.ckpt" "$RUN" "$STEP")
    $PY evaluate.py ckpt="$CKPT" metrics=[fid,kid,prc] num_samples=10000 \
        fidelity.feature_extractor_weights_path="$WEIGHTS" name=inception-step"$STEP"-test-n10000
done
$PY benchmarks/quality_curve.py "$RUN" --json benchmarks/results/$(date -u +%F)_time_to_quality_inception.json
