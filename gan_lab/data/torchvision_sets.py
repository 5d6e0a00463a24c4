"""MNIST and Fashion-MNIST through torchvision, held in memory as uint8 tensors."""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.error

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor

from gan_lab.data.base import ImageData
from gan_lab.errors import UserError


def resize_uint8(images: Tensor, size: int) -> Tensor:
    """Resize uint8 (N, C, H, W) images once, with antialiasing, back to uint8."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = []
    for chunk in images.split(4096):
        x = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


# torchvision's downloader opens URLs without a timeout: behind a firewall that drops packets each of its
# mirrors x files would wait for the OS TCP timeout. A stalled connection fails after this many seconds.
DOWNLOAD_TIMEOUT_S = 30.0


@contextlib.contextmanager
def socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class TorchvisionDigits(ImageData):
    """A 28x28 greyscale torchvision dataset (MNIST, FashionMNIST), resized once."""

    dataset_class: type = torchvision.datasets.MNIST
    num_classes = 10
    channels = 1

    def __init__(
        self,
        root: str,
        image_size: int = 32,
        channels: int = 1,
        num_classes: int = 10,
        download: bool = True,
        limit: int | None = None,
    ):
        super().__init__()
        if image_size <= 0:
            raise UserError(f"dataset.image_size must be positive, got {image_size}")
        if channels not in (1, 3):
            raise UserError(f"dataset.channels must be 1 (grey) or 3 (grey repeated to RGB), got {channels}")
        if num_classes != 10:
            raise UserError(f"{self.dataset_class.__name__} has 10 classes; set dataset.num_classes=10")
        self.root = root
        self.image_size = image_size
        self.channels = channels
        self.download = download
        self.limit = limit
        self.name = self.dataset_class.__name__

    def _split(self, train: bool) -> tuple[Tensor, Tensor]:
        raw = os.path.join(self.root, self.name, "raw")
        try:
            with socket_timeout(DOWNLOAD_TIMEOUT_S):
                ds = self.dataset_class(self.root, train=train, download=self.download)
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            how = "could not be downloaded" if self.download else "dataset.download=false"
            raise UserError(
                f"{self.name} not found under {raw} and {how} ({type(err).__name__}); "
                f"put the idx files there or point the project at a copy with "
                f"GAN_LAB_DATA=<dir> or paths.data_dir=<dir>"
            ) from err
        images = ds.data.unsqueeze(1)  # uint8 (N, 1, 28, 28)
        labels = ds.targets.long()
        if self.limit is not None:
            images, labels = images[: self.limit], labels[: self.limit]
        self.source = os.path.join(os.path.abspath(self.root), self.name)
        images = resize_uint8(images, self.image_size)
        return images.expand(-1, self.channels, -1, -1).contiguous(), labels

    def _load(self) -> None:
        self.images, self.labels = self._split(train=True)

    def reference_images(self, split: str = "test") -> Tensor:
        if split not in ("train", "test"):
            raise UserError(f"{self.name} has splits train and test, not {split!r}")
        images, _ = self._split(train=(split == "train"))
        return images

    def reference_labels(self, split: str = "test") -> Tensor:
        _, labels = self._split(train=(split == "train"))
        return labels


class MNISTData(TorchvisionDigits):
    dataset_class = torchvision.datasets.MNIST


class FashionMNISTData(TorchvisionDigits):
    dataset_class = torchvision.datasets.FashionMNIST
