"""Latents and labels for pictures and metrics: a pure function of the seed, whatever ran before."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_lab.utils.rng import seeded


def latents(n: int, latent_dim: int, seed: int | torch.Generator, device="cpu") -> Tensor:
    """n standard-normal z of latent_dim, drawn on the CPU (the same numbers on every device)."""
    gen = seed if isinstance(seed, torch.Generator) else seeded(seed)
    return torch.randn(n, latent_dim, generator=gen).to(device)


def num_classes_of(generator: nn.Module) -> int:
    return int(getattr(generator, "num_classes", 0) or 0)


def balanced_labels(n: int, num_classes: int, device="cpu") -> Tensor | None:
    """Labels 0, 1, ..., K-1 repeated (None for an unconditional model, K = 0)."""
    return (torch.arange(n) % num_classes).to(device) if num_classes else None
