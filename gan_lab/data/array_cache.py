"""The decode-once cache: raw uint8 arrays in one file plus a small JSON header, no pickle.

    <stem>.u8     the arrays' bytes, one after another (C order)
    <stem>.json   {"format", "source_hash", "arrays": {name: {"shape", "dtype", "offset"}}, "nbytes", "blake2b"}

The raw file is filled through a memory map of a temporary file (so a dataset
larger than RAM is decoded straight to disk), fsynced and renamed into place;
the header is written the same way last, so it is the commit mark. Before use
the header is checked against what the caller expects (format, source hash,
shapes, dtype) and the raw file against its size and checksum; a stale or torn
entry is reported in one line and rebuilt, never used. Nothing in either file
can run code: the header is JSON and the data are bytes.

Loading is either into memory (np.fromfile) or as a read-only-on-disk memory
map (numpy.memmap, copy-on-write), which keeps a process's private memory flat
however large the set is and lets the processes of one node share the page cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gan_lab.errors import UserError

FORMAT = 2  # 1 was torch.save (.pt); bump when the layout of these files changes
CHECKSUM_CHUNK = 1 << 24
STORAGES = ("auto", "memory", "mmap")
# storage=auto memory-maps sets larger than this (a DDP node would hold one copy per process otherwise).
AUTO_MMAP_BYTES = 1 << 30


def resolve_storage(storage: str, nbytes: int, has_cache: bool) -> str:
    """auto -> mmap for large sets when there is a cache file to map, else memory."""
    if storage not in STORAGES:
        raise UserError(f"dataset.storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    if storage == "mmap" and not has_cache:
        raise UserError("dataset.storage=mmap needs a cache file to map; set dataset.cache_dir (or paths.cache_dir)")
    if storage == "auto":
        return "mmap" if has_cache and nbytes > AUTO_MMAP_BYTES else "memory"
    return storage


def _fsync_rename(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _checksum(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:  # plain reads: verifying must not map the file into this process
        while chunk := f.read(CHECKSUM_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _layout(shapes: dict[str, tuple[int, ...]]) -> tuple[dict, int]:
    arrays, offset = {}, 0
    for name, shape in shapes.items():
        arrays[name] = {"shape": [int(s) for s in shape], "dtype": "uint8", "offset": offset}
        offset += int(np.prod(shape, dtype=np.int64))
    return arrays, offset


class ArrayCache:
    """One cache entry: `<stem>.u8` + `<stem>.json`, for arrays of known shapes from one source."""

    def __init__(self, stem: Path, source_hash: str, shapes: dict[str, tuple[int, ...]]):
        self.raw = stem.with_name(stem.name + ".u8")
        self.header = stem.with_name(stem.name + ".json")
        self.source_hash = source_hash
        self.arrays, self.nbytes = _layout(shapes)

    def problem(self) -> str | None:
        """Why this entry cannot be used (None when it is complete and matches), without mapping it."""
        if not self.header.is_file():
            return "missing"
        try:
            header = json.loads(self.header.read_text())
        except (OSError, ValueError) as err:
            return f"an unreadable header ({type(err).__name__})"
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return f"format {header.get('format') if isinstance(header, dict) else '?'}, expected {FORMAT}"
        if header.get("source_hash") != self.source_hash:
            return "stale (its source files changed)"
        if header.get("arrays") != self.arrays or header.get("nbytes") != self.nbytes:
            return "stale (shape or dtype differ)"
        try:
            size = self.raw.stat().st_size
        except OSError:
            return "torn (no data file)"
        if size != self.nbytes:
            return f"torn ({size} of {self.nbytes} bytes)"
        if _checksum(self.raw) != header.get("blake2b"):
            return "torn (checksum mismatch)"
        return None

    def usable(self) -> bool:
        """True when the entry can be loaded; a present but broken entry is reported (and will be rebuilt)."""
        why = self.problem()
        if why is not None and why != "missing":
            print(f"data cache {self.header} is {why}; rebuilding it", file=sys.stderr)
        return why is None

    def load(self, mmap: bool) -> dict[str, Tensor]:
        """The arrays as uint8 tensors: memory-mapped (copy-on-write) or read into memory."""
        if mmap:
            whole = np.memmap(self.raw, dtype=np.uint8, mode="c", shape=(self.nbytes,))
        else:
            whole = np.fromfile(self.raw, dtype=np.uint8, count=self.nbytes)
        out = {}
        for name, spec in self.arrays.items():
            count = int(np.prod(spec["shape"], dtype=np.int64))
            view = whole[spec["offset"] : spec["offset"] + count].reshape(spec["shape"])
            out[name] = torch.from_numpy(view)
        return out

    @contextlib.contextmanager
    def writer(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield writable arrays backed by a temporary file; on a clean exit commit them atomically."""
        self.raw.parent.mkdir(parents=True, exist_ok=True)
        tmp_raw = self.raw.with_name(f".{self.raw.name}.{os.getpid()}.tmp")
        tmp_header = self.header.with_name(f".{self.header.name}.{os.getpid()}.tmp")
        try:
            whole = np.memmap(tmp_raw, dtype=np.uint8, mode="w+", shape=(max(self.nbytes, 1),))
            views = {}
            for name, spec in self.arrays.items():
                count = int(np.prod(spec["shape"], dtype=np.int64))
                views[name] = whole[spec["offset"] : spec["offset"] + count].reshape(spec["shape"])
            yield views
            whole.flush()
            del whole, views
            os.truncate(tmp_raw, self.nbytes)  # an empty set still needed a 1-byte map
            header = {
                "format": FORMAT, "source_hash": self.source_hash, "arrays": self.arrays, "nbytes": self.nbytes,
                "blake2b": _checksum(tmp_raw),
            }
            _fsync_rename(tmp_raw, self.raw)
            tmp_header.write_text(json.dumps(header, indent=1) + "\n")
            _fsync_rename(tmp_header, self.header)
        finally:
            tmp_raw.unlink(missing_ok=True)
            tmp_header.unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.raw)
