"""FID / KID / IS / precision-recall through torch-fidelity, offline-capable and with cached references.

Feature networks (`fidelity.feature_extractor`):
  inception-v3-compat  torch-fidelity's FID InceptionV3. It downloads its weights unless
                       `fidelity.feature_extractor_weights_path` names a local copy of its state dict.
  torchscript          a TorchScript FID InceptionV3 (the 2015-12-05 network as used by StyleGAN2-ADA and
                       clean-fid) that maps (N, 3, 299, 299) floats in [-1, 1] to (N, 2048) pool features.
                       It is registered as a torch-fidelity feature extractor; it has no logits, so no IS.
  auto                 torchscript when the weights file is a TorchScript archive, else inception-v3-compat.

Engine of a TorchScript network (`fidelity.backend`, see gan_lab.evaluation.onnx_backend): torch, or
onnxruntime (the same graph exported once to ONNX, ~2x faster on CPU, same features within 1e-4);
auto = onnxruntime on CPU when installed, else torch. The preprocessing below runs in torch for both.

torch-fidelity reads the images; the metrics are computed from its features here so
that FID is float64 and the reference side is cached under
<cache_dir>/reference_features, keyed by dataset, split, size, a hash of the reference images (which copy
of the data: torchvision files or a JPEG tree, which version of a folder) and the feature network.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from gan_lab.errors import UserError
from gan_lab.evaluation.common import UInt8ImageSet, cached, content_digest, sha256_of
from gan_lab.evaluation.frechet import frechet_distance, gaussian_statistics
from gan_lab.evaluation.onnx_backend import OnnxFeatureModel, describe_backend, ensure_onnx, resolve_backend
from gan_lab.utils.io import atomic_write_bytes

TORCH_FIDELITY_INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
FIDELITY_METRICS = ("fid", "kid", "isc", "prc")


@dataclass
class FeatureNetwork:
    """A feature extractor registered with torch-fidelity, and what a result must say about it."""

    registry_name: str  # the name torch-fidelity knows it by
    kind: str  # inception-v3-compat | torchscript
    pool_layer: str  # features for FID, KID, precision/recall
    logits_layer: str | None  # features for IS (None: the network has no classifier head)
    weights_path: str | None = None
    weights_sha256: str | None = None
    input_size: int = 299  # images are resized to input_size x input_size before the network
    extractor_kwargs: dict = field(default_factory=dict)
    backend: dict = field(default_factory=lambda: describe_backend("torch"))  # the engine: name, version, ...

    @property
    def cache_id(self) -> str:
        """Distinguishes cached reference features of different networks and weights."""
        digest = (self.weights_sha256 or "default-weights")[:16]
        return f"{self.kind}-{digest}-{self.input_size}px"

    def describe(self) -> dict:
        return {
            "name": self.kind,
            "torch_fidelity_name": self.registry_name,
            "layer": self.pool_layer,
            "input_size": self.input_size,
            "weights_path": self.weights_path,
            "weights_sha256": self.weights_sha256,
            "backend": self.backend,
        }


def is_torchscript_archive(path: str | os.PathLike) -> bool:
    """TorchScript archives are zip files with a code/ folder; plain state dicts have none."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


def register_torchscript_extractor(
    path: str | os.PathLike,
    input_size: int = 299,
    backend: str = "torch",
    cache_dir: str | os.PathLike | None = None,
    graph_optimization: str = "all",
) -> FeatureNetwork:
    """Register a TorchScript feature network with torch-fidelity (once per file content and engine).

    Input pipeline of the FID Inception: uint8 -> float -> TF1-style bilinear resize
    to input_size x input_size (torch-fidelity's exact re-implementation) -> (x - 128) / 128.
    backend=onnxruntime runs the ONNX export of the same file (cached under cache_dir/onnx) with
    torch.get_num_threads() intra-op threads, so trainer.num_threads / num_threads apply to it too.
    """
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    path = str(Path(path).resolve())
    digest = sha256_of(path)
    threads = torch.get_num_threads()
    name = f"torchscript-{digest[:16]}-{input_size}"
    if backend == "onnxruntime":
        if cache_dir is None:
            raise ValueError("the onnxruntime backend caches its ONNX file and needs a cache_dir")
        onnx_file = ensure_onnx(path, digest, cache_dir, input_size)
        where = hashlib.sha256(str(onnx_file.resolve()).encode()).hexdigest()[:8]  # registry names have no "/"
        name += f"-onnxruntime-{graph_optimization}-{threads}t-{where}"
        engine = describe_backend(backend, threads, graph_optimization, onnx_file)
    else:
        onnx_file, engine = None, describe_backend("torch")
    network = FeatureNetwork(name, "torchscript", "pool", None, path, digest, input_size, backend=engine)
    if name in FEATURE_EXTRACTORS_REGISTRY:
        return network

    def load_model():
        if onnx_file is not None:
            return OnnxFeatureModel(onnx_file, threads, graph_optimization)
        return torch.jit.load(path, map_location="cpu").eval()

    class TorchScriptFeatureExtractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.model = load_model()

        @staticmethod
        def get_provided_features_list():
            return ("pool",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "pool"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, input_size, input_size, dtype=torch.uint8)

        def forward(self, x: Tensor):
            if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
                raise ValueError(f"expected uint8 (B, 3, H, W) images, got {x.dtype} {tuple(x.shape)}")
            x = interpolate_bilinear_2d_like_tensorflow1x(
                x.float(), size=(input_size, input_size), align_corners=False
            )
            x = (x - 128) / 128
            if onnx_file is None:
                x = x.contiguous(memory_format=torch.channels_last)  # channels_last: ~1.5x on CPU in torch
            return (self.model(x).float(),)

    register_feature_extractor(name, TorchScriptFeatureExtractor)
    return network


def resolve_feature_network(
    kind: str = "auto",
    weights_path: str | None = None,
    input_size: int = 299,
    backend: str = "torch",
    cache_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    graph_optimization: str = "all",
) -> FeatureNetwork:
    """The feature network a config asks for; input_size applies to TorchScript networks (the FID Inception
    expects 299; tests use small sizes). backend: auto | torch | onnxruntime (see onnx_backend.resolve_backend)."""
    if weights_path is not None and not Path(weights_path).is_file():
        raise UserError(f"fidelity.feature_extractor_weights_path={weights_path}: no such file")
    if kind == "auto":
        kind = "torchscript" if weights_path and is_torchscript_archive(weights_path) else "inception-v3-compat"
    if kind == "torchscript":
        if weights_path is None:
            raise UserError(
                "fidelity.feature_extractor=torchscript needs fidelity.feature_extractor_weights_path=<file.pt> "
                "(a TorchScript FID Inception)"
            )
        engine = resolve_backend(backend, kind, device)
        return register_torchscript_extractor(weights_path, input_size, engine, cache_dir, graph_optimization)
    if kind == "inception-v3-compat":
        resolve_backend(backend, kind, device)  # onnxruntime asked for this network: a clear error
        digest = sha256_of(weights_path) if weights_path else None
        kwargs = {"feature_extractor_weights_path": str(weights_path)} if weights_path else {}
        return FeatureNetwork(
            "inception-v3-compat", kind, "2048", "logits_unbiased", weights_path, digest, extractor_kwargs=kwargs
        )
    raise UserError(f"fidelity.feature_extractor must be auto, inception-v3-compat or torchscript, got {kind!r}")


def _create_extractor(network: FeatureNetwork, layers: list[str]):
    from torch_fidelity.utils import create_feature_extractor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            extractor = create_feature_extractor(
                network.registry_name, layers, cuda=False, verbose=False, **network.extractor_kwargs
            )
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        if network.kind != "inception-v3-compat" or network.weights_path:
            raise
        raise UserError(
            f"torch-fidelity could not download its Inception weights ({type(err).__name__}; offline?); pass "
            f"fidelity.feature_extractor_weights_path=<{TORCH_FIDELITY_INCEPTION_FILE} or a TorchScript FID "
            f"Inception .pt>, or put {TORCH_FIDELITY_INCEPTION_FILE} in $TORCH_HOME/hub/checkpoints/"
        ) from err
    if network.kind == "inception-v3-compat":
        extractor = extractor.to(memory_format=torch.channels_last)  # same features, ~1.6x faster on CPU
        if network.weights_sha256 is None:
            hub_file = Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_INCEPTION_FILE
            if hub_file.is_file():
                network.weights_path, network.weights_sha256 = str(hub_file), sha256_of(hub_file)
    return extractor


def check_feature_network(network: FeatureNetwork) -> None:
    """Load the network once: missing or undownloadable weights fail here, before minutes of other work."""
    _create_extractor(network, network_layers(network))


def network_layers(network: FeatureNetwork) -> list[str]:
    return [network.pool_layer] + ([network.logits_layer] if network.logits_layer else [])


def extract_features(images: Tensor, network: FeatureNetwork, batch_size: int = 50) -> dict[str, Tensor]:
    """Features of uint8 (N, C, H, W) images (grey repeated to RGB), every layer the network provides."""
    from torch_fidelity.utils import get_featuresdict_from_dataset

    extractor = _create_extractor(network, network_layers(network))
    return get_featuresdict_from_dataset(
        UInt8ImageSet(images), extractor, batch_size, cuda=False, save_cpu_ram=True, verbose=False
    )


def reference_features(
    images_fn, key: dict, network: FeatureNetwork, cache_dir: str | os.PathLike, batch_size: int = 50
) -> tuple[dict, bool]:
    """Features and FID statistics of a reference split, cached by (dataset, split, size, network).

    images_fn() returns the uint8 images; it is only called on a cache miss. The cache is shared by the
    backends (their features agree within 1e-4); which one computed an entry is kept in a JSON file beside it.
    Returns ({"features": {layer: tensor}, "stats": {mu, sigma, n}, "key": key, "computed_by": backend or None},
    cache_hit).
    """
    parts = [key[k] for k in ("dataset", "split", "size", "shape")] + ([key["content"]] if "content" in key else [])
    name = "-".join(str(p) for p in parts) + f"-{network.cache_id}.pt"
    path = Path(cache_dir) / "reference_features" / name
    provenance = path.with_suffix(".backend.json")

    def compute():
        features = extract_features(images_fn(), network, batch_size)
        atomic_write_bytes(provenance, json.dumps(network.backend).encode())
        return {"features": features, "stats": gaussian_statistics(features[network.pool_layer]), "key": key}

    value, hit = cached(path, compute, required_keys=("features", "stats", "key"))
    try:
        computed_by = json.loads(provenance.read_text())
    except (OSError, ValueError):
        computed_by = None  # written before backends were recorded
    return {**value, "computed_by": computed_by}, hit


def check_fidelity_request(
    metrics: list[str], network: FeatureNetwork, n_gen: int, n_ref: int, kid_subset_size: int
) -> None:
    """The errors fidelity_metrics would raise, checkable before an expensive reference pass."""
    unknown = [m for m in metrics if m not in FIDELITY_METRICS]
    if unknown:
        raise UserError(f"unknown fidelity metrics {unknown}; choose from {', '.join(FIDELITY_METRICS)}")
    if "isc" in metrics and network.logits_layer is None:
        raise UserError(
            f"isc needs a classifier head, which the {network.kind} feature network lacks; drop isc from metrics "
            f"or use fidelity.feature_extractor=inception-v3-compat"
        )
    if "kid" in metrics and kid_subset_size > min(n_gen, n_ref):
        raise UserError(
            f"kid uses subsets of fidelity.kid_subset_size={kid_subset_size} images but there are {n_gen} generated "
            f"and {n_ref} reference images; raise num_samples or lower fidelity.kid_subset_size"
        )


def fidelity_metrics(
    generated: Tensor,
    reference: dict,
    metrics: list[str],
    network: FeatureNetwork,
    batch_size: int = 50,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    prc_neighborhood: int = 3,
    seed: int = 2020,
) -> dict[str, dict]:
    """Each requested metric of generated uint8 images against cached reference features.

    Returns {metric: {"value": ..., extra numbers..., "warnings": [...]}}.
    """
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    n_gen, n_ref = generated.shape[0], reference["stats"]["n"]
    check_fidelity_request(metrics, network, n_gen, n_ref, kid_subset_size)
    features = extract_features(generated, network, batch_size)
    pool_gen, pool_ref = features[network.pool_layer], reference["features"][network.pool_layer]
    results: dict[str, dict] = {}
    if "fid" in metrics:
        stats = gaussian_statistics(pool_gen)
        result = {"value": frechet_distance(stats, reference["stats"]), "dtype": "float64", "warnings": []}
        dim = pool_gen.shape[1]
        if n_gen < dim:
            result["warnings"].append(
                f"FID from {n_gen} < {dim} samples: the covariance is rank-deficient and FID is biased upward; "
                f"compare only values computed with the same number of samples"
            )
        results["fid"] = result
    if "kid" in metrics:
        kid = kid_features_to_metric(
            pool_gen, pool_ref, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, rng_seed=seed, verbose=False
        )
        results["kid"] = {
            "value": kid["kernel_inception_distance_mean"],
            "std": kid["kernel_inception_distance_std"],
            "subsets": kid_subsets,
            "subset_size": kid_subset_size,
            "kernel": "polynomial, degree 3, coef0 1, gamma 1/dim",
            "warnings": [],
        }
    if "isc" in metrics:
        isc = isc_features_to_metric(features[network.logits_layer], splits=10, shuffle=True, rng_seed=seed)
        results["isc"] = {
            "value": isc["inception_score_mean"],
            "std": isc["inception_score_std"],
            "splits": 10,
            "warnings": [],
        }
    if "prc" in metrics:
        prc = prc_features_to_metric(
            pool_gen, pool_ref, prc_neighborhood=prc_neighborhood, prc_batch_size=10000, save_cpu_ram=True,
            verbose=False,
        )
        results["prc"] = {
            "value": prc["f_score"],
            "precision": prc["precision"],
            "recall": prc["recall"],
            "neighborhood": prc_neighborhood,
            "warnings": [],
        }
    return results


def reference_key(data, split: str, images: Tensor | None = None, size: int | None = None) -> dict:
    """What identifies a reference set: dataset, split, number of images, their shape and a hash of their
    bytes (so the torchvision CIFAR-10 and its JPEG tree, or two versions of a folder, never share a cache)."""
    if images is None:
        images = data.reference_images(split)[:size]
    shape = f"{data.channels}x{data.image_size}x{data.image_size}"
    return {
        "dataset": data.name, "split": split, "size": images.shape[0], "shape": shape,
        "content": f"sha256_{content_digest(images)[:16]}",
    }


def fidelity_request(fidelity, hash_file=sha256_of) -> dict:
    """The feature-network settings that determine an FID/KID/PRC result (part of a result's request)."""
    weights = fidelity.feature_extractor_weights_path
    return {
        "feature_extractor": fidelity.feature_extractor,
        "weights_sha256": hash_file(weights) if weights and Path(weights).is_file() else weights,
        "input_size": fidelity.input_size,
        "kid_subsets": fidelity.kid_subsets,
        "kid_subset_size": fidelity.kid_subset_size,
        "prc_neighborhood": fidelity.prc_neighborhood,
    }
