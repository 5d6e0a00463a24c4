"""Quality vs images seen of the hand-written pytorch/examples DCGAN loop, with the project's FID protocol.

    python benchmarks/hand_loop_quality.py train OUT --seed 0 --images 150000 300000 600000
    python benchmarks/hand_loop_quality.py evaluate OUT [--num-samples 10000]

`train` runs `training_loops.ReferenceLoop` (fp32, batch 64 = the examples' default, Adam 2e-4 / (0.5, 0.999),
BCE; `torch.manual_seed(seed)` before the models and the DataLoader are built, as the examples' --manualSeed)
and saves netG's state dict when the images seen first reach each of --images (OUT/netG_images<N>.pt, plain
tensors) with the training wall and process CPU seconds in OUT/train.json. Evaluation is not training time.

`evaluate` gives each snapshot the protocol evaluate.py gives a gan_lab checkpoint: `num_samples` images from
latents seeded with --sample-seed, netG in eval mode (BatchNorm running statistics, as a gan_lab G without EMA),
against the MNIST test split at 32x32, TorchScript FID Inception (GAN_LAB_FID_WEIGHTS) on the backend
evaluate.py would pick, reference features cached in paths.cache_dir (GAN_LAB_CACHE). Writes OUT/eval_images<N>.json.
Snapshots are read with torch.load(weights_only=True): no code runs from them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks.training_loops import ReferenceLoop, compose, reference_models  # noqa: E402

LATENT_DIM = 100


class HandLoopGenerator(nn.Module):
    """netG of the examples behind gan_lab's generator interface (latent_dim, forward(z, labels))."""

    latent_dim = LATENT_DIM
    num_classes = 0

    def __init__(self, net_g: nn.Module):
        super().__init__()
        self.net = net_g

    def forward(self, z, labels=None):
        return self.net(z.view(z.shape[0], LATENT_DIM, 1, 1))


def snapshot_path(out: Path, images: int) -> Path:
    return out / f"netG_images{images}.pt"


def train(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = compose("dcgan_mnist", [])
    torch.manual_seed(args.seed)
    loop = ReferenceLoop(cfg.dataset.root, args.batch_size, 32, args.workers, torch.device("cpu"))
    targets = sorted(args.images)
    record = {"seed": args.seed, "batch_size": args.batch_size, "workers": args.workers,
              "threads": torch.get_num_threads(), "snapshots": {}}
    images, wall, cpu = 0, 0.0, 0.0
    for target in targets:
        steps = -(-(target - images) // args.batch_size)  # ceil: the first step at or past the target
        w0, c0 = time.perf_counter(), time.process_time()
        loop.run(steps)
        wall, cpu = wall + time.perf_counter() - w0, cpu + time.process_time() - c0
        images += steps * args.batch_size
        torch.save(loop.netG.state_dict(), snapshot_path(out, target))
        record["snapshots"][str(target)] = {"images_seen": images, "train_seconds": wall, "cpu_seconds": cpu}
        print(f"images {images}: {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
        (out / "train.json").write_text(json.dumps(record, indent=2) + "\n")


def evaluate(args) -> None:
    from gan_lab.build import build_data
    from gan_lab.evaluation.common import generate_samples, library_versions
    from gan_lab.evaluation.fidelity import fidelity_metrics, reference_features, reference_key, resolve_feature_network

    out = Path(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = compose("dcgan_mnist", [])
    data = build_data(cfg)
    weights = os.environ.get("GAN_LAB_FID_WEIGHTS")
    if not weights:
        print("hand_loop_quality.py evaluate: set GAN_LAB_FID_WEIGHTS to the FID Inception file", file=sys.stderr)
        sys.exit(2)
    cache_dir = cfg.paths.cache_dir  # GAN_LAB_CACHE, else the project's default, as evaluate.py
    network = resolve_feature_network("auto", weights, 299, "auto", cache_dir, "cpu")
    reference = data.reference_images("test")
    ref, hit = reference_features(lambda: reference, reference_key(data, "test", reference), network, cache_dir)
    trained = json.loads((out / "train.json").read_text())
    # the last snapshot first: the longest-trained one is the result that matters most when time runs short
    for images, info in sorted(trained["snapshots"].items(), key=lambda kv: -int(kv[0])):
        result_path = out / f"eval_images{images}.json"
        if result_path.exists():
            print(f"{result_path}: done already")
            continue
        net_g, _ = reference_models()
        net_g.load_state_dict(torch.load(snapshot_path(out, int(images)), map_location="cpu", weights_only=True))
        generator = HandLoopGenerator(net_g).eval()
        generated, _ = generate_samples(generator, args.num_samples, args.sample_seed)
        start = time.perf_counter()
        metrics = fidelity_metrics(generated, ref, ["fid", "kid", "prc"], network, seed=args.sample_seed)
        report = {
            "metrics": metrics,
            "protocol": {
                "loop": "pytorch/examples DCGAN (benchmarks/training_loops.ReferenceLoop), fp32",
                "seed": trained["seed"], "batch_size": trained["batch_size"], **info,
                "num_samples": args.num_samples, "sample_seed": args.sample_seed,
                "generator_mode": "eval (BatchNorm running statistics), no EMA",
                "reference": {"dataset": data.name, "split": "test", "size": int(reference.shape[0]),
                              "shape": f"{data.channels}x{data.image_size}x{data.image_size}"},
                "feature_network": network.describe(), "feature_backend": network.backend,
                "reference_cache_hit": hit, "threads": torch.get_num_threads(),
                "feature_seconds": time.perf_counter() - start, "libraries": library_versions(),
            },
        }
        result_path.write_text(json.dumps(report, indent=2, default=float) + "\n")
        print(f"images {images}: FID {metrics['fid']['value']:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["train", "evaluate"])
    parser.add_argument("out", help="directory of the snapshots and results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, nargs="*", default=[150_000, 300_000, 600_000])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (0: quality runs keep one core)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--sample-seed", type=int, default=0)
    args = parser.parse_args()
    train(args) if args.mode == "train" else evaluate(args)


if __name__ == "__main__":
    main()
