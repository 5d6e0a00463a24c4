"""Drawing pictures and metrics without touching the training's random streams or network state."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch
from torch import nn


def seeded(seed: int) -> torch.Generator:
    """A CPU generator of its own: what it draws depends on `seed` only, not on anything run before."""
    return torch.Generator().manual_seed(int(seed))


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
