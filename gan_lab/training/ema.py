"""Exponential moving average of generator weights (used for sampling and evaluation when on)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """decay: the EMA's decay per update. warmup: use min(decay, (1 + step) / (10 + step)) at update `step`
    (TensorFlow's ExponentialMovingAverage num_updates), so in a short run the average is not dominated
    by the random initial weights (0.999^2000 = 13.5% of them left after 2000 steps without warm-up)."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = False, buffers: str = "copy"):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        if buffers not in ("copy", "average"):
            raise ValueError(f"EMA buffers must be copy or average, got {buffers!r}")
        self.decay = decay
        self.warmup = warmup
        self.average_buffers = buffers == "average"
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """The decay used by the update after `step` previous updates (a function of the step, so resuming
        from a checkpoint continues the same schedule)."""
        return min(self.decay, (1.0 + step) / (10.0 + step)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int = 0) -> None:
        decay = self.decay_at(step)
        for ema_p, p in zip(self.model.parameters(), model.parameters(), strict=True):
            ema_p.lerp_(p.detach(), 1.0 - decay)
        # BatchNorm running statistics: copied from G, or (average) averaged like the weights. Copied
        # statistics belong to G's latest weights, not to the average, and a BatchNorm generator in eval
        # mode pays for the mismatch (docs/benchmarks.md, time to quality). Integer counters are copied.
        for ema_b, b in zip(self.model.buffers(), model.buffers(), strict=True):
            if self.average_buffers and ema_b.is_floating_point():
                ema_b.lerp_(b, 1.0 - decay)
            else:
                ema_b.copy_(b)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
