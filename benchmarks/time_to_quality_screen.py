"""Screening table for time-to-quality recipes: in-training classifier FID against images seen.

    python benchmarks/time_to_quality_screen.py outputs/screen/* [--at 20000 40000 60000] [--json out.json]

For each run dir (a train.py run with trainer.eval_every) reads .hydra/config.yaml and overrides.yaml
and metrics.jsonl, and prints one row per run: the overrides that differ between the runs, the
classifier FID at the requested numbers of images seen (the evaluation nearest to each, within 5%;
images seen = generator steps x batch size x n_critic, what D was shown), the best and the last
evaluation. Images seen, not seconds: the measure that does not depend on machine load.
The protocol of the metric (samples, reference split, EMA or not) is printed from the run configs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gan_lab.tracking import read_metrics  # noqa: E402

IGNORED = ("hydra.", "trainer.num_threads", "trainer.progress_bar", "trainer.checkpoint_every")


def load_run(run_dir: Path) -> dict | None:
    hydra_dir = run_dir / ".hydra"
    metrics = run_dir / "metrics.jsonl"
    if not (hydra_dir / "config.yaml").is_file() or not metrics.is_file():
        return None
    cfg = yaml.safe_load((hydra_dir / "config.yaml").read_text())
    overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) or []
    trainer = cfg["trainer"]
    images_per_step = trainer["batch_size"] * trainer.get("n_critic", 1)
    curve = [
        (r["step"] * images_per_step, r["eval/classifier_fid"])
        for r in read_metrics(metrics)
        if "eval/classifier_fid" in r
    ]
    return {
        "run": run_dir.name,
        "overrides": [o for o in overrides if not o.startswith(IGNORED)],
        "seed": cfg.get("seed", 0),
        "ema": trainer.get("ema_decay", 0) > 0,
        "eval_samples": cfg.get("eval_metric", {}).get("num_samples"),
        "reference": cfg.get("eval_metric", {}).get("reference"),
        "curve": curve,
    }


def value_at(curve: list[tuple[int, float]], images: int) -> float | None:
    """The evaluation nearest to `images`, if it is within 5% of it (else None: no value is borrowed
    from a distant evaluation)."""
    if not curve:
        return None
    seen, value = min(curve, key=lambda point: abs(point[0] - images))
    return value if abs(seen - images) <= 0.05 * images else None


def table(runs: list[dict], points: list[int]) -> str:
    common = set.intersection(*(set(r["overrides"]) for r in runs)) if runs else set()
    at = [f"cFID @{p / 1000:.0f}k" for p in points]
    head = ["run", "seed", "EMA", "changes", *at, "best (images)", "last (images)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        changes = " ".join(o for o in r["overrides"] if o not in common and not o.startswith("seed=")) or "-"
        cells = [r["run"], str(r["seed"]), "yes" if r["ema"] else "no", changes]
        for p in points:
            v = value_at(r["curve"], p)
            cells.append("-" if v is None else f"{v:.1f}")
        if r["curve"]:
            best = min(r["curve"], key=lambda point: point[1])
            last = r["curve"][-1]
            cells += [f"{best[1]:.1f} ({best[0] / 1000:.0f}k)", f"{last[1]:.1f} ({last[0] / 1000:.0f}k)"]
        else:
            cells += ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    protocol = sorted({(r["eval_samples"], r["reference"]) for r in runs}, key=str)
    lines.append("")
    lines.append(
        "classifier FID: 128-d features of gan_lab's MNIST classifier, fixed latents (eval_metric.seed), "
        + "; ".join(f"{n} samples vs the {ref} split" for n, ref in protocol)
        + "; generator in eval mode, the EMA generator where EMA = yes. Common overrides: "
        + (" ".join(sorted(common)) or "-")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--at", nargs="+", type=int, default=[20000, 40000, 60000], help="images seen")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    runs = [r for r in (load_run(d) for d in args.runs if d.is_dir()) if r is not None]
    if not runs:
        print("no run dirs with .hydra/config.yaml and metrics.jsonl among the arguments", file=sys.stderr)
        return 2
    print(table(runs, args.at))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
