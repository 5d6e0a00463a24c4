"""Learning-rate schedules, built from optional `scheduler` config partials.

`scheduler.generator` / `scheduler.discriminator` are partials of any
torch.optim.lr_scheduler class or factory taking the optimizer first; a factory
with a `total_steps` parameter also receives the run length in generator steps.
The trainer steps each schedule once per generator step and keeps its state in
the checkpoint, so a resumed run continues the same schedule.
"""

from __future__ import annotations

import inspect

import torch
from omegaconf import DictConfig

from gan_lab.errors import UserError


def linear_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, decay_start: float = 0.5
) -> torch.optim.lr_scheduler.LambdaLR:
    """Constant rate until decay_start * total_steps, then linearly down to 0 at total_steps."""
    if not 0.0 <= decay_start < 1.0:
        raise UserError(f"scheduler.decay_start must be in [0, 1), got {decay_start}")
    start = int(decay_start * total_steps)
    span = max(1, total_steps - start)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - max(0, step - start) / span)


def make_scheduler(factory, optimizer: torch.optim.Optimizer, total_steps: int):
    """factory(optimizer[, total_steps=...]) or None when no schedule is configured."""
    if factory is None:
        return None
    try:
        wants_length = "total_steps" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins without a signature
        wants_length = False
    return factory(optimizer, total_steps=total_steps) if wants_length else factory(optimizer)


def build_scheduler_factories(cfg: DictConfig) -> tuple:
    """(generator, discriminator) schedule partials from the optional `scheduler` group; None = constant rate."""
    from gan_lab.build import _instantiate

    node = cfg.get("scheduler") or {}
    return tuple(
        _instantiate(node[name], f"scheduler.{name}") if node.get(name) is not None else None
        for name in ("generator", "discriminator")
    )
