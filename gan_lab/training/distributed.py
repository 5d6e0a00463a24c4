"""DistributedDataParallel through PyTorch's own engine, launched by torchrun.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; we
join the process group from the environment: gloo on CPU, nccl on CUDA. With
one process (no torchrun) everything here is a no-op, so the single-process
path stays exactly as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from gan_lab.errors import UserError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistContext()


def init_distributed(strategy: str, device: torch.device) -> tuple[DistContext, torch.device]:
    """Join the process group for strategy=ddp; return the context and this rank's device."""
    if strategy == "single":
        return SINGLE, device
    if strategy != "ddp":
        raise UserError(f"unknown trainer.strategy {strategy!r}; use single or ddp")
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise UserError(
            "trainer.strategy=ddp needs torchrun: torchrun --nproc_per_node=N train.py trainer.strategy=ddp ..."
        )
    ctx = DistContext(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ctx, device


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, ctx: DistContext, device: torch.device, sync_batchnorm: bool = False) -> nn.Module:
    """DDP wrapper for training forwards; the bare module is kept for checkpoints and sampling."""
    if not ctx.enabled:
        return module
    if sync_batchnorm:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def all_reduce_(tensor: torch.Tensor, ctx: DistContext, op=None) -> torch.Tensor:
    if ctx.enabled:
        dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
    return tensor


def all_true(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank only when flag is True on every rank (so all ranks take the same branch)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def any_true(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    return not all_true(not flag, ctx, device)


def gather_objects(obj, ctx: DistContext) -> list:
    if not ctx.enabled:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, ctx: DistContext):
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
