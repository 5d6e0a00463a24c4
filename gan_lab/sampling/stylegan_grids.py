"""StyleGAN's two figures (Karras et al. 2019): the style-mixing grid (Fig. 3) and the noise-resampling grid
with its per-pixel standard deviation (Fig. 4).

They need the generator's synthesis hook (gan_lab/models/stylegan.py):

    G.mapping(z: (N, latent_dim)) -> w (N, w_dim)
    G.synthesis(styles: num_layers x (N, w_dim), noise: num_layers x (N or 1, 1, r, r)) -> images (N, C, H, W)
    G.layer_resolutions -> [r of each style layer]

The noise maps are given, not drawn inside the model: noise realization k is a pure function of
(noise_seed, k), the same for every image of a grid, so a style-mixing cell differs from its sources only
by the styles, and a noise-resampling column only by its noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from gan_lab.errors import UserError
from gan_lab.utils.latents import latents

NOISE_STREAM = 0x7374796C65  # "style": keeps the noise maps apart from z drawn with the same seed


def has_style_hook(generator: nn.Module) -> bool:
    methods = all(callable(getattr(generator, name, None)) for name in ("mapping", "synthesis"))
    return methods and hasattr(generator, "layer_resolutions")


def require_style_hook(generator: nn.Module, mode: str) -> None:
    if not has_style_hook(generator):
        raise UserError(
            f"mode={mode} needs a StyleGAN generator (mapping, per-layer synthesis); this checkpoint's generator "
            f"is {type(generator).__name__}: use mode=grid or mode=interpolate"
        )


# -- noise maps ----------------------------------------------------------------------------------------------
def noise_realization(generator: nn.Module, noise_seed: int, k: int, strength: float, device) -> list[Tensor]:
    """Noise realization k: one (1, 1, r, r) map per style layer, drawn on the CPU from (noise_seed, k) only,
    times `strength` (0 = no noise)."""
    seed = int(np.random.SeedSequence([int(noise_seed), int(k), NOISE_STREAM]).generate_state(1)[0])
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(1, 1, r, r, generator=gen) * strength).to(device) for r in generator.layer_resolutions]


def noise_batch(generator: nn.Module, noise_seed: int, count: int, strength: float, device) -> list[Tensor]:
    """Realizations 0..count-1 stacked per layer: (count, 1, r, r) maps."""
    draws = [noise_realization(generator, noise_seed, k, strength, device) for k in range(count)]
    return [torch.cat(per_layer) for per_layer in zip(*draws, strict=True)]


# -- style mixing ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MixGroup:
    """A row group of the style-mixing grid: style layers [start, stop) come from source B."""

    name: str
    start: int
    stop: int


def default_mix_groups(layer_resolutions: list[int]) -> list[MixGroup]:
    """Coarse / middle / fine: the resolutions split in three, low first (the paper, at 1024 px: 4-8, 16-32,
    64-1024; at 32 px: 4-8, 16, 32). Fewer than three resolutions give fewer groups."""
    resolutions = sorted(set(layer_resolutions))
    groups = []
    for name, part in zip(("coarse", "middle", "fine"), np.array_split(np.array(resolutions), 3), strict=True):
        layers = [i for i, r in enumerate(layer_resolutions) if r in set(part.tolist())]
        if layers:
            groups.append(MixGroup(name, layers[0], layers[-1] + 1))
    return groups


def mix_groups(layer_resolutions: list[int], ranges: list | None) -> list[MixGroup]:
    """The user's [start, stop) ranges (mix_layers=[[0,4],[4,8]]) checked against the generator, or the default."""
    if ranges is None:
        return default_mix_groups(layer_resolutions)
    n = len(layer_resolutions)
    layout = ", ".join(f"{r}px {i}" for i, r in enumerate(layer_resolutions))
    groups = []
    for entry in ranges:
        entry = list(entry)
        if len(entry) != 2 or not all(isinstance(v, int) for v in entry) or not 0 <= entry[0] <= entry[1] <= n:
            raise UserError(
                f"mix_layers takes [start, stop) ranges of style layers with 0 <= start <= stop <= {n}, "
                f"e.g. mix_layers=[[0,4],[4,{n}]]; got {entry} (this generator's layers: {layout})"
            )
        groups.append(MixGroup(f"layers {entry[0]}-{entry[1] - 1}" if entry[1] > entry[0] else "none", *entry))
    if not groups:
        raise UserError("mix_layers is empty; give at least one [start, stop) range or null for coarse/middle/fine")
    return groups


def mixed_styles(w_a: Tensor, w_b: Tensor, group: MixGroup, num_layers: int) -> list[Tensor]:
    return [w_b if group.start <= i < group.stop else w_a for i in range(num_layers)]


@torch.no_grad()
def style_mixing_grid(
    generator: nn.Module, sources_a: int, sources_b: int, groups: list[MixGroup], seed: int, noise_seed: int,
    noise_strength: float, device,
) -> Tensor:
    """Images (1 + len(groups) * sources_b, 1 + sources_a, C, H, W). Row 0: the A sources (cell 0 blank);
    then per group, sources_b rows: column 0 source B, column 1 + a = B's w at the group's layers and A's
    at the others. z of A then B from `seed`; one noise realization for every image. Each image is made on
    its own (batched kernels round with the batch size), so a cell taking no layer from B is exactly A."""
    require_style_hook(generator, "style_mixing")
    num_layers = len(generator.layer_resolutions)
    w = generator.mapping(latents(sources_a + sources_b, generator.latent_dim, seed, device))
    w_a, w_b = w[:sources_a], w[sources_a:]
    noise = noise_realization(generator, noise_seed, 0, noise_strength, device)

    def image(styles: list[Tensor]) -> Tensor:
        return generator.synthesis(styles, noise)[0].float()

    a_images = [image([w_a[i : i + 1]] * num_layers) for i in range(sources_a)]
    b_images = [image([w_b[j : j + 1]] * num_layers) for j in range(sources_b)]
    blank = torch.full_like(a_images[0], -1.0)  # black, like the grid's padding
    rows = [torch.stack([blank, *a_images])]
    for group in groups:
        for j in range(sources_b):
            cells = [image(mixed_styles(w_a[i : i + 1], w_b[j : j + 1], group, num_layers)) for i in range(sources_a)]
            rows.append(torch.stack([b_images[j], *cells]))
    return torch.stack(rows)


# -- noise resampling ------------------------------------------------------------------------------------------
@torch.no_grad()
def noise_resampling_grid(
    generator: nn.Module, rows: int, resamples: int, std_samples: int, seed: int, noise_seed: int,
    noise_strength: float, device,
) -> tuple[Tensor, Tensor]:
    """(images (rows, resamples, C, H, W), std (rows, H, W)): row i keeps w_i (z from `seed`) and takes noise
    realizations 0..resamples-1; std is each pixel's standard deviation over realizations 0..std_samples-1,
    averaged over the colour channels (the paper's Fig. 4c)."""
    require_style_hook(generator, "noise_resampling")
    num_layers = len(generator.layer_resolutions)
    count = max(resamples, std_samples)
    noise = noise_batch(generator, noise_seed, count, noise_strength, device)
    w = generator.mapping(latents(rows, generator.latent_dim, seed, device))
    images, stds = [], []
    for i in range(rows):
        batch = generator.synthesis([w[i : i + 1].expand(count, -1)] * num_layers, noise).float()
        images.append(batch[:resamples])
        stds.append(batch[:std_samples].std(dim=0, unbiased=False).mean(dim=0))
    return torch.stack(images), torch.stack(stds)


def with_std_column(images: Tensor, std: Tensor) -> tuple[Tensor, float]:
    """The noise-resampling picture: each row's images, then its std map as an image on one scale for the
    whole grid, black 0 and white the largest std (returned, so the picture reads back to numbers)."""
    scale = float(std.max())
    shown = std / scale if scale > 0 else torch.zeros_like(std)
    std_images = (shown * 2 - 1)[:, None, None].expand(-1, 1, images.shape[2], -1, -1)
    return torch.cat([images, std_images.to(images.dtype)], dim=1), scale
