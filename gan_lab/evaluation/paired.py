"""Paired translation metrics: mean L1, PSNR and SSIM of G(source) against the target, per split.

    python evaluate_paired.py ckpt=<run>/checkpoints/last.ckpt [split=[train,val]] [eval_mode=train]
        [batch_size=1] [limit=null] [seed=0] [data_dir=null] [out=null]      (options: conf/evaluate_paired.yaml)

Evaluating train and val side by side shows overfitting (sharp on train, blurry
on val). Protocol, written into the JSON with every number: each split resized
straight to the model's image size (bicubic, no crop or flip), G run in
`eval_mode` (train: dropout on and BatchNorm on batch statistics, the paper's
test-time setting; eval: running statistics, no dropout) on batches of
`batch_size` (1 = per-image statistics, as in the paper), dropout seeded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import Tensor

from gan_lab.data.base import to_uint8, to_unit_range
from gan_lab.errors import UserError
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
) -> dict:
    """Metrics of a checkpoint's generator on each split, with the protocol that produced them."""
    if eval_mode not in ("train", "eval"):
        raise UserError(f"eval_mode must be train or eval, got {eval_mode!r}")
    if batch_size <= 0:
        raise UserError(f"batch_size must be positive, got {batch_size}")
    generator, cfg, state = load_generator(ckpt, use_ema=use_ema, device=device)
    data = load_paired_data(cfg, data_dir, limit)
    results = {}
    started = time.perf_counter()
    for split in splits:
        sources, targets = data.eval_pairs(split)
        outputs = translate_batches(generator, sources, eval_mode, batch_size, seed, device)
        results[split] = paired_metrics(outputs, targets)
    return {
        "checkpoint": str(Path(ckpt).resolve()),
        "step": int(state["step"]),
        "metrics": results,
        "protocol": {
            "eval_mode": eval_mode,
            "batch_size": batch_size,
            "dropout_seed": seed,
            "used_ema": bool(state.get("used_ema")),
            "dataset": data.describe(),
            "direction": data.direction,
            "image_size": data.image_size,
            "preprocessing": "whole image resized to image_size (PIL bicubic), no crop, no flip",
            "l1": "mean |G(x) - y| over pixels and channels, images in [-1, 1], after uint8 quantisation",
            "psnr": "per-image PSNR in dB on uint8 RGB (data range 255), averaged over images",
            "ssim": "per-image SSIM, 11x11 Gaussian window sigma 1.5, K1=0.01 K2=0.03, range 255, valid positions, "
            "mean over RGB channels, averaged over images",
            "limit": limit,
            "torch_threads": torch.get_num_threads(),
            "seconds": round(time.perf_counter() - started, 1),
        },
    }


def default_output(ckpt: str | Path, result: dict) -> Path:
    splits = "-".join(result["metrics"])
    return run_dir_of(ckpt) / "eval" / f"paired_{Path(ckpt).stem}_{splits}_{result['protocol']['eval_mode']}.json"


def write_result(result: dict, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, (json.dumps(result, indent=2) + "\n").encode())
    return path


def format_table(result: dict) -> str:
    mode = result["protocol"]["eval_mode"]
    lines = [f"{'split':<8}{'pairs':>7}{'L1':>9}{'PSNR dB':>10}{'SSIM':>8}   (eval_mode={mode})"]
    for split, m in result["metrics"].items():
        lines.append(f"{split:<8}{m['num_pairs']:>7}{m['l1']:>9.4f}{m['psnr']:>10.2f}{m['ssim']:>8.4f}")
    return "\n".join(lines)
