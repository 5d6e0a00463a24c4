"""Pictures from a trained generator: sample grids."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torchvision.utils import save_image

from gan_lab.errors import UserError
from gan_lab.loading import load_generator, run_dir_of
from gan_lab.training.precision import resolve_device


def latents(n: int, latent_dim: int, seed: int, device) -> Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=gen).to(device)


def grid_conditions(generator: nn.Module, n: int, device) -> Tensor | None:
    """Labels 0..K-1 repeated for class-conditional generators, else None."""
    classes = getattr(generator, "num_classes", 0) or 0
    return (torch.arange(n) % classes).to(device) if classes else None


def default_nrow(generator: nn.Module, n: int) -> int:
    classes = getattr(generator, "num_classes", 0) or 0
    if classes and n % classes == 0:
        return classes
    return max(1, int(round(n**0.5)))


@torch.no_grad()
def sample_grid(generator: nn.Module, n: int, seed: int, device) -> Tensor:
    z = latents(n, generator.latent_dim, seed, device)
    return generator(z, grid_conditions(generator, n, device)).float()


def run_sample(cfg: DictConfig) -> list[Path]:
    if cfg.n <= 0:
        raise UserError(f"n must be a positive number of images, got {cfg.n}")
    device = resolve_device(cfg.device)
    generator, _, state = load_generator(cfg.ckpt, use_ema=cfg.ema, device=device)
    if cfg.mode != "grid":
        raise UserError(f"unknown mode {cfg.mode!r}; use mode=grid")
    out = Path(cfg.out) if cfg.out else run_dir_of(cfg.ckpt) / "samples" / f"grid_seed{cfg.seed}.png"
    images = sample_grid(generator, cfg.n, cfg.seed, device)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, out, nrow=cfg.nrow or default_nrow(generator, cfg.n), normalize=True, value_range=(-1, 1))
    return [out]
