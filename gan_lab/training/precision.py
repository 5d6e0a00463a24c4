"""Device and numeric precision: autocast context and one GradScaler per network."""

from __future__ import annotations

import contextlib

import torch

from gan_lab.errors import UserError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"trainer.device={name} but CUDA is not available here; use trainer.device=cpu or auto")
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"unknown trainer.device {name!r}; use auto, cpu or cuda[:N]")
    return torch.device(name)


class Precision:
    """fp32, or autocast in bf16 / fp16. fp16 needs loss scaling, with a separate
    scaler for G and D (a shared scaler is a known source of NaNs in WGAN-GP)."""

    def __init__(self, name: str, device: torch.device):
        if name not in PRECISIONS:
            raise UserError(f"unknown trainer.precision {name!r}; use one of {', '.join(PRECISIONS)}")
        if name == "fp16" and device.type != "cuda":
            raise UserError("trainer.precision=fp16 needs CUDA; on CPU use bf16 or fp32")
        self.name = name
        self.device = device
        self.dtype = PRECISIONS[name]

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def make_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.name == "fp16")
