"""FID of one sample set under both feature backends (torch, onnxruntime): the same numbers, |difference| <= 0.01.

    python benchmarks/fid_backend_agreement.py --n 2000                 # MNIST train[:n] vs test[:n], 28x28
    python benchmarks/fid_backend_agreement.py --ckpt <run>/checkpoints/last.ckpt --n 10000   # a generator's samples
    python benchmarks/fid_backend_agreement.py --n 100 --threads 1      # a quick check

Each backend computes the features of both sets itself (the reference cache is bypassed, as it is shared by the
backends and would hide a difference). FID is float64 (scipy sqrtm) from torch-fidelity-extracted features, as
in evaluate.py. With --ckpt the samples are drawn as evaluate.py draws them (seed 0, EMA when present) and the
reference is the checkpoint's dataset split. Prints FID per backend, |difference|, the largest feature difference,
and the wall time of each backend. Below 2048 samples FID is biased upward, but equally for both backends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from gan_lab.evaluation.common import generate_samples, library_versions  # noqa: E402
from gan_lab.evaluation.fidelity import extract_features, resolve_feature_network  # noqa: E402
from gan_lab.evaluation.frechet import frechet_distance, gaussian_statistics  # noqa: E402

DEFAULT_WEIGHTS = os.environ.get(
    "GAN_LAB_FID_WEIGHTS", "/work/shared/weights/fid_inception_2015-12-05_torchscript.pt"
)


def sample_sets(args) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(samples, reference, description), both uint8 (N, C, H, W)."""
    if args.ckpt:
        from omegaconf import OmegaConf

        from gan_lab.evaluation.run import data_from_checkpoint
        from gan_lab.loading import load_generator

        generator, ckpt_cfg, state = load_generator(args.ckpt, use_ema=True, device="cpu")
        samples, _ = generate_samples(generator, args.n, seed=0)
        data = data_from_checkpoint(ckpt_cfg, args.data_dir)
        reference = data.reference_images(args.reference)[: args.n]
        ema = "EMA" if state["used_ema"] else "no EMA"
        what = f"{args.n} samples of {args.ckpt} (step {state.get('step')}, seed 0, {ema}) vs {data.name} "
        return samples, reference, what + f"{args.reference}[:{args.n}] ({OmegaConf.select(ckpt_cfg, 'dataset.name')})"
    from gan_lab.data.torchvision_sets import MNISTData

    data = MNISTData(args.data_dir, image_size=args.image_size, download=False)
    what = f"MNIST train[:{args.n}] vs test[:{args.n}], {args.image_size}x{args.image_size}"
    return data.reference_images("train")[: args.n], data.reference_images("test")[: args.n], what


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--ckpt", default=None, help="draw the samples from this checkpoint (default: MNIST train)")
    parser.add_argument("--reference", default="test")
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--data-dir", default=os.environ.get("GAN_LAB_DATA", "data"))
    parser.add_argument("--cache-dir", default=None, help="where the ONNX export goes (default: a temp dir)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache = args.cache_dir or tempfile.mkdtemp(prefix="fid_backend_agreement_")

    samples, reference, what = sample_sets(args)
    print(what, file=sys.stderr)
    results, features = {}, {}
    for backend in ("torch", "onnxruntime"):
        network = resolve_feature_network("torchscript", args.weights, 299, backend, cache)
        start = time.perf_counter()
        pool = [extract_features(x, network, args.batch_size)["pool"] for x in (samples, reference)]
        fid = frechet_distance(gaussian_statistics(pool[0]), gaussian_statistics(pool[1]))
        results[backend] = {"fid": fid, "seconds": time.perf_counter() - start, "backend": network.backend}
        features[backend] = pool
        print(f"{backend}: FID {fid:.4f} in {results[backend]['seconds']:.0f} s", file=sys.stderr, flush=True)

    difference = abs(results["torch"]["fid"] - results["onnxruntime"]["fid"])
    max_feature_diff = max(
        (a - b).abs().max().item() for a, b in zip(features["torch"], features["onnxruntime"], strict=True)
    )
    print(f"\n{what}; {args.threads} threads, batch {args.batch_size}\n")
    print("| backend | FID | seconds (both sets) |")
    print("|---|---|---|")
    for backend, r in results.items():
        print(f"| {backend} {r['backend']['version']} | {r['fid']:.4f} | {r['seconds']:.0f} |")
    verdict = "OK" if difference <= args.tolerance else "FAIL"
    print(f"\n|FID difference| = {difference:.2e} (tolerance {args.tolerance}: {verdict}); "
          f"largest |feature difference| = {max_feature_diff:.2e}")
    print(json.dumps({
        "sets": what, "fid": {b: r["fid"] for b, r in results.items()}, "fid_difference": difference,
        "max_feature_difference": max_feature_diff, "backends": {b: r["backend"] for b, r in results.items()},
        "seconds": {b: r["seconds"] for b, r in results.items()}, "threads": args.threads,
        "batch_size": args.batch_size, "libraries": library_versions(),
    }, indent=2))
    sys.exit(0 if difference <= args.tolerance else 1)


if __name__ == "__main__":
    main()
