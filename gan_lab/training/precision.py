"""Device and numeric precision: autocast context and one GradScaler per network."""

from __future__ import annotations

import contextlib
from functools import cache

import torch

from gan_lab.errors import UserError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CHOICES = ("auto", *PRECISIONS)


@cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX), read from /proc/cpuinfo.

    Without it, bf16 autocast on CPU is emulated and usually slower than fp32.
    """
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: stay with fp32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """trainer.precision=auto -> the concrete precision used here, recorded in the run config.

    auto: bf16 on a CPU with native bf16 (measured ~1.7x faster for DCGAN, see docs/benchmarks.md) and on
    a GPU that supports it; fp32 otherwise. fp16 (needs loss scaling) is only used when asked for.
    """
    if name not in CHOICES:
        raise UserError(f"unknown trainer.precision {name!r}; use one of {', '.join(CHOICES)}")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


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
        name = resolve_precision(name, device)
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
