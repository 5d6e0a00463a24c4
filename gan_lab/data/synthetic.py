"""A tiny procedurally generated labelled image set, for smoke tests without any download."""

from __future__ import annotations

import torch

from gan_lab.data.base import ImageData


class SyntheticImages(ImageData):
    """Class k is a bright square at a position set by k on a dark background, plus noise.

    Deterministic in `seed`, so tests and benchmarks need no files.
    """

    name = "synthetic"

    def __init__(
        self, size: int = 512, image_size: int = 32, channels: int = 1, num_classes: int = 10, seed: int = 0
    ):
        super().__init__()
        self.size = size
        self.image_size = image_size
        self.channels = channels
        self.num_classes = num_classes
        self.seed = seed

    def _make(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, max(self.num_classes, 1), (n,), generator=gen)
        s = self.image_size
        images = torch.rand(n, self.channels, s, s, generator=gen) * 40
        side = max(2, s // 4)
        cells = max(1, (s - side) // side + 1)
        for k in range(max(self.num_classes, 1)):
            row, col = divmod(k % (cells * cells), cells)
            y, x = row * side, col * side
            images[labels == k, :, y : y + side, x : x + side] += 200
        self.source = f"generated (seed {seed})"
        return images.clamp_(0, 255).to(torch.uint8), labels

    def _load(self) -> None:
        self.images, labels = self._make(self.size, self.seed)
        self.labels = labels if self.num_classes else None

    def reference_images(self, split: str = "test") -> torch.Tensor:
        return self._make(self.size, self.seed + 1)[0]
