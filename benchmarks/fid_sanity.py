"""FID between MNIST train[:10000] and the 10k test images: the floor a perfect generator reaches at 10k samples.

    python benchmarks/fid_sanity.py [--image-size 28] [--weights <TorchScript FID Inception>]

At 28x28 with the 2015-12-05 FID Inception, uint8 -> TF1 bilinear resize to 299 -> (x - 128) / 128,
the expected value is 1.64 (measured independently, /work/shared/ENVIRONMENT.md): a check of the FID code.
Both reference sets go through the evaluation cache (<cache_dir>/reference_features), so a later
`evaluate.py` against MNIST test at the same image size reuses the test features.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from gan_lab.data.torchvision_sets import MNISTData
from gan_lab.evaluation.common import library_versions
from gan_lab.evaluation.fidelity import reference_features, reference_key, resolve_feature_network
from gan_lab.evaluation.frechet import frechet_distance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--weights", default="/work/shared/weights/fid_inception_2015-12-05_torchscript.pt")
    parser.add_argument("--data-dir", default=os.environ.get("GAN_LAB_DATA", "data"))
    parser.add_argument("--cache-dir", default=os.environ.get("GAN_LAB_CACHE", ".cache/gan_lab"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    network = resolve_feature_network("auto", args.weights)
    data = MNISTData(args.data_dir, image_size=args.image_size, download=False)
    stats, times = {}, {}
    for split in ("test", "train"):
        start = time.perf_counter()
        images = lambda split=split: data.reference_images(split)[: args.n]  # noqa: E731
        ref, hit = reference_features(images, reference_key(data, split, size=args.n), network, args.cache_dir)
        stats[split], times[split] = ref["stats"], {"seconds": time.perf_counter() - start, "cache_hit": hit}
        print(f"{split}: {stats[split]['n']} images, {times[split]}", flush=True)
    fid = frechet_distance(stats["train"], stats["test"])
    result = {
        "fid_train_first_n_vs_test": fid,
        "protocol": {
            "sets": f"MNIST train[:{args.n}] vs test[:{args.n}]",
            "image_size": args.image_size,
            "channels": "grey repeated to 3",
            "feature_network": network.describe(),
            "preprocessing": "uint8 -> TF1-style bilinear resize to 299 -> (x - 128) / 128",
            "fid_dtype": "float64 (scipy sqrtm)",
            "threads": args.threads,
            "wall_time": times,
            "libraries": library_versions(),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
