"""Picture files: grids, interpolation strips, animated GIFs and the JSON that says how a picture was made.

Images follow torchvision's save_image / make_grid conventions: values mapped from [-1, 1], 2 px padding.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import make_grid, save_image

from gan_lab.errors import UserError
from gan_lab.utils.io import atomic_write_text

PADDING = 2  # make_grid's default, also used by the trainer's sample grids


# -- images and GIFs -------------------------------------------------------------------------
def to_pil(images: Tensor, nrow: int) -> Image.Image:
    """A make_grid of images in [-1, 1] as an RGB PIL image, exactly as save_image would write it."""
    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=PADDING, normalize=True, value_range=(-1, 1))
    array = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    return Image.fromarray(array)


def save_gif(frames: list[Image.Image], path: Path, frame_ms: int) -> Path:
    """An endlessly looping GIF, one frame per image (optimize=False so no frame is merged away)."""
    if not frames:
        raise UserError(f"no frames to write to {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = [f.convert("RGB") for f in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(frame_ms), loop=0, optimize=False)
    return path


def save_grid(images: Tensor, path: Path, nrow: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, path, nrow=nrow, padding=PADDING, normalize=True, value_range=(-1, 1))
    return path


def write_sidecar(image: Path, record: dict) -> Path:
    """<image>.json beside a picture: what made it (checkpoint, weights, seeds) and how to read its layout."""
    return atomic_write_text(image.with_suffix(".json"), json.dumps(record, indent=2) + "\n")


def write_interpolation(strips: Tensor, out: Path, frame_ms: int, per_pair: bool = True) -> list[Path]:
    """strips (pairs, steps, C, H, W) -> <out> (all pairs, a row each), <out>_pair<i>.<ext> per pair and
    <out>.gif whose frame t shows every pair at step t. The GIF is last in the returned list."""
    pairs, steps = strips.shape[:2]
    paths = [save_grid(strips.flatten(0, 1), out, nrow=steps)]
    for i in range(pairs if per_pair else 0):
        paths.append(save_grid(strips[i], out.with_name(f"{out.stem}_pair{i}{out.suffix}"), nrow=steps))
    nrow = max(1, int(round(pairs**0.5)))
    frames = [to_pil(strips[:, t], nrow=nrow) for t in range(steps)]
    paths.append(save_gif(frames, out.with_suffix(".gif"), frame_ms))
    return paths
