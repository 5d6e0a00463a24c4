"""Randomness that does not disturb a run: pictures and metrics drawn without touching the training's random
streams or network state, and seeded generators for sampling (self-contained: torch, numpy, random only).

Latents come from a torch.Generator seeded by the caller (`seeded`), but a model may also draw inside forward
(StyleGAN's per-pixel noise, style mixing in train mode, dropout in pix2pix's train-mode sampling) from torch's
global RNG. `seeded_model_rng(seed)` forks that RNG and seeds it from `seed`, so those draws are a function of
the call's seed too, and the caller's own stream is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch
from torch import nn


def seeded(seed: int) -> torch.Generator:
    """A CPU generator of its own: what it draws depends on `seed` only, not on anything run before."""
    return torch.Generator().manual_seed(int(seed))


def model_rng_seed(seed: int) -> int:
    """A seed for the in-model draws, derived from the call's seed but not equal to it, so StyleGAN's
    noise maps are not the very numbers drawn for z from torch.Generator().manual_seed(seed)."""
    return int(np.random.SeedSequence([int(seed), 0x6E6F697365]).generate_state(1)[0])  # "noise"


@contextlib.contextmanager
def seeded_model_rng(seed: int):
    """torch's global RNG forked and seeded from model_rng_seed(seed) for the block (in-model draws)."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(model_rng_seed(seed))
        yield


@contextlib.contextmanager
def preserved_rng():
    """Run pictures and metrics without consuming the training RNG streams, so how often
    they run (sample_every, eval_every, a resume) never changes the training trajectory."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


@contextlib.contextmanager
def sampling_mode(model: nn.Module, mode: str):
    """Run G for pictures without changing training state.

    eval: BatchNorm uses running statistics, dropout off. train: batch
    statistics and dropout (pix2pix's test-time setting); running statistics
    are saved and restored so drawing a grid never alters the run. The RNG is
    forked too: dropout draws for a picture do not shift the training stream,
    so a resumed run stays exact however its grids were drawn.
    """
    was_training = model.training
    saved = {k: v.clone() for k, v in model.state_dict().items()} if mode == "train" else None
    model.train(mode == "train")
    cuda_devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=cuda_devices):
            yield model
    finally:
        if saved is not None:
            model.load_state_dict(saved)
        model.train(was_training)
