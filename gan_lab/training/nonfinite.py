"""The non-finite guard's pieces shared by the step (losses, gradients) and the checkpoint writer (weights)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gan_lab.errors import UserError


class NonFiniteError(UserError):
    """A loss or gradient became NaN / inf under nonfinite=stop."""


def all_finite(tensors: list[Tensor]) -> Tensor:
    """One fused norm per tensor and a single reduction: a 0-d bool tensor, read with one host sync."""
    return torch.isfinite(torch.stack(torch._foreach_norm(tensors))).all()


def last_good_checkpoint(run_dir: Path) -> str:
    """Where a stopped run can be resumed from (nothing is written after a non-finite step)."""
    last = Path(run_dir) / "checkpoints" / "last.ckpt"
    return f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written yet"


def check_weights_finite(nets: tuple[nn.Module, ...], step: int, run_dir: Path) -> None:
    """With only losses checked per step, a NaN gradient under a finite loss reaches the weights
    unseen; never write such weights over the last good checkpoint."""
    tensors = [t.detach() for net in nets for t in net.state_dict().values() if t.is_floating_point()]
    if not bool(all_finite(tensors)):
        raise NonFiniteError(
            f"non-finite weights at step {step} (trainer.nonfinite_check=loss checks only the losses "
            f"every step); {last_good_checkpoint(run_dir)}; set trainer.nonfinite_check=grads to stop at the step"
        )
