"""Time to quality: DCGAN on MNIST from scratch, fp32 vs the fast path, wall-clock to FID thresholds.

    python benchmarks/time_to_quality.py                                  # reduced protocol (see below)
    python benchmarks/time_to_quality.py --steps 2340 --eval-every 100 --fid-at 1000 2340 --fid-samples 10000

Variants: `fp32` (trainer.precision=fp32, channels_last=false) and `fast` (the dcgan_mnist recipe as
shipped: precision=auto, channels_last=true). For every seed both variants are built and trained in
alternating chunks of --eval-every steps, so machine load that drifts hits both alike. After each chunk:
classifier FID (gan_lab.evaluation, the cached small MNIST classifier, --eval-samples samples vs the
test split); at the steps in --fid-at: Inception FID (TorchScript FID Inception, --fid-samples samples
vs the first --fid-reference test images). Training time counts only training (fit), not evaluation.

Prints classifier FID per step (mean and std over seeds), and the training seconds at which each
variant first reaches each threshold; writes everything to JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from benchmarks.results_file import dated_result  # noqa: E402
from benchmarks.training_loops import GanLabLoop, compose  # noqa: E402
from gan_lab.utils.rng import sampling_mode  # noqa: E402

VARIANTS = {
    "fp32": ["trainer.precision=fp32", "trainer.channels_last=false"],
    "fast": [],  # the recipe's defaults
}
DEFAULT_WEIGHTS = REPO.parent.parent / "shared" / "weights" / "fid_inception_2015-12-05_torchscript.pt"


class Evaluator:
    def __init__(self, data, cache_dir: Path, args):
        from gan_lab.evaluation.classifier import load_or_train_classifier

        self.data, self.cache_dir, self.args = data, cache_dir, args
        start = time.perf_counter()
        self.classifier, self.classifier_info = load_or_train_classifier(data, cache_dir)
        self.setup_seconds = time.perf_counter() - start
        self._network = self._reference = None

    def classifier_fid(self, trainer) -> float:
        from gan_lab.evaluation.classifier import classifier_metrics
        from gan_lab.evaluation.common import generate_samples

        with sampling_mode(trainer.G, "eval"):
            images, labels = generate_samples(trainer.G, self.args.eval_samples, seed=1234, device=trainer.device)
        results = classifier_metrics(images, labels, self.classifier, self.classifier_info, self.data, "test",
                                     self.cache_dir)
        return float(results["classifier_fid"]["value"])

    def inception_fid(self, trainer) -> float:
        from gan_lab.evaluation.common import generate_samples
        from gan_lab.evaluation.fidelity import (
            fidelity_metrics,
            reference_features,
            reference_key,
            resolve_feature_network,
        )

        if self._network is None:
            self._network = resolve_feature_network("torchscript", self.args.fid_weights)
            images = self.data.reference_images("test")[: self.args.fid_reference]
            key = reference_key(self.data, "test", images)
            self._reference, _ = reference_features(lambda: images, key, self._network, self.cache_dir)
        with sampling_mode(trainer.G, "eval"):
            images, _ = generate_samples(trainer.G, self.args.fid_samples, seed=4321, device=trainer.device)
        return float(fidelity_metrics(images, self._reference, ["fid"], self._network)["fid"]["value"])


def first_time_below(curve: list[dict], key: str, threshold: float) -> float | None:
    for point in curve:
        if point.get(key) is not None and point[key] <= threshold:
            return point["train_seconds"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=150, help="generator steps per run (an epoch is 468)")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eval-samples", type=int, default=1000, help="samples for classifier FID")
    parser.add_argument("--fid-at", type=int, nargs="*", default=[], help="steps with an Inception FID")
    parser.add_argument("--fid-seeds", type=int, nargs="*", default=[0], help="seeds that get Inception FID")
    parser.add_argument("--fid-samples", type=int, default=10000)
    parser.add_argument("--fid-reference", type=int, default=10000, help="first N MNIST test images")
    parser.add_argument("--fid-weights", default=os.environ.get("GAN_LAB_FID_WEIGHTS", str(DEFAULT_WEIGHTS)))
    parser.add_argument("--cfid-thresholds", type=float, nargs="*", default=[20.0, 10.0, 5.0])
    parser.add_argument("--fid-thresholds", type=float, nargs="*", default=[50.0, 20.0, 10.0])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides for both variants")
    parser.add_argument("--json", default=str(dated_result("time_to_quality")))
    args = parser.parse_args()

    os.environ.setdefault("WANDB_MODE", "disabled")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    cache_dir = Path(os.environ.get("GAN_LAB_CACHE", REPO / ".cache" / "gan_lab"))
    curves: dict[str, dict[int, list[dict]]] = {v: {} for v in args.variants}
    precisions = {}
    evaluator = None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            loops = {}
            for v in args.variants:
                cfg = compose("dcgan_mnist", ["trainer.device=cpu", f"seed={seed}", *VARIANTS[v], *args.override])
                torch.manual_seed(seed)  # model init, as train.py's seed_everything
                loops[v] = GanLabLoop(cfg, Path(tmp) / f"{v}-{seed}", device)
                precisions[v] = {"precision": loops[v].precision, "channels_last": loops[v].channels_last}
                curves[v][seed] = []
            if evaluator is None:
                evaluator = Evaluator(loops[args.variants[0]].data, cache_dir, args)
            train_seconds = dict.fromkeys(loops, 0.0)
            for step in range(args.eval_every, args.steps + 1, args.eval_every):
                for v, loop in loops.items():
                    start = time.perf_counter()
                    loop.run(step - loop.trainer.step)
                    train_seconds[v] += time.perf_counter() - start
                    cfid = evaluator.classifier_fid(loop.trainer)
                    point = {"step": step, "train_seconds": train_seconds[v], "classifier_fid": cfid}
                    if step in args.fid_at and seed in args.fid_seeds:
                        start = time.perf_counter()
                        point["fid"] = evaluator.inception_fid(loop.trainer)
                        point["fid_seconds"] = time.perf_counter() - start
                    curves[v][seed].append(point)
                    print(f"seed {seed} {v:>4} step {step:>5}: {point}", file=sys.stderr, flush=True)

    # -- report -------------------------------------------------------------------
    print(f"\nclassifier FID ({args.eval_samples} samples vs MNIST test), mean +- std over seeds {args.seeds}")
    print(f"{'step':>6} " + " ".join(f"{v + ' (' + precisions[v]['precision'] + ')':>22}" for v in args.variants))
    summary = []
    for i, step in enumerate(range(args.eval_every, args.steps + 1, args.eval_every)):
        row = {"step": step}
        cells = []
        for v in args.variants:
            values = [curves[v][s][i]["classifier_fid"] for s in args.seeds]
            secs = [curves[v][s][i]["train_seconds"] for s in args.seeds]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            row[v] = {"mean": statistics.mean(values), "std": std, "values": values,
                      "median_train_seconds": statistics.median(secs)}
            cells.append(f"{row[v]['mean']:8.2f} +- {std:5.2f} ({statistics.median(secs):5.0f}s)")
        summary.append(row)
        print(f"{step:>6} " + " ".join(f"{c:>22}" for c in cells))
    print("\ntraining seconds to reach a threshold (median over seeds; - = not reached)")
    reached = {}
    for v in args.variants:
        for key, thresholds in (("classifier_fid", args.cfid_thresholds), ("fid", args.fid_thresholds)):
            for t in thresholds:
                times = [first_time_below(curves[v][s], key, t) for s in args.seeds]
                got = [x for x in times if x is not None]
                reached[f"{v} {key}<={t:g}"] = {"seconds": times, "reached": f"{len(got)}/{len(times)}"}
                label = f"{v} {key} <= {t:g}"
                print(f"  {label:<28} {statistics.median(got) if got else float('nan'):8.0f} s  "
                      f"(reached in {len(got)}/{len(times)} runs)")
    fids = [(v, s, p["step"], p["fid"]) for v in args.variants for s in args.seeds for p in curves[v][s] if "fid" in p]
    if fids:
        print(f"\nInception FID ({args.fid_samples} samples vs first {args.fid_reference} MNIST test images)")
        for v, s, step, value in fids:
            print(f"  {v} seed {s} step {step}: {value:.2f}")
    out = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "threads": torch.get_num_threads(),
        "load_average_at_end": os.getloadavg(),
        "torch": torch.__version__,
        "args": vars(args),
        "variants": precisions,
        "classifier": evaluator.classifier_info if evaluator else None,
        "curves": {v: {str(s): c for s, c in per_seed.items()} for v, per_seed in curves.items()},
        "summary": summary,
        "time_to_threshold": reached,
        "protocol": "classifier FID: gan_lab.evaluation small MNIST classifier features, samples from fixed z "
                    "(seed 1234) in G eval mode vs MNIST test; Inception FID: TorchScript 2015-12-05 FID "
                    "Inception, float64 statistics; training seconds exclude evaluation",
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
