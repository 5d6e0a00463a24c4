"""Folders of image files (users' own data, CelebA, the CIFAR-10 JPEG tree), decoded once.

A folder is either flat (unlabelled) or holds one sub-folder per class
(ImageFolder layout: labels are the sorted sub-folder names). Every image is
decoded, converted to grey or RGB, centre-cropped and resized once, and the
result is written as a raw uint8 cache under `cache_dir` (gan_lab.data.array_cache,
no pickle); later runs read it into memory or memory-map it (`storage`) and
decode no JPEG at all.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from gan_lab.data.array_cache import ArrayCache, resolve_storage
from gan_lab.data.base import ImageData, check_num_workers
from gan_lab.errors import UserError
from gan_lab.utils.images import IMAGE_EXTENSIONS, is_image

# Bump when decoding changes (crop, resample filter), so stale caches are never reused.
CACHE_FORMAT = 1
DECODE_CHUNK = 2048


def list_images(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """The image files under root, their labels (None when flat) and the class names.

    Flat: the images directly in root. Class folders: every image below each
    sub-folder of root, labelled by the sub-folder's position in sorted order.
    """
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist; set dataset.root (or paths.data_dir) to a folder")
    entries = sorted(os.scandir(root), key=lambda e: e.name)
    top_images = [Path(e.path) for e in entries if e.is_file() and is_image(e.name)]
    class_dirs = [Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")]
    class_files = {d.name: sorted(p for p in d.rglob("*") if p.is_file() and is_image(p.name)) for d in class_dirs}
    class_files = {name: files for name, files in class_files.items() if files}
    if top_images and class_files:
        raise UserError(
            f"{root} holds both images and class sub-folders with images ({', '.join(list(class_files)[:3])}); "
            f"put every image in a class folder, or use a flat folder"
        )
    if top_images:
        return top_images, None, []
    if not class_files:
        raise UserError(
            f"no images found in {root} (looked for {', '.join(IMAGE_EXTENSIONS[:4])}, ... directly and in "
            f"class sub-folders); point dataset.root at a folder of images"
        )
    classes = sorted(class_files)
    files = [f for name in classes for f in class_files[name]]
    labels = [k for k, name in enumerate(classes) for _ in class_files[name]]
    return files, labels, classes


def decode_image(path: Path, image_size: int, channels: int, center_crop: int | None) -> np.ndarray:
    """One image as uint8 (H, W, C): grey or RGB, centre crop, resize to image_size x image_size.

    The crop is `center_crop` pixels square, or the largest centred square when
    None, so the image keeps its aspect ratio.
    """
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")  # forces the decode, so errors surface here
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as err:
        raise UserError(f"cannot read image {path} ({err}); remove or replace that file") from err
    w, h = img.size
    side = min(w, h) if center_crop is None else center_crop
    if side > min(w, h):
        raise UserError(
            f"dataset.center_crop={side} is larger than image {path} ({w}x{h}); lower dataset.center_crop"
        )
    if (w, h) != (side, side):
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if side != image_size:
        img = img.resize((image_size, image_size), Image.BICUBIC, reducing_gap=None)
    array = np.asarray(img, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def decode_all(
    files: list[Path], image_size: int, channels: int, center_crop: int | None, desc: str, out=None
) -> Tensor | np.ndarray:
    """Decode files into one uint8 (N, C, H, W) array, in chunks, with a progress bar.

    `out` (e.g. a memory-mapped cache file) receives the images; by default a new tensor.
    """
    from tqdm.auto import tqdm

    if out is None:
        out = torch.empty(len(files), channels, image_size, image_size, dtype=torch.uint8)
    with tqdm(total=len(files), desc=f"decoding {desc}", unit="img", dynamic_ncols=True, mininterval=2) as bar:
        for start in range(0, len(files), DECODE_CHUNK):
            chunk = files[start : start + DECODE_CHUNK]
            arrays = np.stack([decode_image(f, image_size, channels, center_crop) for f in chunk])
            nchw = arrays.transpose(0, 3, 1, 2)
            out[start : start + len(chunk)] = torch.from_numpy(nchw) if isinstance(out, Tensor) else nchw
            bar.update(len(chunk))
    return out


def evenly_spaced(n: int, limit: int | None) -> Tensor | None:
    """Indices of `limit` examples spread over all n (so a limited class-folder set keeps every class)."""
    if limit is None or limit >= n:
        return None
    if limit <= 0:
        raise UserError(f"dataset.limit must be positive or null, got {limit}")
    return torch.linspace(0, n - 1, limit).round().long()


class ImageFolderData(ImageData):
    """Any folder of images, flat or with class sub-folders, decoded once into a uint8 cache.

    num_classes: 0 trains unconditionally (class folders, if any, are ignored);
    K > 0 requires exactly K class sub-folders, so a labelled recipe never runs
    on the wrong or an unlabelled folder.
    """

    def __init__(
        self,
        root: str | None = None,
        image_size: int = 64,
        channels: int = 3,
        num_classes: int = 0,
        center_crop: int | None = None,
        test_root: str | None = None,
        cache_dir: str | None = None,
        limit: int | None = None,
        name: str = "image_folder",
        storage: str = "auto",
        num_workers: int = 0,
    ):
        super().__init__()
        if not root:
            raise UserError("dataset.root is not set; pass dataset.root=<folder of images>")
        if image_size <= 0:
            raise UserError(f"dataset.image_size must be positive, got {image_size}")
        if channels not in (1, 3):
            raise UserError(f"dataset.channels must be 1 (grey) or 3 (RGB), got {channels}")
        if num_classes < 0:
            raise UserError(f"dataset.num_classes must be >= 0, got {num_classes}")
        self.root = Path(root)
        self.image_size = image_size
        self.channels = channels
        self.num_classes = num_classes
        self.center_crop = center_crop
        self.test_root = Path(test_root) if test_root else None
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.limit = limit
        self.name = name
        self.storage = storage
        self.num_workers = check_num_workers(num_workers)
        self.class_names: list[str] = []

    # -- decoding and the cache -----------------------------------------------
    def _cache_key(self, root: Path, files: list[Path]) -> str:
        """A digest of everything the decoded tensor depends on: a changed file, size or crop misses."""
        listing = []
        for f in files:
            st = f.stat()
            listing.append((str(f.relative_to(root)), st.st_size, st.st_mtime_ns))
        key = {
            "format": CACHE_FORMAT,
            "root": str(root.resolve()),
            "files": listing,
            "image_size": self.image_size,
            "channels": self.channels,
            "center_crop": self.center_crop,
            "transform": "centre-crop, PIL bicubic resize",
        }
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()

    def load_folder(self, root: Path) -> tuple[Tensor, Tensor | None, list[str], str]:
        """(images uint8 NCHW, labels or None, class names, where they came from) for one folder.

        With a cache_dir the images are decoded once into an ArrayCache entry and read from it
        (into memory, or memory-mapped per dataset.storage); without one they are decoded into memory.
        """
        root = Path(root)
        files, labels, classes = list_images(root)
        shape = (len(files), self.channels, self.image_size, self.image_size)
        label_tensor = torch.tensor(labels, dtype=torch.long) if labels is not None else None
        storage = resolve_storage(self.storage, int(np.prod(shape)), self.cache_dir is not None)
        if self.cache_dir is None:
            images = decode_all(files, self.image_size, self.channels, self.center_crop, root.name)
            return images, label_tensor, classes, f"{root.resolve()}, decoded from {len(files)} files"
        readable = f"{root.resolve().parent.name}_{root.name}"  # e.g. cifar10-jpeg_train
        safe_name = "".join(c if c.isalnum() or c == "-" else "_" for c in readable)[-60:]
        key = self._cache_key(root, files)
        cache = ArrayCache(self.cache_dir / "image_folder" / f"{safe_name}-{key[:20]}", key, {"images": shape})
        if cache.usable():
            source = f"{root.resolve()}, decoded cache {cache.describe()}"
        else:
            with cache.writer() as arrays:
                decode_all(files, self.image_size, self.channels, self.center_crop, root.name, out=arrays["images"])
            source = f"{root.resolve()}, decoded from {len(files)} files, cached to {cache.describe()}"
        images = cache.load(mmap=storage == "mmap")["images"]
        return images, label_tensor, classes, source + (", memory-mapped" if storage == "mmap" else "")

    def _check_classes(self, root: Path, classes: list[str]) -> None:
        if not self.num_classes:
            return
        if not classes:
            raise UserError(
                f"dataset.num_classes={self.num_classes} but {root} has no class sub-folders (labels missing); "
                f"arrange the images as {root}/<class>/<image>, or set dataset.num_classes=0 for an "
                f"unconditional model"
            )
        if len(classes) != self.num_classes:
            raise UserError(
                f"dataset.num_classes={self.num_classes} but {root} has {len(classes)} class folders "
                f"({', '.join(classes[:5])}{', ...' if len(classes) > 5 else ''}); set "
                f"dataset.num_classes={len(classes)}"
            )

    def _split(self, root: Path, limit: int | None) -> tuple[Tensor, Tensor | None]:
        images, labels, classes, source = self.load_folder(root)
        self._check_classes(root, classes)
        keep = evenly_spaced(images.shape[0], limit)
        if keep is not None:
            images = images[keep]
            labels = labels[keep] if labels is not None else None
            source += f", first {limit} evenly spaced"
        self.class_names = classes if self.num_classes else []
        self.source = source
        return images, labels if self.num_classes else None

    def _load(self) -> None:
        self.images, self.labels = self._split(self.root, self.limit)

    def reference_images(self, split: str = "test") -> Tensor:
        if split == "train":
            return self.setup().images
        if split != "test":
            raise UserError(f"{self.name} has splits train and test, not {split!r}")
        if self.test_root is None:
            raise UserError(
                f"{self.name} has no test split; set dataset.test_root=<folder of held-out images> "
                f"or evaluate against the training images (split=train)"
            )
        saved = self.source
        images, _ = self._split(self.test_root, None)
        self.source = saved
        return images
