"""Pieces every metric shares: generated samples as uint8, a file cache, hashes, library versions."""

from __future__ import annotations

import hashlib
import io
import os
import platform
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gan_lab.data.base import to_uint8
from gan_lab.rng import seeded_model_rng
from gan_lab.training.checkpoint import atomic_write_bytes


@torch.no_grad()
def generate_samples(
    generator: nn.Module, n: int, seed: int, batch_size: int = 250, device: torch.device | str = "cpu"
) -> tuple[Tensor, Tensor | None]:
    """n images from G as uint8 (n, C, H, W), and the labels they were asked for (None if unconditional).

    z comes from a generator seeded with `seed` and in-model draws from torch's RNG forked and seeded
    from it, so the same seed (and batch_size) gives the same samples.
    Class-conditional models get balanced labels 0, 1, ..., K-1 repeated.
    """
    gen = torch.Generator().manual_seed(seed)
    latent_dim = getattr(generator, "latent_dim", 0)
    classes = getattr(generator, "num_classes", 0) or 0
    labels = torch.arange(n) % classes if classes else None
    out = []
    with seeded_model_rng(seed):  # in-model draws (StyleGAN's noise) follow the seed too
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            z = torch.randn(b, latent_dim, generator=gen).to(device) if latent_dim else None
            cond = labels[start : start + b].to(device) if labels is not None else None
            out.append(to_uint8(generator(z, cond)).cpu())
    return torch.cat(out), labels


def to_rgb(images: Tensor) -> Tensor:
    """Grey (N, 1, H, W) -> (N, 3, H, W) by repetition, as ImageNet networks expect 3 channels."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class UInt8ImageSet(torch.utils.data.Dataset):
    """A uint8 (N, C, H, W) tensor as the Dataset of 3xHxW uint8 images torch-fidelity reads."""

    def __init__(self, images: Tensor):
        assert images.dtype == torch.uint8 and images.dim() == 4, "expected uint8 (N, C, H, W)"
        self.images = images

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> Tensor:
        return to_rgb(self.images[i : i + 1])[0].contiguous()


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached(path: Path, compute):
    """(value, hit): load `path` if it exists, else compute, save atomically and return it."""
    if path.is_file():
        return torch.load(path, map_location="cpu", weights_only=False), True
    value = compute()
    buffer = io.BytesIO()
    torch.save(value, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return value, False


def library_versions() -> dict[str, str]:
    import scipy
    import torch_fidelity
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_fidelity": torch_fidelity.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
