"""The raw uint8 decode cache: memory-mapped or in memory, same batches, no pickle, stale/torn entries rebuilt."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.data import array_cache
from gan_lab.data.image_folder import ImageFolderData
from gan_lab.data.paired import PairedImages
from gan_lab.errors import UserError
from tests.test_data_folders import class_tree


def folder_data(root: Path, cache: Path, **kwargs) -> ImageFolderData:
    return ImageFolderData(str(root), image_size=4, channels=3, num_classes=2, cache_dir=str(cache), **kwargs).setup()


def mapped_files() -> set[str]:
    return {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines() if "/" in line}


def only_entry(cache: Path, suffix: str) -> Path:
    (entry,) = (cache / "image_folder").glob(f"*{suffix}")
    return entry


def test_mmap_and_memory_give_the_same_images_and_batches(tmp_path):
    root = class_tree(tmp_path / "d", per_class=5)
    memory = folder_data(root, tmp_path / "cache", storage="memory")
    mapped = folder_data(root, tmp_path / "cache", storage="mmap")
    assert torch.equal(memory.images, mapped.images) and torch.equal(memory.labels, mapped.labels)
    assert "memory-mapped" in mapped.describe() and "memory-mapped" not in memory.describe()
    raw = only_entry(tmp_path / "cache", ".u8")
    assert str(raw.resolve()) in mapped_files()  # the tensor really is a view of the file
    indices = torch.tensor([7, 0, 3])
    a = memory.get_batch(indices, torch.Generator().manual_seed(1))
    b = mapped.get_batch(indices, torch.Generator().manual_seed(1))
    assert torch.equal(a.real, b.real) and torch.equal(a.cond, b.cond)


def test_auto_maps_large_sets_only_and_mmap_needs_a_cache_dir(tmp_path, monkeypatch):
    root = class_tree(tmp_path / "d")
    assert "memory-mapped" not in folder_data(root, tmp_path / "cache").describe()  # 6 tiny images: in memory
    monkeypatch.setattr(array_cache, "AUTO_MMAP_BYTES", 10)
    assert "memory-mapped" in folder_data(root, tmp_path / "cache").describe()
    with pytest.raises(UserError, match="storage=mmap needs a cache file.*cache_dir"):
        ImageFolderData(str(root), image_size=4, storage="mmap").setup()
    with pytest.raises(UserError, match="storage must be one of auto, memory, mmap"):
        folder_data(root, tmp_path / "cache", storage="disk")


def test_cache_is_raw_bytes_and_a_json_header_without_pickle(tmp_path):
    root = class_tree(tmp_path / "d")
    data = folder_data(root, tmp_path / "cache")
    raw, header = only_entry(tmp_path / "cache", ".u8"), only_entry(tmp_path / "cache", ".json")
    assert raw.read_bytes() == data.images.numpy().tobytes()  # exactly the decoded pixels, nothing else
    meta = json.loads(header.read_text())
    assert meta["arrays"] == {"images": {"shape": [6, 3, 4, 4], "dtype": "uint8", "offset": 0}}
    assert meta["format"] == array_cache.FORMAT and len(meta["source_hash"]) == 64
    assert sorted(p.name for p in (tmp_path / "cache" / "image_folder").iterdir()) == sorted([raw.name, header.name])


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda raw, header: raw.write_bytes(raw.read_bytes()[:-5]), "torn"),  # a cut-off copy
        (lambda raw, header: raw.write_bytes(b"\xff" + raw.read_bytes()[1:]), "checksum mismatch"),  # same size
        (lambda raw, header: header.write_bytes(b"\x80\x04K\x01."), "unreadable header"),  # a pickle, not JSON
        (lambda raw, header: header.write_text(header.read_text().replace('"format": 2', '"format": 1')), "format"),
        (lambda raw, header: raw.unlink(), "no data file"),
    ],
)
def test_a_damaged_cache_is_rebuilt_with_one_line_never_used(tmp_path, capfd, damage, reason):
    root = class_tree(tmp_path / "d")
    first = folder_data(root, tmp_path / "cache", storage="mmap")
    expected = first.images.clone()
    del first
    damage(only_entry(tmp_path / "cache", ".u8"), only_entry(tmp_path / "cache", ".json"))
    capfd.readouterr()
    again = folder_data(root, tmp_path / "cache", storage="mmap")
    err = capfd.readouterr().err
    messages = [line for line in err.splitlines() if line.startswith("data cache")]
    assert len(messages) == 1 and reason in messages[0] and "rebuilding it" in messages[0]
    assert "decoded from 6 files" in again.describe()
    assert torch.equal(again.images, expected)
    assert folder_data(root, tmp_path / "cache").describe().count("decoded cache") == 1  # repaired for next time


def test_a_header_for_other_sources_is_stale(tmp_path, capfd):
    root = class_tree(tmp_path / "d")
    folder_data(root, tmp_path / "cache")
    header = only_entry(tmp_path / "cache", ".json")
    meta = json.loads(header.read_text())
    header.write_text(json.dumps({**meta, "source_hash": "0" * 64}))
    capfd.readouterr()
    folder_data(root, tmp_path / "cache")
    assert "is stale (its source files changed); rebuilding it" in capfd.readouterr().err


def test_writer_leaves_nothing_when_decoding_fails(tmp_path):
    root = class_tree(tmp_path / "d")
    (root / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image"):
        folder_data(root, tmp_path / "cache")
    assert list((tmp_path / "cache" / "image_folder").iterdir()) == []  # no torn entry, no temp files


def test_paired_splits_memory_mapped_equal_in_memory(tmp_path):
    (tmp_path / "facades" / "train").mkdir(parents=True)
    for i in range(3):
        pair = np.concatenate([np.full((8, 8, 3), 10 * i, np.uint8), np.full((8, 8, 3), 200 - i, np.uint8)], axis=1)
        Image.fromarray(pair).save(tmp_path / "facades" / "train" / f"{i}.png")
    kwargs = dict(root=str(tmp_path / "facades"), image_size=6, load_size=8, cache_dir=str(tmp_path / "cache"))
    memory = PairedImages(**kwargs, storage="memory").setup()
    mapped = PairedImages(**kwargs, storage="mmap").setup()
    assert torch.equal(memory.images, mapped.images) and torch.equal(memory.sources, mapped.sources)
    assert mapped.sources[1, 0, 0, 0] == 10 and mapped.images[1, 0, 0, 0] == 199  # AtoB: target = right half
    a = memory.get_batch(torch.tensor([2, 1]), torch.Generator().manual_seed(3))
    b = mapped.get_batch(torch.tensor([2, 1]), torch.Generator().manual_seed(3))
    assert torch.equal(a.real, b.real) and torch.equal(a.cond, b.cond)
