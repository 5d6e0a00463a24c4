"""Adam implementations side by side: torch's per-tensor loop, foreach, and the fused kernel.

    python benchmarks/adam_variants.py [--recipes gan_mnist dcgan_mnist] [--threads 1] [--repeats 5]

For each recipe, three Trainer loops (the recipe as configured, differing only in optimizer.fused /
foreach) are built in this process and timed in interleaved windows of --steps steps, rotating who goes
first; the table gives median images/s and the median per-round ratio to the per-tensor loop.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.results_file import dated_result  # noqa: E402
from benchmarks.training_loops import GanLabLoop, compose, timed  # noqa: E402

VARIANTS = {
    "per-tensor": ["optimizer.fused=false"],
    "foreach": ["optimizer.fused=false", "+optimizer.generator.foreach=true", "+optimizer.discriminator.foreach=true"],
    "fused": ["optimizer.fused=true"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["gan_mnist", "dcgan_mnist"])
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 8], help="steps per window, per recipe")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=str(dated_result("adam_variants")))
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "disabled")
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, recipe in enumerate(args.recipes):
            steps = args.steps[min(i, len(args.steps) - 1)]
            loops = {}
            for name, overrides in VARIANTS.items():
                cfg = compose(recipe, ["trainer.device=cpu", *overrides])
                loops[name] = GanLabLoop(cfg, Path(tmp) / f"{recipe}-{name}", device)
                loops[name].run(2)  # warm-up
            rates = {name: [] for name in loops}
            for r in range(args.repeats):
                names = list(loops)
                for name in names[r % len(names):] + names[: r % len(names)]:
                    rates[name].append(timed(loops[name], steps, device)[0])
                print(f"  {recipe} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items()),
                      file=sys.stderr, flush=True)
            ratios = {k: statistics.median(a / b for a, b in zip(v, rates["per-tensor"], strict=True))
                      for k, v in rates.items()}
            results.append({"recipe": recipe, "steps_per_window": steps, "img_per_s": rates,
                            "median_img_per_s": {k: statistics.median(v) for k, v in rates.items()},
                            "ratio_vs_per_tensor": ratios})
    print(f"{'recipe':<14}" + "".join(f"{k + ' img/s':>18}" for k in VARIANTS) + "".join(
        f"{k + ' ratio':>16}" for k in list(VARIANTS)[1:]))
    for r in results:
        print(f"{r['recipe']:<14}" + "".join(f"{r['median_img_per_s'][k]:18.0f}" for k in VARIANTS)
              + "".join(f"{r['ratio_vs_per_tensor'][k]:15.2f}x" for k in list(VARIANTS)[1:]))
    out = {"threads": args.threads, "repeats": args.repeats, "torch": torch.__version__,
           "load_average_at_end": os.getloadavg(), "results": results}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
