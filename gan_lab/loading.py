"""Rebuild models from a checkpoint alone (its resolved config travels with it).

The stored config came from a file, so it only builds what gan_lab.safe_config allows, unless the user
passes trust=True (trust_checkpoint=true on the command line)."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gan_lab.build import build_generator
from gan_lab.errors import UserError
from gan_lab.safe_config import load_stored_config
from gan_lab.training.checkpoint import load_checkpoint


def load_generator(
    ckpt_path: str | Path,
    use_ema: bool = True,
    device: torch.device | str = "cpu",
    trust: bool = False,
    bn_recalibration: bool = True,
) -> tuple[nn.Module, DictConfig, dict]:
    """The generator of a checkpoint in eval mode: EMA weights when present and asked for, with the BatchNorm
    statistics recomputed for those weights when the checkpoint holds them (trainer.bn_recalibration) and
    bn_recalibration is true. state["used_ema"] and state["used_bn_recalibration"] (how they were computed,
    or None) say what was loaded.

    The returned config is flagged as read from a file: building anything else from it (the data set in
    evaluate.py) goes through the same allowlist."""
    state = load_checkpoint(ckpt_path)
    if not isinstance(state.get("config"), dict):
        raise UserError(f"checkpoint {ckpt_path} holds no config to rebuild its model from; is it from train.py?")
    cfg = load_stored_config(state["config"], ckpt_path, trust)
    generator = build_generator(cfg)
    weights = state["ema"] if use_ema and state.get("ema") is not None else state["generator"]
    used_ema = weights is state.get("ema")
    recalibrated = state.get("bn_recalibration") if bn_recalibration else None
    if not isinstance(recalibrated, dict) or recalibrated.get("weights") != ("ema" if used_ema else "generator"):
        recalibrated = None  # none stored, not asked for, or computed for the other weights
    try:
        # strict: the stored statistics may only replace buffers the model has
        generator.load_state_dict({**weights, **recalibrated["buffers"]} if recalibrated else weights)
    except (RuntimeError, KeyError, TypeError) as err:
        raise UserError(f"checkpoint {ckpt_path} does not match its own model config: {err}") from err
    state["used_ema"] = used_ema
    state["used_bn_recalibration"] = {k: v for k, v in recalibrated.items() if k != "buffers"} if recalibrated else None
    return generator.to(device).eval(), cfg, state


def run_dir_of(ckpt_path: str | Path) -> Path:
    """<run>/checkpoints/x.ckpt -> <run>."""
    ckpt_path = Path(ckpt_path).resolve()
    return ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
