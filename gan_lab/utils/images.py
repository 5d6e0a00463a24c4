"""Which files are images: one extension set for every folder the code reads."""

from __future__ import annotations

import re
from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def is_image(path: str | Path) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def natural_key(path: Path) -> tuple:
    """2.jpg before 10.jpg: numbers in names compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))


def list_images(folder: Path) -> list[Path]:
    """The image files directly in folder, in natural order."""
    return sorted((p for p in Path(folder).iterdir() if p.is_file() and is_image(p)), key=natural_key)
