"""Checkpoints: written atomically, loaded with a clear error when unusable.

A checkpoint is a plain dict of tensors and primitives (so it loads with
torch.load(weights_only=True)): models, EMA, optimizers, step, RNG states and
the resolved config, which is enough to rebuild everything from the file alone.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
import torch

from gan_lab.errors import UserError
from gan_lab.utils.io import atomic_write_bytes

CHECKPOINT_FORMAT = "gan_lab.checkpoint/1"


def remove_stale_temp_files(directory: str | os.PathLike) -> None:
    """Delete temp files that a killed writer left behind (never those of this process)."""
    for tmp in Path(directory).glob(".*.tmp-*"):
        if not tmp.name.endswith(f".tmp-{os.getpid()}"):
            tmp.unlink(missing_ok=True)


def serialize(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def save_checkpoint(state: dict, *paths: str | os.PathLike) -> None:
    """Serialise once, write atomically to each path (e.g. step_000500.ckpt and last.ckpt)."""
    data = serialize({"format": CHECKPOINT_FORMAT, **state})
    for path in paths:
        atomic_write_bytes(path, data)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; pass the path of a .ckpt file written by train.py")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated / foreign files
        raise UserError(
            f"checkpoint {path} is unreadable (truncated or corrupt: {type(err).__name__}); "
            f"use another one, e.g. an earlier checkpoints/step_*.ckpt"
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not a gan_lab checkpoint (no '{CHECKPOINT_FORMAT}' format tag)")
    return state


def capture_rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
