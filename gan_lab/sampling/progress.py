"""A run's history as pictures: the periodic fixed-z grids (<run>/samples/step_*.png) as one sheet and a GIF.

The grids are cut back into their images when they are plain make_grid pictures of image_size squares.
"""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from PIL import Image, ImageDraw

from gan_lab.errors import UserError
from gan_lab.sampling.files import PADDING, save_gif

# -- training progress -----------------------------------------------------------------------
STEP_FILE = re.compile(r"step_(\d+)\.png$")


def progress_grids(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of the periodic sample grids of a run, in step order."""
    found = []
    for path in (run_dir / "samples").glob("step_*.png"):
        match = STEP_FILE.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    if not found:
        raise UserError(f"no sample grids {run_dir}/samples/step_*.png; is run= a training run directory?")
    return sorted(found)


def run_config(run_dir: Path) -> DictConfig | None:
    """The run's resolved config: .hydra/config.yaml, else the one inside its last checkpoint."""
    hydra_config = run_dir / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        return OmegaConf.load(hydra_config)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if ckpt.is_file():
        from gan_lab.training.checkpoint import load_checkpoint  # a sibling layer (training), imported when needed

        return OmegaConf.create(load_checkpoint(ckpt)["config"])
    return None


def grid_cells(grid: Image.Image, size: int) -> list[Image.Image] | None:
    """The size x size images of a make_grid picture in reading order; None when it is not such a grid."""
    cell = size + PADDING
    width, height = grid.size
    if (width - PADDING) % cell or (height - PADDING) % cell:
        return None
    cols, rows = (width - PADDING) // cell, (height - PADDING) // cell
    return [
        grid.crop((PADDING + c * cell, PADDING + r * cell, PADDING + c * cell + size, PADDING + r * cell + size))
        for r in range(rows)
        for c in range(cols)
    ]


def label_rows(sheet: Image.Image, labels: list[str], row_height: int) -> Image.Image:
    """The sheet with a left margin naming each row (the training step)."""
    margin = 8 + 7 * max(len(s) for s in labels)
    out = Image.new("RGB", (sheet.width + margin, sheet.height), "white")
    out.paste(sheet.convert("RGB"), (margin, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(labels):
        draw.text((4, PADDING + i * row_height + row_height // 2 - 6), text, fill="black")
    return out


def progress_sheet(run_dir: Path, k: int, image_size: int | None) -> Image.Image:
    """Rows = saved grids in step order. k > 0: a row holds the first k images of that grid (same fixed z
    in every row, so a column shows one sample improving); k = 0 or a grid that is not a plain grid of
    image_size squares (e.g. pix2pix triplets): the whole grids stacked."""
    grids = progress_grids(run_dir)
    pictures = [Image.open(path).convert("RGB") for _, path in grids]
    labels = [f"{step}" for step, _ in grids]
    if k > 0 and image_size:
        cells = [grid_cells(p, image_size) for p in pictures]
        if all(cells):
            k = min([k, *(len(c) for c in cells)])
            return label_rows(paste_grid([c[:k] for c in cells], image_size), labels, image_size + PADDING)
    width = max(p.width for p in pictures)
    sheet = Image.new("RGB", (width, sum(p.height for p in pictures)), "black")
    top = 0
    for p in pictures:
        sheet.paste(p, (0, top))
        top += p.height
    return sheet


def paste_grid(rows: list[list[Image.Image]], size: int) -> Image.Image:
    """Square images laid out as make_grid does (black 2 px padding), one list per row."""
    cell = size + PADDING
    sheet = Image.new("RGB", (PADDING + cell * len(rows[0]), PADDING + cell * len(rows)), "black")
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            sheet.paste(image, (PADDING + c * cell, PADDING + r * cell))
    return sheet


def progress_gif(run_dir: Path, out: Path, frame_ms: int) -> Path:
    """One frame per saved grid with its step written above it."""
    frames = []
    for step, path in progress_grids(run_dir):
        grid = Image.open(path).convert("RGB")
        frame = Image.new("RGB", (grid.width, grid.height + 14), "white")
        frame.paste(grid, (0, 14))
        ImageDraw.Draw(frame).text((2, 1), f"step {step}", fill="black")
        frames.append(frame)
    return save_gif(frames, out, frame_ms)
