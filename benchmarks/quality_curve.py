"""Time to quality of one train.py run: FID against training wall-clock time.

    python benchmarks/quality_curve.py <run dir> [--fid-thresholds 50 20 10] [--json out.json]
        [--img-per-s 150.4] [--plot curve.png]

Reads <run dir>/metrics.jsonl (train_seconds: wall time of fit() outside in-training evaluation, and
eval/classifier_fid when the run had trainer.eval_every) and every <run dir>/eval/*.json written by
evaluate.py that holds an FID (Inception FID of a checkpoint; its protocol gives the step and sample
counts) or by evaluate_paired.py (pix2pix: one FID per split, each its own curve). Prints one row per
evaluated FID and the first training time at which each threshold was met.

Images seen (generator steps x batch x n_critic, from the run's .hydra/config.yaml) do not depend on how
loaded the machine was. A run trained with 1 thread beside other jobs has train_seconds that say nothing
about an idle 2-core machine: `--img-per-s R` adds the minutes those images take at R img/s measured on an
idle machine (benchmarks/throughput_cifar10_celeba_recipes.py), and `--plot` draws FID vs both.
benchmarks/time_to_quality_inception.sh runs the whole protocol (train, evaluate checkpoints, this).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omegaconf import OmegaConf  # noqa: E402

from gan_lab.tracking import read_metrics  # noqa: E402


def training_seconds_by_step(records: list[dict]) -> dict[int, float]:
    """train_seconds at each logged step (seconds_at interpolates between them)."""
    return dict(sorted((r["step"], r["train_seconds"]) for r in records if "train_seconds" in r))


def seconds_at(step: int, points: dict[int, float]) -> float | None:
    if step in points:
        return points[step]
    below = [s for s in points if s < step]
    above = [s for s in points if s > step]
    if not below or not above:
        return None
    s0, s1 = max(below), min(above)
    return points[s0] + (points[s1] - points[s0]) * (step - s0) / (s1 - s0)


def inception_fids(run_dir: Path) -> list[dict]:
    """One row per FID in <run dir>/eval/*.json: evaluate.py's results give one, evaluate_paired.py's one
    per split (translations vs that split's real targets)."""
    rows = []
    for path in sorted((run_dir / "eval").glob("*.json")):
        result = json.loads(path.read_text())
        metrics = result.get("metrics", {})
        if "fid" in metrics:
            protocol = result["protocol"]
            rows.append(_fid_row(metrics, protocol["step"], "fid", f"{protocol['num_samples']} samples",
                                 protocol["num_samples"], protocol["reference"], path.name))
            continue
        for split, split_metrics in metrics.items():  # evaluate_paired.py: {split: {l1, psnr, ssim, fid, kid}}
            if isinstance(split_metrics, dict) and "fid" in split_metrics:
                fid = split_metrics["fid"]
                reference = {"dataset": result["protocol"]["dataset"], "split": f"{split} targets",
                             "size": fid["num_reference"]}
                rows.append(_fid_row(split_metrics, result["step"], f"{split} fid", split,
                                     fid["num_translated"], reference, path.name))
    return sorted(rows, key=lambda r: (r["step"], r["series"]))


def _fid_row(metrics: dict, step: int, curve: str, series: str, num_samples: int, reference: dict,
             file: str) -> dict:
    """curve: the thresholds' name (all of evaluate.py's FIDs form "fid"); series: a line of the plot."""
    fid, kid = metrics["fid"], metrics.get("kid")
    network = fid["feature_network"]
    return {
        "step": step, "curve": curve, "series": series, "fid": fid["value"], "file": file,
        "kid": kid and kid["value"], "kid_std": kid and kid.get("std"),
        "num_samples": num_samples, "reference": reference,
        "feature_network": network["torch_fidelity_name"] if isinstance(network, dict) else network,
        "warnings": fid.get("warnings", []),
    }


def images_per_step(run_dir: Path) -> int:
    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    return int(cfg.trainer.batch_size) * int(cfg.trainer.get("n_critic", 1))


def plot_fid(fids: list[dict], img_per_s: float | None, title: str, path: Path) -> None:
    from matplotlib.figure import Figure  # object API, no display (as gan_lab.plots)

    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for series in sorted({r["series"] for r in fids}):
        rows = [r for r in fids if r["series"] == series]
        ax.plot([r["images"] for r in rows], [r["fid"] for r in rows], "o-",
                label=f"FID, {series}" + (f" ({rows[0]['num_samples']} translated)" if "samples" not in series else ""))
    ax.set_xlabel("images seen")
    ax.set_ylabel("Inception FID")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if img_per_s:
        top = ax.secondary_xaxis("top", functions=(lambda x: x / img_per_s / 60, lambda m: m * 60 * img_per_s))
        top.set_xlabel(f"minutes at {img_per_s:g} img/s (idle, measured)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--fid-thresholds", type=float, nargs="*", default=[50.0, 20.0, 10.0])
    parser.add_argument("--cfid-thresholds", type=float, nargs="*", default=[20.0, 10.0, 5.0])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--img-per-s", type=float, default=None,
                        help="idle-machine img/s of this recipe: adds minutes = images seen / this rate")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of Inception FID vs images seen (and minutes)")
    args = parser.parse_args()

    records = read_metrics(args.run_dir / "metrics.jsonl")
    seconds = training_seconds_by_step(records)
    if not seconds:
        raise SystemExit(f"{args.run_dir}/metrics.jsonl has no train_seconds (written by train.py since 2026-11-26)")
    cfid = {r["step"]: r["eval/classifier_fid"] for r in records if "eval/classifier_fid" in r}
    fids = inception_fids(args.run_dir)
    per_step = images_per_step(args.run_dir)
    for row in fids:
        row["train_seconds"] = seconds_at(row["step"], seconds)
        row["images"] = row["step"] * per_step
        if args.img_per_s:
            row["idle_minutes"] = row["images"] / args.img_per_s / 60

    print(f"run {args.run_dir} ({per_step} images per generator step)")
    idle = f" {'idle min':>8}" if args.img_per_s else ""
    print(f"{'step':>6} {'images':>9} {'train min':>9}{idle} {'classifier FID':>14} {'Inception FID':>13} {'KID':>8}")
    fids_by_step: dict[int, list[dict]] = {}
    for row in fids:
        fids_by_step.setdefault(row["step"], []).append(row)
    for step in sorted(set(cfid) | set(fids_by_step)):
        t = seconds_at(step, seconds)
        minutes = f"{t / 60:9.1f}" if t is not None else f"{'-':>9}"
        idle = f" {step * per_step / args.img_per_s / 60:8.1f}" if args.img_per_s else ""
        c = f"{cfid[step]:14.2f}" if step in cfid else f"{'-':>14}"
        for row in fids_by_step.get(step, [None]):
            f = f"{row['fid']:13.2f}" if row else f"{'-':>13}"
            k = f"{row['kid']:8.4f}" if row and row["kid"] is not None else f"{'-':>8}"
            series = f" {row['series']}" if row else ""
            print(f"{step:>6} {step * per_step:>9,} {minutes}{idle} {c} {f} {k}{series}")
    for row in fids:
        print(f"  Inception FID at step {row['step']}: {row['num_samples']} samples vs {row['reference']['dataset']} "
              f"{row['reference']['split']} ({row['reference']['size']} images), {row['feature_network']} "
              f"[{row['file']}]{' WARNING: ' + '; '.join(row['warnings']) if row['warnings'] else ''}")

    def first_reached(points: list[tuple[int, float]], threshold: float):
        for step, value in points:
            if value <= threshold:
                return {"step": step, "train_seconds": seconds_at(step, seconds)}
        return None

    reached = {}
    curves = [("classifier_fid", sorted(cfid.items()), args.cfid_thresholds)]
    for name in sorted({r["curve"] for r in fids}):
        curves.append((name, [(r["step"], r["fid"]) for r in fids if r["curve"] == name], args.fid_thresholds))
    for name, points, thresholds in curves:
        for t in thresholds:
            hit = first_reached(points, t)
            reached[f"{name}<={t:g}"] = hit
            when = (f"step {hit['step']}, {hit['train_seconds'] / 60:.1f} min of training" if hit
                    else f"not reached (best {min((v for _, v in points), default=float('nan')):.2f})")
            print(f"  {name} <= {t:g}: {when}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {"run_dir": str(args.run_dir), "classifier_fid": cfid, "inception_fid": fids, "reached": reached,
               "train_seconds": seconds}
        out["images_per_step"], out["idle_img_per_s"] = per_step, args.img_per_s
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n")
    if args.plot and fids:
        plot_fid(fids, args.img_per_s, str(args.run_dir), args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
