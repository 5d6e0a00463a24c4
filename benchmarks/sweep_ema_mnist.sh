#!/usr/bin/env bash
# The real example of docs/sweeps.md: DCGAN on MNIST, EMA of G off (ema_decay=0) vs on (0.99), 3 seeds each,
# 200 steps of batch 64 per job, in-training classifier FID every 25 steps, W&B (offline) and TensorBoard,
# then the report (Markdown, CSV, HTML) with the paired comparison against EMA off.
# Usage: benchmarks/sweep_ema_mnist.sh [sweep dir] [steps]   (run from the repo root)
set -euo pipefail
SWEEP_DIR=${1:-outputs/multirun/dcgan_mnist_ema}
STEPS=${2:-200}
PYTHON=${PYTHON:-python}
export WANDB_MODE=${WANDB_MODE:-offline} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

start=$(date -u +%s)
"$PYTHON" train.py --multirun experiment=dcgan_mnist trainer.ema_decay=0,0.99 seed=0,1,2 \
  trainer.max_epochs=null trainer.max_steps="$STEPS" trainer.batch_size=64 trainer.num_threads=1 \
  trainer.eval_every=25 trainer.log_every=25 trainer.sample_every=50 trainer.progress_bar=false \
  eval_metric.classifier.epochs=1 'logger=[wandb,tensorboard]' hydra.sweep.dir="$SWEEP_DIR"
end=$(date -u +%s)
echo "sweep wall time: $((end - start)) s ($(nproc) cores)" | tee "$SWEEP_DIR/wall_time.txt"
"$PYTHON" -m gan_lab.report "$SWEEP_DIR" --baseline trainer.ema_decay=0 --metrics eval/classifier_fid,eval/classes_covered,g_loss,d_loss --wandb
