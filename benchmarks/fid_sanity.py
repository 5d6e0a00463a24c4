"""FID between MNIST train[:10000] and the 10k test images: the floor a perfect generator reaches at 10k samples.

    python benchmarks/fid_sanity.py [--image-size 28] [--weights <TorchScript FID Inception>] [--backend auto]
    python benchmarks/fid_sanity.py --image-size 32      # the dcgan_mnist recipe's size
    python benchmarks/fid_sanity.py --n 100 --threads 1  # a quick check of the script (not the 1.64)

At 28x28 with the 2015-12-05 FID Inception, uint8 -> TF1 bilinear resize to 299 -> (x - 128) / 128,
the expected value is 1.64 (measured independently, /work/shared/ENVIRONMENT.md): a check of the FID code.
Both reference sets go through the evaluation cache (<cache_dir>/reference_features), so a later
`evaluate.py` against MNIST test at the same image size reuses the test features.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's gan_lab, not an installed one

import torch  # noqa: E402

from gan_lab.data.torchvision_sets import MNISTData  # noqa: E402
from gan_lab.evaluation.common import library_versions  # noqa: E402
from gan_lab.evaluation.fidelity import reference_features, reference_key, resolve_feature_network  # noqa: E402
from gan_lab.evaluation.frechet import frechet_distance  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--weights", default="/work/shared/weights/fid_inception_2015-12-05_torchscript.pt")
    parser.add_argument("--data-dir", default=os.environ.get("GAN_LAB_DATA", "data"))
    parser.add_argument("--cache-dir", default=os.environ.get("GAN_LAB_CACHE", ".cache/gan_lab"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="auto", help="auto | torch | onnxruntime (see conf/evaluate.yaml)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    network = resolve_feature_network("auto", args.weights, 299, args.backend, args.cache_dir)
    data = MNISTData(args.data_dir, image_size=args.image_size, download=False)
    stats, times, computed_by = {}, {}, {}
    for split in ("test", "train"):
        start = time.perf_counter()
        images = lambda split=split: data.reference_images(split)[: args.n]  # noqa: E731
        ref, hit = reference_features(images, reference_key(data, split, size=args.n), network, args.cache_dir)
        stats[split], times[split] = ref["stats"], {"seconds": time.perf_counter() - start, "cache_hit": hit}
        computed_by[split] = ref["computed_by"]
        print(f"{split}: {stats[split]['n']} images, {times[split]}", flush=True)
    fid = frechet_distance(stats["train"], stats["test"])
    result = {
        "fid_train_first_n_vs_test": fid,
        "protocol": {
            "sets": f"MNIST train[:{args.n}] vs test[:{args.n}]",
            "image_size": args.image_size,
            "channels": "grey repeated to 3",
            "feature_network": network.describe(),
            "reference_features_computed_by": computed_by,
            "preprocessing": "uint8 -> TF1-style bilinear resize to 299 -> (x - 128) / 128",
            "fid_dtype": "float64 (scipy sqrtm)",
            "threads": args.threads,
            "wall_time": times,
            "libraries": library_versions(),
        },
    }
    print(json.dumps(result, indent=2))
    if args.n == 10000 and args.image_size == 28:
        print(f"FID {fid:.4f} (expected 1.64 +- 0.01: {'OK' if abs(fid - 1.64) <= 0.01 else 'FAIL'})")
    else:
        print(f"FID {fid:.4f} at {args.image_size}x{args.image_size}, n={args.n} (no independent value to compare)")


if __name__ == "__main__":
    main()
