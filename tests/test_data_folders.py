"""Image folders, the CelebA preset and CIFAR-10's fallback: labels, crops, the decode-once cache, clear errors."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lab.data import image_folder
from gan_lab.data.cifar10 import CIFAR10Data
from gan_lab.data.image_folder import ImageFolderData
from gan_lab.errors import UserError


def write_image(path: Path, value: int, size=(12, 10), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 3 if mode == "RGB" else 1
    array = np.full((size[1], size[0], channels), value, dtype=np.uint8).squeeze()
    Image.fromarray(array, mode=mode).save(path)


def class_tree(root: Path, classes=("cat", "dog"), per_class=3) -> Path:
    for k, name in enumerate(classes):
        for i in range(per_class):
            write_image(root / name / f"{i}.png", 40 * k + i)
    return root


def test_flat_folder_is_unlabelled_and_resized(tmp_path):
    for i in range(4):
        write_image(tmp_path / "faces" / f"{i:02d}.jpg", 10 * i, size=(20, 30))
    data = ImageFolderData(str(tmp_path / "faces"), image_size=8, channels=3).setup()
    assert data.images.shape == (4, 3, 8, 8) and data.images.dtype == torch.uint8
    assert data.labels is None and data.num_classes == 0
    assert "decoded from 4 files" in data.describe()


def test_class_folders_give_labels_in_sorted_order(tmp_path):
    data = ImageFolderData(str(class_tree(tmp_path / "d")), image_size=4, channels=1, num_classes=2).setup()
    assert data.images.shape == (6, 1, 4, 4)
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.class_names == ["cat", "dog"]
    assert data.images[3, 0, 0, 0] == 40  # grey value of dog/0.png: PNG is lossless


def test_centre_crop_takes_the_middle(tmp_path):
    array = np.zeros((10, 10, 3), dtype=np.uint8)
    array[3:7, 3:7] = 200  # a bright 4x4 centre
    (tmp_path / "f").mkdir()
    Image.fromarray(array).save(tmp_path / "f" / "a.png")
    data = ImageFolderData(str(tmp_path / "f"), image_size=4, channels=3, center_crop=4).setup()
    assert (data.images == 200).all()


def test_second_load_hits_the_cache_and_decodes_nothing(tmp_path, monkeypatch):
    root = class_tree(tmp_path / "d")
    kwargs = dict(root=str(root), image_size=4, channels=3, num_classes=2, cache_dir=str(tmp_path / "cache"))
    first = ImageFolderData(**kwargs).setup()
    assert len(list((tmp_path / "cache" / "image_folder").glob("*.u8"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded an image although the cache holds it")

    monkeypatch.setattr(image_folder.Image, "open", no_decoding)
    second = ImageFolderData(**kwargs).setup()
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)
    assert "decoded cache" in second.describe()
    # Another image size is another cache entry, so it must decode (and here fail loudly).
    with pytest.raises(AssertionError, match="decoded an image"):
        ImageFolderData(**{**kwargs, "image_size": 8}).setup()


def test_a_changed_file_invalidates_the_cache(tmp_path):
    root = class_tree(tmp_path / "d")
    kwargs = dict(root=str(root), image_size=4, channels=1, num_classes=2, cache_dir=str(tmp_path / "cache"))
    ImageFolderData(**kwargs).setup()
    write_image(root / "cat" / "0.png", 250, size=(13, 10))  # new content and size
    again = ImageFolderData(**kwargs).setup()
    assert again.images[0, 0, 0, 0] == 250
    assert len(list((tmp_path / "cache" / "image_folder").glob("*.u8"))) == 2


def test_limit_keeps_every_class(tmp_path):
    root = class_tree(tmp_path / "d", classes=("a", "b", "c"), per_class=4)
    data = ImageFolderData(str(root), image_size=4, channels=1, num_classes=3, limit=3).setup()
    assert sorted(data.labels.tolist()) == [0, 1, 2]


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images found in .*empty"):
        ImageFolderData(str(tmp_path / "empty"), image_size=4).setup()


def test_unreadable_image_names_the_file(tmp_path):
    class_tree(tmp_path / "d")
    (tmp_path / "d" / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(UserError, match=r"cannot read image .*dog/broken\.jpg"):
        ImageFolderData(str(tmp_path / "d"), image_size=4, num_classes=2).setup()


def test_labels_missing_for_a_conditional_config(tmp_path):
    write_image(tmp_path / "flat" / "a.png", 0)
    with pytest.raises(UserError, match="no class sub-folders"):
        ImageFolderData(str(tmp_path / "flat"), image_size=4, num_classes=10).setup()


def test_class_count_is_checked_against_the_folder(tmp_path):
    with pytest.raises(UserError, match="has 2 class folders .*num_classes=2"):
        ImageFolderData(str(class_tree(tmp_path / "d")), image_size=4, num_classes=10).setup()


def cifar_jpeg_tree(root: Path) -> Path:
    for split, n in (("train", 2), ("test", 1)):
        for k in range(10):
            for i in range(n):
                write_image(root / "cifar10-jpeg" / split / f"class{k}" / f"{i}.png", 20 * k, size=(32, 32))
    return root


def test_cifar10_falls_back_to_the_jpeg_tree_and_says_so(tmp_path):
    root = cifar_jpeg_tree(tmp_path / "data")
    data = CIFAR10Data(str(root), download=False, cache_dir=str(tmp_path / "cache")).setup()
    assert data.images.shape == (20, 3, 32, 32) and data.labels.bincount().tolist() == [2] * 10
    assert "JPEG re-encodes" in data.describe() and "cifar10-jpeg" in data.describe()
    assert data.reference_images("test").shape == (10, 3, 32, 32)


def test_cifar10_reference_images_then_labels_reads_the_split_once(tmp_path, monkeypatch):
    root = cifar_jpeg_tree(tmp_path / "data")
    data = CIFAR10Data(str(root), download=False).setup()  # no cache_dir: every read decodes
    reads = []
    split = CIFAR10Data._split
    monkeypatch.setattr(CIFAR10Data, "_split", lambda self, name, limit: reads.append(name) or split(self, name, limit))
    images, labels = data.reference_images("test"), data.reference_labels("test")
    assert images.shape == (10, 3, 32, 32) and labels.tolist() == list(range(10))
    assert reads == ["test"]
    assert data.reference_images("train").shape[0] == 20 and reads == ["test", "train"]


def test_cifar10_prefers_torchvision_files_when_present(tmp_path, monkeypatch):
    root = cifar_jpeg_tree(tmp_path / "data")
    (root / "cifar-10-batches-py").mkdir()
    calls = []

    def fake_torchvision(self, train, download):
        calls.append((train, download))
        return torch.zeros(5, 3, 32, 32, dtype=torch.uint8), torch.arange(5)

    monkeypatch.setattr(CIFAR10Data, "_torchvision", fake_torchvision)
    data = CIFAR10Data(str(root), download=False).setup()
    assert calls == [(True, False)] and data.images.shape[0] == 5
    assert "torchvision CIFAR10 originals" in data.describe()


def test_cifar10_missing_everywhere_says_what_and_how(tmp_path):
    with pytest.raises(UserError, match="CIFAR-10 not found .*cifar10-jpeg.*download=false"):
        CIFAR10Data(str(tmp_path), download=False).setup()
