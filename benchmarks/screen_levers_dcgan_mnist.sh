#!/usr/bin/env bash
# The 2026-12-03 lever screen of issue 17 (docs/benchmarks.md, "Machine 5"): the default recipe dcgan_mnist_fast
# (EMA with warm-up, averaged BatchNorm statistics) for 250k training images, one lever per run, seed 0, one
# thread per run, classifier FID of 10k EMA samples (BatchNorm statistics recomputed on 20 batches) and a
# checkpoint every ~25k images. Two copies of this script side by side fill a 2-core machine:
#   benchmarks/screen_levers_dcgan_mnist.sh outputs/screen 0 &  benchmarks/screen_levers_dcgan_mnist.sh outputs/screen 1
# then: python benchmarks/time_to_quality_screen.py outputs/screen/* --at 49920 99840 149760 199680 249600
set -euo pipefail
set -f   # the runs are word-split below: keep overrides such as betas=[0.5,0.99] literal, not globs
OUT=${1:-outputs/screen}
SLOT=${2:-all}   # 0 | 1: every other run, for two jobs side by side; all: every run in turn
PYTHON=${PYTHON:-python}
mkdir -p "$OUT"

run() {  # name batch [overrides...]
    local name=$1 batch=$2; shift 2
    local every=$((24960 / batch))
    "$PYTHON" train.py trainer.batch_size="$batch" trainer.max_steps=$((249984 / batch)) trainer.eval_every="$every" \
        trainer.checkpoint_every="$every" trainer.sample_every="$every" eval_metric.num_samples=10000 \
        trainer.keep_last=100 trainer.num_threads=1 trainer.bn_recalibration.batches=20 trainer.progress_bar=false \
        trainer.resume=auto logger=none hydra.run.dir="$OUT/$name" "$@" > "$OUT/$name.log" 2>&1
    echo "$name done $(date -u +%T)"
}

RUNS=(
    "bs64_decay 64 scheduler=linear_decay"
    "bs32 32"
    "bs32_nearest 32 model.generator.upsample=nearest"
    "bs32_decay 32 scheduler=linear_decay"
    "bs32_ttur 32 optimizer.generator.lr=1e-4 optimizer.discriminator.lr=4e-4"
    "bs16 16"
    "bs32_lr1e4 32 optimizer.lr=1e-4"
    "bs32_b099 32 optimizer.betas=[0.5,0.99]"
    "bs32_smooth 32 loss=bce_smooth"
    "bs32_dwide 32 model.discriminator.base_width=128"
    "bs32_s1 32 seed=1"
    "bs32_s2 32 seed=2"
)
for i in "${!RUNS[@]}"; do
    if [ "$SLOT" = all ] || [ $((i % 2)) = "$SLOT" ]; then
        # shellcheck disable=SC2086
        run ${RUNS[$i]}
    fi
done
