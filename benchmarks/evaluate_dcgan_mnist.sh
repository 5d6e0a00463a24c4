#!/usr/bin/env bash
# The measurements in docs/evaluation.md: a DCGAN trained by the default recipe, then evaluate.py.
# Usage: benchmarks/evaluate_dcgan_mnist.sh [epochs] [inception samples]   (run from the repo root)
set -euo pipefail
EPOCHS=${1:-1}
N_INCEPTION=${2:-2000}
export GAN_LAB_DATA=${GAN_LAB_DATA:-/work/shared/datasets}
WEIGHTS=${GAN_LAB_FID_WEIGHTS:-/work/shared/weights/fid_inception_2015-12-05_torchscript.pt}
RUN=outputs/runs/dcgan_mnist/eval_baseline
CKPT=$RUN/checkpoints/last.ckpt
PY=${PYTHON:-python}

[ -f "$CKPT" ] || $PY train.py trainer.max_epochs="$EPOCHS" trainer.progress_bar=false hydra.run.dir=$RUN
# Cheap metrics on 10k samples: the classifier is trained and cached the first time.
$PY evaluate.py ckpt=$CKPT metrics=[classifier,parzen] num_samples=10000 num_threads=2 \
    name=classifier_parzen-test-n10000
# Inception FID / KID / precision-recall with the TorchScript FID network (offline).
$PY evaluate.py ckpt=$CKPT metrics=[fid,kid,prc] num_samples="$N_INCEPTION" reference_size="$N_INCEPTION" \
    num_threads=2 fidelity.feature_extractor_weights_path="$WEIGHTS" name=inception-test-n"$N_INCEPTION"
OUT=benchmarks/results/$(date -u +%F)_evaluate_dcgan_mnist  # one dated folder per run
mkdir -p $OUT
cp $RUN/eval/*.json $OUT/
