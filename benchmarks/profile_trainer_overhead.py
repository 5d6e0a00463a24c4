"""Where the Trainer's time goes beyond a bare loop: cProfile of the same steps in both, one process.

    python benchmarks/profile_trainer_overhead.py [--recipe gan_mnist] [--steps 300] [--threads 1]

Builds the recipe's Trainer (benchmarks.training_loops.GanLabLoop) and the bare loop with the same models,
losses and batches (BareLoop), runs each for --steps steps under cProfile, and prints both totals, the
functions whose own time differs most, and the share of the bare loop's time spent in the trainer's
finiteness check (fused norm, isfinite, stack, _check_finite, all_finite). Noise on a shared machine
shows up as differences in compute kernels (backward, linear) that both loops run alike.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.training_loops import BareLoop, GanLabLoop, compose  # noqa: E402

CHECK = ("_foreach_norm", "isfinite", "torch.stack", "_check_finite", "all_finite")


def own_times(loop, steps: int) -> dict[str, float]:
    profile = cProfile.Profile()
    profile.enable()
    loop.run(steps)
    profile.disable()
    return {f"{file.split('/')[-1]}:{name}": row[2] for (file, _, name), row in pstats.Stats(profile).stats.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="gan_mnist")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "disabled")
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as tmp:
        trainer_loop = GanLabLoop(compose(args.recipe, ["trainer.device=cpu"]), Path(tmp), device)
        bare = BareLoop(trainer_loop)
        trainer_loop.run(5)
        bare.run(5)
        times = {"gan_lab": own_times(trainer_loop, args.steps), "bare": own_times(bare, args.steps)}
    total = {k: sum(v.values()) for k, v in times.items()}
    check = sum(t for name, t in times["gan_lab"].items() if any(c in name for c in CHECK))
    print(f"{args.recipe}, {args.steps} steps each, {args.threads} thread(s), load {os.getloadavg()[0]:.1f}")
    print(f"total profiled seconds: gan_lab {total['gan_lab']:.2f}, bare {total['bare']:.2f} "
          f"({total['gan_lab'] / total['bare'] - 1:+.1%})")
    print(f"finiteness check in the Trainer: {check:.2f} s = {check / total['bare']:.1%} of the bare loop's time")
    names = set(times["gan_lab"]) | set(times["bare"])
    diffs = sorted(((times["gan_lab"].get(n, 0.0) - times["bare"].get(n, 0.0), n) for n in names), reverse=True)
    print("own-time difference gan_lab - bare (s):")
    for diff, name in diffs[: args.top]:
        print(f"  {diff:+8.3f}  {name}")


if __name__ == "__main__":
    main()
