"""Metrics from a classifier trained once per labelled dataset.

The classifier (its network and recipe chosen per dataset in classifier_nets: a small CNN for grey
MNIST-like images, a VGG-style one with augmentation for RGB images such as CIFAR-10) is trained on the
dataset's training split at its image size and cached under <cache_dir>/classifiers with its test
accuracy, so a number computed with it can always be read next to how good the judge is. The cache holds
a state dict and plain numbers (read with weights_only=True) and is keyed by a hash of the training images
and labels and by the recipe, so another copy of the data gets its own classifier. It gives:

- class-conditional accuracy: ask a conditional G for class k, count how often the classifier says k;
- mode coverage: the histogram of predicted classes over N samples of an unconditional G
  (classes covered, KL to uniform): "almost no 2s" becomes a number;
- classifier FID: the Frechet distance in its 128-d features, seconds on a CPU,
  cheap enough to log during training. Not comparable to Inception FID.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.data.base import to_unit_range
from gan_lab.errors import UserError
from gan_lab.evaluation.classifier_nets import NETS, ClassifierRecipe, random_crop_flip, recipe_for
from gan_lab.evaluation.common import cached, content_digest
from gan_lab.evaluation.frechet import frechet_distance, gaussian_statistics


def _require_labels(data) -> None:
    if not data.num_classes or not hasattr(data, "reference_labels"):
        raise UserError(
            f"classifier metrics need a labelled dataset with a test split (MNIST, Fashion-MNIST, CIFAR-10); "
            f"{data.name} has none: drop classifier from metrics"
        )


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """(predicted classes (N,), hidden features (N, hidden)) of uint8 images."""
    model.eval()
    preds, feats = [], []
    for chunk in images.split(batch_size):
        h = model.embed(to_unit_range(chunk))
        feats.append(h)
        preds.append(model.head(h).argmax(1))
    return torch.cat(preds), torch.cat(feats)


def train_classifier(
    images: Tensor, labels: Tensor, num_classes: int, recipe: ClassifierRecipe, seed: int = 0
) -> nn.Module:
    """Adam on uint8 images (N, C, H, W) with a seeded order (and seeded augmentation); the grey recipe's
    2 epochs reach ~98% on MNIST."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    _, c, h, _ = images.shape
    model = NETS[recipe.net](c, h, num_classes, recipe.width)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    steps = recipe.epochs * math.ceil(images.shape[0] / recipe.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if recipe.cosine else None
    model.train()
    for _ in range(recipe.epochs):
        for idx in torch.randperm(images.shape[0], generator=gen).split(recipe.batch_size):
            x = to_unit_range(images[idx])
            if recipe.augment:
                x = random_crop_flip(x, gen)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
    return model.eval()


def classifier_path(data, cache_dir: str | os.PathLike, recipe: ClassifierRecipe, seed: int = 0) -> Path:
    """<cache_dir>/classifiers/<dataset>-<CxHxW>-n<train size>-sha256_<images and labels>-<recipe>.pt"""
    data.setup()
    shape = f"{data.channels}x{data.image_size}x{data.image_size}"
    content = content_digest(data.images, data.labels)  # which copy of the training data
    name = f"{data.name}-{shape}-n{len(data)}-sha256_{content[:16]}-{recipe.name(seed)}.pt"
    return Path(cache_dir) / "classifiers" / name


def load_or_train_classifier(
    data, cache_dir: str | os.PathLike, epochs: int | None = None, width: int | None = None, seed: int = 0,
    test_split: str = "test", batch_size: int | None = None, lr: float | None = None,
) -> tuple[nn.Module, dict]:
    """The dataset's classifier from <cache_dir>/classifiers, training it the first time.

    The recipe is the dataset's (classifier_nets.recipe_for); epochs, width, batch_size and lr replace its
    values when given. Returns (model, info) with info = {path, test_accuracy, test_size, train_size,
    trained_now, recipe, ...}.
    """
    _require_labels(data)
    recipe = recipe_for(data.channels, epochs=epochs, width=width, batch_size=batch_size, lr=lr)
    path = classifier_path(data, cache_dir, recipe, seed)

    def compute():
        start = time.perf_counter()
        model = train_classifier(data.images, data.labels, data.num_classes, recipe, seed=seed)
        train_seconds = time.perf_counter() - start
        test_images, test_labels = data.reference_images(test_split), data.reference_labels(test_split)
        preds, _ = predict(model, test_images)
        return {
            "state_dict": model.state_dict(),
            "net": recipe.net,
            "config": model.config,
            "test_accuracy": float((preds == test_labels).float().mean()),
            "test_split": test_split,
            "test_size": int(test_labels.shape[0]),
            "train_size": len(data),
            "epochs": recipe.epochs,
            "recipe": dataclasses.asdict(recipe),
            "seed": seed,
            "train_seconds": train_seconds,
            "train_threads": torch.get_num_threads(),
        }

    saved, hit = cached(path, compute, required_keys=("state_dict", "config", "test_accuracy"))
    net = saved.get("net", "small")  # files from before the RGB recipe hold the small net
    if net not in NETS:
        raise UserError(f"{path} names an unknown classifier network {net!r}; delete the file to train it again")
    model = NETS[net](**saved["config"])
    model.load_state_dict(saved["state_dict"])
    info = {k: v for k, v in saved.items() if k not in ("state_dict", "config")}
    info.update(path=str(path), trained_now=not hit, dataset=data.name)
    return model.eval(), info


def describe(info: dict) -> str:
    """How good the judge is, for every line that prints one of its numbers."""
    return f"classifier test acc {info['test_accuracy']:.4f} ({info.get('net', 'small')}, {info['epochs']} epochs)"


def mode_coverage(preds: Tensor, num_classes: int, min_share: float = 0.1) -> dict:
    """Histogram of predicted classes; a class is covered when it gets at least min_share of its uniform share.

    KL(p || uniform) = log K - H(p): 0 for a perfectly balanced histogram, log K when one class takes all.
    """
    counts = torch.bincount(preds, minlength=num_classes).double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
    covered = int((p >= min_share / num_classes).sum())
    return {
        "classes_covered": covered,
        "num_classes": num_classes,
        "kl_to_uniform": math.log(num_classes) - entropy,
        "histogram": [int(c) for c in counts.tolist()],
        "covered_threshold": f"a class counts when it gets >= {min_share:g} x 1/{num_classes} of the samples",
    }


def class_accuracy(preds: Tensor, requested: Tensor, num_classes: int) -> dict:
    """How often the classifier agrees with the class G was asked for, overall and per class."""
    hits = (preds == requested).double()
    per_class = [hits[requested == k].mean().item() if (requested == k).any() else None for k in range(num_classes)]
    return {"value": hits.mean().item(), "per_class": per_class}


def reference_classifier_stats(
    model: nn.Module, info: dict, data, split: str, cache_dir: str | os.PathLike, size: int | None = None
) -> tuple[dict, bool]:
    """Gaussian statistics of the reference split (its first `size` images; None = all) in the classifier's
    feature space, cached."""
    classifier_id = Path(info["path"]).stem
    images = data.reference_images(split)[:size]
    content = content_digest(images)[:16]  # which copy of the reference images (torchvision, JPEG tree, ...)
    name = f"classifier-{classifier_id}-{split}-n{size or 'all'}-sha256_{content}.pt"

    def compute():
        _, feats = predict(model, images)
        return gaussian_statistics(feats)

    return cached(Path(cache_dir) / "reference_features" / name, compute, required_keys=("mu", "sigma", "n"))


def classifier_metrics(
    generated: Tensor, requested_labels: Tensor | None, model: nn.Module, info: dict, data, split: str,
    cache_dir: str | os.PathLike, min_share: float = 0.1, reference_size: int | None = None,
) -> dict[str, dict]:
    """classifier_fid plus class_accuracy (conditional G) or mode_coverage (unconditional G)."""
    preds, feats = predict(model, generated)
    ref_stats, hit = reference_classifier_stats(model, info, data, split, cache_dir, reference_size)
    warnings = []
    if generated.shape[0] < feats.shape[1]:
        warnings.append(f"classifier FID from {generated.shape[0]} < {feats.shape[1]} samples is biased upward")
    results = {
        "classifier_fid": {
            "value": frechet_distance(gaussian_statistics(feats), ref_stats),
            "features": f"{feats.shape[1]}-d features of the cached classifier ({info.get('net', 'small')} net)",
            "reference_cache_hit": hit,
            "reference_size": ref_stats["n"],
            "warnings": warnings,
        }
    }
    if requested_labels is not None:
        results["class_accuracy"] = class_accuracy(preds, requested_labels, data.num_classes)
    coverage = mode_coverage(preds, data.num_classes, min_share)
    results["mode_coverage"] = {"value": coverage["classes_covered"], **coverage}
    return results
