"""Train and cache the classifier of `evaluate.py metrics=[classifier]` (and eval_metric=classifier_fid) before a
checkpoint needs it, or time its training.

    python benchmarks/prewarm_classifier.py --dataset cifar10 --threads 2        # train once, cache, print accuracy
    python benchmarks/prewarm_classifier.py --dataset cifar10 --threads 1 --timing 2048   # img/s only, no cache
    python benchmarks/prewarm_classifier.py --dataset mnist [paths.cache_dir=... dataset.image_size=...]

The dataset is composed as train.py composes it (conf/dataset/<name>.yaml plus the Hydra overrides given), and
the recipe is the dataset's (gan_lab/evaluation/classifier_nets.py), so the cache file is the one evaluate.py
looks for on a run of that dataset. --timing N trains one epoch on the first N training images and prints img/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's gan_lab, not an installed one

import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from gan_lab.build import build_data  # noqa: E402
from gan_lab.evaluation.classifier import describe, load_or_train_classifier, train_classifier  # noqa: E402
from gan_lab.evaluation.classifier_nets import recipe_for  # noqa: E402


def compose_data(dataset: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"dataset={dataset}", *overrides])
    return build_data(cfg), cfg.paths.cache_dir


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="a labelled option of conf/dataset: cifar10, mnist, ...")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=None, help="replace the recipe's epochs (another cache file)")
    parser.add_argument("--width", type=int, default=None, help="replace the recipe's width (another cache file)")
    parser.add_argument("--timing", type=int, default=0, metavar="N", help="time one epoch on N images; no cache")
    parser.add_argument("override", nargs="*", help="Hydra overrides, e.g. paths.data_dir=... paths.cache_dir=...")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data, cache_dir = compose_data(args.dataset, args.override)
    data.setup()
    if args.timing:
        recipe = recipe_for(data.channels, epochs=1, width=args.width)
        images, labels = data.images[: args.timing], data.labels[: args.timing]
        start, cpu_start = time.perf_counter(), time.process_time()
        train_classifier(images, labels, data.num_classes, recipe)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        rate = images.shape[0] / seconds
        full = recipe_for(data.channels, epochs=args.epochs, width=args.width)
        estimate = full.epochs * len(data) / rate
        # CPU seconds too: on a shared machine wall time includes waiting for the core
        print(f"{data.name} {recipe.net} classifier (width {recipe.width}): {images.shape[0]} images in "
              f"{seconds:.1f} s wall, {cpu_seconds:.1f} s CPU = {rate:.0f} img/s ({images.shape[0] / cpu_seconds:.0f} "
              f"per CPU-second) with {args.threads} threads; the full recipe ({full.epochs} epochs x {len(data)} "
              f"images) would take ~{estimate / 60:.0f} min at this wall rate")
        return {"img_per_s": rate, "seconds": seconds, "cpu_seconds": cpu_seconds, "threads": args.threads,
                "estimate_s": estimate}
    start = time.perf_counter()
    _, info = load_or_train_classifier(data, cache_dir, epochs=args.epochs, width=args.width)
    state = "trained now" if info["trained_now"] else "already cached"
    print(f"{data.name}: {describe(info)} on {info['test_size']} {info['test_split']} images; {state} "
          f"({time.perf_counter() - start:.0f} s, training {info.get('train_seconds', 0):.0f} s); {info['path']}")
    return info


if __name__ == "__main__":
    main()
