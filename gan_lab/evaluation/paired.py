"""Paired translation metrics per split: mean L1, PSNR and SSIM of G(source) against the target, and FID / KID of
the translations against the split's real targets (gan_lab.evaluation.paired_fidelity), plus a translation grid.

    python evaluate_paired.py ckpt=<run>/checkpoints/last.ckpt [split=[train,val]] [eval_mode=train]
        [metrics=[fid,kid]] [grid_rows=8] [batch_size=1] [limit=null] [seed=0] [data_dir=null] [out=null]
        (options: conf/evaluate_paired.yaml)

Evaluating train and val side by side shows overfitting (sharp on train, blurry
on val). Protocol, written into the JSON with every number: each split resized
straight to the model's image size (bicubic, no crop or flip), G run in
`eval_mode` (train: dropout on and BatchNorm on batch statistics, the paper's
test-time setting; eval: running statistics, no dropout) on batches of
`batch_size` (1 = per-image statistics, as in the paper), dropout seeded. Every
metric reads the same translations, quantised to uint8 as a saved PNG would be.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import Tensor
from torchvision.utils import save_image

from gan_lab.config import validate
from gan_lab.config.schemas import PairedFidelityConfig
from gan_lab.data.base import Batch, to_uint8, to_unit_range
from gan_lab.errors import UserError
from gan_lab.evaluation.common import library_versions, sha256_of
from gan_lab.evaluation.fidelity import fidelity_request
from gan_lab.evaluation.paired_fidelity import check_metric_names, setup_fidelity, split_fidelity
from gan_lab.loading import load_generator, run_dir_of
from gan_lab.utils.io import atomic_write_bytes
from gan_lab.utils.paths import relocate
from gan_lab.utils.rng import sampling_mode, seeded_model_rng

SSIM_WINDOW, SSIM_SIGMA = 11, 1.5


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB of uint8 images (data range 255); identical images give inf."""
    mse = (output.double() - target.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(255.0**2 / mse)


def _gaussian_window(channels: int) -> Tensor:
    coords = torch.arange(SSIM_WINDOW, dtype=torch.float64) - SSIM_WINDOW // 2
    g = torch.exp(-(coords**2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW)


def ssim(output: Tensor, target: Tensor) -> Tensor:
    """Per-image SSIM (Wang et al. 2004) of uint8 images: 11x11 Gaussian window, sigma 1.5, K1 0.01,
    K2 0.03, data range 255, valid positions only, averaged over positions and channels."""
    x, y = output.double(), target.double()
    channels = x.shape[1]
    window = _gaussian_window(channels).to(x.device)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)


@torch.no_grad()
def translate_batches(generator, sources: Tensor, eval_mode: str, batch_size: int, seed: int, device) -> Tensor:
    """G(source) for uint8 sources, as uint8, with the mode and dropout noise stated by the caller."""
    out = []
    with seeded_model_rng(seed), sampling_mode(generator, eval_mode):  # dropout draws in train mode
        for start in range(0, sources.shape[0], batch_size):
            chunk = to_unit_range(sources[start : start + batch_size]).to(device)
            out.append(to_uint8(generator(None, chunk)).cpu())
    return torch.cat(out)


def paired_metrics(outputs: Tensor, targets: Tensor) -> dict:
    """Mean L1 (images in [-1, 1], as in the training loss), PSNR (dB) and SSIM over a split (uint8 inputs)."""
    l1 = (to_unit_range(outputs) - to_unit_range(targets)).abs().flatten(1).mean(1)
    return {
        "l1": float(l1.mean()),
        "psnr": float(psnr(outputs, targets).mean()),
        "ssim": float(ssim(outputs, targets).mean()),
        "num_pairs": int(targets.shape[0]),
    }


def load_paired_data(cfg, data_dir: str | None, limit: int | None):
    """The run's paired data module, optionally from a moved data directory and with a pair limit."""
    from gan_lab.build import build_data

    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    if data_dir:  # the data dir moved since training
        cfg.dataset.root = relocate(cfg.dataset.root, OmegaConf.select(cfg, "paths.data_dir"), data_dir)
    cfg.dataset.limit = limit
    data = build_data(cfg)
    if not hasattr(data, "eval_pairs"):
        raise UserError(f"the checkpoint's dataset {cfg.dataset._target_} is not paired; this evaluates pix2pix runs")
    return data


def paired_request(ckpt, splits, eval_mode, batch_size, limit, seed, use_ema, metrics, fidelity) -> dict:
    """What determines the numbers of a paired evaluation: a result file holding another request is not overwritten."""
    request = {
        "checkpoint_sha256": sha256_of(ckpt),
        "splits": list(splits),
        "eval_mode": eval_mode,
        "batch_size": batch_size,
        "limit": limit,
        "seed": seed,
        "ema": use_ema,
        "metrics": sorted(metrics),
    }
    if metrics:
        request["fidelity"] = fidelity_request(fidelity)
    return request


def check_output(out: Path, request: dict) -> None:
    """Refuse to replace a result of another request (a rerun with the same request recomputes it)."""
    if not out.is_file():
        return
    try:
        earlier = json.loads(out.read_text())["protocol"].get("request")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        earlier = None
    if earlier == request:
        return
    differs = sorted(k for k in set(request) | set(earlier or {}) if (earlier or {}).get(k) != request.get(k))
    what = f"another request (differs in {', '.join(differs)})" if earlier else "a result without a recorded request"
    raise UserError(f"{out} already holds {what}; pass out=<another .json> to keep both")


def save_translation_grid(data, sources: Tensor, outputs: Tensor, targets: Tensor, rows: int, path: Path) -> Path:
    """Rows of `source | translated | target` (the training grid's layout) for the first `rows` pairs."""
    preview = Batch(real=to_unit_range(targets[:rows]), cond=to_unit_range(sources[:rows]))
    images = data.preview_images(to_unit_range(outputs[:rows]), preview)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=data.preview_nrow(images.shape[0]), normalize=True, value_range=(-1, 1))
    return path


def grid_path(out: Path, split: str) -> Path:
    return out.with_name(f"{out.stem}_{split}_grid.png")


def evaluate_paired(
    ckpt: str | Path,
    splits: tuple[str, ...] = ("train", "val"),
    eval_mode: str = "train",
    batch_size: int = 1,
    limit: int | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    use_ema: bool = True,
    device: str = "cpu",
    metrics: tuple[str, ...] = (),  # fid kid prc of the translations against the split's targets
    fidelity=None,  # overrides of PairedFidelityConfig (feature network, KID settings), a dict or DictConfig
    cache_dir: str | Path = ".cache/gan_lab",  # reference features of each split's targets
    grid_rows: int = 8,  # pairs per translation grid (with out); 0 = none
    out: str | Path | None = None,  # write the JSON here and the grids beside it; None = only return the result
) -> dict:
    """Metrics of a checkpoint's generator on each split, with the protocol that produced them."""
    if eval_mode not in ("train", "eval"):
        raise UserError(f"eval_mode must be train or eval, got {eval_mode!r}")
    if batch_size <= 0:
        raise UserError(f"batch_size must be positive, got {batch_size}")
    if grid_rows < 0:
        raise UserError(f"grid_rows must be >= 0, got {grid_rows}")
    fidelity = validate(fidelity or {}, PairedFidelityConfig, "fidelity.")
    metrics = list(metrics)
    check_metric_names(metrics)
    if not Path(ckpt).is_file():
        raise UserError(f"ckpt={ckpt}: no such checkpoint file")
    request = paired_request(ckpt, splits, eval_mode, batch_size, limit, seed, use_ema, metrics, fidelity)
    if out is not None:
        out = Path(out)
        check_output(out, request)  # before any work
    started = time.perf_counter()
    generator, cfg, state = load_generator(ckpt, use_ema=use_ema, device=device)
    data = load_paired_data(cfg, data_dir, limit)
    pairs = {split: data.eval_pairs(split) for split in splits}
    used_ema = bool(state.get("used_ema"))
    translation_fidelity = setup_fidelity(metrics, fidelity, cache_dir, [t.shape[0] for _, t in pairs.values()])
    results, grids = {}, {}
    for split, (sources, targets) in pairs.items():
        outputs = translate_batches(generator, sources, eval_mode, batch_size, seed, device)
        results[split] = paired_metrics(outputs, targets)
        if translation_fidelity is not None:
            results[split].update(split_fidelity(translation_fidelity, data, split, outputs, targets, used_ema, seed))
        if out is not None and grid_rows:
            grids[split] = str(save_translation_grid(data, sources, outputs, targets, grid_rows, grid_path(out, split)))
    result = {
        "checkpoint": str(Path(ckpt).resolve()),
        "step": int(state["step"]),
        "metrics": results,
        "grids": grids,
        "protocol": {
            "eval_mode": eval_mode,
            "batch_size": batch_size,
            "dropout_seed": seed,
            "used_ema": used_ema,
            "dataset": data.describe(),
            "direction": data.direction,
            "image_size": data.image_size,
            "pairs_per_split": {split: int(t.shape[0]) for split, (_, t) in pairs.items()},
            "preprocessing": "whole image resized to image_size (PIL bicubic), no crop, no flip",
            "l1": "mean |G(x) - y| over pixels and channels, images in [-1, 1], after uint8 quantisation",
            "psnr": "per-image PSNR in dB on uint8 RGB (data range 255), averaged over images",
            "ssim": "per-image SSIM, 11x11 Gaussian window sigma 1.5, K1=0.01 K2=0.03, range 255, valid positions, "
            "mean over RGB channels, averaged over images",
            "fidelity": translation_fidelity.describe() if translation_fidelity else None,
            "grid": f"first {grid_rows} pairs of each split, rows of source | translated | target" if grids else None,
            "limit": limit,
            "torch_threads": torch.get_num_threads(),
            "libraries": library_versions(),
            "seconds": round(time.perf_counter() - started, 1),
            "request": request,
        },
    }
    if out is not None:
        write_result(result, out)
    return result


def default_output(ckpt: str | Path, splits: tuple[str, ...], eval_mode: str) -> Path:
    return run_dir_of(ckpt) / "eval" / f"paired_{Path(ckpt).stem}_{'-'.join(splits)}_{eval_mode}.json"


def write_result(result: dict, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, (json.dumps(result, indent=2) + "\n").encode())
    return path


def format_table(result: dict) -> str:
    protocol, rows = result["protocol"], result["metrics"]
    names = [m for m in ("fid", "kid", "prc") if any(m in r for r in rows.values())]
    header = f"{'split':<8}{'pairs':>7}{'L1':>9}{'PSNR dB':>10}{'SSIM':>8}" + "".join(f"{m.upper():>10}" for m in names)
    lines = [f"{header}   (eval_mode={protocol['eval_mode']}, EMA {'on' if protocol['used_ema'] else 'off'})"]
    for split, m in rows.items():
        line = f"{split:<8}{m['num_pairs']:>7}{m['l1']:>9.4f}{m['psnr']:>10.2f}{m['ssim']:>8.4f}"
        lines.append(line + "".join(f"{m[name]['value']:>10.4g}" for name in names))
    f = protocol["fidelity"]
    if f:
        sizes = ", ".join(f"{m['kid']['subset_size']} ({split})" for split, m in rows.items() if "kid" in m)
        kid = f"; KID: {f['kid_subsets']} subsets of {sizes}" if sizes else ""
        lines.append(f"{'/'.join(n.upper() for n in names)}: {f['feature_network']['name']} features of the "
                     f"translations vs the split's real targets{kid}")
        warnings = {w for m in rows.values() for name in names for w in m[name]["warnings"]}
        lines.extend(f"  warning: {w}" for w in sorted(warnings))
    return "\n".join(lines)
