"""CIFAR-10 from whichever copy is available, saying which one it used.

1. torchvision's python pickles (`<data_dir>/cifar-10-batches-py`), the exact originals;
2. else the JPEG ImageFolder tree `<data_dir>/cifar10-jpeg/{train,test}/<class>/` (the offline copy on
   machines without internet: lossy re-encodes, so its FID is "CIFAR-10 (JPEG)", not comparable digit for
   digit with published numbers), decoded once into a raw uint8 cache (memory-mapped when large);
3. else torchvision downloads the originals (when download=true and the network allows).
"""

from __future__ import annotations

import urllib.error
from pathlib import Path

import torch
import torchvision
from torch import Tensor

from gan_lab.data.base import ImageData, check_num_workers
from gan_lab.data.image_folder import ImageFolderData, evenly_spaced
from gan_lab.data.torchvision_sets import resize_uint8
from gan_lab.errors import UserError

TORCHVISION_DIR = "cifar-10-batches-py"
JPEG_DIR = "cifar10-jpeg"
# ITU-R BT.601 luma, the weights PIL uses for convert("L"): grey CIFAR matches grey image folders.
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


class CIFAR10Data(ImageData):
    """CIFAR-10, 50k train / 10k test, 32x32 RGB, 10 classes."""

    def __init__(
        self,
        root: str,
        image_size: int = 32,
        channels: int = 3,
        num_classes: int = 10,
        download: bool = True,
        cache_dir: str | None = None,
        limit: int | None = None,
        storage: str = "auto",  # the JPEG tree's decode cache: auto | memory | mmap
        num_workers: int = 0,
    ):
        super().__init__()
        if num_classes not in (0, 10):
            raise UserError(f"CIFAR-10 has 10 classes; set dataset.num_classes=10 (or 0 to ignore labels), "
                            f"got {num_classes}")
        if channels not in (1, 3):
            raise UserError(f"dataset.channels must be 1 (grey) or 3 (RGB), got {channels}")
        self.root = Path(root)
        self.image_size = image_size
        self.channels = channels
        self.num_classes = num_classes
        self.download = download
        self.cache_dir = cache_dir
        self.limit = limit
        self.storage = storage
        self.num_workers = check_num_workers(num_workers)
        self.name = "cifar10"
        # The last reference split read: the classifier asks for a split's images and then its labels, which
        # without this decodes (or reads from the cache) the same 10k-50k images twice.
        self._last_reference: tuple[str, tuple[Tensor, Tensor | None]] | None = None

    def _jpeg_folder(self, split: str) -> ImageFolderData:
        return ImageFolderData(
            root=str(self.root / JPEG_DIR / split), image_size=self.image_size, channels=self.channels,
            num_classes=10, cache_dir=self.cache_dir, name="cifar10", storage=self.storage,
        )

    def _torchvision(self, train: bool, download: bool) -> tuple[Tensor, Tensor]:
        ds = torchvision.datasets.CIFAR10(str(self.root), train=train, download=download)
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # uint8 (N, 3, 32, 32)
        if self.channels == 1:
            images = (images.float() * LUMA).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
        return resize_uint8(images, self.image_size), torch.tensor(ds.targets, dtype=torch.long)

    def _split(self, split: str, limit: int | None) -> tuple[Tensor, Tensor | None]:
        train = split == "train"
        tv_dir, jpeg_dir = self.root / TORCHVISION_DIR, self.root / JPEG_DIR / split
        if tv_dir.is_dir():
            images, labels = self._torchvision(train, download=False)
            source = f"torchvision CIFAR10 originals in {tv_dir.resolve()}"
        elif jpeg_dir.is_dir():
            folder = self._jpeg_folder(split)
            images, labels, classes, folder_source = folder.load_folder(jpeg_dir)
            folder._check_classes(jpeg_dir, classes)
            source = f"JPEG re-encodes (FID is 'CIFAR-10 (JPEG)', not the originals): {folder_source}"
        elif self.download:
            try:
                images, labels = self._torchvision(train, download=True)
            except (urllib.error.URLError, OSError, RuntimeError) as err:
                raise UserError(self._missing(f"download failed: {type(err).__name__}")) from err
            source = f"torchvision CIFAR10 originals downloaded to {tv_dir.resolve()}"
        else:
            raise UserError(self._missing("dataset.download=false"))
        keep = evenly_spaced(images.shape[0], limit)
        if keep is not None:
            images, labels = images[keep], labels[keep]
            source += f", {limit} evenly spaced images"
        self.source = source
        return images, labels if self.num_classes else None

    def _missing(self, why: str) -> str:
        return (
            f"CIFAR-10 not found under {self.root}: neither torchvision's {self.root / TORCHVISION_DIR} nor the "
            f"JPEG tree {self.root / JPEG_DIR}/{{train,test}}/<class>/ exists ({why}); download it on a machine "
            f"with internet (dataset.download=true) or point GAN_LAB_DATA / paths.data_dir at a copy"
        )

    def _load(self) -> None:
        self.images, self.labels = self._split("train", self.limit)

    def _reference_split(self, split: str) -> tuple[Tensor, Tensor | None]:
        if split not in ("train", "test"):
            raise UserError(f"cifar10 has splits train and test, not {split!r}")
        if self._last_reference is not None and self._last_reference[0] == split:
            return self._last_reference[1]
        saved = self.source
        images, labels = self._split(split, None)
        self.source = saved if self.images is not None else self.source
        self._last_reference = (split, (images, labels))
        return images, labels

    def reference_images(self, split: str = "test") -> Tensor:
        return self._reference_split(split)[0]

    def reference_labels(self, split: str = "test") -> Tensor | None:
        """Labels of reference_images(split), for the classifier metrics (None when num_classes is 0)."""
        return self._reference_split(split)[1]
