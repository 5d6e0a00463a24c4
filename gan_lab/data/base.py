"""The interface between data and the trainer.

A data module holds its whole training split as a uint8 tensor (N, C, H, W),
in memory or memory-mapped from a decode cache (gan_lab.data.array_cache), so
an epoch does no decoding: a batch is an index lookup plus a float conversion.
The trainer owns the data order (a seeded permutation per epoch,
gan_lab.training.data_loading), which makes resuming a run exact without
saving loader state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gan_lab.errors import UserError


@dataclass
class Batch:
    real: Tensor  # float32 in [-1, 1], (B, C, H, W)
    cond: Tensor | None = None  # None | class labels (B,) int64 | source images (B, C', H, W)

    def to(self, device: torch.device | str, memory_format=torch.contiguous_format) -> Batch:
        real = self.real.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        cond = self.cond
        if cond is not None:
            cond = cond.to(device, non_blocking=True)
            if cond.dim() == 4:
                cond = cond.contiguous(memory_format=memory_format)
        return Batch(real, cond)

    def pin_memory(self) -> Batch:  # called by a DataLoader with pin_memory=True
        return Batch(self.real.pin_memory(), self.cond.pin_memory() if self.cond is not None else None)


def check_num_workers(num_workers: int) -> int:
    if not isinstance(num_workers, int) or num_workers < 0:
        raise UserError(f"dataset.num_workers must be 0 (batches in the training process) or more, got {num_workers}")
    return num_workers


def to_unit_range(images_uint8: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images_uint8.float().div_(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255] (the inverse of to_unit_range, clamped)."""
    return images.detach().float().add(1.0).mul(127.5).round_().clamp_(0, 255).to(torch.uint8)


class ImageData:
    """Base class of data modules.

    Subclasses set `channels`, `image_size`, `num_classes` (0 when unlabelled)
    in __init__ and implement `_load()` to fill `self.images` (uint8,
    N x C x H x W) and `self.labels` (int64 N, or None). Loading is lazy so
    composing a config never touches the disk.
    """

    channels: int
    image_size: int
    num_classes: int = 0
    name: str = "images"
    # DataLoader worker processes that assemble batches ahead of the step (gan_lab.training.data_loading);
    # 0: in the training process. Folder modules take it as dataset.num_workers.
    num_workers: int = 0

    @property
    def condition(self) -> str:
        """What a batch's `cond` holds: "none", "labels" (class ids) or "image" (a source image)."""
        return "labels" if self.num_classes else "none"

    def __init__(self) -> None:
        self.images: Tensor | None = None
        self.labels: Tensor | None = None
        self.source: str = "not loaded"  # which copy of the data was used, for logs

    # -- loading -----------------------------------------------------------
    def setup(self) -> ImageData:
        if self.images is None:
            self._load()
            self._check_loaded()
        return self

    def _load(self) -> None:
        raise NotImplementedError

    def _check_loaded(self) -> None:
        assert self.images is not None and self.images.dtype == torch.uint8, "data must be uint8"
        n, c, h, w = self.images.shape
        assert (c, h, w) == (self.channels, self.image_size, self.image_size), (
            f"loaded images are {c}x{h}x{w}, config says {self.channels}x{self.image_size}x{self.image_size}"
        )

    def __len__(self) -> int:
        self.setup()
        return self.images.shape[0]

    # -- batches -----------------------------------------------------------
    def get_batch(self, indices: Tensor, generator: torch.Generator | None = None) -> Batch:
        """The training batch for these example indices (on CPU, float32 in [-1, 1]).

        `generator` drives any random augmentation, so a batch is a pure
        function of (indices, generator state).
        """
        self.setup()
        real = to_unit_range(self.images[indices])
        cond = self.labels[indices] if self.labels is not None else None
        return Batch(real, cond)

    def preview_batch(self, n: int) -> Batch:
        """A fixed batch whose conditions drive the periodic sample grids.

        Labelled data: labels 0, 1, ..., K-1 repeated, so each grid row
        (nrow = K) is one class when n is a multiple of K.
        """
        self.setup()
        real = to_unit_range(self.images[:n])
        cond = None
        if self.num_classes:
            cond = torch.arange(n) % self.num_classes
        return Batch(real, cond)

    def preview_images(self, fake: Tensor, preview: Batch) -> Tensor:
        """The images a sample grid shows for `fake` generated from `preview`."""
        return fake

    def preview_nrow(self, n: int) -> int:
        if self.num_classes and n % self.num_classes == 0:
            return self.num_classes
        return max(1, int(round(n**0.5)))

    def reference_images(self, split: str = "test") -> Tensor:
        """uint8 (N, C, H, W) images of a split, for evaluation."""
        raise NotImplementedError(f"{type(self).__name__} has no reference split {split!r}")

    def describe(self) -> str:
        return f"{self.name} ({self.source})"
