"""Paired images for image-to-image translation (pix2pix): a source image and its target.

Two layouts on disk, found automatically (or set with `layout=`):

    side_by_side   <root>/<split>/N.jpg, one file holding A on the left and B on the right
                   (the pix2pix packing; in CMP Facades A = photo, B = label map)
    folders        <root>/A/<split>/x.png and <root>/B/<split>/x.png, matched by file name

`direction=AtoB` translates A into B, `BtoA` the reverse; facades use BtoA
(label map -> photo). A batch holds the target as `real` and the source as `cond`.

Every split is decoded once into uint8 tensors (cached on disk under
`cache_dir` as raw uint8, memory-mapped for large sets: `storage`). The
training split is kept at `load_size` (286 for 256, as in the paper) and
each batch is jittered: a random crop to `image_size` and a random horizontal
flip, the same for source and target, drawn only from the torch.Generator the
trainer passes in, so a resumed run sees the same batches.
Evaluation and preview images are resized straight to `image_size` (no crop).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_lab.data.array_cache import ArrayCache, resolve_storage
from gan_lab.data.base import Batch, ImageData, check_num_workers, to_unit_range
from gan_lab.errors import UserError
from gan_lab.utils.images import list_images

SPLITS = ("train", "val", "test")
CACHE_FORMAT = 1  # bump when the decoding changes, so old caches are not reused


def read_rgb(path: Path):
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as err:
        raise UserError(f"cannot read image {path} ({err}); remove or replace the file") from err


def resize_to_tensor(image, size: int) -> Tensor:
    """PIL image -> uint8 (3, size, size), bicubic as in the pix2pix reference code."""
    from PIL import Image

    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(size, size, 3).permute(2, 0, 1)


def split_side_by_side(image, path: Path) -> tuple:
    """One packed image -> (left half, right half)."""
    width, height = image.size
    if width % 2:
        raise UserError(
            f"{path} is {width}x{height}: a side-by-side pair needs an even width (two halves of equal size); "
            f"fix or remove the file, or use the A/ and B/ folder layout"
        )
    half = width // 2
    return image.crop((0, 0, half, height)), image.crop((half, 0, width, height))


class PairedImages(ImageData):
    """Aligned (source, target) image pairs, whole split in memory as uint8."""

    name = "paired"
    condition = "image"  # cond is the source image

    def __init__(
        self,
        root: str,
        image_size: int = 256,
        load_size: int | None = None,  # None: image_size * 286 / 256 (the paper's jitter)
        channels: int = 3,
        direction: str = "AtoB",
        layout: str = "auto",  # auto | side_by_side | folders
        split: str = "train",
        preview_split: str = "val",
        flip: bool = True,
        limit: int | None = None,  # only the first N pairs of each split (tests, quick looks)
        cache_dir: str | None = None,  # None: no disk cache
        name: str | None = None,
        storage: str = "auto",  # auto | memory | mmap: how the decoded training split is held
        num_workers: int = 0,  # DataLoader workers that crop and flip batches ahead of the step
    ):
        super().__init__()
        if direction not in ("AtoB", "BtoA"):
            raise UserError(f"dataset.direction must be AtoB or BtoA, got {direction!r}")
        if layout not in ("auto", "side_by_side", "folders"):
            raise UserError(f"dataset.layout must be auto, side_by_side or folders, got {layout!r}")
        if channels != 3:
            raise UserError(f"paired images are read as RGB; set dataset.channels=3 (got {channels})")
        if image_size <= 0:
            raise UserError(f"dataset.image_size must be positive, got {image_size}")
        load_size = round(image_size * 286 / 256) if load_size is None else load_size
        if load_size < image_size:
            raise UserError(f"dataset.load_size={load_size} must be >= dataset.image_size={image_size}")
        self.root = Path(root)
        self.image_size = image_size
        self.load_size = load_size
        self.channels = channels
        self.direction = direction
        self.layout = layout
        self.split = split
        self.preview_split = preview_split
        self.flip = flip
        self.limit = limit
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.name = name or self.root.name
        self.storage = storage
        self.num_workers = check_num_workers(num_workers)
        self.sources: Tensor | None = None  # training split at load_size, like self.images (the targets)

    # -- reading files ----------------------------------------------------------
    def _layout(self) -> str:
        if self.layout != "auto":
            return self.layout
        return "folders" if (self.root / "A").is_dir() and (self.root / "B").is_dir() else "side_by_side"

    def _files(self, split: str) -> list[tuple[Path, ...]]:
        """The files of a split: (packed,) for side_by_side, (a, b) for folders."""
        if self._layout() == "folders":
            folder_a, folder_b = self.root / "A" / split, self.root / "B" / split
            if not folder_a.is_dir() or not folder_b.is_dir():
                raise UserError(f"split {split!r} needs both {folder_a} and {folder_b}; check dataset.root")
            files_a, files_b = list_images(folder_a), list_images(folder_b)
            names_b = {p.name for p in files_b}
            unmatched = [p.name for p in files_a if p.name not in names_b]
            if unmatched or len(files_a) != len(files_b):
                raise UserError(
                    f"{folder_a} and {folder_b} must hold the same file names ({len(files_a)} vs {len(files_b)} "
                    f"files, e.g. {unmatched[:1] or 'extra files in B'} unmatched); pair them up by name"
                )
            pairs = [(a, folder_b / a.name) for a in files_a]
        else:
            folder = self.root / split
            if not folder.is_dir():
                raise UserError(
                    f"no split {split!r}: {folder} does not exist; put side-by-side pairs there, use the A/ and B/ "
                    f"layout, or point dataset.root (or GAN_LAB_DATA) at the data"
                )
            pairs = [(p,) for p in list_images(folder)]
        if not pairs:
            raise UserError(f"no images found for split {split!r} under {self.root}")
        return pairs[: self.limit] if self.limit else pairs

    def _decode(self, files: list[tuple[Path, ...]], size: int, out_a=None, out_b=None) -> tuple:
        """-> (A, B) uint8 (N, 3, size, size), written into out_a / out_b when given (a cache file)."""
        if out_a is None:
            out_a = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
            out_b = torch.empty(len(files), 3, size, size, dtype=torch.uint8)
        for i, entry in enumerate(files):
            if len(entry) == 1:
                a, b = split_side_by_side(read_rgb(entry[0]), entry[0])
            else:
                a, b = read_rgb(entry[0]), read_rgb(entry[1])
            for out, image in ((out_a, a), (out_b, b)):
                tensor = resize_to_tensor(image, size)
                out[i] = tensor.numpy() if isinstance(out, np.ndarray) else tensor
        return out_a, out_b

    def _cache(self, files: list[tuple[Path, ...]], size: int) -> ArrayCache | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(str(CACHE_FORMAT).encode())
        for entry in files:
            for path in entry:
                stat = path.stat()
                key.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        key.update(f"size={size}".encode())
        digest = key.hexdigest()
        shape = (len(files), 3, size, size)
        stem = self.cache_dir / "paired" / f"{self.name}-{size}px-{digest[:16]}"
        return ArrayCache(stem, digest, {"A": shape, "B": shape})

    def load_pairs(self, split: str, size: int) -> tuple[Tensor, Tensor]:
        """(source, target) uint8 (N, 3, size, size) of a split, in file order, direction applied.

        Cached as raw uint8 (gan_lab.data.array_cache); the arrays are memory-mapped under
        storage=mmap (or auto for a large split) and read into memory otherwise."""
        files = self._files(split)
        cache = self._cache(files, size)
        storage = resolve_storage(self.storage, 2 * len(files) * 3 * size * size, cache is not None)
        if cache is None:
            a, b = self._decode(files, size)
        else:
            if not cache.usable():
                with cache.writer() as arrays:
                    self._decode(files, size, arrays["A"], arrays["B"])
            loaded = cache.load(mmap=storage == "mmap")
            a, b = loaded["A"], loaded["B"]
        return (a, b) if self.direction == "AtoB" else (b, a)

    # -- ImageData interface ------------------------------------------------------
    def _load(self) -> None:
        self.sources, self.images = self.load_pairs(self.split, self.load_size)

    def describe(self) -> str:  # also before loading: evaluation reads other splits without setup()
        return f"{self.name} ({self.root} [{self._layout()}, {self.split}, {self.direction}])"

    def _check_loaded(self) -> None:
        expected = (self.channels, self.load_size, self.load_size)
        assert tuple(self.images.shape[1:]) == expected == tuple(self.sources.shape[1:]), "paired data shape"

    def get_batch(self, indices: Tensor, generator: torch.Generator | None = None) -> Batch:
        """Random crop to image_size and random flip, identical for source and target of each pair."""
        self.setup()
        sources, targets = self.sources[indices], self.images[indices]
        sources, targets = jitter_pair(sources, targets, self.image_size, self.flip, generator)
        return Batch(real=to_unit_range(targets), cond=to_unit_range(sources))

    def eval_pairs(self, split: str) -> tuple[Tensor, Tensor]:
        """(source, target) uint8 of a split resized straight to image_size: the evaluation protocol."""
        return self.load_pairs(split, self.image_size)

    def has_split(self, split: str) -> bool:
        if self._layout() == "folders":
            return (self.root / "A" / split).is_dir()
        return (self.root / split).is_dir()

    def _preview_pairs(self) -> tuple[Tensor, Tensor]:
        # No val split (e.g. a user's folder with train only): show training pairs instead.
        split = self.preview_split if self.has_split(self.preview_split) else self.split
        return self.eval_pairs(split)

    def preview_batch(self, n: int) -> Batch:
        """The first n pairs of preview_split (val): the fixed inputs of every translation grid."""
        sources, targets = self._preview_pairs()
        return Batch(real=to_unit_range(targets[:n]), cond=to_unit_range(sources[:n]))

    def preview_images(self, fake: Tensor, preview: Batch) -> Tensor:
        """Rows of `source | generated | target`."""
        triples = torch.stack([preview.cond.to(fake), fake, preview.real.to(fake)], dim=1)
        return triples.flatten(0, 1)

    def preview_nrow(self, n: int) -> int:
        return 3

    def reference_images(self, split: str = "test") -> Tensor:
        """Targets of a split at image_size (uint8), e.g. as the reference set of FID."""
        return self.eval_pairs(split)[1]


def jitter_pair(
    sources: Tensor, targets: Tensor, size: int, flip: bool, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Crop each pair at one random offset to size x size and flip both or neither (uint8 in, uint8 out)."""
    n, _, height, width = targets.shape
    tops = torch.randint(0, height - size + 1, (n,), generator=generator)
    lefts = torch.randint(0, width - size + 1, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    out_s, out_t = [], []
    for i in range(n):
        window = (slice(None), slice(tops[i], tops[i] + size), slice(lefts[i], lefts[i] + size))
        s, t = sources[i][window], targets[i][window]
        if flips[i]:
            s, t = s.flip(-1), t.flip(-1)
        out_s.append(s)
        out_t.append(t)
    return torch.stack(out_s), torch.stack(out_t)
