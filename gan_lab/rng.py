"""Seeded randomness inside models, for sampling.

Latents come from a torch.Generator seeded by the caller, but a model may also draw
inside forward (StyleGAN's per-pixel noise, style mixing in train mode, dropout in
pix2pix's train-mode sampling) from torch's global RNG. `seeded_model_rng(seed)`
forks that RNG and seeds it from `seed`, so those draws are a function of the
call's seed too, and the caller's own stream is left exactly as it was.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch


def model_rng_seed(seed: int) -> int:
    """A seed for the in-model draws, derived from the call's seed but not equal to it, so StyleGAN's
    noise maps are not the very numbers drawn for z from torch.Generator().manual_seed(seed)."""
    return int(np.random.SeedSequence([int(seed), 0x6E6F697365]).generate_state(1)[0])  # "noise"


@contextlib.contextmanager
def seeded_model_rng(seed: int):
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(model_rng_seed(seed))
        yield
