"""Small stand-ins that configs can point at (`loss._target_=tests.fakes.NonFiniteLoss`), for failure tests."""

from __future__ import annotations

import torch

from gan_lab.losses import BCELoss
from gan_lab.models.dcgan import DCGANDiscriminator, DCGANGenerator


class NonFiniteLoss(BCELoss):
    """BCE, except that at the given (1-based) training steps the generator loss is NaN, or (gradient=true)
    finite with NaN gradients. A step is counted by generator_loss calls: one per step."""

    def __init__(self, bad_steps: list[int], gradient: bool = False, real_label: float = 1.0):
        super().__init__(real_label)
        self.bad_steps = {int(s) for s in bad_steps}
        self.gradient = gradient
        self.calls = 0

    def generator_loss(self, D, fake, cond, real):
        self.calls += 1
        loss, logs = super().generator_loss(D, fake, cond, real)
        if self.calls in self.bad_steps:
            if self.gradient:
                fake.register_hook(lambda grad: grad * float("nan"))
            else:
                loss = loss * float("nan")
        return loss, logs


class ConditionalGenerator(DCGANGenerator):
    """A DCGAN generator that declares num_classes (it ignores the labels): enough for the data/model checks."""

    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes


class ConditionalDiscriminator(DCGANDiscriminator):
    def __init__(self, num_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes


def snapshot(directory) -> dict[str, bytes]:
    """Every file under directory (relative path -> bytes), to prove a refused run changed nothing."""
    from pathlib import Path

    root = Path(directory)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def all_params(state: dict) -> dict[str, torch.Tensor]:
    """Model, discriminator and EMA tensors of a checkpoint, keyed by part.name."""
    parts = ("generator", "discriminator", "ema")
    return {f"{part}.{k}": v for part in parts for k, v in (state.get(part) or {}).items()}
