"""Rebuild models from a checkpoint alone (its resolved config travels with it)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gan_lab.build import build_generator
from gan_lab.errors import UserError
from gan_lab.training.checkpoint import load_checkpoint


def load_generator(
    ckpt_path: str | Path, use_ema: bool = True, device: torch.device | str = "cpu"
) -> tuple[nn.Module, DictConfig, dict]:
    """The generator of a checkpoint in eval mode: EMA weights when present and asked for."""
    state = load_checkpoint(ckpt_path)
    cfg = OmegaConf.create(state["config"])
    generator = build_generator(cfg)
    weights = state["ema"] if use_ema and state.get("ema") is not None else state["generator"]
    try:
        generator.load_state_dict(weights)
    except RuntimeError as err:
        raise UserError(f"checkpoint {ckpt_path} does not match its own model config: {err}") from err
    state["used_ema"] = weights is state.get("ema")
    return generator.to(device).eval(), cfg, state


def run_dir_of(ckpt_path: str | Path) -> Path:
    """<run>/checkpoints/x.ckpt -> <run>."""
    ckpt_path = Path(ckpt_path).resolve()
    return ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
