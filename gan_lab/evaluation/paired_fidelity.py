"""FID / KID (and optionally precision-recall) of translations G(source) against the real targets of the same split.

The machinery of evaluate.py (gan_lab.evaluation.fidelity): the same feature networks and backends, float64 FID,
torch-fidelity's KID, and the reference features of each split's targets cached per dataset, split, size, content
hash and network. Only the sample counts differ: a paired split is small (facades: 400 train, 100 val pairs), so
FID is computed from fewer images than feature dimensions (flagged in its warnings; compare only values of the
same split and size) and the KID subset size is chosen to fit each split (`kid_subset_size`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from gan_lab.errors import UserError
from gan_lab.evaluation.fidelity import (
    FeatureNetwork,
    check_feature_network,
    fidelity_metrics,
    reference_features,
    reference_key,
    resolve_feature_network,
)

PAIRED_FIDELITY_METRICS = ("fid", "kid", "prc")  # isc needs no target, so it says nothing about a translation
SKIP_HINT = "or pass metrics=[] for L1 / PSNR / SSIM only"
KID_MAX_SUBSET = 1000  # torch-fidelity's default subset size, kept when the splits are large enough
FEATURE_DEVICE = "cpu"  # torch-fidelity runs with cuda=False here, as in evaluate.py


def check_metric_names(metrics: list[str]) -> None:
    unknown = [m for m in metrics if m not in PAIRED_FIDELITY_METRICS]
    if unknown:
        raise UserError(
            f"unknown metrics {unknown}; choose from {', '.join(PAIRED_FIDELITY_METRICS)} (L1 / PSNR / SSIM are "
            f"always computed), e.g. metrics=[fid,kid], or metrics=[] to skip them"
        )


def kid_subset_size(requested: int | None, split_size: int) -> tuple[int, str]:
    """(subset size, how it was chosen) for a split of split_size pairs.

    KID's subset estimate is unbiased at any subset size, and its mean over random subsets estimates the statistic
    of the whole split, so auto takes the whole split (at most 1000, torch-fidelity's default; clean-fid's rule):
    the same quantity as smaller subsets, without their Monte-Carlo noise. Its std across subsets is then 0."""
    if requested is None:
        size = min(KID_MAX_SUBSET, split_size)
        rule = (
            f"auto: the whole split, at most {KID_MAX_SUBSET} (KID is unbiased at any subset size; subsets of the "
            f"whole split add no sampling noise, and their std is then 0: a spread of subsets, not an uncertainty); "
            f"fidelity.kid_subset_size=N sets it"
        )
    else:
        size, rule = requested, "fidelity.kid_subset_size"
    if size < 2 or size > split_size:
        raise UserError(
            f"KID subsets of {size} images need 2 <= size <= {split_size} (pairs in the split); "
            f"set fidelity.kid_subset_size between 2 and {split_size}, raise limit, or drop kid from metrics"
        )
    return size, rule


@dataclass
class TranslationFidelity:
    """The metrics asked for, the feature network that computes them and their settings (a FidelityConfig)."""

    metrics: list[str]
    network: FeatureNetwork
    settings: object  # batch_size, kid_subsets, prc_neighborhood of the fidelity config
    cache_dir: Path

    def describe(self) -> dict:
        return {
            "metrics": self.metrics,
            "feature_network": self.network.describe(),
            "reference": "the real target images of the same split (all pairs, or the first `limit`), as uint8 at "
            "image_size, the same preprocessing as the translations",
            "feature_input": f"uint8 RGB at image_size, resized by the network to {self.network.input_size}x"
            f"{self.network.input_size}",
            "kid_subsets": self.settings.kid_subsets,
            "kid_subset_size": self.settings.kid_subset_size or "auto: each split's size, at most 1000",
            "reference_cache": str(self.cache_dir / "reference_features"),
        }


def setup_fidelity(
    metrics: list[str], settings, cache_dir: str | os.PathLike, split_sizes: list[int]
) -> TranslationFidelity | None:
    """The feature network, loaded once so that missing weights fail in seconds, before any translation.
    None when no fidelity metric is asked for."""
    metrics = list(metrics)
    check_metric_names(metrics)
    if not metrics:
        return None
    if min(split_sizes) < 2:
        raise UserError(f"FID needs at least 2 pairs per split, got {min(split_sizes)}; raise limit, {SKIP_HINT}")
    if "kid" in metrics:
        kid_subset_size(settings.kid_subset_size, min(split_sizes))  # a size too large fails now, not after a split
    try:
        network = resolve_feature_network(
            settings.feature_extractor, settings.feature_extractor_weights_path, settings.input_size,
            settings.backend, cache_dir, FEATURE_DEVICE, settings.onnx_graph_optimization,
        )
        check_feature_network(network)
    except UserError as err:
        raise UserError(f"{err}; {SKIP_HINT}") from err
    return TranslationFidelity(metrics, network, settings, Path(cache_dir))


def split_fidelity(
    fidelity: TranslationFidelity, data, split: str, outputs: Tensor, targets: Tensor, used_ema: bool, seed: int
) -> dict[str, dict]:
    """{metric: {value, ..., how it was measured}} of one split's translations (uint8) against its targets."""
    s = fidelity.settings
    ref, hit = reference_features(
        lambda: targets, reference_key(data, split, targets), fidelity.network, fidelity.cache_dir, s.batch_size
    )
    subset, rule = kid_subset_size(s.kid_subset_size, targets.shape[0]) if "kid" in fidelity.metrics else (2, None)
    values = fidelity_metrics(
        outputs, ref, fidelity.metrics, fidelity.network, s.batch_size, s.kid_subsets, subset, s.prc_neighborhood,
        seed=seed,
    )
    measured = {
        "split": split,
        "num_translated": int(outputs.shape[0]),
        "num_reference": int(targets.shape[0]),
        "reference": f"real targets of {split}",
        "image_size": int(targets.shape[-1]),
        "feature_network": fidelity.network.describe()["name"],
        "feature_weights_sha256": fidelity.network.weights_sha256,
        "ema": used_ema,
        "reference_cache_hit": hit,
    }
    for value in values.values():
        value.update(measured)
    if "kid" in values:
        values["kid"]["subset_size_rule"] = rule
        values["kid"]["subsets_seed"] = seed
    return values
