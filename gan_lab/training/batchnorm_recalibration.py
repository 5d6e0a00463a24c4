"""BatchNorm statistics recomputed for the weights that draw (trainer.bn_recalibration).

A generator sampled in eval mode normalises with running statistics, and those rarely belong to its weights:
G's own average its last ~10 weight states (momentum 0.1), an EMA generator's are copied from G or averaged
with the weights (trainer.ema_buffers). Recomputing them on fresh latents with the weights held fixed improved
classifier FID in a screen (docs/benchmarks.md, "EMA + BatchNorm needs matching statistics").

`recalibrate_batchnorm` is torch.optim.swa_utils.update_bn for a generator: inputs are (z, cond) drawn from
its own seeded torch.Generator, only the BatchNorm layers run in train mode (dropout or train-time style
mixing would give statistics of a network that sampling never runs), and every flag is restored per module.
It runs in fp32 (autocast off): evaluate.py and the in-training metric draw in fp32, so these are the
statistics they need.
`RecalibratedCopy` applies it to a copy of the sampling generator, so neither G nor the EMA (which a resumed
run continues from) ever changes.
"""

from __future__ import annotations

import copy
import sys

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from gan_lab.errors import UserError
from gan_lab.utils.latents import balanced_labels, latents, num_classes_of
from gan_lab.utils.rng import seeded, seeded_model_rng

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def batchnorm_layers(model: nn.Module) -> dict[str, _BatchNorm]:
    """name -> BatchNorm layer (any dimension, SyncBatchNorm too) that keeps running statistics."""
    return {n: m for n, m in model.named_modules() if isinstance(m, _BatchNorm) and m.track_running_stats}


def recalibration_inputs(generator: nn.Module, batches: int, batch_size: int, seed: int, device):
    """(z, cond) per batch: standard-normal z from a generator of its own (drawn on the CPU, so the same on every
    device) and, for a class-conditional G, labels 0..K-1 repeated over all batches, as evaluation draws them."""
    gen = seeded(seed)
    labels = balanced_labels(batches * batch_size, num_classes_of(generator))
    for i in range(batches):
        z = latents(batch_size, generator.latent_dim, gen, device)
        cond = labels[i * batch_size : (i + 1) * batch_size].to(device) if labels is not None else None
        yield z, cond


@torch.no_grad()
def recalibrate_batchnorm(
    generator: nn.Module, batches: int, batch_size: int, seed: int, device: torch.device | str | None = None
) -> int:
    """Reset every BatchNorm's running statistics and recompute them as the plain average (momentum=None) over
    `batches` batches of fresh inputs. Returns the number of layers recomputed (0: nothing to do, G untouched).
    Deterministic given `seed`; torch's global RNG is forked (in-model draws follow the seed) and left as it was."""
    layers = batchnorm_layers(generator)
    if not layers or batches <= 0:
        return 0
    if device is None:
        device = next(generator.buffers()).device
    training = {module: module.training for module in generator.modules()}
    momenta = {bn: bn.momentum for bn in layers.values()}
    try:
        generator.eval()
        for bn in layers.values():
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over the batches, not an exponential one
            bn.train()
        with seeded_model_rng(seed), torch.autocast(torch.device(device).type, enabled=False):
            for z, cond in recalibration_inputs(generator, batches, batch_size, seed, device):
                generator(z, cond)
    finally:
        for bn, momentum in momenta.items():
            bn.momentum = momentum
        for module, flag in training.items():  # per module: .train(flag) would overwrite a submodule's own mode
            module.training = flag
    return len(layers)


class RecalibratedCopy:
    """The sampling generator with recomputed statistics: a copy of it, recalibrated at most once per training
    step (grids, the in-training metric and a checkpoint at one step share it)."""

    def __init__(self, batches: int, batch_size: int, seed: int):
        self.batches, self.batch_size, self.seed = batches, batch_size, seed
        self._copy: nn.Module | None = None
        self._step: int | None = None

    def __call__(self, source: nn.Module, step: int) -> nn.Module:
        if self._copy is None:
            self._copy = copy.deepcopy(source).eval().requires_grad_(False)  # eval, as the EMA model is kept
            for p in self._copy.parameters():
                p.grad = None  # G's gradients are not part of a sampling copy
        if self._step != step:
            self._copy.load_state_dict(source.state_dict())
            recalibrate_batchnorm(self._copy, self.batches, self.batch_size, self.seed)
            self._step = step
        return self._copy

    def forget(self) -> None:
        """The source changed without a new step (a resume): recalibrate at the next call."""
        self._step = None

    def describe(self) -> dict:
        return {"batches": self.batches, "batch_size": self.batch_size, "seed": self.seed}

    def checkpoint_entry(self, source: nn.Module, step: int, weights: str) -> dict:
        """What a checkpoint stores: the recomputed buffers, which weights they belong to ("ema" | "generator")
        and how they were computed. loading.load_generator puts them on top of those weights."""
        recalibrated = self(source, step)
        buffers = {
            f"{name}.{key}": getattr(bn, key).detach().clone()
            for name, bn in batchnorm_layers(recalibrated).items()
            for key in BUFFERS
        }
        return {"weights": weights, **self.describe(), "buffers": buffers}


def recalibration_seed(run_seed: int) -> int:
    """The latents' seed, derived from the run's seed but not equal to it (nor to the grids' seed + 12345), so
    the statistics are not fitted to the very latents evaluate.py (seed 0) or the grids draw."""
    return int(np.random.SeedSequence([int(run_seed), 0x626E]).generate_state(1)[0])  # "bn"


def build_recalibration(cfg, generator: nn.Module, run_seed: int, batch_size: int, log: bool = True):
    """trainer.bn_recalibration -> a RecalibratedCopy, or None when off or when G has no BatchNorm layer with
    running statistics (said in one line: the option then changes nothing)."""
    if not cfg.batches:
        return None
    name = type(generator).__name__
    if not batchnorm_layers(generator):
        if log:
            print(f"trainer.bn_recalibration: {name} has no BatchNorm layers; nothing to recompute", file=sys.stderr)
        return None
    if not getattr(generator, "latent_dim", 0):
        raise UserError(
            f"trainer.bn_recalibration draws latents, but {name} takes no z (an image-to-image generator: sample it "
            f"with trainer.sample_mode=train); set trainer.bn_recalibration.batches=0"
        )
    return RecalibratedCopy(int(cfg.batches), int(cfg.batch_size or batch_size), recalibration_seed(run_seed))
