"""Fill the reference-feature cache that evaluate.py uses, before a checkpoint exists (and time it).

    python benchmarks/prewarm_fid_reference.py [--n 2000] [--image-size 32] [--weights <TorchScript FID Inception>]

Same cache key as `evaluate.py reference=test reference_size=<n>` on MNIST at that image size.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's gan_lab, not an installed one

import torch  # noqa: E402

from gan_lab.data.torchvision_sets import MNISTData  # noqa: E402
from gan_lab.evaluation.fidelity import reference_features, reference_key, resolve_feature_network  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="first N test images (default: all)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--weights", default="/work/shared/weights/fid_inception_2015-12-05_torchscript.pt")
    parser.add_argument("--data-dir", default=os.environ.get("GAN_LAB_DATA", "data"))
    parser.add_argument("--cache-dir", default=os.environ.get("GAN_LAB_CACHE", ".cache/gan_lab"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="auto", help="auto | torch | onnxruntime (see conf/evaluate.yaml)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    network = resolve_feature_network("auto", args.weights, 299, args.backend, args.cache_dir)
    data = MNISTData(args.data_dir, image_size=args.image_size, download=False)
    images = data.reference_images("test")[: args.n]
    start = time.perf_counter()
    _, hit = reference_features(lambda: images, reference_key(data, "test", images), network, args.cache_dir, 50)
    print(f"{images.shape[0]} MNIST test images at {args.image_size}px through {network.kind}: "
          f"cache_hit={hit}, {time.perf_counter() - start:.0f} s with {args.threads} threads")


if __name__ == "__main__":
    main()
