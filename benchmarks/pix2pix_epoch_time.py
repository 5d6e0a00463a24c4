"""Seconds per epoch of pix2pix on CMP Facades (400 pairs, batch size 1), estimated from a short run.

    GAN_LAB_DATA=../shared/datasets python benchmarks/pix2pix_epoch_time.py [--sizes 128 256] [--steps 40]
        [--threads 2]

For each image size: the experiment=pix2pix_facades recipe built as train.py builds it (full widths,
fp32, jitter on, linear-decay scheduler), 3 warm-up steps, then `--steps` timed trainer steps
(one D update + one G update each). Prints one JSON line per size with its protocol; seconds per epoch
= median seconds per step x 400 (the estimate excludes the one grid and checkpoint per epoch). The
process CPU time per step is recorded too: on a machine shared with other jobs, CPU seconds / threads
x 400 estimates the epoch time on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import compose  # noqa: E402  (the Hydra compose helper the tests use)


def measure(size: int, steps: int, warmup: int = 3) -> dict:
    from gan_lab.config import validate_trainer
    from gan_lab.tracking import Tracker
    from gan_lab.training.run import build_parts
    from gan_lab.training.trainer import RunContext, Trainer

    cfg = compose(["experiment=pix2pix_facades", f"dataset.image_size={size}", "trainer.device=cpu"])
    torch.manual_seed(0)
    parts = build_parts(cfg)
    data, G, D = parts.data, parts.generator, parts.discriminator
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(validate_trainer(cfg.trainer), parts, RunContext(Path(tmp), Tracker(tmp, None, {})))
        for _ in range(warmup):
            trainer.train_step()
        times, cpu_times = [], []
        for _ in range(steps):
            start, cpu_start = time.perf_counter(), time.process_time()
            trainer.train_step()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    per_step = statistics.median(times)
    cpu_per_step = statistics.median(cpu_times)
    return {
        "image_size": size,
        "seconds_per_step_median": round(per_step, 4),
        "seconds_per_step_mean": round(statistics.fmean(times), 4),
        "seconds_per_epoch_estimate": round(per_step * len(data), 1),
        # CPU seconds of this process (all its threads): on a shared, overloaded machine the wall clock
        # mostly measures waiting; CPU time / threads approximates the wall time on an idle machine.
        "cpu_seconds_per_step_median": round(cpu_per_step, 4),
        "idle_machine_seconds_per_epoch_estimate": round(cpu_per_step / torch.get_num_threads() * len(data), 1),
        "pairs_per_epoch": len(data),
        "protocol": {
            "what": "trainer.train_step (D + G update), experiment=pix2pix_facades, full widths (ngf=ndf=64)",
            "batch_size": int(cfg.trainer.batch_size),
            "precision": "fp32",
            "warmup_steps": warmup,
            "timed_steps": steps,
            "torch_threads": torch.get_num_threads(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "generator_params": sum(p.numel() for p in G.parameters()),
            "discriminator_params": sum(p.numel() for p in D.parameters()),
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size in args.sizes:
        print(json.dumps(measure(size, args.steps)), flush=True)


if __name__ == "__main__":
    main()
