#!/usr/bin/env bash
# The comparison in docs/sweeps.md: DCGAN on MNIST, one-sided label smoothing on (real_label=0.9) vs off (1.0),
# 3 seeds each, 400 steps of batch 128 per job, 2 joblib workers (1 torch thread each on 2 cores), W&B offline.
# Usage: benchmarks/sweep_label_smoothing.sh [sweep dir] [steps]   (run from the repo root)
set -euo pipefail
SWEEP_DIR=${1:-outputs/multirun/dcgan_mnist_label_smoothing}
STEPS=${2:-400}
PYTHON=${PYTHON:-python}
export WANDB_MODE=${WANDB_MODE:-offline}

start=$(date -u +%s)
"$PYTHON" train.py --multirun experiment=dcgan_mnist loss.real_label=1.0,0.9 seed=0,1,2 \
  trainer.max_epochs=null trainer.max_steps="$STEPS" trainer.log_every=20 trainer.progress_bar=false \
  logger=wandb hydra/launcher=joblib hydra.launcher.n_jobs=2 hydra.sweep.dir="$SWEEP_DIR"
end=$(date -u +%s)
echo "sweep wall time: $((end - start)) s ($(nproc) cores)" | tee "$SWEEP_DIR/wall_time.txt"
"$PYTHON" -m gan_lab.report "$SWEEP_DIR" --metrics g_loss,d_loss,d_real,d_fake
