"""Training throughput and a sample grid for the CIFAR-10 / CelebA recipes (docs/models/README.md, "Throughput").

Each recipe trains from scratch at its default batch size and precision for a short run; img_per_s is
read from the run's metrics.jsonl (real images consumed per second, i.e. batch_size x n_critic per
generator step), the first logging window (warm-up) is dropped and the median of the rest reported.

    GAN_LAB_DATA=../shared/datasets GAN_LAB_CACHE=/work/cache python benchmarks/throughput_cifar10_celeba_recipes.py \
        --out outputs/bench_cifar10_celeba_recipes [--recipes wgan_gp_cifar10 ...] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout

from benchmarks.machine import cpu_name, load_average  # noqa: E402
from gan_lab.jobs.train import train  # noqa: E402
from gan_lab.tracking import read_metrics  # noqa: E402

CONF_DIR = REPO / "conf"
# Generator steps per short run: a few minutes each on a busy 2-core CPU.
STEPS = {"wgan_gp_cifar10": 12, "cwgan_gp_cifar10": 12, "stylegan_cifar10": 24, "dcgan_celeba": 8}
# The CPU presets (docs/models/): enough steps for ~30 s of idle 2-core training after the warm-up window, to
# turn their images seen into minutes (`--recipes` picks them; not in the default set).
CPU_PRESET_STEPS = {
    "pix2pix_facades_cpu": 90, "wgan_gp_cifar10_cpu": 36, "cwgan_gp_cifar10_cpu": 36, "sngan_cifar10_cpu": 120,
    "stylegan_cifar10_cpu": 36, "dcgan_celeba_cpu": 60,
}
ALL_STEPS = {**STEPS, **CPU_PRESET_STEPS}


def run_recipe(name: str, steps: int, out: Path) -> dict:
    log_every = max(1, steps // 6)
    overrides = [
        f"experiment={name}", f"trainer.max_steps={steps}", "trainer.max_epochs=null",
        f"trainer.log_every={log_every}", f"trainer.sample_every={steps}", f"trainer.checkpoint_every={steps}",
        "trainer.progress_bar=false", "trainer.device=cpu", "logger=none", "overwrite=true",
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    run_dir = out / name
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    record = train(cfg, run_dir)
    wall = time.perf_counter() - start
    if "stopped_at" in record:  # SIGINT/SIGTERM: the trainer saved a checkpoint; stop the whole benchmark
        sys.exit(f"{name} stopped at step {record['stopped_at']}; benchmark aborted")
    speeds = [r["img_per_s"] for r in read_metrics(run_dir / "metrics.jsonl")][1:]
    return {
        "recipe": name,
        "img_per_s_median": round(statistics.median(speeds), 2),
        "img_per_s_windows": [round(s, 2) for s in speeds],
        "batch_size": cfg.trainer.batch_size,
        "n_critic": cfg.trainer.n_critic,
        "generator_steps": steps,
        "wall_s": round(wall, 1),
        "precision": cfg.trainer.precision,
        "torch_threads": torch.get_num_threads(),
        "grid": str(run_dir / "samples" / f"step_{steps:07d}.png"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/bench_cifar10_celeba_recipes")
    parser.add_argument("--recipes", nargs="*", default=list(STEPS), choices=list(ALL_STEPS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of steps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    out = Path(args.out)
    results = []
    for name in args.recipes:
        results.append(run_recipe(name, max(2, int(ALL_STEPS[name] * args.scale)), out))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "machine": cpu_name(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        # Other jobs on a shared machine slow every number down; the 1-minute load average says how busy it was.
        "load_average_1min_before_after": [round(load_before[0], 1), round(load_average()[0], 1)],
        "results": results,
    }
    (out / "throughput.json").write_text(json.dumps(report, indent=2))
    print(f"{'recipe':20s} {'batch':>5s} {'n_critic':>8s} {'img/s':>8s}")
    for r in results:
        print(f"{r['recipe']:20s} {r['batch_size']:5d} {r['n_critic']:8d} {r['img_per_s_median']:8.1f}")


if __name__ == "__main__":
    main()
