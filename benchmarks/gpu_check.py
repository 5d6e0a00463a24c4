"""Every recipe for a few hundred steps on one device and precision: img/s and peak GPU memory in one table.

    python -m benchmarks.gpu_check --device cuda --steps 300 --precisions bf16 fp16   # (benchmarks/gpu_check.sh)
    python -m benchmarks.gpu_check --device cpu --steps 2 --batch-size 4 --precisions fp32   # works without a GPU

Each run is `train.py experiment=<recipe>` in this process with channels_last, no evaluation, pictures and
checkpoints only at the end. img/s is the trainer's own `img_per_s` over the second half of the steps (the
first half holds cuDNN autotuning and allocator warm-up); peak GPU memory is torch.cuda.max_memory_allocated
over the run (reset before each). A failing run is reported in the table and makes the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted(p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml"))


def run_one(recipe: str, precision: str, args, out_dir: Path) -> dict:
    import torch
    from hydra import compose, initialize_config_dir

    from gan_lab.training.run import train

    half = max(1, args.steps // 2)
    overrides = [
        f"experiment={recipe}", f"trainer.device={args.device}", f"trainer.precision={precision}",
        f"trainer.channels_last={str(args.channels_last).lower()}", "trainer.max_epochs=null",
        f"trainer.max_steps={args.steps}", f"trainer.log_every={half}", f"trainer.sample_every={args.steps}",
        f"trainer.checkpoint_every={args.steps}", "trainer.eval_every=0", "trainer.progress_bar=false",
        *([f"trainer.batch_size={args.batch_size}"] if args.batch_size else []), *args.override,
    ]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    row = {"recipe": recipe, "precision": precision, "channels_last": args.channels_last,
           "batch": int(cfg.trainer.batch_size), "steps": args.steps}
    start = time.perf_counter()
    try:
        record = train(cfg, out_dir / f"{recipe}-{precision}")
        row.update(status="ok", img_per_s=record.get("img_per_s"))
    except Exception as err:  # one broken recipe must not hide the others' numbers
        row.update(status=f"failed: {type(err).__name__}: {str(err).strip().splitlines()[0][:100]}")
    row["seconds"] = time.perf_counter() - start
    row["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    return row


def table(rows: list[dict]) -> str:
    header = "| recipe | precision | channels_last | batch | img/s | peak GPU MiB | seconds | status |"
    lines = [header, "|" + "---|" * 8]
    for r in rows:
        speed = f"{r['img_per_s']:.1f}" if r.get("img_per_s") else "-"
        memory = f"{r['peak_gpu_mib']:.0f}" if r["peak_gpu_mib"] is not None else "-"
        lines.append(
            f"| {r['recipe']} | {r['precision']} | {r['channels_last']} | {r['batch']} | {speed} | {memory} | "
            f"{r['seconds']:.1f} | {r['status']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--precisions", nargs="+", default=["bf16", "fp16"])
    parser.add_argument("--recipes", nargs="+", default=RECIPES)
    parser.add_argument("--batch-size", type=int, default=0, help="0: each recipe's own")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    parser.add_argument("--out-dir", type=Path, default=None, help="run dirs (default: a temporary dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("override", nargs="*", help="extra Hydra overrides for every run")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.recipes) - set(RECIPES))
    if unknown:
        parser.error(f"unknown recipes {unknown}; choose from {RECIPES}")

    with tempfile.TemporaryDirectory(prefix="gpu_check-") as tmp:
        out_dir = args.out_dir or Path(tmp)
        rows = []
        for recipe in args.recipes:
            for precision in args.precisions:
                rows.append(run_one(recipe, precision, args, out_dir))
                print(f"{recipe} {precision}: {rows[-1]['status']}", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
