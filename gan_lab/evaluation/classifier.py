"""Metrics from a small classifier trained once per labelled dataset.

The classifier (two conv layers and a 128-d hidden layer) is trained on the
dataset's training split at its image size and cached under
<cache_dir>/classifiers with its test accuracy, so a number computed with it
can always be read next to how good the judge is. The cache holds a state dict
and plain numbers (read with weights_only=True) and is keyed by a hash of the
training images and labels, so another copy of the data gets its own classifier. It gives:

- class-conditional accuracy: ask a conditional G for class k, count how often the classifier says k;
- mode coverage: the histogram of predicted classes over N samples of an unconditional G
  (classes covered, KL to uniform): "almost no 2s" becomes a number;
- classifier FID: the Frechet distance in its 128-d hidden features, seconds on a CPU,
  cheap enough to log during training. Not comparable to Inception FID.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lab.data.base import to_unit_range
from gan_lab.errors import UserError
from gan_lab.evaluation.common import cached, content_digest
from gan_lab.evaluation.frechet import frechet_distance, gaussian_statistics


class SmallClassifier(nn.Module):
    def __init__(self, channels: int, image_size: int, num_classes: int, width: int = 32, hidden: int = 128):
        super().__init__()
        self.config = {
            "channels": channels, "image_size": image_size, "num_classes": num_classes, "width": width,
            "hidden": hidden,
        }
        reduced = image_size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * reduced * reduced, hidden),
            nn.ReLU(),
        )
        self.head = nn.Linear(hidden, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """Hidden features (B, hidden) of images in [-1, 1]."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


def _require_labels(data) -> None:
    if not data.num_classes or not hasattr(data, "reference_labels"):
        raise UserError(
            f"classifier metrics need a labelled dataset with a test split (MNIST, Fashion-MNIST, CIFAR-10); "
            f"{data.name} has none: drop classifier from metrics"
        )


@torch.no_grad()
def predict(model: SmallClassifier, images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """(predicted classes (N,), hidden features (N, hidden)) of uint8 images."""
    model.eval()
    preds, feats = [], []
    for chunk in images.split(batch_size):
        h = model.embed(to_unit_range(chunk))
        feats.append(h)
        preds.append(model.head(h).argmax(1))
    return torch.cat(preds), torch.cat(feats)


def train_classifier(
    images: Tensor, labels: Tensor, num_classes: int, epochs: int = 2, batch_size: int = 128, width: int = 32,
    lr: float = 1e-3, seed: int = 0,
) -> SmallClassifier:
    """Adam on uint8 images (N, C, H, W) with a seeded order; a few epochs reach ~99% on MNIST."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    _, c, h, _ = images.shape
    model = SmallClassifier(c, h, num_classes, width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(images.shape[0], generator=gen).split(batch_size):
            loss = F.cross_entropy(model(to_unit_range(images[idx])), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def load_or_train_classifier(
    data, cache_dir: str | os.PathLike, epochs: int = 2, width: int = 32, seed: int = 0, test_split: str = "test",
    batch_size: int = 128, lr: float = 1e-3,
) -> tuple[SmallClassifier, dict]:
    """The dataset's classifier from <cache_dir>/classifiers, training it the first time.

    Returns (model, info) with info = {path, test_accuracy, test_size, train_size, trained_now, ...}.
    """
    _require_labels(data)
    data.setup()
    n_train = len(data)
    shape = f"{data.channels}x{data.image_size}x{data.image_size}"
    recipe = f"w{width}-e{epochs}-b{batch_size}-lr{lr:g}-s{seed}"
    content = content_digest(data.images, data.labels)  # which copy of the training data
    path = Path(cache_dir) / "classifiers" / f"{data.name}-{shape}-n{n_train}-sha256_{content[:16]}-{recipe}.pt"

    def compute():
        start = time.perf_counter()
        model = train_classifier(
            data.images, data.labels, data.num_classes, epochs, batch_size, width, lr=lr, seed=seed
        )
        test_images, test_labels = data.reference_images(test_split), data.reference_labels(test_split)
        preds, _ = predict(model, test_images)
        return {
            "state_dict": model.state_dict(),
            "config": model.config,
            "test_accuracy": float((preds == test_labels).float().mean()),
            "test_split": test_split,
            "test_size": int(test_labels.shape[0]),
            "train_size": n_train,
            "epochs": epochs,
            "seed": seed,
            "train_seconds": time.perf_counter() - start,
        }

    saved, hit = cached(path, compute, required_keys=("state_dict", "config", "test_accuracy"))
    model = SmallClassifier(**saved["config"])
    model.load_state_dict(saved["state_dict"])
    info = {k: v for k, v in saved.items() if k not in ("state_dict", "config")}
    info.update(path=str(path), trained_now=not hit, dataset=data.name)
    return model.eval(), info


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
    model: SmallClassifier, info: dict, data, split: str, cache_dir: str | os.PathLike, size: int | None = None
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
    generated: Tensor, requested_labels: Tensor | None, model: SmallClassifier, info: dict, data, split: str,
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
            "features": f"hidden layer ({feats.shape[1]}-d) of the cached classifier",
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
