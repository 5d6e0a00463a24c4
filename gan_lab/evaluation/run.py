"""evaluate.py: a checkpoint in, numbers with their protocol out (<run dir>/eval/<name>.json and a table).

Every result records its request (what determines the numbers: checkpoint hash, metrics, samples, seed, EMA,
reference, feature network and metric settings; not the device, threads or feature backend). A result file with
the same request is reused instead of computed again (force=true recomputes); one with another request is never
overwritten (a UserError asks for another name=).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from gan_lab.build import build_data
from gan_lab.errors import UserError
from gan_lab.evaluation.classifier import classifier_metrics, describe, load_or_train_classifier
from gan_lab.evaluation.common import generate_samples, library_versions, sha256_of
from gan_lab.evaluation.fidelity import (
    FIDELITY_METRICS,
    check_fidelity_request,
    fidelity_metrics,
    fidelity_request,
    reference_features,
    reference_key,
    resolve_feature_network,
)
from gan_lab.evaluation.parzen import DEFAULT_SIGMAS, parzen_evaluate
from gan_lab.loading import load_generator, run_dir_of
from gan_lab.training.precision import resolve_device
from gan_lab.utils.io import atomic_write_bytes
from gan_lab.utils.paths import relocate

OTHER_METRICS = ("classifier", "parzen")
FEATURE_DEVICE = "cpu"  # _create_extractor asks torch-fidelity for cuda=False; auto picks the backend for it


def check_metric_names(metrics: list[str]) -> None:
    unknown = [m for m in metrics if m not in FIDELITY_METRICS + OTHER_METRICS]
    if unknown or not metrics:
        raise UserError(
            f"unknown metrics {unknown or metrics}; choose from {', '.join(FIDELITY_METRICS + OTHER_METRICS)}, "
            f"e.g. metrics=[fid,kid,prc]"
        )


def data_from_checkpoint(ckpt_cfg: DictConfig, data_dir: str | None):
    """The run's data module; data_dir replaces the dataset root stored in the checkpoint (data moved)."""
    if data_dir and "root" in ckpt_cfg.dataset:
        ckpt_cfg = ckpt_cfg.copy()
        ckpt_cfg.dataset.root = relocate(ckpt_cfg.dataset.root, ckpt_cfg.paths.data_dir, data_dir)
    return build_data(ckpt_cfg)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@lru_cache(maxsize=64)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:
    return sha256_of(path)


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, hashed once per process and file version (a sweep asks for the same weights per job)."""
    stat = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def evaluation_request(cfg: DictConfig) -> dict:
    """What determines the numbers of an evaluation; two results with equal requests agree (up to the 1e-4
    feature differences between backends). Device, threads, batch sizes of the feature network and the backend
    only change how fast they come, and are recorded in the protocol instead."""
    metrics = sorted(cfg.metrics)
    request = {
        "checkpoint_sha256": file_sha256(cfg.ckpt),
        "metrics": metrics,
        "num_samples": cfg.num_samples,
        "seed": cfg.seed,
        "ema": cfg.ema,
        "generator_batch_size": cfg.batch_size,  # the latents are drawn batch by batch
        "reference": cfg.reference,
        "reference_size": cfg.reference_size,
    }
    if not cfg.get("bn_recalibration", True):
        # Recorded only when turned off, so the requests of results written before the option existed stay equal;
        # whether the checkpoint holds recomputed BatchNorm statistics is already in its hash.
        request["bn_recalibration"] = False
    if any(m in FIDELITY_METRICS for m in metrics):
        request["fidelity"] = fidelity_request(cfg.fidelity, hash_file=file_sha256)
    for name in OTHER_METRICS:
        if name in metrics:
            request[name] = OmegaConf.to_container(cfg[name], resolve=True)
    return request


@dataclass
class Plan:
    out: Path  # <run dir>/eval/<name>.json
    request: dict
    existing: dict | None  # a result already there with the same request


def result_name(cfg: DictConfig) -> str:
    return cfg.name or f"{Path(cfg.ckpt).stem}-{cfg.reference}-n{cfg.num_samples}"


def plan_evaluation(cfg: DictConfig) -> Plan:
    """Where the result goes and whether it is already there; raises rather than overwrite another protocol."""
    if not Path(cfg.ckpt).is_file():
        raise UserError(f"ckpt={cfg.ckpt}: no such checkpoint file")
    out = run_dir_of(cfg.ckpt) / "eval" / f"{result_name(cfg)}.json"
    request = evaluation_request(cfg)
    if not out.is_file():
        return Plan(out, request, None)
    try:
        saved = json.loads(out.read_text())
        earlier = saved["protocol"].get("request")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        saved, earlier = None, None
    if earlier == request:
        return Plan(out, request, saved)
    differs = sorted(k for k in set(request) | set(earlier or {}) if (earlier or {}).get(k) != request.get(k))
    what = f"another protocol (differs in {', '.join(differs)})" if earlier else "a result without a recorded request"
    raise UserError(f"{out} already holds {what}; pass name=<another name> to keep both")


def evaluate_checkpoint(cfg: DictConfig, plan: Plan | None = None) -> tuple[dict, Path]:
    """Evaluate cfg.ckpt and write the result; returns the result already there when it has the same request
    (unless cfg.force)."""
    metrics = list(cfg.metrics)
    check_metric_names(metrics)
    plan = plan or plan_evaluation(cfg)
    if plan.existing is not None and not cfg.get("force", False):
        print(f"already evaluated with the same protocol: {plan.out} (force=true evaluates again)", file=sys.stderr)
        return plan.existing, plan.out
    if cfg.reference_size is not None and cfg.reference_size <= 1:
        raise UserError(f"reference_size must be null (the whole split) or at least 2, got {cfg.reference_size}")
    if cfg.num_samples <= 1:
        raise UserError(f"num_samples must be at least 2, got {cfg.num_samples}")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    t_start = time.perf_counter()
    device = resolve_device(cfg.device)
    generator, ckpt_cfg, state = load_generator(
        cfg.ckpt, use_ema=cfg.ema, device=device, trust=bool(cfg.get("trust_checkpoint")),
        bn_recalibration=bool(cfg.get("bn_recalibration", True)),
    )
    data = data_from_checkpoint(ckpt_cfg, cfg.paths.data_dir)
    cache_dir = Path(cfg.paths.cache_dir)

    (generated, labels), t_gen = _timed(
        lambda: generate_samples(generator, cfg.num_samples, cfg.seed, cfg.batch_size, device)
    )
    print(f"generated {generated.shape[0]} samples in {t_gen:.1f} s", file=sys.stderr)
    reference_cache: dict = {}

    def reference_images():
        if "images" not in reference_cache:
            reference_cache["images"] = data.reference_images(cfg.reference)[: cfg.reference_size]
        return reference_cache["images"]

    results: dict[str, dict] = {}
    wanted_fidelity = [m for m in metrics if m in FIDELITY_METRICS]
    network = None
    if wanted_fidelity:
        f = cfg.fidelity
        network = resolve_feature_network(  # features run on the CPU (torch-fidelity cuda=False), whatever G uses
            f.feature_extractor, f.feature_extractor_weights_path, f.input_size, f.backend, cache_dir, FEATURE_DEVICE,
            f.onnx_graph_optimization,
        )
        check_fidelity_request(  # before the reference pass, which can take an hour
            wanted_fidelity, network, generated.shape[0], reference_images().shape[0], f.kid_subset_size
        )
        start = time.perf_counter()
        ref, hit = reference_features(
            reference_images, reference_key(data, cfg.reference, reference_images()), network, cache_dir, f.batch_size
        )
        t_ref = time.perf_counter() - start
        values, t_metrics = _timed(
            lambda: fidelity_metrics(
                generated, ref, wanted_fidelity, network, f.batch_size, f.kid_subsets, f.kid_subset_size,
                f.prc_neighborhood, seed=cfg.seed,
            )
        )
        for name, value in values.items():
            value.update(
                feature_network=network.describe(),
                reference_cache_hit=hit,
                reference_features_computed_by=ref["computed_by"],
                wall_time_s={"reference_features": t_ref, "generated_features_and_metrics": t_metrics},
            )
            results[name] = value
    if "classifier" in metrics:
        c = cfg.classifier
        start = time.perf_counter()
        model, info = load_or_train_classifier(data, cache_dir, epochs=c.epochs, width=c.width)
        values = classifier_metrics(
            generated, labels, model, info, data, cfg.reference, cache_dir, c.min_share, cfg.reference_size
        )
        elapsed = time.perf_counter() - start
        for name, value in values.items():
            value.update(classifier=info, wall_time_s=elapsed)
            results[name] = value
    if "parzen" in metrics:
        p = cfg.parzen
        data.setup()
        validation = data.images[-p.validation :]
        sigmas = tuple(p.sigmas) if p.sigmas else DEFAULT_SIGMAS
        value, elapsed = _timed(
            lambda: parzen_evaluate(generated, validation, reference_images(), sigmas, p.batch_size)
        )
        value.update(
            validation_split=f"last {validation.shape[0]} images of the training split",
            test_split=cfg.reference,
            wall_time_s=elapsed,
        )
        results["parzen"] = value

    ref_size = reference_images().shape[0]
    protocol = {
        "checkpoint": str(Path(cfg.ckpt).resolve()),
        "step": state.get("step"),
        "num_samples": cfg.num_samples,
        "seed": cfg.seed,
        "labels": "balanced 0..K-1 repeated" if labels is not None else "unconditional",
        "ema": bool(state["used_ema"]),
        # BatchNorm statistics recomputed for these weights (trainer.bn_recalibration: batches, batch_size, seed),
        # or null: the running statistics training kept
        "bn_recalibration": state["used_bn_recalibration"],
        "generator_precision": "fp32",
        "feature_precision": "float32 features; FID statistics and sqrtm in float64",
        "reference": {
            "dataset": data.name,
            "source": data.source,
            "split": cfg.reference,
            "size": ref_size,
            "shape": f"{data.channels}x{data.image_size}x{data.image_size}",
            "channels_for_feature_networks": "grey repeated to 3" if data.channels == 1 else "as stored",
        },
        "device": str(device),
        "threads": torch.get_num_threads(),
        "libraries": library_versions(),
        "feature_backend": network.backend if network else None,
        "wall_time_s": {"sampling": t_gen, "total": time.perf_counter() - t_start},
        "request": plan.request,
    }
    report = {"metrics": results, "protocol": protocol}
    atomic_write_bytes(plan.out, (json.dumps(report, indent=2, default=float) + "\n").encode())
    return report, plan.out


def format_table(report: dict) -> str:
    """One line per number: metric, value (+- spread), protocol summary."""
    p = report["protocol"]
    ref = p["reference"]
    recal = p.get("bn_recalibration")
    bn = f", BatchNorm statistics of {recal['batches']} x {recal['batch_size']} latents" if recal else ""
    lines = [
        f"{p['num_samples']} samples (seed {p['seed']}, EMA {'on' if p['ema'] else 'off'}{bn}) vs "
        f"{ref['dataset']} {ref['split']} ({ref['size']} images, {ref['shape']})",
        f"{'metric':<16} {'value':>12} {'+-':>10}  protocol",
    ]
    for name, r in report["metrics"].items():
        spread = r.get("std", r.get("stderr"))
        if "feature_network" in r:
            backend = r["feature_network"].get("backend", {}).get("name")
            note = f"{r['feature_network']['name']} features" + (f" on {backend}" if backend else "")
        elif "classifier" in r:
            note = describe(r["classifier"])
        else:
            note = f"sigma {r['sigma']:.4g}, {r['units']}" if name == "parzen" else ""
        if name == "prc":
            note += f"; precision {r['precision']:.4f}, recall {r['recall']:.4f}"
        if name == "mode_coverage":
            note += f"; KL to uniform {r['kl_to_uniform']:.4f}"
        spread_text = f"{spread:.4g}" if spread is not None else ""
        lines.append(f"{name:<16} {r['value']:>12.5g} {spread_text:>10}  {note}")
        lines.extend(f"  warning: {w}" for w in r.get("warnings", []))
    return "\n".join(lines)


def run_evaluate(cfg: DictConfig) -> Path:
    if cfg.get("sweep"):
        from gan_lab.evaluation.sweep import evaluate_sweep

        return evaluate_sweep(cfg)
    if cfg.ckpt is None:
        raise UserError("pass ckpt=<run>/checkpoints/last.ckpt, or sweep=<multirun dir> to evaluate every job")
    report, out = evaluate_checkpoint(cfg)
    print(format_table(report))
    print(f"wrote {out}")
    return out

